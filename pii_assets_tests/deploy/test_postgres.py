"""The production profile (deploy/dagster.production.yaml) on a real PostgreSQL server: a batch run,
its materializations and check results, the dynamic partition, a sensor tick of the real daemon and
the sensor's cursor all land in the database, and a second instance loaded from the same profile (as
another process or machine would) sees them."""

import json
import time

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.definitions import defs
from pii_assets.partitions import batches
from pii_assets.resources import LabelStudioResource, HubResource, LLMResource, StorageResource
from pii_assets.sensors import labelstudio_sensor
from pii_assets.storage import LocalStorage
from pii_assets_tests.deploy.conftest import (
    PROFILE_ENV, VENV_BIN, server_env, start_process, stop_process, wait_for, write_profile,
)

BATCH = "pg-b1"
SENSOR = labelstudio_sensor.name


@pytest.fixture(scope="module")
def deployment(postgres_server, tmp_path_factory):
    """$DAGSTER_HOME with the production profile pointed at the test server, and its variables."""
    root = tmp_path_factory.mktemp("pg-deployment")
    env = {**PROFILE_ENV, **postgres_server.env}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        home = write_profile(root / "dagster_home")
        yield {"home": home, "data": root / "data", "env": env, "server": postgres_server}


def open_instance(home):
    """What ``DagsterInstance.get()`` does with DAGSTER_HOME=home."""
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home)))


@pytest.fixture(scope="module")
def batch_run(deployment):
    storage = LocalStorage(deployment["data"])
    declare_batch(storage, BatchSpec(BATCH, size=60, seed=5, languages=("en", "de")))  # covers all 24 labels
    with open_instance(deployment["home"]) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        instance.add_dynamic_partitions(batches.name, [BATCH])
        result = defs.resolve_job_def("batch_job").execute_in_process(
            partition_key=BATCH, instance=instance,
            resources={"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(),
                       "labelstudio": LabelStudioResource()})
        assert result.success
        return result


def test_batch_run_materializations_and_checks_are_in_postgres(deployment, batch_run):
    pg = deployment["server"]
    job_assets = {key.to_user_string() for key in defs.resolve_job_def("batch_job").asset_layer.selected_asset_keys}
    assert {"raw_samples", "reviewed_samples", "training_tokens"} <= job_assets

    assert pg.query("SELECT status FROM runs WHERE run_id = %s", (batch_run.run_id,)) == [("SUCCESS",)]
    assert (BATCH,) in pg.query("SELECT value FROM run_tags WHERE run_id = %s AND key = 'dagster/partition'",
                                (batch_run.run_id,))
    materialized = pg.query("SELECT asset_key, partition FROM event_logs "
                            "WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'", (batch_run.run_id,))
    assert {tuple(json.loads(key)) for key, _ in materialized} == {(name,) for name in job_assets}
    assert {partition for _, partition in materialized} == {BATCH}
    checks = pg.query("SELECT asset_key, check_name, execution_status FROM asset_check_executions "
                      "WHERE run_id = %s", (batch_run.run_id,))
    expected_checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_job_def("batch_job").asset_layer
                       .asset_graph.asset_check_keys if k.asset_key.to_user_string() in job_assets}
    assert {(json.loads(a)[0], c) for a, c, _ in checks} == expected_checks
    assert {status for _, _, status in checks} == {"SUCCEEDED"}
    assert pg.query("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = %s",
                    (batches.name,)) == [(BATCH,)]

    # another process / machine loading the same profile sees all of it
    with open_instance(deployment["home"]) as other:
        assert other.get_dynamic_partitions(batches.name) == [BATCH]
        assert other.get_run_by_id(batch_run.run_id).is_success
        mat = other.get_latest_materialization_event(dg.AssetKey("reviewed_samples")).asset_materialization
        assert mat.partition == BATCH and mat.metadata["dagster/row_count"].value > 0


def _ticks(pg):
    rows = pg.query("SELECT status, tick_body FROM job_ticks WHERE type = 'SENSOR' ORDER BY id")
    return [(status, json.loads(body)) for status, body in rows
            if json.loads(body)["job_name"] == SENSOR]  # the serialized names predate "instigator"


def _sensor_state(pg):
    rows = pg.query("SELECT instigator_body FROM instigators WHERE instigator_type = 'SENSOR'")
    states = [json.loads(body) for (body,) in rows]
    return [s for s in states if s["origin"]["job_name"] == SENSOR]


def test_daemon_sensor_tick_and_cursor_are_in_postgres(deployment, batch_run, tmp_path):
    pg, home = deployment["server"], deployment["home"]
    env = server_env(DAGSTER_HOME=str(home), PII_ASSETS_DATA_DIR=str(deployment["data"]), **deployment["env"])
    log = tmp_path / "dagster-daemon.log"
    daemon = start_process([VENV_BIN / "dagster-daemon", "run", "-m", "pii_assets.definitions"], env, log)
    started = time.monotonic()
    try:
        ticks = wait_for(lambda: [t for t in _ticks(pg) if t[0] != "STARTED"], 90,
                         "a finished labelstudio_sensor tick in Postgres", daemon, log)
        heartbeats = pg.query("SELECT daemon_type FROM daemon_heartbeats")
    finally:
        stop_process(daemon)
    print(f"daemon: first sensor tick stored after {time.monotonic() - started:.1f} s")
    status, tick = ticks[0]
    assert status == "SKIPPED", tick
    assert "no Label Studio configured" in tick["skip_reason"]
    assert {"SENSOR", "QUEUED_RUN_COORDINATOR"} <= {t for (t,) in heartbeats}
    assert _sensor_state(pg), "the daemon keeps the sensor's state (last tick, cursor) in Postgres"

    # an operator moves the cursor (the public CLI, on the same profile) ...
    cursor = json.dumps({"export": 7, "since": "2026-01-02T03:04:05.000000Z"}, sort_keys=True)
    cli = start_process([VENV_BIN / "dagster", "sensor", "cursor", SENSOR, "--set", cursor,
                         "-m", "pii_assets.definitions"], env, tmp_path / "cursor.log")
    try:
        assert cli.wait(120) == 0, (tmp_path / "cursor.log").read_text()
    finally:
        stop_process(cli)
    [state] = _sensor_state(pg)
    assert state["job_specific_data"]["cursor"] == cursor
    # ... and the sensor, evaluated on an instance from the same profile with the stored cursor, keeps
    # it: without Label Studio there is nothing to move it past
    with open_instance(home) as instance:
        stored = next(s for s in instance.all_instigator_state() if s.name == SENSOR)
        assert stored.instigator_data.cursor == cursor
        context = dg.build_sensor_context(instance=instance, cursor=stored.instigator_data.cursor,
                                          resources={"labelstudio": LabelStudioResource()})
        result = labelstudio_sensor(context)
        assert isinstance(result, dg.SkipReason) and context.cursor == cursor
        assert instance.get_dynamic_partitions(batches.name) == [BATCH]
