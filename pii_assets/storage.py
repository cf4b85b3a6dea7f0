"""Artifact storage: where every asset writes its files, and how (atomically).

The layout under the storage root (``data/`` by default) is documented in docs/data.md::

    batches/<batch>/spec.json               the batch's declared spec (immutable)
    batches/<batch>/raw_samples.jsonl       provider output
    batches/<batch>/reviewed_samples.jsonl  samples that passed review
    batches/<batch>/rejected_samples.jsonl  rejects, each with its reason
    batches/<batch>/text_hashes.npy         sorted 64-bit normalised-text hashes (dedup index)
    batches/<batch>/training_tokens.parquet token windows with IOB2 and coreference labels

Every write goes to a temporary file in the target directory and is renamed into place only when
complete, so a failed or killed run never leaves a partial file behind.

The local tree is always the working copy the domain code reads and writes. An artifact store may
mirror it to a remote (``storage_s3.S3Storage``): callers ``fetch`` the files or directories they
are about to read and ``publish`` the ones they wrote, both no-ops here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from pii_assets.samples import SampleError, dumps


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()  # what open() would give; mkstemp alone gives 0600
_DIR_MODE = 0o777 & ~_current_umask()  # what mkdir() would give; mkdtemp alone gives 0700


@contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temp file next to ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        kwargs = {"encoding": "utf-8", "newline": "\n"} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory next to ``path`` and swap it in only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        # Libraries write some files 0600 (safetensors does): a serving container running as another
        # user must read every file, so the whole tree gets the modes open() and mkdir() would give.
        for sub in tmp.rglob("*"):
            os.chmod(sub, _DIR_MODE if sub.is_dir() else _FILE_MODE)
        os.chmod(tmp, _DIR_MODE)
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def write_jsonl(path: str | os.PathLike, records: Iterable[Any]) -> int:
    count = 0
    with atomic_writer(path) as fh:
        for record in records:
            fh.write(dumps(record))
            fh.write("\n")
            count += 1
    return count


def read_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Stream ``(line_number, object)`` pairs; a malformed line raises SampleError naming it."""
    with open(path, "rb") as fh:
        yield from iter_jsonl(fh, os.fspath(path))


def iter_jsonl(fh: IO[bytes], name: str) -> Iterator[tuple[int, Any]]:
    """``read_jsonl`` over an open binary stream (standard input), errors named ``name:line``."""
    for lineno, raw in enumerate(fh, 1):  # bytes, so a line that is not UTF-8 is named like a malformed one
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SampleError(f"{name}:{lineno}", f"not UTF-8 (byte {exc.start + 1} of the line)") from None
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            raise SampleError(f"{name}:{lineno}", f"malformed JSON ({exc.msg})") from None


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_writer(path) as fh:
        dump_json(obj, fh)


def dump_json(obj: Any, fh: IO[str]) -> None:
    """The project's JSON document format (UTF-8, indented, sorted keys, final newline)."""
    json.dump(obj, fh, ensure_ascii=False, indent=2, sort_keys=True)
    fh.write("\n")


def is_temporary(name: str) -> bool:
    """A leftover of ``atomic_writer`` / ``atomic_directory`` (never an artifact)."""
    return name.startswith(".") and name.endswith((".tmp", ".old"))


class LocalStorage:
    """Artifacts in a local directory tree (the default store)."""

    remote: str | None = None
    """Where the working copy is mirrored (``s3://bucket/prefix``); None: local only."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()

    def relative(self, path: str | os.PathLike) -> str:
        """``path`` (absolute, or relative to the root) as a POSIX path relative to the root."""
        full = Path(os.path.abspath(self.root / path))
        try:
            rel = full.relative_to(self.root)
        except ValueError:
            raise ValueError(f"{path} is outside the artifact store {self.root}") from None
        if not rel.parts:
            raise ValueError(f"{path} is the artifact store's root, not an artifact in it")
        return rel.as_posix()

    def fetch(self, *paths: str | os.PathLike) -> list[str]:
        """Bring the working copy of ``paths`` (files or directories) up to date with the remote
        before they are read; returns what was downloaded. Local only: nothing to do."""
        for path in paths:
            self.relative(path)
        return []

    def publish(self, *paths: str | os.PathLike) -> list[str]:
        """Mirror ``paths`` (files or whole directories, just written) to the remote; returns what
        was uploaded. Local only: nothing to do."""
        for path in paths:
            self.relative(path)
        return []

    def batch_dir(self, batch: str) -> Path:
        return self.root / "batches" / batch

    def batch_file(self, batch: str, name: str) -> Path:
        return self.batch_dir(batch) / name

    def declared_batches(self) -> list[str]:
        base = self.root / "batches"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / "spec.json").is_file())

    def write_hashes(self, path: Path, hashes: Iterable[int]) -> None:
        array = np.unique(np.fromiter(hashes, dtype=np.uint64))
        with atomic_writer(path, "wb") as fh:
            np.save(fh, array)

    @staticmethod
    def read_hashes(path: Path) -> np.ndarray:
        return np.load(path) if path.is_file() else np.empty(0, dtype=np.uint64)
