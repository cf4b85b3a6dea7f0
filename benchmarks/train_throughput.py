"""Training throughput: dynamic padding + length-grouped batches vs padding every batch to 128.

Same backbone (MiniLM by default), same windows (generated samples tokenized into windows of at
most 128 tokens), same number of optimizer steps, batch 16, no evaluation; 2 CPU cores. Each run
trains two epochs and is timed on the second: the first sets up kernels for every new batch shape
(~40 ms each in bf16 on oneDNN), a one-off that a real training run spreads over thousands of
steps but that would dominate a 40-step measurement. The cold first epoch is printed too. Runs:
  - fixed 128, random batches, the backbone's own recipe (attention dropout 0.1, fp32): the
    usual fine-tuning baseline;
  - fixed 128, random batches, this project's recipe (TrainConfig: attention dropout 0, so the
    fused attention kernel runs; bf16 autocast on a GPU or a CPU with native bf16, with the
    attention itself in fp32 on a CPU);
  - dynamic padding + length grouping, this project's recipe (what trained_model does).
The second ratio isolates what the padding strategy alone gains; the first is the whole recipe.

    python benchmarks/train_throughput.py [--samples 600] [--steps 40] [--backbone minilm] [--first-lines]
"""

from __future__ import annotations

import os
import sys

# benchmarks/tokenize.py would shadow the standard library's `tokenize` (imported by inspect and
# linecache) while this folder is first on sys.path, as `python benchmarks/x.py` puts it.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import numpy as np
import polars as pl
import torch

from pii_assets.batches import BatchSpec
from pii_assets.catalogue import DEFAULT
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.samples import first_line, validate
from pii_assets.training.backbone import load_tokenizer, resolve
from pii_assets.training.model import PiiModel
from pii_assets.training.tokens import Aligner, WindowConfig
from pii_assets.training.config import TrainConfig
from pii_assets.training.train import Windows, collate, length_grouped_batches, train


def subset(windows: Windows, n: int) -> Windows:
    return Windows(*(getattr(windows, f)[:n] for f in Windows.__dataclass_fields__))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=600)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--first-lines", action="store_true",
                        help="train on the samples' first lines only (sentence-length texts)")
    args = parser.parse_args()
    tokenizer = load_tokenizer(args.backbone)
    samples = [validate(s) for s in OfflineGenerator(BatchSpec("bench-train", size=args.samples, seed=1)).generate()]
    if args.first_lines:
        samples = [s for s in map(first_line, samples) if s is not None]
    windows = Windows.from_frame(pl.from_arrow(Aligner(tokenizer, DEFAULT, WindowConfig(128, 16)).encode(samples)))
    windows = subset(windows, args.steps * args.batch_size)
    lengths = [len(x) for x in windows.input_ids]
    print(f"backbone {args.backbone}, {len(windows)} windows (mean {sum(lengths) / len(lengths):.0f} tokens, "
          f"max {max(lengths)}), batch {args.batch_size}, {args.steps} steps, torch threads "
          f"{torch.get_num_threads()}")
    empty = Windows([], [], [], [], [], [])
    rates = {}
    fixed = {"group_by_length": False, "fixed_length": 128}
    runs = {
        "fixed 128, backbone recipe": TrainConfig(dropout=None, head_dropout=None, precision="fp32", **fixed),
        "fixed 128, project recipe": TrainConfig(**fixed),
        "dynamic, length-grouped": TrainConfig(),
    }
    print(f"{'':<28} {'windows/s':>10} {'cold epoch':>11}")
    for name, config in runs.items():
        config.epochs, config.evals_per_epoch, config.batch_size = 2, 1, args.batch_size
        torch.manual_seed(0)
        model = PiiModel.from_backbone(resolve(args.backbone), DEFAULT, 3, dropout=config.dropout,
                                       head_dropout=config.head_dropout)
        logged = []  # (time, line): the start line, then one line at the end of each epoch

        def record(line: str) -> None:
            if not line.startswith("step "):  # not a progress line
                logged.append((time.perf_counter(), line))

        train(model, windows, empty, {}, tokenizer.pad_token_id, config, log=record)
        (start, first), (end_1, _), (end_2, _) = logged
        rates[name] = len(windows) / (end_2 - end_1)
        print(f"{name:<28} {rates[name]:10.1f} {len(windows) / (end_1 - start):11.1f}  "
              f"({first.rsplit('(', 1)[-1][:-1]})")
    grouped = length_grouped_batches(np.array(lengths), args.batch_size, np.random.default_rng(0))
    multiple = runs["dynamic, length-grouped"].pad_to_multiple_of
    padded = sum(collate(windows, b, tokenizer.pad_token_id, multiple_of=multiple)[0].numel() for b in grouped)
    print(f"tokens computed: fixed {128 * len(lengths):,}, dynamic {padded:,} "
          f"(the most padding can save: {128 * len(lengths) / padded:.2f}x)")
    dynamic = rates["dynamic, length-grouped"]
    print(f"speed-up of dynamic padding + length grouping, same recipe: "
          f"{dynamic / rates['fixed 128, project recipe']:.2f}x")
    print(f"speed-up over the fixed-128 fine-tuning baseline (padding + recipe): "
          f"{dynamic / rates['fixed 128, backbone recipe']:.2f}x")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
