"""Span prediction with a trained model directory, on any text length (overlapping windows).

Tags come from Viterbi decoding under IOB2 constraints (I-X only after B-X/I-X). The threshold
sets the sensitivity by re-weighting ``O`` by t / (1 - t) before decoding: 0.5 is plain decoding,
lower thresholds tag more text as PII. Presets: high = 0.1, medium = 0.25, low = 0.5.
A span's score is the mean probability of its label over its tokens (``Decoder``). The per-label
weights calibrated on the release's validation split (``decoding.json``) apply under the threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pii_assets.training.model import Decoder, load_label_weights, merge_windows, tokens_to_spans
from pii_assets.training.scoring import load_scorer, pad_token_id, probabilities_by_length
from pii_assets.training.tokens import WindowConfig, WindowTokenizer

SENSITIVITY = {"high": 0.1, "medium": 0.25, "low": 0.5}


class Predictor:
    """Predicts with a trained model directory (torch) or a quantized one (onnxruntime)."""

    def __init__(self, model_dir: str | Path, window: WindowConfig = WindowConfig(), batch_size: int = 16):
        model_dir = Path(model_dir)
        self.scorer = load_scorer(model_dir)
        self.id2label = self.scorer.id2label
        self.decoder = Decoder(self.id2label, load_label_weights(model_dir))
        self.windows = WindowTokenizer(model_dir / "tokenizer.json", window)
        self.batch_size = batch_size
        self.pad_id = pad_token_id(model_dir)

    def predict(self, texts: list[str], threshold: float = 0.5) -> list[list[dict[str, Any]]]:
        """``privacy_mask`` spans (value, label, start, end, score) for each text."""
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be between 0 and 1, got {threshold}")
        if not texts:
            return []
        o_weight = threshold / (1 - threshold)  # 0.5 -> plain decoding; lower -> more PII
        windows = self.windows(texts)
        bounds, first = windows.bounds, windows.of_text(len(texts))
        probs = probabilities_by_length(self.scorer, [windows.ids[bounds[w]:bounds[w + 1]]
                                                      for w in range(len(windows.lengths))],
                                        self.pad_id, self.batch_size)
        results: list[list[dict[str, Any]]] = []
        for i, text in enumerate(texts):
            merged_input = []
            for w in range(first[i], first[i + 1]):
                tokens = slice(bounds[w], bounds[w + 1])
                keep = ~windows.special[tokens]
                tags, scores = self.decoder(probs[w][keep], o_weight)
                merged_input.append((windows.starts[tokens][keep], windows.ends[tokens][keep], tags, scores))
            spans = tokens_to_spans(merge_windows(merged_input), self.id2label, text) if text else []
            results.append([{"value": text[s:e], "label": label, "start": s, "end": e, "score": round(score, 4)}
                            for (s, e, label), score in spans])
        return results
