"""The same asset code with the artifact store mirrored to a real S3 endpoint (moto_server), configured
the way the code location configures it (environment variables bound through EnvVar)."""

import shutil

import dagster as dg
import pytest

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.assets.labelstudio import annotated_samples, ls_tasks
from pii_assets.assets.publish import hf_dataset
from pii_assets.assets.release import model_evaluation, release_manifest, trained_model
from pii_assets.assets.training import training_tokens
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.partitions import batches, releases
from pii_assets.resources import (
    BackboneResource, HubResource, LabelStudioResource, LLMResource, StorageResource, default_storage,
)
from pii_assets.storage import LocalStorage

BATCH_ASSETS = [raw_samples, reviewed_samples, ls_tasks, annotated_samples, training_tokens]
PREFIX = "team/pii-assets"


@pytest.fixture
def s3_env(s3_bucket, s3_endpoint, monkeypatch):
    client, bucket = s3_bucket
    for name, value in {"PII_ASSETS_S3_BUCKET": bucket, "PII_ASSETS_S3_PREFIX": PREFIX,
                        "PII_ASSETS_S3_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    return client, bucket


def _files(directory):
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _bucket(client, bucket, prefix):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/")
    return {o["Key"][len(prefix) + 1:]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for page in pages for o in page.get("Contents", [])}


def test_a_batch_on_s3_is_byte_identical_and_runs_on_from_an_empty_working_copy(tmp_path, s3_env, tiny_backbone):
    client, bucket = s3_env
    storage = default_storage(root=str(tmp_path / "machine-a"))
    assert isinstance(storage.s3_bucket, dg.EnvVar) and isinstance(storage.s3.aws_secret_access_key, dg.EnvVar)
    others = {"llm": LLMResource(), "hub": HubResource(), "labelstudio": LabelStudioResource(),
              "backbone": BackboneResource(backbone=tiny_backbone, max_length=64, stride=16)}
    resources = {"storage": storage, **others}
    spec = BatchSpec("s3-batch", size=60, seed=5, languages=("en", "de"))
    with dg.build_resources({"storage": storage}) as built:
        store = built.storage.store()
    assert store.remote == f"s3://{bucket}/{PREFIX}"
    batch_dir = store.batch_dir(spec.key)

    with dg.instance_for_test() as instance:
        declare_batch(store, spec)
        instance.add_dynamic_partitions(batches.name, [spec.key])
        assert dg.materialize(BATCH_ASSETS, partition_key=spec.key, instance=instance, resources=resources).success
        written = _files(batch_dir)
        assert set(written) == {"spec.json", "raw_samples.jsonl", "reviewed_samples.jsonl", "rejected_samples.jsonl",
                                "text_hashes.npy", "ls_tasks.json", "annotated_samples.jsonl",
                                "annotation_rejects.jsonl", "training_tokens.parquet"}
        # (a) every file of the batch is in the bucket under the prefix, byte for byte
        assert _bucket(client, bucket, PREFIX) == {f"batches/{spec.key}/{name}": data for name, data in written.items()}

        # (b) the same batch on local-only storage, another directory and instance, makes the same bytes
        local = LocalStorage(tmp_path / "local-only")
        with dg.instance_for_test() as other:
            declare_batch(local, spec)
            other.add_dynamic_partitions(batches.name, [spec.key])
            assert dg.materialize(BATCH_ASSETS, partition_key=spec.key, instance=other,
                                  resources={**resources, "storage": StorageResource(root=str(local.root))}).success
        assert _files(local.batch_dir(spec.key)) == written

        # another machine: an empty working copy; each asset fetches its inputs from S3
        shutil.rmtree(store.root)
        assert dg.materialize([training_tokens], partition_key=spec.key, instance=instance, resources=resources).success
        assert _files(batch_dir) == {n: written[n] for n in ("annotated_samples.jsonl", "training_tokens.parquet")}
        shutil.rmtree(store.root)
        assert dg.materialize([reviewed_samples, ls_tasks], partition_key=spec.key, instance=instance,
                              resources=resources).success
        assert dg.materialize([annotated_samples, training_tokens], partition_key=spec.key, instance=instance,
                              resources=resources).success
        assert _files(batch_dir) == written
        assert _bucket(client, bucket, PREFIX) == {f"batches/{spec.key}/{n}": d for n, d in written.items()}

        # a release built on a third empty working copy reads the batch from S3 and publishes its manifest
        shutil.rmtree(store.root)
        instance.add_dynamic_partitions(releases.name, ["r1"])
        assert dg.materialize([release_manifest], partition_key="r1", instance=instance, resources=resources).success
        remote = _bucket(client, bucket, PREFIX)
        assert remote["releases/r1/manifest.json"] == (store.root / "releases/r1/manifest.json").read_bytes()
        assert remote["releases/r1/splits.parquet"] == (store.root / "releases/r1/splits.parquet").read_bytes()
        assert remote[f"batches/{spec.key}/training_tokens.parquet"] == written["training_tokens.parquet"]

        # model directories and datasets go the same way: each step starts from an empty working copy
        release = store.root / "releases/r1"
        shutil.rmtree(store.root)
        assert dg.materialize([trained_model], partition_key="r1", instance=instance, resources=resources,
                              run_config={"ops": {"trained_model": {"config": {"epochs": 1, "macro_f1_floor": 0.0}}}}
                              ).success
        model = _files(release / "trained_model")
        assert "model.safetensors" in model and "label_mappings.json" in model
        shutil.rmtree(store.root)
        assert dg.materialize([model_evaluation, hf_dataset], partition_key="r1", instance=instance,
                              resources=resources).success
        assert _files(release / "trained_model") == model  # fetched back byte for byte
        remote = _bucket(client, bucket, PREFIX)
        assert {f"releases/r1/trained_model/{n}": d for n, d in model.items()}.items() <= remote.items()
        assert remote["releases/r1/comparison.json"] == (release / "comparison.json").read_bytes()
        assert {k[len("releases/r1/"):]: d for k, d in remote.items() if k.startswith("releases/r1/hf_dataset/")} == {
            f"hf_dataset/{n}": d for n, d in _files(release / "hf_dataset").items()}


def test_without_s3_settings_storage_stays_local(monkeypatch, tmp_path):
    monkeypatch.delenv("PII_ASSETS_S3_BUCKET", raising=False)
    monkeypatch.setenv("PII_ASSETS_DATA_DIR", str(tmp_path))
    storage = default_storage()
    assert storage.s3_bucket is None and storage.s3 is None and storage.root == str(tmp_path)
    store = storage.store()
    assert type(store) is LocalStorage and store.remote is None
