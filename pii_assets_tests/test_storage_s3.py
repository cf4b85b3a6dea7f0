"""The S3-mirrored artifact store against a real S3 endpoint (moto_server)."""

import hashlib
import os

import pytest

from pii_assets.storage import LocalStorage, write_json, write_jsonl
from pii_assets.storage_s3 import S3Storage, S3StorageError


def _store(s3_bucket, root, prefix="team/pii"):
    client, bucket = s3_bucket
    return S3Storage(root, client, bucket, prefix)


def _objects(s3_bucket, prefix=""):
    client, bucket = s3_bucket
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read()
            for page in pages for o in page.get("Contents", [])}


def test_a_published_file_is_fetched_byte_for_byte_on_another_machine(s3_bucket, tmp_path):
    here, there = _store(s3_bucket, tmp_path / "a"), _store(s3_bucket, tmp_path / "b")
    path = here.batch_file("b1", "raw_samples.jsonl")
    write_jsonl(path, [{"i": i, "text": "é\n"} for i in range(100)])
    assert here.publish(path) == [f"s3://{s3_bucket[1]}/team/pii/batches/b1/raw_samples.jsonl"]
    assert _objects(s3_bucket) == {"team/pii/batches/b1/raw_samples.jsonl": path.read_bytes()}
    head = s3_bucket[0].head_object(Bucket=s3_bucket[1], Key="team/pii/batches/b1/raw_samples.jsonl")
    assert head["Metadata"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert here.publish(path) == []  # unchanged: not uploaded again

    copy = there.batch_file("b1", "raw_samples.jsonl")
    assert there.fetch(copy) == [f"s3://{s3_bucket[1]}/team/pii/batches/b1/raw_samples.jsonl"]
    assert copy.read_bytes() == path.read_bytes()
    assert there.fetch(copy) == []  # current: not downloaded again

    # the remote is the reference: a newer upload replaces a different working copy
    write_jsonl(path, [{"i": 1}])
    assert len(here.publish(path)) == 1
    assert len(there.fetch(copy)) == 1 and copy.read_bytes() == path.read_bytes()
    assert sorted(p.name for p in copy.parent.iterdir()) == ["raw_samples.jsonl"]  # no temp files left


def test_nothing_remote_leaves_the_working_copy_alone(s3_bucket, tmp_path):
    store = _store(s3_bucket, tmp_path)
    local = store.batch_file("b1", "local_only.json")
    write_json(local, {"x": 1})
    assert store.fetch(local, store.batch_file("b1", "missing.jsonl"), store.root / "releases" / "r1") == []
    assert local.read_text() == '{\n  "x": 1\n}\n'
    assert not store.batch_file("b1", "missing.jsonl").exists()
    with pytest.raises(FileNotFoundError, match="missing.jsonl"):
        store.publish(store.batch_file("b1", "missing.jsonl"))
    with pytest.raises(ValueError, match="outside the artifact store"):
        store.publish(tmp_path.parent / "elsewhere.json")


def test_directories_are_mirrored_whole(s3_bucket, tmp_path):
    here, there = _store(s3_bucket, tmp_path / "a", prefix=""), _store(s3_bucket, tmp_path / "b", prefix="")
    model = here.root / "releases" / "r1" / "trained_model"
    (model / "sub").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "weights.bin").write_bytes(os.urandom(3 << 20))
    (model / "sub" / "vocab.txt").write_text("a\nb\n")
    (model / ".config.json.x1.tmp").write_text("an interrupted write")  # never an artifact
    assert len(here.publish(model)) == 3
    assert set(_objects(s3_bucket)) == {"releases/r1/trained_model/config.json",
                                        "releases/r1/trained_model/weights.bin",
                                        "releases/r1/trained_model/sub/vocab.txt"}

    mirror = there.root / "releases" / "r1" / "trained_model"
    mirror.mkdir(parents=True)
    (mirror / "stale.bin").write_text("left from an older model")
    assert len(there.fetch(mirror)) == 3
    assert sorted(p.relative_to(mirror).as_posix() for p in mirror.rglob("*") if p.is_file()) == \
        ["config.json", "sub/vocab.txt", "weights.bin"]
    assert all((mirror / n).read_bytes() == (model / n).read_bytes() for n in ("config.json", "weights.bin"))
    assert there.fetch(mirror) == []

    # a file dropped from the directory is deleted remotely; a changed one is the only one transferred
    (model / "sub" / "vocab.txt").unlink()
    (model / "config.json").write_text('{"changed": true}')
    assert here.publish(model) == [f"s3://{s3_bucket[1]}/releases/r1/trained_model/config.json"]
    assert "releases/r1/trained_model/sub/vocab.txt" not in _objects(s3_bucket)
    weights_inode = (mirror / "weights.bin").stat().st_ino
    assert there.fetch(mirror) == [f"s3://{s3_bucket[1]}/releases/r1/trained_model/config.json"]
    assert not (mirror / "sub" / "vocab.txt").exists()
    assert (mirror / "config.json").read_text() == '{"changed": true}'
    assert (mirror / "weights.bin").stat().st_ino == weights_inode  # kept (hard-linked), not downloaded


def test_a_download_that_does_not_match_its_digest_replaces_nothing(s3_bucket, tmp_path):
    client, bucket = s3_bucket
    store = _store(s3_bucket, tmp_path)
    path = store.batch_file("b1", "reviewed_samples.jsonl")
    write_jsonl(path, [{"ok": True}])
    client.put_object(Bucket=bucket, Key=store.key(path), Body=b"tampered\n", Metadata={"sha256": "0" * 64})
    with pytest.raises(S3StorageError, match="do not match the object"):
        store.fetch(path)
    assert path.read_text() == '{"ok":true}\n' and [p.name for p in path.parent.iterdir()] == [path.name]


def test_objects_written_by_other_tools_compare_by_etag(s3_bucket, tmp_path):
    client, bucket = s3_bucket
    store = _store(s3_bucket, tmp_path)
    path = store.batch_file("b1", "spec.json")
    write_json(path, {"key": "b1"})
    client.put_object(Bucket=bucket, Key=store.key(path), Body=path.read_bytes())  # no sha256 metadata
    mtime = path.stat().st_mtime_ns
    assert store.fetch(path) == [] and path.stat().st_mtime_ns == mtime


def test_declared_batches_include_other_machines(s3_bucket, tmp_path):
    here, there = _store(s3_bucket, tmp_path / "a"), _store(s3_bucket, tmp_path / "b")
    write_json(here.batch_file("remote", "spec.json"), {})
    here.publish(here.batch_file("remote", "spec.json"))
    write_json(there.batch_file("local", "spec.json"), {})
    assert there.declared_batches() == ["local", "remote"]


def test_errors_name_the_bucket_and_key(s3_bucket, tmp_path):
    client, _ = s3_bucket
    store = S3Storage(tmp_path, client, "no-such-bucket", "p")
    path = store.batch_file("b1", "raw_samples.jsonl")
    write_jsonl(path, [{}])
    with pytest.raises(S3StorageError, match=r"cannot find the bucket of s3://no-such-bucket/p/batches/b1/raw_samples"):
        store.publish(path)
    with pytest.raises(S3StorageError, match=r"s3://no-such-bucket/p/batches/b1/raw_samples.jsonl \(404"):
        store.fetch(path)


def test_local_storage_has_no_remote(tmp_path):
    store = LocalStorage(tmp_path)
    path = store.batch_file("b1", "x.json")
    write_json(path, {})
    assert store.remote is None and store.fetch(path) == [] and store.publish(path) == []
    with pytest.raises(ValueError, match="outside the artifact store"):
        store.fetch(tmp_path.parent / "x")
