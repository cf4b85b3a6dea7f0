"""External evaluation: a model scored on labeled sets that other people wrote.

A model's own synthetic test split says little about people's text; these figures do. An
evaluation directory holds JSONL files, one labeled set each, in one of two gold styles:

- **catalogue** (``privacy_mask`` with catalogue labels, optional ``ignore`` regions that count
  neither for nor against the model): strict span precision / recall / F1 (micro and per label)
  and character-mask precision / recall / F1;
- **coarse** (``entities`` typed PER / LOC / ORG / MISC, or the user's own types mapped onto those
  by a ``<set>.types.json`` file beside the set): name recall and spurious rate.

The figures follow these definitions exactly:

- strict span: a predicted span counts when label, start and end equal a gold span's; predictions
  that overlap an ``ignore`` region are dropped first;
- character mask (label-agnostic): every character inside a gold span is positive, every
  character inside a predicted span is predicted; characters of ``ignore`` regions are left out
  of both;
- name recall: the share of characters inside PER entities that the model tags with any label,
  a leading title (Mr, Dr, Judge, ...) left out;
- spurious rate: the share of characters outside every gold entity that the model tags; spurious
  spans per 1,000 characters count the predicted spans that overlap no gold entity;
- LOC / ORG / MISC: the share of their characters the model tags, reported, not scored (a city is
  PII in an address, not in a history sentence).

Every figure comes per language and overall, with a 95% percentile-bootstrap interval over the
texts, and each set lists its most frequent spurious and missed strings per label: what to fix in
the training data. No Dagster here: the ``external_evaluation`` asset, ``pii-assets evaluate
--eval-dir`` and ``benchmarks/external_quality.py`` all call :func:`score_set`.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.samples import SampleError
from pii_assets.storage import read_jsonl
from pii_assets.training.metrics import BOOTSTRAP_RESAMPLES, _draws, _interval

Span = tuple[int, int, str]
COARSE_TYPES = ("PER", "LOC", "ORG", "MISC")
EVAL_DIR_ENV = "PII_ASSETS_EVAL_DIR"
TOP_STRINGS = 20
CATALOGUE, COARSE = "catalogue", "coarse"

# A title before a name is not part of the name a filter must mask (and gold sets disagree on
# whether it is inside the PER entity): it is left out of name recall.
TITLES = frozenset("""mr mrs ms miss mx dr prof sir lady lord judge justice president king queen prince
    princess pope saint st rev fr herr frau fräulein dr. prof. m mme mlle monsieur madame sr sra srta don doña
    dña dott dr.ssa sig sig.ra signor signora dhr mevr mw heer""".split())
_TITLE = re.compile(r"([^\W\d_]+)\.?\s+")  # match() anchors it at the given start


@dataclass
class Record:
    """One labeled text of a set."""
    language: str
    text: str
    gold: list[Span]  # catalogue labels, or PER / LOC / ORG / MISC
    ignore: list[Span] = field(default_factory=list)


@dataclass
class EvalSet:
    name: str
    style: str  # CATALOGUE or COARSE
    records: list[Record]
    path: str = ""


# --- reading ---------------------------------------------------------------------------------


def _offsets(span: object, text: str, where: str) -> tuple[int, int]:
    if not isinstance(span, dict):
        raise SampleError(where, "expected an object with start and end")
    start, end = span.get("start"), span.get("end")
    if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)) or not 0 <= start < end <= len(text):
        raise SampleError(where, f"start {start!r} / end {end!r} are not offsets inside the text "
                                 f"(0 <= start < end <= {len(text)})")
    if "value" in span and span["value"] != text[start:end]:
        raise SampleError(where, f"value {span['value']!r} is not the text at {start}:{end} ({text[start:end]!r})")
    return start, end


def parse_record(record: object, where: str, style: str | None, types: dict[str, str] | None = None,
                 catalogue: Catalogue = DEFAULT) -> tuple[str, Record]:
    """``(style, Record)`` of one JSONL record; raises :class:`SampleError` naming ``where``."""
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise SampleError(where, "expected an object with a string 'text'")
    text = record["text"]
    language = record.get("language", "und")
    if not isinstance(language, str) or not language:
        raise SampleError(where, "'language' must be a non-empty string")
    has_mask, has_entities = "privacy_mask" in record, "entities" in record
    if has_mask == has_entities:
        raise SampleError(where, "expected exactly one of 'privacy_mask' (catalogue labels) or 'entities' "
                                 "(PER / LOC / ORG / MISC)")
    found = CATALOGUE if has_mask else COARSE
    if style is not None and found != style:
        raise SampleError(where, f"this set's records use {style} gold ({'privacy_mask' if style == CATALOGUE else 'entities'}); "
                                 f"this one has {'privacy_mask' if has_mask else 'entities'}")
    spans = record["privacy_mask" if has_mask else "entities"]
    if not isinstance(spans, list):
        raise SampleError(where, f"'{'privacy_mask' if has_mask else 'entities'}' must be a list")
    gold: list[Span] = []
    for i, span in enumerate(spans):
        start, end = _offsets(span, text, f"{where}, span {i}")
        if has_mask:
            label = span.get("label")
            if label not in catalogue.names:
                raise SampleError(f"{where}, span {i}", f"unknown label {label!r} (labels: `pii-assets label-maps`)")
        else:
            label = span.get("type")
            label = (types or {}).get(label, label)
            if label not in COARSE_TYPES:
                raise SampleError(f"{where}, span {i}", f"entity type {span.get('type')!r} is none of "
                                                        f"{', '.join(COARSE_TYPES)} (map your types in a .types.json file)")
        gold.append((start, end, label))
    ignore = []
    if has_mask:
        if not isinstance(record.get("ignore", []), list):
            raise SampleError(where, "'ignore' must be a list")
        for i, span in enumerate(record.get("ignore", [])):
            ignore.append((*_offsets(span, text, f"{where}, ignore {i}"), str(span.get("source_label", "ignore"))))
    return found, Record(language, text, sorted(gold), sorted(ignore))


def read_set(path: str | Path, catalogue: Catalogue = DEFAULT) -> EvalSet:
    """A labeled set from a JSONL file (and its optional ``<name>.types.json`` type mapping)."""
    path = Path(path)
    types_file = path.with_suffix(".types.json")
    types = None
    if types_file.is_file():
        try:
            types = json.loads(types_file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SampleError(str(types_file), f"not a JSON object of type mappings ({exc})") from None
        bad = {k: v for k, v in types.items() if v not in COARSE_TYPES} if isinstance(types, dict) else types
        if not isinstance(types, dict) or bad:
            raise SampleError(str(types_file), f"maps types onto {', '.join(COARSE_TYPES)} only; not {bad}")
    style, records = None, []
    for lineno, record in read_jsonl(path):  # names the line of a malformed or non-UTF-8 record
        style, parsed = parse_record(record, f"{path}:{lineno}", style, types, catalogue)
        records.append(parsed)
    if not records:
        raise SampleError(str(path), "no labeled texts")
    return EvalSet(path.stem, style, records, str(path))


def read_eval_dir(directory: str | Path, catalogue: Catalogue = DEFAULT) -> list[EvalSet]:
    """Every ``*.jsonl`` set of ``directory``, by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SampleError(str(directory), "evaluation directory does not exist")
    return [read_set(p, catalogue) for p in sorted(directory.glob("*.jsonl"))]


# --- counting --------------------------------------------------------------------------------


def _chars(spans: Iterable[Span]) -> set[int]:
    out: set[int] = set()
    for start, end, *_ in spans:
        out.update(range(start, end))
    return out


def _overlaps(span: Span, others: Sequence[Span]) -> bool:
    return any(span[0] < o[1] and o[0] < span[1] for o in others)


def name_chars(text: str, start: int, end: int) -> set[int]:
    """The characters of a PER entity that name recall counts: a leading title left out."""
    m = _TITLE.match(text, start, end)
    while m and m.group(1).lower() in TITLES and m.end() < end:
        start = m.end()
        m = _TITLE.match(text, start, end)
    return set(range(start, end))


# Counts per text, in a fixed order, so that the bootstrap only sums rows.
CATALOGUE_COUNTS = ("tp", "fp", "fn", "char_tp", "char_fp", "char_fn")
COARSE_COUNTS = ("name_chars", "name_tagged", "other_chars", "other_tagged", "spurious_spans", "text_chars",
                 "loc_chars", "loc_tagged", "org_chars", "org_tagged", "misc_chars", "misc_tagged")


def catalogue_counts(record: Record, predicted: Sequence[Span]) -> tuple[dict[str, int], list[Span], list[Span],
                                                                          dict[str, list[int]]]:
    """Counts of one text, the spurious (false positive) and missed (false negative) spans, and
    per-label [tp, fp, fn]."""
    kept = {p for p in predicted if not _overlaps(p, record.ignore)}
    gold = set(record.gold)
    ignored = _chars(record.ignore)
    g, p = _chars(gold) - ignored, _chars(kept) - ignored
    per_label: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for span in gold & kept:
        per_label[span[2]][0] += 1
    spurious, missed = sorted(kept - gold), sorted(gold - kept)
    for span in spurious:
        per_label[span[2]][1] += 1
    for span in missed:
        per_label[span[2]][2] += 1
    counts = {"tp": len(gold & kept), "fp": len(spurious), "fn": len(missed),
              "char_tp": len(g & p), "char_fp": len(p - g), "char_fn": len(g - p)}
    return counts, spurious, missed, per_label


def coarse_counts(record: Record, predicted: Sequence[Span]) -> tuple[dict[str, int], list[Span], list[Span]]:
    """Counts of one text, the spurious spans (overlapping no gold entity) and the missed PER
    entities (none of their counted characters tagged)."""
    tagged = _chars(predicted)
    entity_chars = _chars(record.gold)
    names = [(s, e, t) for s, e, t in record.gold if t == "PER"]
    counted = set().union(*(name_chars(record.text, s, e) for s, e, _ in names)) if names else set()
    counts = {"name_chars": len(counted), "name_tagged": len(counted & tagged),
              "other_chars": len(record.text) - len(entity_chars),
              "other_tagged": len(tagged - entity_chars),
              "text_chars": len(record.text)}
    for kind in ("LOC", "ORG", "MISC"):
        chars = _chars(g for g in record.gold if g[2] == kind)
        counts[f"{kind.lower()}_chars"], counts[f"{kind.lower()}_tagged"] = len(chars), len(chars & tagged)
    spurious = [p for p in predicted if not _overlaps(p, record.gold)]
    counts["spurious_spans"] = len(spurious)
    missed = [n for n in names if not name_chars(record.text, n[0], n[1]) & tagged]
    return counts, spurious, missed


# --- figures ---------------------------------------------------------------------------------


def _ratio(num, den):
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def _f1(tp, fp, fn):
    return _ratio(2 * np.asarray(tp, dtype=np.float64), 2 * np.asarray(tp) + np.asarray(fp) + np.asarray(fn))


FIGURES: dict[str, dict[str, Callable]] = {
    CATALOGUE: {
        "strict_precision": lambda c: _ratio(c["tp"], c["tp"] + c["fp"]),
        "strict_recall": lambda c: _ratio(c["tp"], c["tp"] + c["fn"]),
        "strict_micro_f1": lambda c: _f1(c["tp"], c["fp"], c["fn"]),
        "char_precision": lambda c: _ratio(c["char_tp"], c["char_tp"] + c["char_fp"]),
        "char_recall": lambda c: _ratio(c["char_tp"], c["char_tp"] + c["char_fn"]),
        "char_f1": lambda c: _f1(c["char_tp"], c["char_fp"], c["char_fn"]),
    },
    COARSE: {
        "name_recall": lambda c: _ratio(c["name_tagged"], c["name_chars"]),
        "spurious_rate": lambda c: _ratio(c["other_tagged"], c["other_chars"]),
        "spurious_spans_per_1k_chars": lambda c: 1000 * _ratio(c["spurious_spans"], c["text_chars"]),
        "loc_tagged": lambda c: _ratio(c["loc_tagged"], c["loc_chars"]),
        "org_tagged": lambda c: _ratio(c["org_tagged"], c["org_chars"]),
        "misc_tagged": lambda c: _ratio(c["misc_tagged"], c["misc_chars"]),
    },
}
SCORED = {CATALOGUE: ("strict_micro_f1", "char_precision", "char_recall", "char_f1"),
          COARSE: ("name_recall", "spurious_rate")}
"""The figures that get an interval (the others are reported as points)."""


def _figures(style: str, rows: np.ndarray, names: Sequence[str], draws: np.ndarray | None,
             level: float) -> dict[str, object]:
    total = {n: rows[:, i].sum() for i, n in enumerate(names)}
    out: dict[str, object] = {k: round(float(f(total)), 4) for k, f in FIGURES[style].items()}
    out["texts"] = int(rows.shape[0])
    if draws is not None and rows.shape[0]:
        summed = draws @ rows  # (resamples, counts)
        by_name = {n: summed[:, i] for i, n in enumerate(names)}
        out["ci95"] = {k: list(_interval(FIGURES[style][k](by_name), level)) for k in SCORED[style]}
    return out


def score_set(eval_set: EvalSet, predictions: Sequence[Sequence[Span]], resamples: int = BOOTSTRAP_RESAMPLES,
              level: float = 0.95, seed: int = 0, top: int = TOP_STRINGS) -> dict:
    """Figures of one system on one set: ``overall``, ``per_language`` (each with ``ci95``
    intervals of the scored figures), ``per_label`` (catalogue style), ``spurious`` and
    ``missed`` (the ``top`` most frequent strings per label, with counts)."""
    if len(predictions) != len(eval_set.records):
        raise ValueError(f"{eval_set.name}: {len(predictions)} predictions for {len(eval_set.records)} texts")
    style = eval_set.style
    names = CATALOGUE_COUNTS if style == CATALOGUE else COARSE_COUNTS
    rows, spurious, missed = [], defaultdict(Counter), defaultdict(Counter)
    per_label: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for record, predicted in zip(eval_set.records, predictions):
        if style == CATALOGUE:
            counts, fps, fns, labels = catalogue_counts(record, predicted)
            for label, (tp, fp, fn) in labels.items():
                per_label[label][0] += tp
                per_label[label][1] += fp
                per_label[label][2] += fn
        else:
            counts, fps, fns = coarse_counts(record, predicted)
        rows.append([counts[n] for n in names])
        for s, e, label in fps:
            spurious[label][record.text[s:e]] += 1
        for s, e, label in fns:
            missed[label][record.text[s:e]] += 1
    matrix = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    languages = [r.language for r in eval_set.records]
    draws = _draws(len(rows), resamples, seed) if resamples else None
    result: dict = {"set": eval_set.name, "style": style, "overall": _figures(style, matrix, names, draws, level)}
    result["per_language"] = {}
    for language in sorted(set(languages)):
        idx = np.array([i for i, x in enumerate(languages) if x == language])
        sub_draws = _draws(len(idx), resamples, seed) if resamples else None
        result["per_language"][language] = _figures(style, matrix[idx], names, sub_draws, level)
    if style == CATALOGUE:
        result["per_label"] = {label: {"precision": round(float(_ratio(tp, tp + fp)), 4),
                                       "recall": round(float(_ratio(tp, tp + fn)), 4),
                                       "f1": round(float(_f1(tp, fp, fn)), 4), "support": tp + fn, "predicted": tp + fp}
                               for label, (tp, fp, fn) in sorted(per_label.items())}
    result["spurious"] = {label: c.most_common(top) for label, c in sorted(spurious.items())}
    result["missed"] = {label: c.most_common(top) for label, c in sorted(missed.items())}
    result["interval_method"] = (f"percentile bootstrap over the texts ({resamples} resamples, level {level})"
                                 if resamples else "none")
    return result


# --- rendering -------------------------------------------------------------------------------


def _cell(figures: dict, key: str) -> str:
    value = figures[key]
    ci = figures.get("ci95", {}).get(key)
    percent = key in ("name_recall", "spurious_rate", "loc_tagged", "org_tagged", "misc_tagged")
    if percent:
        text = f"{100 * value:.1f}%"
        return f"{text} ({100 * ci[0]:.1f}-{100 * ci[1]:.1f})" if ci else text
    return f"{value:.3f} ({ci[0]:.3f}-{ci[1]:.3f})" if ci else f"{value:.3f}"


COLUMNS = {CATALOGUE: ("strict_precision", "strict_recall", "strict_micro_f1", "char_precision", "char_recall",
                       "char_f1"),
           COARSE: ("name_recall", "spurious_rate", "spurious_spans_per_1k_chars", "loc_tagged", "org_tagged",
                    "misc_tagged")}


def figures_table(results: dict[str, dict], by_language: bool = True) -> str:
    """A markdown table of one set's results per system (``{system: score_set(...)}``): overall,
    then each language."""
    first = next(iter(results.values()))
    style = first["style"]
    columns = COLUMNS[style]
    header = ("system", "language", "texts", *columns)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for system, result in results.items():
        groups = [("all", result["overall"])]
        if by_language and len(result["per_language"]) > 1:
            groups += list(result["per_language"].items())
        for language, figures in groups:
            lines.append("| " + " | ".join([system, language, str(figures["texts"]),
                                            *(_cell(figures, c) for c in columns)]) + " |")
    return "\n".join(lines)


def strings_table(result: dict, which: str, per_label: int = 5) -> str:
    """The most frequent ``spurious`` or ``missed`` strings per label, as markdown."""
    rows = [f"| {label} | " + ", ".join(f"{json.dumps(s, ensure_ascii=False)} ×{n}" for s, n in strings[:per_label]) + " |"
            for label, strings in sorted(result[which].items(), key=lambda kv: -sum(n for _, n in kv[1]))]
    return "\n".join([f"| label | most frequent {which} strings |", "|---|---|", *rows]) if rows else f"no {which} strings"


# --- running ---------------------------------------------------------------------------------

Predict = Callable[[list[str]], list[list[Span]]]


def model_system(model_dir: str | Path, threshold: float = 0.5, **predictor_args) -> Predict:
    """A trained (torch) or quantized (onnxruntime) model directory as a system to score."""
    from pii_assets.training.predict import Predictor

    predictor = Predictor(Path(model_dir), **predictor_args)
    return lambda texts: [[(p["start"], p["end"], p["label"]) for p in spans]
                          for spans in predictor.predict(texts, threshold)]


def presidio_system() -> Predict:
    """Vanilla Presidio (raises ``PresidioUnavailable`` without the bench extra)."""
    from pii_assets.training.presidio import analyzer, mapped, presidio_spans

    analyzer()
    return lambda texts: [mapped(found) for found in presidio_spans(texts)]


def evaluate_sets(eval_sets: Sequence[EvalSet], systems: dict[str, Predict], log: Callable[[str], None] = print,
                  **score_args) -> dict[str, dict[str, dict]]:
    """``{set name: {system: score_set(...)}}``: every system predicts every set once."""
    results: dict[str, dict[str, dict]] = {}
    for eval_set in eval_sets:
        texts = [r.text for r in eval_set.records]
        results[eval_set.name] = {}
        for system, predict in systems.items():
            started = time.perf_counter()
            predictions = predict(texts)
            seconds = time.perf_counter() - started
            result = score_set(eval_set, predictions, **score_args)
            result["seconds"] = round(seconds, 1)
            results[eval_set.name][system] = result
            log(f"{eval_set.name}: {system}, {len(texts)} texts in {seconds:.0f} s")
    return results


def report_markdown(results: dict[str, dict[str, dict]], strings_per_label: int = 5) -> str:
    """Every set's figures table, then its most frequent spurious and missed strings per label
    (of the first system, the model under test)."""
    parts = []
    for name, by_system in results.items():
        first_system, first = next(iter(by_system.items()))
        parts += [f"### {name} ({first['style']} gold)", "", figures_table(by_system), "",
                  f"Most frequent spurious strings of {first_system}:", "",
                  strings_table(first, "spurious", strings_per_label), "",
                  f"Most frequent missed strings of {first_system}:", "",
                  strings_table(first, "missed", strings_per_label), ""]
    return "\n".join(parts)
