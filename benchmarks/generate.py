"""Offline generator throughput on one core, with presidio-evaluator's generator as the baseline.

Prints samples/s and entities/s for
  - generate:         the offline provider alone,
  - generate+contract: every sample also validated against the sample contract (offsets match
                       the text, labels known, id computed) - "valid, grounded samples",
  - generate+review:   plus the catalogue validators (Luhn, mod-97, national schemes, phones),
and, given a Python with presidio-evaluator (it needs transformers 5, so it lives in its own
virtualenv: `make bench` builds .venv-bench), its PresidioSentenceFaker in the same run, with
ratios per sample, per entity and per character. Peak RSS is printed next to the times.

    python benchmarks/generate.py [--samples 20000] [--presidio-python .venv-bench/bin/python]
"""

from __future__ import annotations

import os
import sys

# benchmarks/tokenize.py would shadow the standard library's `tokenize` (imported by inspect and
# linecache) while this folder is first on sys.path, as `python benchmarks/x.py` puts it.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from pii_assets.batches import BatchSpec
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.review import review_sample
from pii_assets.samples import validate

REFERENCE_PRESIDIO = 2450.0  # samples/s measured on this machine class (see issue 2)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mode: str, n: int) -> tuple[float, int, int, float]:
    generator = OfflineGenerator(BatchSpec("bench", size=n, seed=1))
    start = time.perf_counter()
    entities = chars = 0
    for i, sample in enumerate(generator.generate()):
        if mode == "contract":
            validate(sample)
        elif mode == "review":
            review_sample(sample, i + 1)
        entities += len(sample["privacy_mask"])
        chars += len(sample["text"])
    return time.perf_counter() - start, entities, chars, peak_rss_mib()


PRESIDIO_SNIPPET = """
import json, os, sys, time
os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
from presidio_evaluator.data_generator import PresidioSentenceFaker
faker = PresidioSentenceFaker("en_US", lower_case_ratio=0.05)
n = int(sys.argv[1])
faker.generate_new_fake_sentences(num_samples=min(n, 3000))  # warm-up: its first call is slower
start = time.perf_counter()
records = faker.generate_new_fake_sentences(num_samples=n)
elapsed = time.perf_counter() - start
print(json.dumps({"elapsed": elapsed, "spans": sum(len(r.spans) for r in records),
                  "chars": sum(len(r.full_text) for r in records)}))
"""


def presidio_baseline(python: str | None, n: int) -> dict | None:
    """Run PresidioSentenceFaker in ``python`` (its own virtualenv: it needs transformers 5)."""
    if not python:
        return None
    proc = subprocess.run([python, "-c", PRESIDIO_SNIPPET, str(n)], capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1"})
    if proc.returncode != 0:
        print(f"presidio-evaluator run failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--baseline-samples", type=int, default=20000)
    parser.add_argument("--presidio-python", default=os.environ.get("PRESIDIO_PYTHON"),
                        help="python of a virtualenv with presidio-evaluator (default $PRESIDIO_PYTHON)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    print(f"offline generator, {args.samples} samples, 6 languages, 1 core (python {sys.version.split()[0]})")
    print(f"{'mode':<18} {'samples/s':>10} {'entities/s':>11} {'ent/sample':>10} {'peak RSS':>10}")
    results = {}
    for mode in ("generate", "contract", "review"):
        elapsed, entities, chars, rss = run(mode, args.samples)
        ent_per_sample, chars_per_sample = entities / args.samples, chars / args.samples
        rate = args.samples / elapsed
        results[mode] = rate
        label = {"generate": "generate", "contract": "generate+contract", "review": "generate+review"}[mode]
        print(f"{label:<18} {rate:>10,.0f} {entities / elapsed:>11,.0f} {ent_per_sample:>10.2f} "
              f"{rss:>8.0f} MiB")
    baseline = presidio_baseline(args.presidio_python, args.baseline_samples)
    valid_rate = results["contract"]
    if baseline is None:
        print(f"\npresidio-evaluator not measured (make bench builds .venv-bench for it); "
              f"reference figure from issue 2: {REFERENCE_PRESIDIO:,.0f} samples/s, 1.9 spans/sample")
        print(f"ratio generate+contract / reference: {valid_rate / REFERENCE_PRESIDIO:.2f}x samples/s")
        return
    n = args.baseline_samples
    rate = n / baseline["elapsed"]
    print(f"\nPresidioSentenceFaker (en_US, after warm-up), {n} samples, 1 core: {rate:,.0f} samples/s, "
          f"{baseline['spans'] / n:.2f} spans/sample, {baseline['chars'] / n:.0f} chars/sample")
    ours = results
    print(f"{'ratio vs presidio':<18} {'samples/s':>10} {'entities/s':>11} {'chars/s':>10}")
    for mode, label in (("contract", "generate+contract"), ("review", "generate+review")):
        r = ours[mode]
        print(f"{label:<18} {r / rate:>9.2f}x {r * ent_per_sample / (baseline['spans'] / baseline['elapsed']):>10.2f}x "
              f"{r * chars_per_sample / (baseline['chars'] / baseline['elapsed']):>9.2f}x")

if __name__ == "__main__":
    main()
