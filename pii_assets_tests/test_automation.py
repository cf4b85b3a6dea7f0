"""Declarative automation of the batch assets and the nightly release schedule, evaluated against a real
(temporary) instance with real materializations in between, as the daemon would see them."""

import datetime

import dagster as dg
import pytest

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.assets.labelstudio import annotated_samples, ls_tasks
from pii_assets.assets.training import training_tokens
from pii_assets.automation import batch_automation_sensor, nightly_key, nightly_release
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.definitions import defs
from pii_assets.partitions import batches, releases
from pii_assets.resources import BackboneResource, HubResource, LabelStudioResource, LLMResource, StorageResource
from pii_assets.storage import LocalStorage

BATCH_ASSETS = [raw_samples, reviewed_samples, ls_tasks, annotated_samples, training_tokens]
BATCH_KEYS = [a.key for a in BATCH_ASSETS]
RELEASE_KEYS = [key for key in defs.resolve_asset_graph().get_all_asset_keys() if key not in BATCH_KEYS]


class Daemon:
    """Ticks of the automation sensor (the cursor carried from tick to tick) and the runs it asks for."""

    def __init__(self, instance, resources):
        self.instance, self.resources, self.cursor = instance, resources, None

    def tick(self) -> dict[str, set[str]]:
        result = dg.evaluate_automation_conditions(defs=defs, instance=self.instance, cursor=self.cursor)
        self.cursor = result.cursor
        requested = {key.to_user_string(): result.get_requested_partitions(key) for key in BATCH_KEYS + RELEASE_KEYS}
        assert not any(requested[key.to_user_string()] for key in RELEASE_KEYS), "a release asset was requested"
        return {name: parts for name, parts in requested.items() if parts}

    def run(self, requested: dict[str, set[str]], run_config_for: dict | None = None):
        """Materialize what a tick requested, one run per batch (as the sensor launches them), in batch order."""
        results = []
        for partition in sorted(set().union(*requested.values()), key=self.instance.get_dynamic_partitions(
                batches.name).index):
            selection = [a for a in BATCH_ASSETS if partition in requested.get(a.key.to_user_string(), ())]
            results.append(dg.materialize(selection, partition_key=partition, instance=self.instance,
                                          resources=self.resources, raise_on_error=False,
                                          run_config=(run_config_for or {}).get(partition)))
        return results


@pytest.fixture
def daemon(tmp_path, tiny_backbone):
    storage = LocalStorage(tmp_path / "data")
    resources = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(),
                 "labelstudio": LabelStudioResource(),
                 "backbone": BackboneResource(backbone=tiny_backbone, max_length=64, stride=16)}
    with dg.instance_for_test() as instance:
        yield Daemon(instance, resources), storage


def _declare(daemon, storage, key, seed):
    declare_batch(storage, BatchSpec(key, size=30, seed=seed, languages=("en",)))
    daemon.instance.add_dynamic_partitions(batches.name, [key])


def _names(*assets):
    return {a.key.to_user_string() for a in assets}


def test_the_automation_sensor_runs_by_default_on_the_batch_group():
    assert batch_automation_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert batch_automation_sensor in defs.sensors and nightly_release in defs.schedules
    targeted = batch_automation_sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert targeted == set(BATCH_KEYS)
    graph = defs.resolve_asset_graph()
    assert all(graph.get(key).automation_condition is None for key in RELEASE_KEYS)


def test_a_declared_batch_flows_through_the_batch_assets(daemon):
    daemon, storage = daemon
    assert daemon.tick() == {}
    _declare(daemon, storage, "b1", 1)
    # the new batch is missing everywhere: raw_samples is requested, and every asset after it with it
    # (their upstream will be requested on the same tick and review's checks will run in that request)
    first = daemon.tick()
    assert first == {name: {"b1"} for name in _names(*BATCH_ASSETS)}
    assert all(r.success for r in daemon.run(first))
    assert daemon.tick() == {}  # done: nothing runs twice
    assert storage.batch_file("b1", "training_tokens.parquet").is_file()

    # an upstream re-materialization flows down (never up), in one run
    assert dg.materialize([raw_samples], partition_key="b1", instance=daemon.instance,
                          resources=daemon.resources).success
    downstream = daemon.tick()
    assert downstream == {name: {"b1"} for name in _names(*BATCH_ASSETS[1:])}
    assert all(r.success for r in daemon.run(downstream))
    assert daemon.tick() == {}
    assert dg.materialize([ls_tasks], partition_key="b1", instance=daemon.instance,
                          resources=daemon.resources).success
    assert daemon.tick() == {name: {"b1"} for name in _names(annotated_samples, training_tokens)}


def test_nothing_runs_downstream_of_a_failed_blocking_check(daemon):
    daemon, storage = daemon
    daemon.tick()
    _declare(daemon, storage, "good", 1)
    _declare(daemon, storage, "bad", 2)
    requested = daemon.tick()
    assert requested == {name: {"good", "bad"} for name in _names(*BATCH_ASSETS)}
    # the requested runs; "bad" gets a review limit it cannot meet, so its blocking rejected_ratio check
    # fails, and the run stops before ls_tasks
    strict = {"ops": {"reviewed_samples": {"config": {"max_rejected_ratio": -1.0}}}}
    good, bad = daemon.run(requested, run_config_for={"bad": strict})
    assert good.success and not bad.success
    assert {e.asset_key.to_user_string() for e in bad.get_asset_materialization_events()} == \
        _names(raw_samples, reviewed_samples)
    assert not storage.batch_file("bad", "ls_tasks.json").exists()
    # and no later tick requests ls_tasks (or anything after it) for the blocked batch
    assert daemon.tick() == {}
    assert daemon.tick() == {}
    # a manual re-review that fails again keeps the batch blocked; one that passes lets it flow on
    assert not dg.materialize([reviewed_samples], partition_key="bad", instance=daemon.instance,
                              resources=daemon.resources, run_config=strict, raise_on_error=False).success
    assert daemon.tick() == {}
    assert dg.materialize([reviewed_samples], partition_key="bad", instance=daemon.instance,
                          resources=daemon.resources).success
    assert daemon.tick() == {name: {"bad"} for name in _names(ls_tasks, annotated_samples, training_tokens)}


def _schedule(instance, when):
    context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                        repository_def=defs.get_repository_def())
    return nightly_release.evaluate_tick(context)


def test_nightly_release_creates_a_dated_release_and_requests_release_job():
    assert nightly_release.default_status == dg.DefaultScheduleStatus.STOPPED
    assert nightly_release.job_name == "release_job"
    when = datetime.datetime(2026, 11, 22, 2, 0, tzinfo=datetime.timezone.utc)
    with dg.instance_for_test() as instance:
        empty = _schedule(instance, when)
        assert not empty.run_requests and "no batch has training_tokens" in empty.skip_message
        instance.add_dynamic_partitions(batches.name, ["b1"])
        instance.report_runless_asset_event(dg.AssetMaterialization("training_tokens", partition="b1"))

        data = _schedule(instance, when)
        (request,) = data.run_requests
        assert request.partition_key == request.run_key == "nightly-20261122" == nightly_key(when)
        assert request.tags["dagster/partition"] == "nightly-20261122"
        assert request.tags["pii_assets/trigger"] == "nightly_release"
        assert "nightly-20261122" in instance.get_dynamic_partitions(releases.name)
        assert _schedule(instance, when).run_requests[0].run_key == "nightly-20261122"  # same tick: same key

        # once that release's manifest is newer than every batch's tokens, the next night skips
        instance.report_runless_asset_event(dg.AssetMaterialization("release_manifest", partition="nightly-20261122"))
        skipped = _schedule(instance, when + datetime.timedelta(days=1))
        assert not skipped.run_requests and "no batch changed since the last release manifest" in skipped.skip_message
        assert "nightly-20261123" not in instance.get_dynamic_partitions(releases.name)
        instance.report_runless_asset_event(dg.AssetMaterialization("training_tokens", partition="b1"))
        (request,) = _schedule(instance, when + datetime.timedelta(days=1)).run_requests
        assert request.partition_key == "nightly-20261123"
