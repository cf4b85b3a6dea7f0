"""Token scorers: PII tag probabilities for padded token windows, from torch or from ONNX.

Everything downstream (Viterbi decoding, window merging, span metrics, the predict CLI) works on
the probabilities a scorer returns, so the trained model and its quantized ONNX export are
evaluated and served by the same code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import numpy as np

QUANTIZED_ONNX = "model_quantized.onnx"


class Scorer(Protocol):
    id2label: dict[int, str]

    def probabilities(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """(batch, tokens, tags) softmax probabilities for int64 (batch, tokens) inputs."""


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class TorchScorer:
    """A transformers token classifier (or ``PiiModel``), on CUDA with bf16 autocast if available."""

    def __init__(self, model) -> None:
        import torch

        from pii_assets.training.model import device_and_dtype

        self.device, self.autocast = device_and_dtype()
        self.model = model.eval().to(self.device)
        token_model = getattr(model, "token_model", model)
        self.id2label = {int(k): v for k, v in token_model.config.id2label.items()}
        self._torch = torch

    def probabilities(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        torch = self._torch
        ids = torch.from_numpy(input_ids).to(self.device)
        mask = torch.from_numpy(attention_mask).to(self.device)
        with torch.no_grad(), torch.autocast(self.device.type, dtype=self.autocast,
                                             enabled=self.autocast is not None):
            out = self.model(input_ids=ids, attention_mask=mask)
        logits = out[0] if isinstance(out, tuple) else out.logits
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()


class OnnxScorer:
    """An ONNX token classifier run by onnxruntime (CPU, or CUDA when its provider is installed)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.inputs = {i.name for i in self.session.get_inputs()}
        config = json.loads((path.parent / "config.json").read_text(encoding="utf-8"))
        self.id2label = {int(k): v for k, v in config["id2label"].items()}

    def probabilities(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        logits = self.session.run(["logits"], {k: v for k, v in feed.items() if k in self.inputs})[0]
        return softmax(logits.astype(np.float32))


def latency_ms(scorer: Scorer, batches: list[tuple[np.ndarray, np.ndarray]], repeats: int = 3) -> float:
    """Median wall time of one ``probabilities`` call over ``batches`` (after one warm-up call)."""
    import statistics
    import time

    scorer.probabilities(*batches[0])
    times = []
    for _ in range(repeats):
        for input_ids, attention_mask in batches:
            start = time.perf_counter()
            scorer.probabilities(input_ids, attention_mask)
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def pad_token_id(model_dir: Path) -> int:
    """The padding token id of a model directory (from its ``config.json``; 0 if it has none)."""
    config = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
    return config.get("pad_token_id") or 0


def load_scorer(model_dir: Path) -> Scorer:
    """The scorer of a model directory: quantized ONNX if it has one, the torch model otherwise."""
    model_dir = Path(model_dir)
    if (model_dir / QUANTIZED_ONNX).exists():
        return OnnxScorer(model_dir / QUANTIZED_ONNX)
    if not (model_dir / "config.json").exists():
        raise FileNotFoundError(f"{model_dir}: not a model directory (no config.json or {QUANTIZED_ONNX})")
    from transformers import AutoModelForTokenClassification

    return TorchScorer(AutoModelForTokenClassification.from_pretrained(model_dir))
