import os
import subprocess
import sys

import dagster as dg
import polars as pl

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.assets.labelstudio import annotated_samples, ls_tasks
from pii_assets.assets.training import training_tokens
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.partitions import batches
from pii_assets.resources import BackboneResource, HubResource, LLMResource, LabelStudioResource, StorageResource
from pii_assets.storage import LocalStorage

SAMPLES = [raw_samples, reviewed_samples, ls_tasks, annotated_samples]


def test_training_tokens_materialize_after_review(tmp_path, tiny_backbone):
    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("t1", size=150, seed=4, languages=("en", "es")))
    resources = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(), "labelstudio": LabelStudioResource(),
                 "backbone": BackboneResource(backbone=tiny_backbone, max_length=64, stride=16)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(batches.name, ["t1"])
        result = dg.materialize([*SAMPLES, training_tokens], partition_key="t1",
                                instance=instance, resources=resources)
        assert result.success
        mat = instance.get_latest_materialization_event(dg.AssetKey("training_tokens")).asset_materialization
    md = mat.metadata
    df = pl.read_parquet(storage.batch_file("t1", "training_tokens.parquet"))
    assert md["samples"].value == 150 == df["sample_id"].n_unique()
    assert md["windows"].value == df.height > 150  # 64-token windows split most samples
    assert 0 < md["non_o_ratio"].value < 1
    assert "| EMAIL |" in md["tokens_per_label"].value
    assert md["backbone"].value == tiny_backbone


def test_missing_backbone_fails_clearly(tmp_path):
    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("t2", size=20, languages=("en",)))
    resources = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(), "labelstudio": LabelStudioResource(),
                 "backbone": BackboneResource(backbone=str(tmp_path / "no-such-model"))}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(batches.name, ["t2"])
        result = dg.materialize([*SAMPLES, training_tokens], partition_key="t2",
                                instance=instance, resources=resources, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cannot load the tokenizer of backbone" in str(failure.event_specific_data.error)


def test_backbone_is_part_of_the_code_version():
    code = ("from pii_assets.assets.training import training_tokens; "
            "print(training_tokens.code_versions_by_key[training_tokens.key])")
    versions = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PII_ASSETS_BACKBONE": name}).stdout.strip()
        for name in ("minilm", "distilbert-base-cased")
    }
    assert len(versions) == 2 and any("distilbert-base-cased" in v for v in versions)


def test_corrupted_samples_file_fails_naming_the_line_and_writes_nothing(tmp_path, tiny_backbone):
    import json

    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("t3", size=30, seed=1, languages=("en",)))
    resources = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(), "labelstudio": LabelStudioResource(),
                 "backbone": BackboneResource(backbone=tiny_backbone, max_length=64, stride=16)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(batches.name, ["t3"])
        assert dg.materialize(SAMPLES, partition_key="t3", instance=instance,
                              resources=resources).success
        path = storage.batch_file("t3", "annotated_samples.jsonl")
        lines = path.read_text().splitlines()
        broken = json.loads(next(l for l in lines[3:] if json.loads(l)["privacy_mask"]))
        broken["privacy_mask"][0]["label"] = "NOT_A_LABEL"
        index = lines.index(next(l for l in lines[3:] if json.loads(l)["privacy_mask"]))
        lines[index] = json.dumps(broken)
        path.write_text("\n".join(lines) + "\n")
        result = dg.materialize([training_tokens], partition_key="t3", instance=instance, resources=resources,
                                raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert f"annotated_samples.jsonl:{index + 1}" in message and "unknown label 'NOT_A_LABEL'" in message
    assert not storage.batch_file("t3", "training_tokens.parquet").exists()
