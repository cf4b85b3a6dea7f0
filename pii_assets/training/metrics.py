"""Honest span metrics: strict entity-level P/R/F1 and character-level masking P/R/F2.

Entity-level (seqeval "strict" on character spans): a predicted entity counts only if its
label, start and end all equal a gold entity's. Micro averages pool all entities; macro averages
the per-label F1 over labels that occur in the gold data or the predictions. The ``O`` class is
never counted (the mistake that inflates token-level weighted F1).

Character-level masking is label-agnostic: which characters would a filter mask? Precision,
recall and F2 (recall weighted twice, as Presidio reports) over characters.

A test split of a few hundred texts leaves these figures a few points uncertain:
``confidence_intervals`` gives percentile-bootstrap intervals over texts, and
``paired_differences`` those of the difference between two systems scored on the same texts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

Span = tuple[int, int, str]  # start, end, label


@dataclass
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def f(self, beta: float = 1.0) -> float:
        p, r = self.precision, self.recall
        b2 = beta * beta
        return (1 + b2) * p * r / (b2 * p + r) if p + r else 0.0

    @property
    def f1(self) -> float:
        return self.f(1.0)

    def as_dict(self, beta: float = 1.0) -> dict[str, float]:
        key = "f1" if beta == 1.0 else f"f{beta:g}"
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                key: round(self.f(beta), 4), "support": self.tp + self.fn}


@dataclass
class EntityReport:
    micro: PRF = field(default_factory=PRF)
    per_label: dict[str, PRF] = field(default_factory=lambda: defaultdict(PRF))
    per_language: dict[str, PRF] = field(default_factory=lambda: defaultdict(PRF))
    masking: PRF = field(default_factory=PRF)  # character level, label-agnostic
    masking_per_language: dict[str, PRF] = field(default_factory=lambda: defaultdict(PRF))

    @property
    def macro_f1(self) -> float:
        labels = [prf for prf in self.per_label.values() if prf.tp + prf.fn + prf.fp]
        return sum(p.f1 for p in labels) / len(labels) if labels else 0.0

    @property
    def macro_precision(self) -> float:
        labels = [prf for prf in self.per_label.values() if prf.tp + prf.fn + prf.fp]
        return sum(p.precision for p in labels) / len(labels) if labels else 0.0

    @property
    def macro_recall(self) -> float:
        labels = [prf for prf in self.per_label.values() if prf.tp + prf.fn + prf.fp]
        return sum(p.recall for p in labels) / len(labels) if labels else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "micro_precision": round(self.micro.precision, 4), "micro_recall": round(self.micro.recall, 4),
            "micro_f1": round(self.micro.f1, 4), "macro_precision": round(self.macro_precision, 4),
            "macro_recall": round(self.macro_recall, 4), "macro_f1": round(self.macro_f1, 4),
            "char_precision": round(self.masking.precision, 4), "char_recall": round(self.masking.recall, 4),
            "char_f2": round(self.masking.f(2.0), 4),
        }


def _covered(spans: Iterable[Span]) -> set[int]:
    chars: set[int] = set()
    for start, end, _ in spans:
        chars.update(range(start, end))
    return chars


def evaluate(examples: Iterable[tuple]) -> EntityReport:
    """``examples``: (language, gold spans, predicted spans[, ignored spans]) per text.

    Characters of ignored spans (gold entities of types outside the label set, e.g. in an
    external dataset) count neither as errors nor as hits at character level, and predicted
    entities lying inside them are not counted at entity level.
    """
    report = EntityReport()
    for language, gold, pred, *rest in examples:
        ignored = _covered(rest[0]) if rest else set()
        gold_set = set(gold)
        pred_set = {p for p in pred if not (ignored and set(range(p[0], p[1])) <= ignored)}
        for span in gold_set | pred_set:
            label = span[2]
            hit = span in gold_set and span in pred_set
            for prf in (report.micro, report.per_label[label], report.per_language[language]):
                if hit:
                    prf.tp += 1
                elif span in gold_set:
                    prf.fn += 1
                else:
                    prf.fp += 1
        g, p = _covered(gold_set) - ignored, _covered(pred_set) - ignored
        for prf in (report.masking, report.masking_per_language[language]):
            prf.tp += len(g & p)
            prf.fp += len(p - g)
            prf.fn += len(g - p)
    return report


BOOTSTRAP_RESAMPLES = 1000


@dataclass
class Intervals:
    """Confidence intervals (low, high) from ``confidence_intervals``."""
    overall: dict[str, tuple[float, float]] = field(default_factory=dict)
    """``macro_f1``, ``micro_f1`` and ``char_f2``."""
    per_label: dict[str, tuple[float, float]] = field(default_factory=dict)
    """F1 of each label, over the resamples that contain the label."""
    per_language: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Entity F1 of each language's texts, over the resamples that contain the language."""
    level: float = 0.95
    method: str = ""


class Difference(NamedTuple):
    """A figure of system A minus the same figure of system B on the same texts, with its
    paired-bootstrap interval: ``low > 0`` says A is better whichever texts were drawn."""
    point: float
    low: float
    high: float


class _Resampled(NamedTuple):
    """Figures of ``evaluate`` on each bootstrap resample: arrays of shape (resamples,); a label's
    or language's F1 is nan in the resamples that do not contain it."""
    overall: dict[str, np.ndarray]
    per_label: dict[str, np.ndarray]
    per_language: dict[str, np.ndarray]


def _draws(texts: int, resamples: int, seed: int) -> np.ndarray:
    """How often each text is drawn in each resample, (resamples, texts)."""
    return np.random.default_rng(seed).multinomial(texts, np.full(texts, 1 / texts), size=resamples)


def _f(beta: float, tp, fp, fn):
    """F-beta from count arrays; 0 where there is nothing to count."""
    b2 = beta * beta
    denominator = (1 + b2) * tp + b2 * fn + fp
    return np.divide((1 + b2) * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def _resampled(examples: Sequence[tuple], draws: np.ndarray) -> _Resampled:
    """The figures of ``evaluate`` on every resample of ``draws``, from per-text counts (a
    resample's counts are the per-text counts weighted by how often each text was drawn)."""
    per_text = [evaluate([example]) for example in examples]
    n, empty = len(per_text), PRF()

    def counts(groups: list[str], prf) -> np.ndarray:  # (texts, groups, [tp, fp, fn])
        return np.array([[[p.tp, p.fp, p.fn] for p in (prf(r, g) for g in groups)] for r in per_text],
                        dtype=np.float64).reshape(n, len(groups), 3)

    def resampled(c: np.ndarray):  # tp, fp, fn, each (resamples, groups)
        return np.moveaxis(np.einsum("bn,nkc->bkc", draws, c), -1, 0)

    def per_group(names: list[str], tp, fp, fn) -> dict[str, np.ndarray]:
        present = (tp + fp + fn) > 0  # a group absent from a resample has no F1 there
        f1 = np.where(present, _f(1.0, tp, fp, fn), np.nan)
        return {name: f1[:, i] for i, name in enumerate(names)}

    labels = sorted({label for report in per_text for label in report.per_label})
    languages = sorted({language for report in per_text for language in report.per_language})
    tp, fp, fn = resampled(counts(labels, lambda r, g: r.per_label.get(g, empty)))
    present = (tp + fp + fn) > 0
    return _Resampled(
        overall={"macro_f1": (_f(1.0, tp, fp, fn) * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1),
                 "micro_f1": _f(1.0, tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1)),
                 "char_f2": _f(2.0, *resampled(counts(["all"], lambda r, g: r.masking))[:, :, 0])},
        per_label=per_group(labels, tp, fp, fn),
        per_language=per_group(languages, *resampled(counts(languages, lambda r, g: r.per_language.get(g, empty)))))


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail], axis=0)
    return round(float(low), 4), round(float(high), 4)


def confidence_intervals(examples: Sequence[tuple], resamples: int = BOOTSTRAP_RESAMPLES, level: float = 0.95,
                         seed: int = 0) -> Intervals:
    """Percentile-bootstrap intervals of the figures of ``evaluate(examples)``: macro F1, micro F1,
    char F2, each label's F1 and each language's F1. Texts are resampled with replacement, so an
    interval says how much the figure depends on which texts happened to land in the split (not
    on the training seed)."""
    if not examples:
        return Intervals(level=level)
    figures = _resampled(examples, _draws(len(examples), resamples, seed))
    return Intervals(*({name: _interval(values, level) for name, values in group.items()} for group in figures),
                     level=level, method=f"percentile bootstrap over the {len(examples)} texts, {resamples} resamples")


def report_json(report: EntityReport, intervals: Intervals) -> dict:
    """A report and its intervals as JSON: ``summary``, ``intervals`` (``level``, ``method``,
    ``[low, high]`` of ``macro_f1``, ``micro_f1``, ``char_f2``, ``per_label_f1``,
    ``per_language_f1``), ``per_label`` and ``per_language`` (what evaluation.json holds)."""
    return {
        "summary": report.summary(),
        "intervals": {"level": intervals.level, "method": intervals.method,
                      **{k: list(v) for k, v in intervals.overall.items()},
                      "per_label_f1": {k: list(v) for k, v in intervals.per_label.items()},
                      "per_language_f1": {k: list(v) for k, v in intervals.per_language.items()}},
        "per_label": {label: prf.as_dict() for label, prf in report.per_label.items()},
        "per_language": {language: prf.as_dict() for language, prf in report.per_language.items()},
    }


def paired_differences(a: Sequence[tuple], b: Sequence[tuple], resamples: int = BOOTSTRAP_RESAMPLES,
                       level: float = 0.95, seed: int = 0) -> dict[str, Difference]:
    """Macro F1, micro F1 and char F2 of system ``a`` minus those of system ``b``, with paired
    percentile-bootstrap intervals: both systems are scored on the same resamples of the texts, so
    the interval reflects how differently they do on the same texts, not the spread of each.
    ``a[i]`` and ``b[i]`` are the same text (same language and gold spans)."""
    if len(a) != len(b):
        raise ValueError(f"paired examples need the same texts: {len(a)} against {len(b)}")
    for i, (x, y) in enumerate(zip(a, b)):
        if x[0] != y[0] or sorted(x[1]) != sorted(y[1]):
            raise ValueError(f"paired examples differ at text {i}: not the same language and gold spans")
    if not a:
        return {}
    draws = _draws(len(a), resamples, seed)
    point_a, point_b = evaluate(a), evaluate(b)
    point = {"macro_f1": point_a.macro_f1 - point_b.macro_f1, "micro_f1": point_a.micro.f1 - point_b.micro.f1,
             "char_f2": point_a.masking.f(2.0) - point_b.masking.f(2.0)}
    ra, rb = _resampled(a, draws).overall, _resampled(b, draws).overall
    return {name: Difference(round(point[name], 4), *_interval(ra[name] - rb[name], level)) for name in ra}


def differences_json(differences: dict[str, Difference], texts: int, resamples: int = BOOTSTRAP_RESAMPLES,
                     level: float = 0.95) -> dict:
    """``paired_differences`` as JSON: each figure as ``{point, low, high}``, with ``level`` and ``method``."""
    return {"level": level, "method": f"paired percentile bootstrap over the {texts} texts, {resamples} resamples",
            **{name: d._asdict() for name, d in differences.items()}}


class Gold(NamedTuple):
    """A sample's text and gold spans: what predicted spans are scored against."""
    language: str
    text: str
    spans: list[Span]


def gold_spans(samples: Iterable[dict]) -> dict[str, Gold]:
    """``{sample id: Gold}`` from samples."""
    return {s["id"]: Gold(s["language"], s["text"], [(x["start"], x["end"], x["label"]) for x in s["privacy_mask"]])
            for s in samples}


def decode_iob2(tokens: Iterable[tuple[int, int, str]]) -> list[Span]:
    """Character spans from ``(start, end, tag)`` tokens in text order.

    ``B-X`` starts an entity; ``I-X`` continues an entity of type X, and also starts one after
    ``O`` or another type (conlleval's lenient start, so a model is not punished twice).
    """
    spans: list[Span] = []
    current: list | None = None
    for start, end, tag in tokens:
        if tag == "O" or tag.startswith("B-") or current is None or tag[2:] != current[2]:
            if current:
                spans.append((current[0], current[1], current[2]))
            current = [start, end, tag[2:]] if tag != "O" else None
        else:
            current[1] = end
    if current:
        spans.append((current[0], current[1], current[2]))
    return spans
