"""Inference: int8 ONNX (onnxruntime) vs the trained torch fp32 model, same inputs, same run.

Inputs are 128-token windows of offline-generator texts (the release's tokenizer). Latency is
the median wall time of one call (tokens already encoded; softmax included for both) at
batch 1 and batch 32, with 2 threads each. Also: the fp32 ONNX export under onnxruntime (to
separate the runtime's gain from quantization's), file sizes and the argmax agreement of int8
vs torch on these windows, plus the release's parity gate result when it has one.

    python benchmarks/inference.py [--release r1] [--data-dir data] [--windows 64]
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # benchmarks/tokenize.py would shadow the standard library's tokenize

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pii_assets.batches import BatchSpec  # noqa: E402
from pii_assets.generator.offline import OfflineGenerator  # noqa: E402
from pii_assets.training.export import export_fp32, quantize  # noqa: E402
from pii_assets.training.model import PiiModel  # noqa: E402
from pii_assets.training.scoring import QUANTIZED_ONNX, OnnxScorer, TorchScorer, latency_ms  # noqa: E402
from pii_assets.training.tokens import WindowConfig, WindowTokenizer  # noqa: E402


def windows_of_128(tokenizer_json: Path, n: int) -> np.ndarray:
    texts = [s["text"] for s in OfflineGenerator(BatchSpec("bench-infer", size=4 * n, seed=3)).generate()]
    windows = WindowTokenizer(tokenizer_json, WindowConfig(128, 0))(texts)
    starts = windows.bounds[:-1][windows.lengths == 128]
    if len(starts) < n:
        raise SystemExit(f"only {len(starts)} full 128-token windows; lower --windows")
    return windows.ids[starts[:n, None] + np.arange(128)].astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", default="r1")
    parser.add_argument("--data-dir", default=os.environ.get("PII_ASSETS_DATA_DIR", "data"))
    parser.add_argument("--windows", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    release = Path(args.data_dir) / "releases" / args.release
    trained_dir = release / "trained_model"
    if not trained_dir.is_dir():
        raise SystemExit(f"no trained model at {trained_dir}: build a release first (make demo)")
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        quantized_dir = Path(tmp) / "quantized"
        info = quantize(trained_dir, quantized_dir)  # the current export, not whatever is on disk
        fp32_onnx = export_fp32(trained_dir, Path(tmp) / "fp32")
        ids = windows_of_128(trained_dir / "tokenizer.json", args.windows)
        mask = np.ones_like(ids)
        systems = {
            "torch fp32": TorchScorer(PiiModel.load(trained_dir).token_model),
            "onnxruntime fp32": OnnxScorer(fp32_onnx, threads=args.threads),
            "onnxruntime int8": OnnxScorer(quantized_dir / QUANTIZED_ONNX, threads=args.threads),
        }
        singles = [(ids[i:i + 1], mask[i:i + 1]) for i in range(min(len(ids), 32))]
        batches = [(ids[i:i + 32], mask[i:i + 32]) for i in range(0, len(ids) - 31, 32)]
        rows = {name: (latency_ms(s, singles), latency_ms(s, batches)) for name, s in systems.items()}
        reference = systems["torch fp32"].probabilities(ids, mask).argmax(-1)
        quantized = systems["onnxruntime int8"].probabilities(ids, mask).argmax(-1)
        agreement = float((reference == quantized)[:, 1:-1].mean())  # without [CLS] / [SEP]

    trained_bytes = sum(p.stat().st_size for p in trained_dir.glob("*.safetensors"))
    base1, base32 = rows["torch fp32"]
    print(f"release {args.release}: {len(ids)} windows of 128 tokens, {args.threads} threads\n")
    print(f"{'':<18} {'batch 1 (ms)':>13} {'speed-up':>9} {'batch 32 (ms)':>14} {'speed-up':>9}")
    for name, (b1, b32) in rows.items():
        print(f"{name:<18} {b1:13.2f} {base1 / b1:8.2f}x {b32:14.1f} {base32 / b32:8.2f}x")
    print(f"\nsizes: torch safetensors {trained_bytes / 2**20:.1f} MiB, ONNX fp32 {info.onnx_fp32_bytes / 2**20:.1f} MiB, "
          f"int8 {info.quantized_bytes / 2**20:.1f} MiB = {info.quantized_bytes / trained_bytes:.1%} of fp32")
    print(f"int8 vs torch argmax agreement on these windows: {agreement:.4%}")
    parity = release / "parity.json"
    if parity.is_file():
        summary = json.loads(parity.read_text(encoding="utf-8"))["summary"]
        print(f"release parity gate (test split): agreement {summary['argmax_agreement']:.4%}, "
              f"micro F1 {summary['reference_micro_f1']} -> {summary['candidate_micro_f1']} "
              f"({summary['micro_f1_drop_points']:+.2f} points lost)")


if __name__ == "__main__":
    main()
