"""Offline generator throughput on one core, with presidio-evaluator's generator as the baseline.

Prints samples/s and entities/s for
  - generate:         the offline provider alone,
  - generate+contract: every sample also validated against the sample contract (offsets match
                       the text, labels known, id computed) - "valid, grounded samples",
  - generate+review:   plus the catalogue validators (Luhn, mod-97, national schemes, phones),
and, when presidio-evaluator is importable, its PresidioSentenceFaker on the same machine in the
same run, with the ratio. Peak RSS is printed next to the times.

    python benchmarks/generate.py [--samples 20000] [--baseline-samples 3000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time

from pii_assets.batches import BatchSpec
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.review import review_sample
from pii_assets.samples import validate

REFERENCE_PRESIDIO = 2450.0  # samples/s measured on this machine class (see issue 2)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mode: str, n: int) -> tuple[float, int, float]:
    generator = OfflineGenerator(BatchSpec("bench", size=n, seed=1))
    start = time.perf_counter()
    entities = 0
    for i, sample in enumerate(generator.generate()):
        if mode == "contract":
            validate(sample)
        elif mode == "review":
            review_sample(sample, i + 1)
        entities += len(sample["privacy_mask"])
    return time.perf_counter() - start, entities, peak_rss_mib()


def presidio_baseline(n: int) -> tuple[float, int] | None:
    try:
        from presidio_evaluator.data_generator import PresidioSentenceFaker
    except ImportError:
        return None
    faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05)
    start = time.perf_counter()
    records = faker.generate_new_fake_sentences(num_samples=n)
    elapsed = time.perf_counter() - start
    return elapsed, sum(len(r.spans) for r in records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--baseline-samples", type=int, default=3000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    print(f"offline generator, {args.samples} samples, 6 languages, 1 core (python {sys.version.split()[0]})")
    print(f"{'mode':<18} {'samples/s':>10} {'entities/s':>11} {'ent/sample':>10} {'peak RSS':>10}")
    results = {}
    for mode in ("generate", "contract", "review"):
        elapsed, entities, rss = run(mode, args.samples)
        rate = args.samples / elapsed
        results[mode] = rate
        label = {"generate": "generate", "contract": "generate+contract", "review": "generate+review"}[mode]
        print(f"{label:<18} {rate:>10,.0f} {entities / elapsed:>11,.0f} {entities / args.samples:>10.2f} "
              f"{rss:>8.0f} MiB")
    baseline = presidio_baseline(args.baseline_samples)
    valid_rate = results["contract"]
    if baseline is None:
        print(f"\npresidio-evaluator not installed; reference figure {REFERENCE_PRESIDIO:,.0f} samples/s "
              f"(1.9 spans/sample, English only), not measured in this run")
        print(f"ratio generate+contract / reference: {valid_rate / REFERENCE_PRESIDIO:.2f}x")
    else:
        elapsed, spans = baseline
        rate = args.baseline_samples / elapsed
        print(f"\nPresidioSentenceFaker (en_US), {args.baseline_samples} samples: {rate:,.0f} samples/s, "
              f"{spans / args.baseline_samples:.2f} spans/sample, {spans / elapsed:,.0f} spans/s")
        print(f"ratio generate+contract / presidio: {valid_rate / rate:.2f}x samples/s, "
              f"{(valid_rate / rate):.2f}x per sample")
        print(f"ratio generate+review   / presidio: {results['review'] / rate:.2f}x samples/s")


if __name__ == "__main__":
    main()
