"""Real materializations of the batch assets on a Dagster instance."""

import shutil

import dagster as dg
import pytest

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.definitions import defs
from pii_assets.partitions import batches
from pii_assets.resources import LLMResource, StorageResource
from pii_assets.storage import LocalStorage, read_jsonl


@pytest.fixture
def env(tmp_path):
    with dg.instance_for_test() as instance:
        storage = LocalStorage(tmp_path / "data")
        yield instance, storage, {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource()}


def _declare(instance, storage, spec):
    declare_batch(storage, spec)
    instance.add_dynamic_partitions(batches.name, [spec.key])


def _checks(result):
    return {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
            for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_batch_job_materializes_a_batch_with_checks_and_metadata(env):
    instance, storage, resources = env
    _declare(instance, storage, BatchSpec("b1", size=300, seed=1))
    job = defs.resolve_job_def("batch_job")
    result = job.execute_in_process(partition_key="b1", instance=instance, resources=resources)
    assert result.success
    assert _checks(result) == {"spans_valid": True, "no_duplicates": True, "rejected_ratio": True,
                               "label_coverage": True}
    reviewed = [s for _, s in read_jsonl(storage.batch_file("b1", "reviewed_samples.jsonl"))]
    assert len(reviewed) == 300
    assert all(s["meta"]["batch"] == "b1" for s in reviewed)
    mat = instance.get_latest_materialization_event(dg.AssetKey("reviewed_samples")).asset_materialization
    assert mat.partition == "b1"
    md = mat.metadata
    assert md["dagster/row_count"].value == 300
    assert "| FIRSTNAME |" in md["per_label"].value and "| de |" in md["per_language"].value
    assert "```text" in md["examples"].value


def test_rematerializing_reproduces_files_byte_for_byte(env):
    instance, storage, resources = env
    _declare(instance, storage, BatchSpec("b1", size=200, seed=9, languages=("en", "fr")))
    names = ("raw_samples.jsonl", "reviewed_samples.jsonl", "rejected_samples.jsonl", "text_hashes.npy")
    first = {}
    for attempt in range(2):
        result = dg.materialize([raw_samples, reviewed_samples], partition_key="b1", instance=instance,
                                resources=resources)
        assert result.success
        files = {n: storage.batch_file("b1", n).read_bytes() for n in names}
        if attempt == 0:
            first = files
    assert files == first
    leftovers = [p.name for p in storage.batch_dir("b1").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_cross_batch_duplicates_fail_the_blocking_check_and_keep_rejects(env):
    instance, storage, resources = env
    _declare(instance, storage, BatchSpec("early", size=100, seed=1, languages=("de",)))
    _declare(instance, storage, BatchSpec("late", size=100, seed=2, languages=("de",)))
    assert dg.materialize([raw_samples, reviewed_samples], partition_key="early", instance=instance,
                          resources=resources).success
    # the late batch's provider returned exactly what the early batch already holds
    shutil.copy(storage.batch_file("early", "raw_samples.jsonl"), storage.batch_file("late", "raw_samples.jsonl"))
    result = dg.materialize([reviewed_samples], partition_key="late", instance=instance,
                            resources=resources, raise_on_error=False)
    assert _checks(result)["rejected_ratio"] is False
    rejects = [r for _, r in read_jsonl(storage.batch_file("late", "rejected_samples.jsonl"))]
    assert len(rejects) == 100 and {r["code"] for r in rejects} == {"duplicate_across_batches"}
    # the earlier batch is unaffected when re-reviewed: it only looks at batches declared before it
    again = dg.materialize([reviewed_samples], partition_key="early", instance=instance, resources=resources)
    assert _checks(again)["rejected_ratio"] is True


def test_undeclared_batch_fails_with_a_clear_message(env):
    instance, storage, resources = env
    instance.add_dynamic_partitions(batches.name, ["ghost"])
    result = dg.materialize([raw_samples], partition_key="ghost", instance=instance, resources=resources,
                            raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "batch 'ghost' is not declared" in str(failure.event_specific_data.error)
    assert "pii-assets batch declare ghost" in str(failure.event_specific_data.error)
