"""A realistic small release for the SFT tests: offline-generator samples in all six languages,
split by the release's own split function (about 80/10/10), built once per session."""

import json

import pytest

from pii_assets.batches import BatchSpec
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.samples import validate
from pii_assets.sft import SftConfig, build_sft
from pii_assets.training.release import SPLIT_SEED, split_of

SEED = 7
CONFIG = SftConfig(max_positives_per_category=200)


@pytest.fixture(scope="session")
def release_pairs():
    samples = [validate(s) for s in OfflineGenerator(BatchSpec("sft-test", size=2000, seed=3)).generate()]
    return [(s, split_of(s["id"], SPLIT_SEED)) for s in samples]


@pytest.fixture(scope="session")
def built(release_pairs, tmp_path_factory):
    directory = tmp_path_factory.mktemp("sft")
    stats = build_sft(release_pairs, directory, seed=SEED, config=CONFIG)
    return directory, stats


def load(directory, split):
    """``(row, output, content, meta)`` per line of a split."""
    rows = (directory / f"sft_{split}.jsonl").read_text(encoding="utf-8").splitlines()
    metas = (directory / f"sft_{split}.meta.jsonl").read_text(encoding="utf-8").splitlines()
    out = []
    for raw, raw_meta in zip(rows, metas, strict=True):
        row = json.loads(raw)
        out.append((row, json.loads(row["output"]), row["input"], json.loads(raw_meta)))
    return out


@pytest.fixture(scope="session")
def examples(built):
    directory, _ = built
    return {split: load(directory, split) for split in ("train", "validation")}
