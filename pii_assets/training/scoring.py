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


def pad(rows: list[np.ndarray], length: int, value: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` as one int64 (len(rows), length) array, padded on the right with ``value`` (a row
    longer than ``length`` is cut), and the mask of the real positions."""
    out = np.full((len(rows), length), value, dtype=np.int64)
    mask = np.zeros((len(rows), length), dtype=np.int64)
    for i, row in enumerate(rows):
        k = min(len(row), length)
        out[i, :k] = row[:k]
        mask[i, :k] = 1
    return out, mask


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
    """An ONNX token classifier run by onnxruntime (CPU, or CUDA when its provider is installed).

    A dynamically quantized model (int8, ``DynamicQuantizeLinear``) scales activations per tensor,
    so in a batch a window's probabilities would depend on its neighbours and on the padding (up
    to 0.13 apart, measured): such a model scores each window alone, without padding, and a text
    gets the same spans whatever it is batched with. On 2 cores that costs ~4% on full windows and
    saves the padding on texts of mixed lengths.
    """

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnx
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                     if p in ort.get_available_providers()]
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        self.inputs = {i.name for i in self.session.get_inputs()}
        graph = onnx.load(str(path), load_external_data=False).graph
        self.window_by_window = any(node.op_type == "DynamicQuantizeLinear" for node in graph.node)
        config = json.loads((path.parent / "config.json").read_text(encoding="utf-8"))
        self.id2label = {int(k): v for k, v in config["id2label"].items()}

    def probabilities(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        if not self.window_by_window:
            return self._run(input_ids, attention_mask)
        out = np.zeros((*input_ids.shape, len(self.id2label)), dtype=np.float32)
        for row, n in enumerate(attention_mask.sum(axis=1)):  # windows are padded on the right
            out[row, :n] = self._run(input_ids[row:row + 1, :n], attention_mask[row:row + 1, :n])[0]
        return out

    def _run(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        logits = self.session.run(["logits"], {k: v for k, v in feed.items() if k in self.inputs})[0]
        return softmax(logits.astype(np.float32))


def probabilities_by_length(scorer: Scorer, windows: list[np.ndarray], pad_id: int,
                            batch_size: int = 32) -> list[np.ndarray]:
    """Per window (its token ids): the scorer's (tokens x tags) probabilities, scored in batches
    of windows of similar length, so there is little padding."""
    out: list[np.ndarray] = [None] * len(windows)  # type: ignore[list-item]
    order = np.argsort([len(w) for w in windows], kind="stable")
    for i in range(0, len(order), batch_size):
        batch = order[i:i + batch_size]
        ids, mask = pad([windows[w] for w in batch], max(len(windows[w]) for w in batch), pad_id)
        probs = scorer.probabilities(ids, mask)
        for row, w in enumerate(batch):
            out[w] = probs[row, :len(windows[w])]
    return out


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
