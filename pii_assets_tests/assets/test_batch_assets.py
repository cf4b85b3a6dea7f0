"""Real materializations of the batch assets on a Dagster instance."""

import shutil

import dagster as dg
import pytest

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.definitions import defs
from pii_assets.partitions import batches
from pii_assets.resources import HubResource, LLMResource, StorageResource
from pii_assets.storage import LocalStorage, read_jsonl


@pytest.fixture
def env(tmp_path):
    with dg.instance_for_test() as instance:
        storage = LocalStorage(tmp_path / "data")
        yield instance, storage, {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource()}


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


def test_hf_provider_imports_an_existing_dataset_and_keeps_its_rejects(env, tmp_path):
    import json

    instance, storage, resources = env
    text = "Contact Marie Dubois at marie.dubois@example.fr or +33 6 12 34 56 78, account FR7630006000011234567890189."
    good = {"source_text": text, "language": "fr", "locale": "FR", "uid": "u1", "privacy_mask": [
        {"value": "Marie", "start": 8, "end": 13, "label": "GIVENNAME"},
        {"value": "Dubois", "start": 14, "end": 20, "label": "SURNAME"},
        {"value": "marie.dubois@example.fr", "start": 24, "end": 47, "label": "EMAIL"},
        {"value": "+33 6 12 34 56 78", "start": 51, "end": 68, "label": "TELEPHONENUM"},
        {"value": "FR7630006000011234567890189", "start": 78, "end": 105, "label": "ACCOUNTNUM"}]}
    shifted = {**good, "uid": "u2", "privacy_mask": [{"value": "Marie", "start": 9, "end": 14, "label": "GIVENNAME"}]}
    source = tmp_path / "ai4privacy.jsonl"
    source.write_text(json.dumps(good) + "\n" + json.dumps(shifted) + "\n" + "{not json\n")
    _declare(instance, storage, BatchSpec("imported", provider="hf", size=10, source=str(source),
                                          label_mapping={"ACCOUNTNUM": "IBAN"}))
    result = dg.materialize([raw_samples, reviewed_samples], partition_key="imported", instance=instance,
                            resources=resources)
    assert result.success
    [(_, sample)] = list(read_jsonl(storage.batch_file("imported", "reviewed_samples.jsonl")))
    assert [(s["label"], s["value"]) for s in sample["privacy_mask"]][-1] == ("IBAN", "FR7630006000011234567890189")
    assert sample["meta"]["provider"] == "hf" and sample["meta"]["batch"] == "imported"
    rejects = [r for _, r in read_jsonl(storage.batch_file("imported", "provider_rejects.jsonl"))]
    assert sorted(r["code"] for r in rejects) == ["malformed", "offsets"]
    assert all(r["reason"].startswith(r["where"]) for r in rejects)
    md = result.asset_materializations_for_node("raw_samples")[0].metadata
    assert md["raw_samples"].value == 1 and md["provider_rejects"].value == 2


def test_hf_provider_needs_a_source_and_only_it_takes_one(env):
    from pii_assets.batches import BatchSpecError

    with pytest.raises(BatchSpecError, match="provider hf needs a source"):
        BatchSpec("x", provider="hf").validate()
    with pytest.raises(BatchSpecError, match="only it takes one"):
        BatchSpec("x", source="some/repo").validate()
    with pytest.raises(BatchSpecError, match="label_mapping"):
        BatchSpec("x", provider="hf", source="a/b", label_mapping={"ACCOUNTNUM": "BANKACCOUNT"}).validate()
