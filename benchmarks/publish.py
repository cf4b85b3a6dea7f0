"""Publishing and importing: HF dataset, SFT JSONL and the hf import provider, on offline samples.

Measures, in one run on the same N offline-generator samples (split by group like a release):
  - hf_dataset: DatasetDict build + Parquet + Arrow copy + card, samples/s;
  - sft_jsonl: examples built and written, samples/s and examples/s;
  - import of the same samples as ai4privacy-style rows (source_text + privacy_mask with offsets,
    ai4privacy label names) from Parquet, rows/s, against the baseline of only reading those rows
    (pyarrow -> Python dicts) in the same run; and of the written HF dataset (this project's format),
    checking that every id comes back unchanged.

    python benchmarks/publish.py [--samples 5000]
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # benchmarks/tokenize.py would shadow the standard library's tokenize

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from pii_assets.batches import BatchSpec  # noqa: E402
from pii_assets.generator.offline import OfflineGenerator  # noqa: E402
from pii_assets.hub import dataset as hfd  # noqa: E402
from pii_assets.hub.imports import AI4PRIVACY_LABELS, import_source, read_rows  # noqa: E402
from pii_assets.samples import validate  # noqa: E402
from pii_assets.sft import build_sft  # noqa: E402
from pii_assets.training.release import SPLIT_SEED, split_of  # noqa: E402
from pii_assets.training.tokens import sample_group  # noqa: E402

# ai4privacy's name for each catalogue label (the first source label that maps onto it)
AI4PRIVACY_NAME = {}
for source, target in AI4PRIVACY_LABELS.items():
    if target and target != "ignore":
        AI4PRIVACY_NAME.setdefault(target, source)


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()
    samples = [validate(s) for s in OfflineGenerator(BatchSpec("bench-publish", size=args.samples, seed=5)).generate()]
    splits: dict[str, list] = {"train": [], "validation": [], "test": []}
    for s in samples:
        splits[split_of(sample_group(s), SPLIT_SEED)].append(s)
    n = len(samples)
    print(f"{n} samples: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = {"batches": [], "manifest_sha256": "-", "config": {}}
        stats = hfd.statistics(splits)
        (tmp / "ds").mkdir()
        _, seconds = timed(lambda: hfd.write(hfd.build(splits), tmp / "ds", hfd.card("bench", manifest, stats)))
        print(f"hf_dataset  build + write: {seconds:6.2f} s  {n / seconds:8.0f} samples/s")

        pairs = [(s, split) for split, group in splits.items() for s in group]
        sft, seconds = timed(lambda: build_sft(pairs, tmp / "sft"))
        examples = sft["examples"]
        print(f"sft_jsonl   build + write: {seconds:6.2f} s  {n / seconds:8.0f} samples/s "
              f"({examples} examples, {examples / seconds:.0f} examples/s)")

        import polars as pl

        rows = [{"source_text": s["text"], "language": s["language"], "uid": s["id"],
                 "privacy_mask": [{"value": x["value"], "start": x["start"], "end": x["end"],
                                   "label": AI4PRIVACY_NAME.get(x["label"], x["label"])} for x in s["privacy_mask"]]}
                for s in samples]
        pl.DataFrame(rows).write_parquet(tmp / "ai4privacy.parquet")
        _, read_seconds = timed(lambda: sum(1 for _ in read_rows(tmp / "ai4privacy.parquet")))
        result, seconds = timed(lambda: import_source(tmp / "ai4privacy.parquet"))
        print(f"import ai4privacy rows:    {seconds:6.2f} s  {n / seconds:8.0f} rows/s "
              f"({result.accepted} accepted, rejects {dict(result.reject_counts)}); reading them only: "
              f"{n / read_seconds:.0f} rows/s, import = {read_seconds / seconds:.2f}x of bare reading")
        back, seconds = timed(lambda: import_source(tmp / "ds"))
        same = {s["id"] for s in back.samples} == {s["id"] for s in samples}
        print(f"import the HF dataset:     {seconds:6.2f} s  {n / seconds:8.0f} rows/s "
              f"(ids {'identical' if same else 'DIFFER'})")


if __name__ == "__main__":
    main()
