"""Span prediction with a trained model directory, on any text length (overlapping windows).

Tags come from Viterbi decoding under IOB2 constraints (I-X only after B-X/I-X). The threshold
sets the sensitivity by re-weighting ``O`` by t / (1 - t) before decoding: 0.5 is plain decoding,
lower thresholds tag more text as PII. Presets: high = 0.1, medium = 0.25, low = 0.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pii_assets.training.model import merge_windows, tokens_to_spans, transition_mask, viterbi
from pii_assets.training.scoring import load_scorer, pad_token_id
from pii_assets.training.tokens import WindowConfig, window_tokenizer

SENSITIVITY = {"high": 0.1, "medium": 0.25, "low": 0.5}


class Predictor:
    """Predicts with a trained model directory (torch) or a quantized one (onnxruntime)."""

    def __init__(self, model_dir: str | Path, window: WindowConfig = WindowConfig(), batch_size: int = 16):
        model_dir = Path(model_dir)
        self.scorer = load_scorer(model_dir)
        self.id2label = self.scorer.id2label
        self.allowed = transition_mask(self.id2label)
        self.windows = window_tokenizer(model_dir / "tokenizer.json", window)
        self.batch_size = batch_size
        self.pad_id = pad_token_id(model_dir)

    def _probs(self, windows: list) -> list[np.ndarray]:
        out = []
        for i in range(0, len(windows), self.batch_size):
            chunk = windows[i:i + self.batch_size]
            length = max(len(w.ids) for w in chunk)
            ids = np.full((len(chunk), length), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(chunk), length), dtype=np.int64)
            for row, w in enumerate(chunk):
                ids[row, :len(w.ids)] = w.ids
                mask[row, :len(w.ids)] = 1
            probs = self.scorer.probabilities(ids, mask)
            out += [probs[row, :len(w.ids)] for row, w in enumerate(chunk)]
        return out

    def predict(self, texts: list[str], threshold: float = 0.5) -> list[list[dict[str, Any]]]:
        """``privacy_mask`` spans (value, label, start, end, score) for each text."""
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        o_weight = threshold / (1 - threshold)  # 0.5 -> plain decoding; lower -> more PII
        results: list[list[dict[str, Any]]] = []
        encodings = self.windows.encode_batch(texts) if texts else []
        for text, encoding in zip(texts, encodings):
            windows = [encoding, *encoding.overflowing]
            merged_input = []
            for window, probs in zip(windows, self._probs(windows)):
                keep = ~np.array(window.special_tokens_mask, dtype=bool)
                offsets = np.array(window.offsets, dtype=np.int64).reshape(-1, 2)[keep]
                probs = probs[keep]
                tags = viterbi(probs, self.allowed, o_weight)
                merged_input.append((offsets[:, 0], offsets[:, 1], tags, probs[np.arange(len(tags)), tags]))
            spans = tokens_to_spans(merge_windows(merged_input), self.id2label) if text else []
            results.append([{"value": text[s:e], "label": label, "start": s, "end": e, "score": round(score, 4)}
                            for (s, e, label), score in spans])
        return results
