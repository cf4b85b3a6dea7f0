"""The release fixture shared by the release, deploy and publish asset tests: two batches and a tiny
model trained, evaluated, quantized and signed on a real (temporary) instance, built once per session;
and a small evaluation directory (texts written for these tests) for external_evaluation."""

import json
import shutil

import dagster as dg
import pytest

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.assets.deploy import model_signature, quantized_model
from pii_assets.assets.labelstudio import annotated_samples, ls_tasks
from pii_assets.assets.release import model_evaluation, release_manifest, trained_model
from pii_assets.assets.training import training_tokens
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.partitions import batches, releases
from pii_assets.resources import (
    BackboneResource, HubResource, LLMResource, LabelStudioResource, SigningResource, StorageResource,
)
from pii_assets.signing import generate_key
from pii_assets.storage import LocalStorage


BATCH_ASSETS = [raw_samples, reviewed_samples, ls_tasks, annotated_samples, training_tokens]
RELEASE_ASSETS = [release_manifest, trained_model]


@pytest.fixture(scope="session")
def built(tmp_path_factory, tiny_backbone):
    root = tmp_path_factory.mktemp("release")
    storage = LocalStorage(root / "data")
    resources = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "labelstudio": LabelStudioResource(),
                 "hub": HubResource(), "backbone": BackboneResource(backbone=tiny_backbone, max_length=96, stride=16)}
    with dg.instance_for_test() as instance:
        for key, seed in (("b1", 1), ("b2", 2), ("dup", 3)):
            declare_batch(storage, BatchSpec(key, size=120, seed=seed, languages=("en", "de")))
            instance.add_dynamic_partitions(batches.name, [key])
        for key in ("b1", "b2"):
            assert dg.materialize(BATCH_ASSETS, partition_key=key, instance=instance, resources=resources).success
        # "dup" re-delivers b1's samples: its blocking rejected_ratio check fails, so no release may use it
        assert dg.materialize([raw_samples], partition_key="dup", instance=instance, resources=resources).success
        shutil.copy(storage.batch_file("b1", "raw_samples.jsonl"), storage.batch_file("dup", "raw_samples.jsonl"))
        assert not dg.materialize([reviewed_samples], partition_key="dup", instance=instance, resources=resources,
                                  raise_on_error=False).success
        assert dg.materialize([ls_tasks, annotated_samples, training_tokens], partition_key="dup", instance=instance,
                              resources=resources).success
        instance.add_dynamic_partitions(releases.name, ["r1", "strict"])
        train_cfg = {"epochs": 2, "batch_size": 16, "learning_rate": 3e-3, "macro_f1_floor": 0.0}
        result = dg.materialize(RELEASE_ASSETS, partition_key="r1", instance=instance, resources=resources,
                                run_config={"ops": {"trained_model": {"config": {**train_cfg, "calibrate": True}}}})
        strict = dg.materialize(RELEASE_ASSETS, partition_key="strict", instance=instance, resources=resources,
                                raise_on_error=False,
                                run_config={"ops": {"trained_model": {"config": {**train_cfg, "epochs": 1,
                                                                                 "macro_f1_floor": 0.99}}}})
        evaluation = dg.materialize([model_evaluation], partition_key="r1", instance=instance, resources=resources)
        assert evaluation.success
        key_file = root / "keys" / "signing.pem"
        generate_key(key_file)
        no_key = dg.materialize([quantized_model, model_signature], partition_key="r1", instance=instance,
                                resources={**resources, "signing": SigningResource()}, raise_on_error=False)
        resources["signing"] = SigningResource(key_file=str(key_file))
        deploy = dg.materialize([quantized_model, model_signature], partition_key="r1", instance=instance,
                                resources=resources)
        yield storage, result, strict, instance, deploy, no_key, resources


def labeled(text: str, spans: list[tuple[str, str]], key: str = "privacy_mask", kind: str = "label") -> list[dict]:
    """``[{kind: label, "start", "end", "value"}]`` of each ``(value, label)``, found in ``text``."""
    out = []
    for value, label in spans:
        start = text.index(value)
        out.append({kind: label, "start": start, "end": start + len(value), "value": value})
    return out


def write_jsonl_lines(path, records) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


CLINIC = [  # catalogue gold, with an ignore region
    ("en", "Patient Laura Bennett, born 12/03/1961, lives in Leeds. Contact: laura.bennett@example.org. Ward 7B.",
     [("Laura", "FIRSTNAME"), ("Bennett", "SURNAME"), ("12/03/1961", "DATEOFBIRTH"), ("Leeds", "CITY"),
      ("laura.bennett@example.org", "EMAIL")], [("Ward 7B", "UNIT")]),
    ("de", "Herr Jonas Keller aus Freiburg ist 54 Jahre alt.",
     [("Jonas", "FIRSTNAME"), ("Keller", "SURNAME"), ("Freiburg", "CITY"), ("54", "AGE")], []),
    ("en", "The follow-up visit is planned for next week.", [], []),
]
NEWS = [  # coarse gold in the user's own types, mapped by news.types.json
    ("en", "Dr Helen Marsh joined Northwind Analytics in Bristol in 2015.",
     [("Dr Helen Marsh", "PERSON"), ("Northwind Analytics", "COMPANY"), ("Bristol", "GPE")]),
    ("de", "Der Roman von Peter Albrecht spielt in Hamburg.", [("Peter Albrecht", "PERSON"), ("Hamburg", "GPE")]),
    ("en", "The bridge was finished in 1932 after six years of work.", []),
]


@pytest.fixture(scope="session")
def eval_dir(tmp_path_factory):
    """Two labeled sets in the two gold styles of ``pii_assets.training.external``: ``clinic``
    (catalogue labels) and ``news`` (PERSON / GPE / COMPANY mapped onto PER / LOC / ORG)."""
    directory = tmp_path_factory.mktemp("eval")
    clinic = []
    for language, text, spans, ignore in CLINIC:
        record = {"text": text, "language": language, "privacy_mask": labeled(text, spans)}
        if ignore:
            record["ignore"] = labeled(text, ignore, kind="source_label")
        clinic.append(record)
    write_jsonl_lines(directory / "clinic.jsonl", clinic)
    write_jsonl_lines(directory / "news.jsonl", [{"text": text, "language": language,
                                                  "entities": labeled(text, spans, kind="type")}
                                                 for language, text, spans in NEWS])
    (directory / "news.types.json").write_text(json.dumps({"PERSON": "PER", "GPE": "LOC", "COMPANY": "ORG"}))
    return directory
