"""Span prediction with a trained model directory, on any text length (overlapping windows).

Tags come from Viterbi decoding under IOB2 constraints (I-X only after B-X/I-X). The threshold
sets the sensitivity by re-weighting ``O`` by t / (1 - t) before decoding: 0.5 is plain decoding,
lower thresholds tag more text as PII. Presets: high = 0.1, medium = 0.25, low = 0.5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from pii_assets.training.model import (
    device_and_dtype, merge_windows, tokens_to_spans, transition_mask, viterbi,
)
from pii_assets.training.tokens import WindowConfig, window_tokenizer

SENSITIVITY = {"high": 0.1, "medium": 0.25, "low": 0.5}


class Predictor:
    def __init__(self, model_dir: str | Path, window: WindowConfig = WindowConfig(), batch_size: int = 16):
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.model = AutoModelForTokenClassification.from_pretrained(model_dir).eval()
        self.device, self.autocast = device_and_dtype()
        self.model.to(self.device)
        self.id2label = {int(k): v for k, v in self.model.config.id2label.items()}
        self.allowed = transition_mask(self.id2label)
        self.windows = window_tokenizer(self.tokenizer, window)
        self.batch_size = batch_size
        self.pad_id = self.tokenizer.pad_token_id or 0

    @torch.no_grad()
    def _probs(self, windows: list) -> list[np.ndarray]:
        out = []
        for i in range(0, len(windows), self.batch_size):
            chunk = windows[i:i + self.batch_size]
            length = max(len(w.ids) for w in chunk)
            ids = torch.full((len(chunk), length), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), length), dtype=torch.long)
            for row, w in enumerate(chunk):
                ids[row, :len(w.ids)] = torch.tensor(w.ids)
                mask[row, :len(w.ids)] = 1
            with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
                logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)).logits
            probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
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
