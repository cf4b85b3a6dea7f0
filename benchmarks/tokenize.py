"""Tokenization + IOB2/coreference alignment throughput vs the bare tokenizer call.

Same texts, same windowed Rust tokenizer (MiniLM's by default), 2 cores:
  - bare:    tokenizer.encode_batch(texts) with offsets and overflowing windows, nothing else;
  - aligned: Aligner.encode(samples): the same call plus labels, coreference ids and the Arrow
             table (what the training_tokens asset writes);
  - hf call: transformers' tokenizer(texts, return_offsets_mapping=True, ...) for reference.
Run on the offline generator's samples (long, multi-sentence) and on their first lines only
(short, sentence-length texts), because samples/s depends on text length; tokens/s does not.

    python benchmarks/tokenize.py [--samples 10000] [--backbone minilm] [--chunk 2000]
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

from pii_assets.batches import BatchSpec  # noqa: E402
from pii_assets.generator.offline import OfflineGenerator  # noqa: E402
from pii_assets.samples import first_line, validate  # noqa: E402
from pii_assets.training.backbone import load_tokenizer  # noqa: E402
from pii_assets.training.tokens import Aligner, WindowConfig  # noqa: E402


def timed(fn, chunks) -> float:
    start = time.perf_counter()
    for chunk in chunks:
        fn(chunk)
    return time.perf_counter() - start


def measure(name: str, samples: list[dict], aligner: Aligner, hf_tokenizer, chunk: int, config: WindowConfig):
    chunks = [samples[i:i + chunk] for i in range(0, len(samples), chunk)]
    text_chunks = [[s["text"] for s in c] for c in chunks]
    tokens = sum(len(e.ids) for c in text_chunks[:1] for enc in aligner.tokenizer.encode_batch(c)
                 for e in [enc, *enc.overflowing]) * len(samples) / len(chunks[0])
    timed(aligner.tokenizer.encode_batch, text_chunks[:1])  # warm-up
    bare = timed(aligner.tokenizer.encode_batch, text_chunks)
    aligned = timed(aligner.encode, chunks)
    hf = timed(lambda texts: hf_tokenizer(texts, return_offsets_mapping=True, return_overflowing_tokens=True,
                                          truncation=True, max_length=config.max_length,
                                          stride=config.stride), text_chunks)
    n = len(samples)
    avg_chars = sum(len(s["text"]) for s in samples) / n
    print(f"\n{name}: {n} samples, {avg_chars:.0f} chars/sample, ~{tokens / n:.0f} tokens/sample")
    print(f"{'':<10} {'samples/s':>10} {'tokens/s':>11}")
    for label, t in (("bare", bare), ("aligned", aligned), ("hf call", hf)):
        print(f"{label:<10} {n / t:>10,.0f} {tokens / t:>11,.0f}")
    print(f"aligned / bare speed: {bare / aligned:.2f}   aligned / hf call: {hf / aligned:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--backbone", default="minilm")
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--stride", type=int, default=32)
    args = parser.parse_args()
    config = WindowConfig(args.max_length, args.stride)
    hf_tokenizer = load_tokenizer(args.backbone)
    aligner = Aligner(hf_tokenizer, config=config)
    samples = [validate(s) for s in OfflineGenerator(BatchSpec("bench-tok", size=args.samples, seed=1)).generate()]
    print(f"backbone {args.backbone}, window {config.max_length}/{config.stride}, chunks of {args.chunk}")
    measure("generated samples", samples, aligner, hf_tokenizer, args.chunk, config)
    short = [s for s in map(first_line, samples) if s is not None]
    measure("first lines only", short, aligner, hf_tokenizer, args.chunk, config)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
