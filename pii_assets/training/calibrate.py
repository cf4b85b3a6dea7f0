"""Per-label decision weights, calibrated on the validation split after training.

A trained model is more eager for some labels than for others: it may tag ordinary numbers as
ages or building numbers more readily than it misses names. Each label gets a factor that scales
its probabilities before Viterbi decoding (``Decoder``'s ``label_weights``); the factors are chosen
one label at a time, from ``FACTORS``, to maximise the strict micro F1 on the validation split,
and kept only when they improve it. The sensitivity presets (``--sensitivity``, the threshold that
re-weights ``O``) apply on top of them.

Only the windows where a label has some probability are decoded again for that label, so a
calibration costs a few seconds to a minute on a CPU for a demo-sized validation split.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

import numpy as np

from pii_assets.training.metrics import Gold
from pii_assets.training.train import Windows, decode, sample_spans

FACTORS = (0.3, 0.5, 0.7, 1.4, 2.0)
"""The factors tried for each label besides 1 (no change)."""
RELEVANT = 0.02
"""A window is decoded again for a label when some token gives the label at least this probability."""


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def calibrate(windows: Windows, probabilities: Sequence[np.ndarray], gold: dict[str, Gold],
              id2label: dict[int, str], factors: Sequence[float] = FACTORS,
              log: Callable[[str], None] = print) -> tuple[dict[str, float], dict[str, float]]:
    """``(label weights, {"before": micro F1, "after": micro F1})`` on ``windows`` (the validation
    split) given the model's ``probabilities`` per window. Labels keep weight 1 unless another
    factor raises the validation strict micro F1."""
    by_sample: dict[str, list[int]] = defaultdict(list)
    for w, sid in enumerate(windows.sample_id):
        if sid in gold:
            by_sample[sid].append(w)
    predictions = dict(enumerate(decode(windows, probabilities, id2label)))
    gold_sets = {sid: set(g.spans) for sid, g in gold.items()}

    def counts(sid: str) -> tuple[int, int, int]:
        predicted = {span for span, _ in sample_spans(windows, by_sample[sid], predictions, id2label, gold[sid].text)}
        hits = len(predicted & gold_sets[sid])
        return hits, len(predicted) - hits, len(gold_sets[sid]) - hits

    per_sample = {sid: counts(sid) for sid in by_sample}
    total = np.sum(list(per_sample.values()), axis=0) if per_sample else np.zeros(3, dtype=int)
    before = _f1(*total)
    weights: dict[str, float] = {}
    tag_ids: dict[str, list[int]] = defaultdict(list)
    for i, tag in id2label.items():
        if tag != "O":
            tag_ids[tag[2:]].append(i)
    # most frequent labels first: their choice moves the most spans
    support = defaultdict(int)
    for g in gold.values():
        for span in g.spans:
            support[span[2]] += 1
    for label in sorted(tag_ids, key=lambda name: (-support[name], name)):
        relevant = [w for w, probs in enumerate(probabilities)
                    if windows.sample_id[w] in gold and len(probs) and probs[:, tag_ids[label]].max() >= RELEVANT]
        if not relevant:
            continue
        samples = sorted({windows.sample_id[w] for w in relevant})
        kept = {w: predictions[w] for w in relevant}
        old = {sid: per_sample[sid] for sid in samples}
        best_f1, best_factor, best_state = _f1(*total), 1.0, None
        for factor in sorted(factors, key=lambda f: abs(math.log(f))):
            trial = {**weights, label: factor}
            predictions.update(zip(relevant, decode(windows, probabilities, id2label, trial, only=relevant)))
            new = {sid: counts(sid) for sid in samples}
            candidate = total - np.sum(list(old.values()), axis=0) + np.sum(list(new.values()), axis=0)
            if _f1(*candidate) > best_f1 + 1e-4:
                best_f1, best_factor, best_state = _f1(*candidate), factor, (dict(predictions), new, candidate)
            predictions.update(kept)
        if best_state is not None:
            weights[label] = best_factor
            predictions, new, total = best_state
            per_sample.update(new)
            log(f"calibration: {label} x{best_factor} -> validation micro F1 {best_f1:.4f}")
    return weights, {"before": round(before, 4), "after": round(_f1(*total), 4)}
