"""Parity of a quantized model with the model it was made from, on the same windows.

Two measures, both on the release's test split:
- token-level argmax agreement: the share of real (non-special) tokens whose most likely tag is
  the same under both models;
- strict span micro F1 of each model against the gold spans (the same Viterbi decoding and
  window merging as everywhere else), per label too, with the predicted spans that differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pii_assets.training.metrics import Difference, EntityReport, Gold, Span, evaluate, paired_differences
from pii_assets.training.scoring import Scorer, probabilities_by_length
from pii_assets.training.tokens import IGNORE
from pii_assets.training.train import Windows, decode, predicted_spans


@dataclass
class ParityReport:
    tokens: int
    agreeing_tokens: int
    reference: EntityReport
    candidate: EntityReport
    differing_spans: list[dict] = field(default_factory=list)
    """Predicted spans found by only one of the two models (sample id, span, which model)."""
    micro_f1_difference: Difference | None = None
    """Reference minus candidate micro F1 with its paired-bootstrap 95% interval over the texts."""

    @property
    def agreement(self) -> float:
        return self.agreeing_tokens / self.tokens if self.tokens else 1.0

    @property
    def micro_f1_drop_points(self) -> float:
        """How many F1 points the candidate loses (negative: it gains)."""
        return 100 * (self.reference.micro.f1 - self.candidate.micro.f1)

    def passed(self, max_drop_points: float, min_agreement: float) -> bool:
        return self.micro_f1_drop_points <= max_drop_points and self.agreement >= min_agreement

    def per_label_rows(self) -> list[dict]:
        diffs: dict[str, int] = {}
        for d in self.differing_spans:
            diffs[d["label"]] = diffs.get(d["label"], 0) + 1
        labels = sorted(set(self.reference.per_label) | set(self.candidate.per_label))
        return [{"label": label,
                 "reference_f1": round(self.reference.per_label[label].f1, 4) if label in self.reference.per_label else None,
                 "candidate_f1": round(self.candidate.per_label[label].f1, 4) if label in self.candidate.per_label else None,
                 "differing_spans": diffs.get(label, 0)} for label in labels]

    def summary(self) -> dict:
        return {"tokens": self.tokens, "argmax_agreement": round(self.agreement, 5),
                "reference_micro_f1": round(self.reference.micro.f1, 4),
                "candidate_micro_f1": round(self.candidate.micro.f1, 4),
                "micro_f1_drop_points": round(self.micro_f1_drop_points, 3),
                **({"micro_f1_drop_points_ci95": f"{100 * self.micro_f1_difference.low:.2f} to "
                                                 f"{100 * self.micro_f1_difference.high:.2f}"}
                   if self.micro_f1_difference else {}),
                "differing_spans": len(self.differing_spans)}


def parity(reference: Scorer, candidate: Scorer, windows: Windows, gold: dict[str, Gold], pad_id: int,
           label_weights: dict[str, float] | None = None) -> ParityReport:
    """Compare ``candidate`` with ``reference`` on ``windows`` against ``gold`` (per sample id),
    both decoded with the model's calibrated ``label_weights``."""
    if reference.id2label != candidate.id2label:
        raise ValueError("the two models have different label maps; parity is meaningless")
    id2label = reference.id2label
    ref_probs = probabilities_by_length(reference, windows.input_ids, pad_id)
    cand_probs = probabilities_by_length(candidate, windows.input_ids, pad_id)
    tokens = agreeing = 0
    for w, (a, b) in enumerate(zip(ref_probs, cand_probs)):
        real = windows.labels[w] != IGNORE
        tokens += int(real.sum())
        agreeing += int((a[real].argmax(-1) == b[real].argmax(-1)).sum())

    def examples(probs) -> tuple[list[tuple], dict[str, set[Span]]]:
        spans = predicted_spans(windows, decode(windows, probs, id2label, label_weights), id2label, gold)
        found = {sid: {s for s, _ in spans.get(sid, [])} for sid in gold}
        return [(g.language, g.spans, sorted(found[sid])) for sid, g in gold.items()], found

    ref_examples, ref_found = examples(ref_probs)
    cand_examples, cand_found = examples(cand_probs)
    differing = []
    for sid in sorted(gold):
        for span, model in sorted([(s, "reference only") for s in ref_found[sid] - cand_found[sid]]
                                  + [(s, "candidate only") for s in cand_found[sid] - ref_found[sid]]):
            start, end, label = span
            differing.append({"sample_id": sid, "start": start, "end": end, "label": label,
                              "value": gold[sid].text[start:end], "found_by": model})
    return ParityReport(tokens, agreeing, evaluate(ref_examples), evaluate(cand_examples), differing,
                        paired_differences(ref_examples, cand_examples).get("micro_f1"))

