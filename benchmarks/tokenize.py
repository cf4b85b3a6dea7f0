"""Tokenization + IOB2/coreference alignment throughput vs the bare tokenizer call.

Same texts in chunks, same windowed Rust tokenizer (MiniLM's by default), 2 cores; each figure is
the best of --repeats passes over all the chunks:
  - bare:       the Rust tokenizer's encode_batch(texts) with offsets, nothing else;
  - aligned:    Aligner.encode_chunks: the same call plus the windows, labels, coreference ids
                and the Arrow table, the next chunk tokenized while this one is aligned (what the
                training_tokens asset runs);
  - one by one: Aligner.encode per chunk, tokenizing and aligning in turn;
  - hf call:    transformers' tokenizer(texts, return_offsets_mapping=True, ...) for reference.
Run on the offline generator's samples (long, multi-sentence) and on their first lines only
(short, sentence-length texts), because samples/s depends on text length; tokens/s does not.

    python benchmarks/tokenize.py [--samples 10000] [--backbone minilm] [--chunk 1000] [--repeats 3]
"""

from __future__ import annotations

import os
import sys

# This file shadows the standard library's `tokenize` for anything imported while its folder is
# first on sys.path (python benchmarks/tokenize.py puts it there): take the folder off first.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from collections import deque  # noqa: E402

from pii_assets.batches import BatchSpec  # noqa: E402
from pii_assets.generator.offline import OfflineGenerator  # noqa: E402
from pii_assets.samples import first_line, validate  # noqa: E402
from pii_assets.training.backbone import load_tokenizer  # noqa: E402
from pii_assets.training.tokens import Aligner, WindowConfig  # noqa: E402


def best_time(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(name: str, samples: list[dict], aligner: Aligner, hf_tokenizer, chunk: int, config: WindowConfig,
            repeats: int):
    chunks = [samples[i:i + chunk] for i in range(0, len(samples), chunk)]
    text_chunks = [[s["text"] for s in c] for c in chunks]
    tokens = sum(int(aligner.tokenizer(texts).lengths.sum()) for texts in text_chunks)  # tokens in windows; warms up
    def hf_call(texts):
        return hf_tokenizer(texts, return_offsets_mapping=True, return_overflowing_tokens=True, truncation=True,
                            max_length=config.max_length, stride=config.stride)

    def drain(results) -> None:  # consume, keeping one chunk's result alive at a time
        deque(results, maxlen=0)

    times = {
        "bare": lambda: drain(map(aligner.tokenizer.encode_batch, text_chunks)),
        "aligned": lambda: drain(aligner.encode_chunks(chunks)),
        "one by one": lambda: drain(map(aligner.encode, chunks)),
        "hf call": lambda: drain(map(hf_call, text_chunks)),
    }
    times = {label: best_time(run, repeats) for label, run in times.items()}
    n = len(samples)
    avg_chars = sum(len(s["text"]) for s in samples) / n
    print(f"\n{name}: {n} samples, {avg_chars:.0f} chars/sample, ~{tokens / n:.0f} tokens/sample")
    print(f"{'':<11} {'samples/s':>10} {'tokens/s':>11}")
    for label, t in times.items():
        print(f"{label:<11} {n / t:>10,.0f} {tokens / t:>11,.0f}")
    print(f"aligned / bare speed: {times['bare'] / times['aligned']:.2f}   "
          f"aligned / hf call: {times['hf call'] / times['aligned']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--chunk", type=int, default=1000, help="samples per chunk (as training_tokens)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=32)
    args = parser.parse_args()
    config = WindowConfig(args.max_length, args.stride)
    hf_tokenizer = load_tokenizer(args.backbone)
    aligner = Aligner(hf_tokenizer, config=config)
    samples = [validate(s) for s in OfflineGenerator(BatchSpec("bench-tok", size=args.samples, seed=1)).generate()]
    print(f"backbone {args.backbone}, window {config.max_length}/{config.stride}, chunks of {args.chunk}")
    measure("generated samples", samples, aligner, hf_tokenizer, args.chunk, config, args.repeats)
    short = [s for s in map(first_line, samples) if s is not None]
    measure("first lines only", short, aligner, hf_tokenizer, args.chunk, config, args.repeats)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
