"""Releases: which batches a model is built from, how samples are split, and the manifest.

The manifest is the lineage of everything built for a release: batch keys with the SHA-256 of
the annotated samples and token files they contributed, sample counts, the split of every sample
(``splits.parquet``), the configuration, library versions and the git commit.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from pii_assets.storage import LocalStorage, atomic_writer, sha256_file, write_json

SPLITS = ("train", "validation", "test")
DEFAULT_RATIOS = (0.8, 0.1, 0.1)
SPLIT_SEED = "splits-v1"
"""The same for every release, so a sample group keeps its split from release to release: no
later model trains on an earlier release's test samples, and test sets stay comparable."""
LIBRARIES = ("pii_assets", "torch", "transformers", "tokenizers", "dagster", "polars", "faker",
             "python-stdnum", "phonenumbers", "numpy")
_RELEASE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class ReleaseError(ValueError):
    pass


def validate_release_key(key: str) -> str:
    if not isinstance(key, str) or not _RELEASE_KEY.fullmatch(key) or ".." in key:
        raise ReleaseError(f"release key {key!r} is invalid: 1-64 of letters, digits, '_', '-', '.', "
                           "starting with a letter or digit, no '..'")
    return key


def split_of(group: str, seed: str, ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> str:
    """Deterministic split of a sample group (a hash of release seed and group)."""
    u = int.from_bytes(hashlib.sha256(f"{seed}\0{group}".encode()).digest()[:8], "big") / 2**64
    if u < ratios[0]:
        return "train"
    return "validation" if u < ratios[0] + ratios[1] else "test"


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


@dataclass(frozen=True)
class BatchEntry:
    key: str
    samples: Path
    """The batch's annotated samples (what its tokens were made from)."""
    tokens: Path


def release_dir(store: LocalStorage, release: str) -> Path:
    return store.root / "releases" / validate_release_key(release)


def build_manifest(store: LocalStorage, release: str, batches: list[BatchEntry], config: dict[str, Any],
                   excluded: dict[str, str] | None = None,
                   ratios: tuple[float, float, float] = DEFAULT_RATIOS) -> dict[str, Any]:
    """Assign splits over ``batches`` (in order; a sample id seen twice keeps its first batch),
    write ``splits.parquet`` and ``manifest.json`` under ``releases/<release>/``."""
    if not batches:
        raise ReleaseError(f"release {release!r}: no batch is eligible (materialized tokens and passing "
                           "blocking checks); materialize a batch first")
    frames, entries = [], []
    for batch in batches:
        df = (pl.read_parquet(batch.tokens, columns=["sample_id", "group", "language", "window"])
              .filter(pl.col("window") == 0).drop("window").with_columns(pl.lit(batch.key).alias("batch")))
        frames.append(df)
        entries.append({"key": batch.key, "samples": df.height,
                        "samples_sha256": sha256_file(batch.samples), "tokens_sha256": sha256_file(batch.tokens)})
    samples = pl.concat(frames)
    total = samples.height
    samples = samples.unique(subset="sample_id", keep="first", maintain_order=True)
    groups = samples["group"].unique().to_list()
    seed = config.get("split_seed", SPLIT_SEED)
    split_by_group = {g: split_of(g, seed, ratios) for g in groups}
    samples = samples.with_columns(pl.col("group").replace_strict(split_by_group).alias("split"))
    directory = release_dir(store, release)
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_writer(directory / "splits.parquet", "wb") as fh:
        samples.write_parquet(fh)
    counts = {s: int((samples["split"] == s).sum()) for s in SPLITS}
    manifest = {
        "release": release,
        "batches": entries,
        "excluded_batches": excluded or {},
        "samples": samples.height,
        "duplicate_samples_dropped": total - samples.height,
        "groups": len(groups),
        "splits": counts,
        "split_ratios": list(ratios),
        "splits_sha256": sha256_file(directory / "splits.parquet"),
        "config": config,
        "libraries": library_versions(),
        "git_commit": git_commit(),
    }
    manifest["manifest_sha256"] = hashlib.sha256(
        json.dumps(manifest, sort_keys=True).encode()).hexdigest()
    write_json(directory / "manifest.json", manifest)
    return manifest


def load_manifest(store: LocalStorage, release: str) -> dict[str, Any]:
    path = release_dir(store, release) / "manifest.json"
    if not path.is_file():
        raise ReleaseError(f"release {release!r} has no manifest ({path}); materialize release_manifest first")
    return json.loads(path.read_text(encoding="utf-8"))


def split_ids(store: LocalStorage, release: str) -> dict[str, set[str]]:
    df = pl.read_parquet(release_dir(store, release) / "splits.parquet", columns=["sample_id", "split"])
    return {s: set(df.filter(pl.col("split") == s)["sample_id"].to_list()) for s in SPLITS}


def release_samples(store: LocalStorage, manifest: dict[str, Any], ids: set[str]) -> dict[str, dict]:
    """The annotated samples of the release with the given ids (first batch wins), by id."""
    from pii_assets.storage import read_jsonl

    found: dict[str, dict] = {}
    for batch in manifest["batches"]:
        for _, sample in read_jsonl(store.batch_file(batch["key"], "annotated_samples.jsonl")):
            if sample["id"] in ids:
                found.setdefault(sample["id"], sample)
    return found
