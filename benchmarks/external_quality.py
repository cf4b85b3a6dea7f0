"""A release's models (and vanilla Presidio) scored on labeled sets other people wrote.

Reads every ``*.jsonl`` of --eval-dir (the formats and figures of ``pii_assets.training.external``:
catalogue gold with ``ignore`` regions -> strict span and character-mask P/R/F1; coarse PER / LOC /
ORG / MISC gold -> name recall and spurious rate), runs the trained and the quantized model of a
release on every text, and prints per set and language the figures with their 95% bootstrap
intervals, then the most frequent spurious and missed strings per label.

    python benchmarks/external_quality.py --eval-dir ../shared/eval --release r1 [--presidio] [--json out.json]
"""

from __future__ import annotations

import os
import sys

# benchmarks/tokenize.py would shadow the standard library's `tokenize` while this folder is first
# on sys.path, as `python benchmarks/x.py` puts it.
if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-dir", required=True, help="directory of labeled *.jsonl sets")
    parser.add_argument("--release", default="r1", help="release whose models are scored (default r1)")
    parser.add_argument("--data-dir", default=os.environ.get("PII_ASSETS_DATA_DIR", "data"),
                        help="artifact store (default $PII_ASSETS_DATA_DIR or data/)")
    parser.add_argument("--model", action="append", default=[],
                        help="score these model directories instead of the release's (repeatable)")
    parser.add_argument("--no-quantized", action="store_true", help="skip the release's quantized model")
    parser.add_argument("--presidio", action="store_true", help="also score vanilla Presidio (the bench extra)")
    parser.add_argument("--threshold", type=float, default=0.5, help="decoding threshold (default 0.5)")
    parser.add_argument("--json", help="also write every figure as JSON here")
    args = parser.parse_args()

    from pii_assets.training.external import (evaluate_sets, model_system, presidio_system, read_eval_dir,
                                              report_markdown)

    eval_sets = read_eval_dir(args.eval_dir)
    if args.model:
        models = {Path(m).name if len(args.model) == 1 else m: Path(m) for m in args.model}
    else:
        release = Path(args.data_dir) / "releases" / args.release
        models = {"trained": release / "trained_model"}
        if not args.no_quantized and (release / "quantized_model").is_dir():
            models["quantized"] = release / "quantized_model"
    systems = {name: model_system(path, args.threshold) for name, path in models.items()}
    if args.presidio:
        systems["presidio (vanilla)"] = presidio_system()
    results = evaluate_sets(eval_sets, systems, log=lambda m: print(m, file=sys.stderr))
    print(report_markdown(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
