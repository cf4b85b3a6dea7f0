"""deploy/dagster.production.yaml through Dagster's own instance config validation, and the
Kubernetes Job K8sRunLauncher builds from it for a training run (no cluster is contacted)."""

import copy
import json
import re
import uuid

import pytest
import yaml
from dagster import DagsterInvalidConfigError
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.dagster_run import DagsterRun
from dagster._utils.tags import TagConcurrencyLimitsCounter

from pii_assets_tests.deploy.conftest import DOCS, PROFILE_ENV, profile_config

TRAINING_TAG = ("pii_assets/training", "true")


def load_profile(home, config):
    """What every process does with $DAGSTER_HOME/dagster.yaml, short of connecting anywhere: the
    instance schema (InstanceRef.from_dir), the Postgres storage config against dagster-postgres'
    schema (building the storage would connect), the real run coordinator and run launcher."""
    from dagster_postgres import DagsterPostgresStorage

    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    ref = InstanceRef.from_dir(str(home))
    assert (ref.storage_data.module_name, ref.storage_data.class_name) == ("dagster_postgres",
                                                                          "DagsterPostgresStorage")
    storage = process_config(resolve_to_config_type(DagsterPostgresStorage.config_type()),
                             ref.storage_data.config_dict)
    if not storage.success:
        raise DagsterInvalidConfigError("postgres storage config", storage.errors, ref.storage_data.config_dict)
    return ref, storage.value, ref.run_coordinator, ref.run_launcher


@pytest.fixture
def profile(tmp_path, monkeypatch):
    for key, value in PROFILE_ENV.items():
        monkeypatch.setenv(key, value)
    return profile_config(tmp_path / "kubeconfig")


def documented_block(marker, language):
    text = DOCS.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {marker}\b.*?-->\s*```{language}\n(.*?)```", text, re.S)
    assert match, f"docs/deploy.md has no ```{language} block after <!-- {marker} -->"
    return match.group(1)


def training_tags():
    tags = json.loads(documented_block("training-run-tags", "json"))
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in tags.items()}


def test_production_profile_passes_dagster_validation(tmp_path, profile):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_k8s import K8sRunLauncher

    ref, storage, coordinator, launcher = load_profile(tmp_path / "home", profile)
    assert storage["postgres_db"] == {"hostname": "postgres.example.internal", "port": 5432, "db_name": "dagster",
                                      "username": "dagster", "password": "not-a-secret", "params": {},
                                      "scheme": "postgresql+psycopg2"}
    assert isinstance(coordinator, QueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == 8
    assert {"key": TRAINING_TAG[0], "value": TRAINING_TAG[1], "limit": 1} in queue.tag_concurrency_limits
    assert isinstance(launcher, K8sRunLauncher)
    assert (launcher.job_namespace, launcher.job_image, launcher.instance_config_map,
            launcher.postgres_password_secret, launcher.service_account_name) == (
        "pii-assets", "registry.example/pii-assets:1.0", "dagster-instance", "dagster-postgresql", "pii-assets-runs")
    assert ref.settings["run_retries"] == {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": False}
    assert ref.settings["run_monitoring"]["enabled"] is True


def test_one_training_run_at_a_time(tmp_path, profile):
    _, _, coordinator, _ = load_profile(tmp_path / "home", profile)
    limits = coordinator.get_run_queue_config().tag_concurrency_limits

    def run(**tags):
        return DagsterRun(job_name="job", run_id=str(uuid.uuid4()), tags=tags)

    training, other_release = (run(**{TRAINING_TAG[0]: "true", "dagster/partition": key}) for key in ("r1", "r2"))
    batch_b1, batch_b2 = (run(**{"dagster/partition": key}) for key in ("b1", "b2"))
    # the daemon's own counter, fed with what is in progress
    assert not TagConcurrencyLimitsCounter(limits, []).is_blocked(training)
    busy = TagConcurrencyLimitsCounter(limits, [training])
    assert busy.is_blocked(other_release)  # a second training run waits in the queue
    assert not busy.is_blocked(batch_b1)  # batch runs go on beside it
    assert TagConcurrencyLimitsCounter(limits, [batch_b1]).is_blocked(run(**{"dagster/partition": "b1"}))
    assert not TagConcurrencyLimitsCounter(limits, [batch_b1]).is_blocked(batch_b2)
    # the documented tags are the ones the limit is on
    assert training_tags()[TRAINING_TAG[0]] == TRAINING_TAG[1]


def test_documented_training_tags_give_the_run_pod_a_gpu(tmp_path, profile):
    from dagster_k8s.job import construct_dagster_k8s_job

    _, _, _, launcher = load_profile(tmp_path / "home", profile)

    def k8s_job(tags):
        run = DagsterRun(job_name="release_job", run_id=str(uuid.uuid4()), tags=tags)
        context = launcher.get_container_context_for_run(run)  # what launch_run does, minus the API call
        job = construct_dagster_k8s_job(
            job_config=context.get_k8s_job_config(job_image=None, run_launcher=launcher),
            args=["dagster", "api", "execute_run"], job_name=f"dagster-run-{run.run_id}", pod_name="pod",
            component="run_worker", user_defined_k8s_config=context.run_k8s_config)
        return job.spec.template.spec

    pod = k8s_job(training_tags())
    container = pod.containers[0]
    assert container.image == "registry.example/pii-assets:1.0"
    assert container.resources.limits["nvidia.com/gpu"] == "1"
    assert container.resources.requests["nvidia.com/gpu"] == "1"
    assert container.resources.requests["memory"] == "16Gi"  # the tag wins over the launcher's default
    assert pod.node_selector == {"nvidia.com/gpu.present": "true"}
    assert [(t.key, t.effect) for t in pod.tolerations] == [("nvidia.com/gpu", "NoSchedule")]
    env = {e.name: e.value for e in container.env}
    assert env["PII_ASSETS_DATA_DIR"] == "/data" and "DAGSTER_PG_HOST" in env and "DAGSTER_PG_PASSWORD" in env
    assert [m.mount_path for m in container.volume_mounts if m.name == "pii-assets-data"] == ["/data"]
    assert pod.service_account_name == "pii-assets-runs"

    plain = k8s_job({"dagster/partition": "b1"}).containers[0].resources
    assert "nvidia.com/gpu" not in (plain.limits or {}) and plain.requests == {"cpu": "1", "memory": "2Gi"}


def test_documented_ecs_launcher_fits_its_schema():
    from dagster_aws.ecs import EcsRunLauncher

    block = yaml.safe_load(documented_block("ecs-run-launcher", "yaml"))["run_launcher"]
    assert (block["module"], block["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    result = process_config(resolve_to_config_type(EcsRunLauncher.config_type()), block["config"])
    assert result.success, result.errors


def _drop(config, *path):
    for key in path[:-1]:
        config = config[key]
    del config[path[-1]]


def _set(config, value, *path):
    for key in path[:-1]:
        config = config[key]
    config[path[-1]] = value


# name -> (how the file is broken, what the refusal must say)
BROKEN = {
    "no database host": (lambda c: _drop(c, "storage", "postgres", "postgres_db", "hostname"),
                         r'Missing required config entry "hostname"'),
    "two storages": (lambda c: _set(c, {"base_dir": "/tmp"}, "storage", "sqlite"),
                     r"Expected one of:\['postgres'"),
    "misspelt top-level key": (lambda c: c.update(run_coordinater=c.pop("run_coordinator")),
                               r'unexpected config entry "run_coordinater"'),
    "misspelt queue setting": (lambda c: c["run_coordinator"]["config"].update(
        max_concurent_runs=c["run_coordinator"]["config"].pop("max_concurrent_runs")),
        r'unexpected config entry "max_concurent_runs"'),
    "limit that is not a number": (lambda c: _set(c, "one", "run_coordinator", "config", "tag_concurrency_limits",
                                                  0, "limit"), r'Value "one" .* is not valid'),
    "unknown launcher setting": (lambda c: _set(c, 1, "run_launcher", "config", "gpus"),
                                 r'unexpected config entry "gpus"'),
    "image that is not a string": (lambda c: _set(c, 3, "run_launcher", "config", "job_image"),
                                   r"path root:job_image\. Value \"3\""),
    "no launcher class": (lambda c: _set(c, "NoSuchLauncher", "run_launcher", "class"),
                          r"Couldn't find class NoSuchLauncher"),
    "port that is not a number": (lambda c: _set(c, "fifty", "storage", "postgres", "postgres_db", "port"),
                                  r'Value "fifty" .* is not valid'),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_profile_is_refused(tmp_path, profile, name):
    from dagster._check import CheckError

    load_profile(tmp_path / "intact", profile)  # the same steps accept the file as it is
    config = copy.deepcopy(profile)
    breakage, message = BROKEN[name]
    breakage(config)
    with pytest.raises((DagsterInvalidConfigError, CheckError)) as failure:
        load_profile(tmp_path / "home", config)
    error = failure.value
    text = str(error) + "".join(f"\n{e.message}" for e in getattr(error, "errors", []) or [])
    assert re.search(message, text, re.S), text


def test_an_unset_variable_is_refused(tmp_path, profile, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_PG_HOST"):
        load_profile(tmp_path / "home", profile)


def test_bad_yaml_is_refused(tmp_path, profile):
    text = yaml.safe_dump(profile).replace("run_coordinator:", "run_coordinator: [", 1)
    with pytest.raises(Exception, match="(?i)yaml|parse|expected"):
        load_profile(tmp_path / "home", text)
