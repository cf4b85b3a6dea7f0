"""Per-label weights calibrated on hand-made validation probabilities."""

import json

import numpy as np

from pii_assets.catalogue import DEFAULT
from pii_assets.training.calibrate import calibrate
from pii_assets.training.metrics import Gold
from pii_assets.training.model import DECODING_FILE, Decoder, load_label_weights
from pii_assets.training.train import Windows

ID2LABEL = DEFAULT.id2label()
IDS = {v: k for k, v in ID2LABEL.items()}
TEXT = "Ana 1987 y 42 mg"
#       0123456789012345
TOKENS = [(0, 3), (4, 8), (9, 10), (11, 13), (14, 16)]


def _probs(rows: list[dict[str, float]]) -> np.ndarray:
    probs = np.full((len(rows) + 2, len(ID2LABEL)), 1e-4)  # [CLS] ... [SEP]
    probs[0, 0] = probs[-1, 0] = 1.0
    for i, row in enumerate(rows, 1):
        for tag, p in row.items():
            probs[i, IDS[tag]] = p
    return probs / probs.sum(axis=1, keepdims=True)


def _windows(n: int) -> Windows:
    starts = np.array([0, *(s for s, _ in TOKENS), 0])
    ends = np.array([0, *(e for _, e in TOKENS), 0])
    labels = np.array([-100, 0, 0, 0, 0, 0, -100])  # only -100 (special tokens) matters here
    return Windows([f"s{i}" for i in range(n)], [np.zeros(7, dtype=np.int64)] * n, [labels] * n,
                   [labels] * n, [starts] * n, [ends] * n)


def test_a_label_the_model_is_too_eager_for_gets_a_weight_below_one_and_a_shy_one_above():
    # every text: "Ana" is a first name the model is unsure of (0.45 vs O 0.55); "42" is no age,
    # but the model says AGE 0.6
    rows = [{"O": 0.55, "B-FIRSTNAME": 0.45}, {"O": 1.0}, {"O": 1.0}, {"O": 0.4, "B-AGE": 0.6}, {"O": 1.0}]
    n = 6
    gold = {f"s{i}": Gold("es", TEXT, [(0, 3, "FIRSTNAME")]) for i in range(n)}
    weights, report = calibrate(_windows(n), [_probs(rows)] * n, gold, ID2LABEL, log=lambda m: None)
    assert weights["FIRSTNAME"] > 1 and weights["AGE"] < 1
    assert report == {"before": 0.0, "after": 1.0}
    tags, _ = Decoder(ID2LABEL, weights)(_probs(rows)[1:-1])
    assert [ID2LABEL[t] for t in tags] == ["B-FIRSTNAME", "O", "O", "O", "O"]


def test_labels_stay_at_one_when_nothing_improves(tmp_path):
    rows = [{"B-FIRSTNAME": 0.9, "O": 0.1}, {"O": 1.0}, {"O": 1.0}, {"O": 1.0}, {"O": 1.0}]
    gold = {"s0": Gold("es", TEXT, [(0, 3, "FIRSTNAME")])}
    weights, report = calibrate(_windows(1), [_probs(rows)], gold, ID2LABEL, log=lambda m: None)
    assert weights == {} and report == {"before": 1.0, "after": 1.0}
    assert load_label_weights(tmp_path) is None
    (tmp_path / DECODING_FILE).write_text(json.dumps({"label_weights": {"AGE": 0.5}}))
    assert load_label_weights(tmp_path) == {"AGE": 0.5}
