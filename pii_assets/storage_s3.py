"""The artifact store mirrored to S3 (or any S3-compatible endpoint: MinIO, Ceph, moto_server).

The local directory stays the working copy the domain code reads and writes; every artifact also
lives at ``s3://<bucket>/<prefix>/<path relative to the root>``, byte for byte. An asset ``fetch``es
what it is about to read (downloaded when missing locally or different) and ``publish``es what it
wrote (uploaded when missing remotely or different), so a run on another machine, starting from an
empty working copy, finds its inputs. S3 is the reference: a fetched file replaces a different
local one.

Every uploaded object carries the SHA-256 of its bytes in its user metadata (``sha256``); that is
how both directions tell whether a file changed (the ETag of a multipart upload is not a content
hash). Downloads are written atomically and checked against that digest.

Directories (model directories, the HF dataset, the SFT files) are mirrored as a whole: publishing
uploads the changed files and then deletes the remote files the directory no longer has; fetching
builds the directory next to the old one (unchanged files are hard-linked, not downloaded) and swaps
it in, so no reader sees a half-fetched directory.

The S3 client comes from the caller (dagster-aws ``S3Resource.get_client()`` in the Dagster layer);
nothing here reads credentials.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from pii_assets.storage import LocalStorage, atomic_directory, atomic_writer, is_temporary, sha256_file

SHA256_METADATA = "sha256"
_MISSING = ("404", "NoSuchKey", "NotFound")


class S3StorageError(RuntimeError):
    pass


@dataclass(frozen=True)
class _Object:
    size: int
    etag: str
    sha256: str | None = None
    """None when unknown: listed (not yet headed), or uploaded by another tool."""
    headed: bool = False


class S3Storage(LocalStorage):
    """A local working copy of ``s3://bucket/prefix/`` (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, client: Any, bucket: str, prefix: str = ""):
        super().__init__(root)
        if not bucket:
            raise ValueError("S3 storage needs a bucket")
        self.client, self.bucket, self.prefix = client, bucket, prefix.strip("/")
        self._bucket_seen = False
        self.remote = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def key(self, path: str | os.PathLike) -> str:
        rel = self.relative(path)
        return f"{self.prefix}/{rel}" if self.prefix else rel

    # -- the store interface -------------------------------------------------------------------

    def fetch(self, *paths: str | os.PathLike) -> list[str]:
        downloaded: list[str] = []
        for path in paths:
            local, key = self.root / self.relative(path), self.key(path)
            remote = self._head(key)
            if remote is not None:
                if self._fetch_file(local, key, remote):
                    downloaded.append(f"s3://{self.bucket}/{key}")
                continue
            listing = self._list(key)
            if listing:  # a directory; nothing at all remotely: the caller reports what is missing
                downloaded += self._fetch_dir(local, key, listing)
        return downloaded

    def publish(self, *paths: str | os.PathLike) -> list[str]:
        uploaded: list[str] = []
        for path in paths:
            local, key = self.root / self.relative(path), self.key(path)
            if local.is_file():
                if self._publish_file(local, key, self._head(key)):
                    uploaded.append(f"s3://{self.bucket}/{key}")
            elif local.is_dir():
                uploaded += self._publish_dir(local, key)
            else:
                raise FileNotFoundError(f"cannot publish {local}: no such file or directory")
        return uploaded

    def declared_batches(self) -> list[str]:
        """Batches declared here or on any machine sharing the bucket (a ``spec.json`` in either)."""
        remote = {rel.split("/")[0] for rel in self._list(self.key("batches"))
                  if rel.count("/") == 1 and rel.endswith("/spec.json")}
        return sorted(remote | set(super().declared_batches()))

    # -- files ---------------------------------------------------------------------------------

    def _fetch_file(self, local: Path, key: str, remote: _Object) -> bool:
        if self._matches(local, key, remote):
            return False
        self._download(key, local, remote)
        return True

    def _publish_file(self, local: Path, key: str, remote: _Object | None) -> bool:
        digest = sha256_file(local)
        if remote is not None and remote.size == local.stat().st_size:
            if not remote.headed:
                remote = self._head(key) or remote
            if remote.sha256 == digest:
                return False
        with self._errors("upload", key):
            self.client.upload_file(str(local), self.bucket, key, ExtraArgs={"Metadata": {SHA256_METADATA: digest}})
        return True

    def _download(self, key: str, local: Path, remote: _Object) -> None:
        if not remote.headed:  # a listed object: get its digest to check the download against
            remote = self._head(key) or remote
        with atomic_writer(local, "w+b") as fh:
            with self._errors("download", key):
                self.client.download_fileobj(self.bucket, key, fh)
            fh.flush()
            fh.seek(0)
            digest, size = hashlib.sha256(), 0
            while block := fh.read(1 << 20):
                digest.update(block)
                size += len(block)
            if size != remote.size or (remote.sha256 is not None and digest.hexdigest() != remote.sha256):
                raise S3StorageError(f"s3://{self.bucket}/{key}: downloaded {size} bytes that do not match the "
                                     f"object ({remote.size} bytes, sha256 {remote.sha256}); nothing was replaced")

    def _matches(self, local: Path, key: str, remote: _Object) -> bool:
        """Whether the local file holds exactly the remote object's bytes."""
        if not local.is_file() or local.stat().st_size != remote.size:
            return False
        if not remote.headed:
            remote = self._head(key) or remote
        if remote.sha256 is not None:
            return sha256_file(local) == remote.sha256
        if remote.etag and "-" not in remote.etag:  # a single-part upload by another tool: the MD5
            digest = hashlib.md5(usedforsecurity=False)
            with open(local, "rb") as fh:
                while block := fh.read(1 << 20):
                    digest.update(block)
            return digest.hexdigest() == remote.etag
        return False

    # -- directories ---------------------------------------------------------------------------

    @staticmethod
    def _local_files(directory: Path) -> dict[str, Path]:
        if not directory.is_dir():
            return {}
        return {p.relative_to(directory).as_posix(): p for p in sorted(directory.rglob("*"))
                if p.is_file() and not any(is_temporary(part) for part in p.relative_to(directory).parts)}

    def _fetch_dir(self, local: Path, key: str, remote: dict[str, _Object]) -> list[str]:
        present = self._local_files(local)
        changed = [rel for rel, obj in remote.items() if not self._matches(local / rel, f"{key}/{rel}", obj)]
        if not changed and set(present) == set(remote):
            return []
        with atomic_directory(local) as tmp:
            for rel, obj in remote.items():
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                if rel in changed:
                    self._download(f"{key}/{rel}", target, obj)
                else:
                    try:
                        os.link(present[rel], target)
                    except OSError:
                        shutil.copy2(present[rel], target)
        return [f"s3://{self.bucket}/{key}/{rel}" for rel in changed]

    def _publish_dir(self, local: Path, key: str) -> list[str]:
        files, remote = self._local_files(local), self._list(key)
        uploaded = [f"s3://{self.bucket}/{key}/{rel}" for rel, path in files.items()
                    if self._publish_file(path, f"{key}/{rel}", remote.get(rel))]
        stale = [f"{key}/{rel}" for rel in sorted(set(remote) - set(files))]
        for start in range(0, len(stale), 1000):
            with self._errors("delete stale objects under", key):
                response = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in stale[start:start + 1000]],
                                                "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise S3StorageError(f"s3://{self.bucket}/{first.get('Key')}: cannot delete the stale object "
                                     f"({first.get('Code')}: {first.get('Message')})")
        return uploaded

    # -- S3 calls ------------------------------------------------------------------------------

    def _head(self, key: str) -> _Object | None:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) not in _MISSING:
                raise self._error("read", key, exc) from None
            if not self._bucket_seen:  # a HEAD says 404 for a missing bucket too: tell the two apart once
                with self._errors("find the bucket of", key):
                    self.client.head_bucket(Bucket=self.bucket)
                self._bucket_seen = True
            return None
        except BotoCoreError as exc:
            raise self._error("read", key, exc) from None
        return _Object(response["ContentLength"], response.get("ETag", "").strip('"'),
                       (response.get("Metadata") or {}).get(SHA256_METADATA), headed=True)

    def _list(self, key: str) -> dict[str, _Object]:
        """The objects under ``key/``, by path relative to it."""
        found: dict[str, _Object] = {}
        with self._errors("list", key + "/"):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key + "/"):
                for obj in page.get("Contents", []):
                    rel = obj["Key"][len(key) + 1:]
                    if rel and not rel.endswith("/") and not any(is_temporary(p) for p in rel.split("/")):
                        found[rel] = _Object(obj["Size"], obj.get("ETag", "").strip('"'))
        return found

    def _error(self, action: str, key: str, exc: Exception) -> S3StorageError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            reason = f"{error.get('Code')}: {error.get('Message') or exc}"
        else:
            reason = str(exc)
        return S3StorageError(f"cannot {action} s3://{self.bucket}/{key} ({reason})")

    @contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except (ClientError, BotoCoreError, Boto3Error) as exc:
            raise self._error(action, key, exc) from None
