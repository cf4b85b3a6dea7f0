"""The sample contract: validation, content-hash ids, grounding and JSONL I/O.

A sample is one JSON object (see docs/data.md)::

    {"id", "text", "language", "country",
     "privacy_mask": [{"value", "label", "start", "end"}],
     "coreferences": [{"cluster_id", "entity_type",
                       "mentions": [{"text", "start", "end", "type", "privacy_mask_labels"}]}],
     "meta": {...}}

Offsets are character offsets with ``text[start:end] == value``. The id is a hash of the content
(text, language, country, spans, coreferences), never of ``meta``, so the same sample produced
twice gets the same id. Every error names the sample (its id or its line) and the reason.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from pii_assets.catalogue import DEFAULT, Catalogue

Sample = dict[str, Any]

_LANGUAGE = re.compile(r"[a-z]{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")
MENTION_TYPES = ("name", "pronoun", "reference", "entity")


class SampleError(ValueError):
    """A sample that breaks the contract. ``where`` names the sample (id, line or task)."""

    def __init__(self, where: str, reason: str):
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason


def content_id(sample: Sample) -> str:
    """Content hash of a sample: 24 hex chars of SHA-256 over its canonical content.

    Covers text, language, country, spans (offsets + label) and coreference mentions; not meta.
    """
    spans = sorted(sample.get("privacy_mask", ()), key=lambda s: (s["start"], s["end"]))
    parts = [sample["text"], str(sample.get("language")), str(sample.get("country"))]
    parts += [f"{s['start']}:{s['end']}:{s['label']}" for s in spans]
    for cluster in sample.get("coreferences", ()):
        parts.append(f"cluster:{cluster.get('entity_type')}")
        parts += [f"{m['start']}:{m['end']}:{m.get('type')}" for m in cluster["mentions"]]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


def normalized_text_hash(text: str) -> int:
    """64-bit hash of the case- and whitespace-normalised text, for duplicate detection."""
    norm = " ".join(text.casefold().split())
    return int.from_bytes(hashlib.blake2b(norm.encode(), digest_size=8).digest(), "little") >> 1


def _where(sample: Any, where: str) -> str:
    """``line 7``, ``sample 3f1c...`` or ``file.jsonl:7, sample 3f1c...``."""
    if isinstance(sample, dict) and isinstance(sample.get("id"), str):
        return f"sample {sample['id']}" if where == "sample" else f"{where}, sample {sample['id']}"
    return where


def validate(sample: Any, *, catalogue: Catalogue = DEFAULT, where: str = "sample",
             check_id: bool = True) -> Sample:
    """Check ``sample`` against the contract and return it (with ``id`` filled in if absent).

    Raises :class:`SampleError` naming the sample and the first problem found.
    """
    name = _where(sample, where)
    if not isinstance(sample, dict):
        raise SampleError(name, f"expected a JSON object, got {type(sample).__name__}")
    text = sample.get("text")
    if not isinstance(text, str) or not text.strip():
        raise SampleError(name, "text is missing or empty")
    lang = sample.get("language")
    if not isinstance(lang, str) or not _LANGUAGE.fullmatch(lang):
        raise SampleError(name, f"language {lang!r} is not a two-letter ISO 639-1 code")
    country = sample.get("country")
    if not isinstance(country, str) or not _COUNTRY.fullmatch(country):
        raise SampleError(name, f"country {country!r} is not a two-letter ISO 3166 code")
    spans = sample.get("privacy_mask")
    if not isinstance(spans, list):
        raise SampleError(name, "privacy_mask must be a list")
    n = len(text)
    prev_end = 0
    for i, span in enumerate(spans):
        if not isinstance(span, dict):
            raise SampleError(name, f"privacy_mask[{i}] is not an object")
        label, start, end, value = span.get("label"), span.get("start"), span.get("end"), span.get("value")
        if label not in catalogue:
            raise SampleError(name, f"privacy_mask[{i}] has unknown label {label!r}")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= n):
            raise SampleError(name, f"privacy_mask[{i}] ({label}) has invalid offsets {start}..{end}")
        if text[start:end] != value:
            raise SampleError(
                name, f"privacy_mask[{i}] ({label}) value {value!r} != text[{start}:{end}] "
                f"{text[start:end]!r}")
        if start < prev_end:
            raise SampleError(name, f"privacy_mask[{i}] ({label}) overlaps or is out of order")
        prev_end = end
    corefs = sample.get("coreferences", [])
    if not isinstance(corefs, list):
        raise SampleError(name, "coreferences must be a list")
    for ci, cluster in enumerate(corefs):
        mentions = cluster.get("mentions") if isinstance(cluster, dict) else None
        if not isinstance(mentions, list) or not mentions:
            raise SampleError(name, f"coreferences[{ci}] has no mentions")
        for mi, m in enumerate(mentions):
            start, end = m.get("start"), m.get("end")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= n):
                raise SampleError(name, f"coreferences[{ci}].mentions[{mi}] has invalid offsets")
            if text[start:end] != m.get("text"):
                raise SampleError(
                    name, f"coreferences[{ci}].mentions[{mi}] text {m.get('text')!r} != "
                    f"text[{start}:{end}] {text[start:end]!r}")
            if m.get("type") not in MENTION_TYPES:
                raise SampleError(name, f"coreferences[{ci}].mentions[{mi}] has unknown type "
                                        f"{m.get('type')!r}")
            for label in m.get("privacy_mask_labels", ()):
                if label not in catalogue:
                    raise SampleError(name, f"coreferences[{ci}].mentions[{mi}] has unknown "
                                            f"label {label!r}")
    meta = sample.get("meta", {})
    if not isinstance(meta, dict):
        raise SampleError(name, "meta must be an object")
    expected = content_id(sample)
    if "id" in sample and check_id and sample["id"] != expected:
        raise SampleError(name, f"id does not match the content hash {expected}")
    sample["id"] = expected
    return sample


# --- grounding -----------------------------------------------------------------------------


def _occurrences(text: str, value: str) -> Iterator[int]:
    """Start offsets of every occurrence of ``value`` that sits on word boundaries."""
    start = text.find(value)
    first_alnum, last_alnum = value[0].isalnum(), value[-1].isalnum()
    while start != -1:
        end = start + len(value)
        before_ok = not first_alnum or start == 0 or not text[start - 1].isalnum()
        after_ok = not last_alnum or end == len(text) or not text[end].isalnum()
        if before_ok and after_ok:
            yield start
        start = text.find(value, start + 1)


def ground(text: str, entities: Iterable[dict[str, Any]]) -> tuple[list[dict], list[str]]:
    """Turn ``[{"value", "label"}]`` without offsets into spans.

    Every word-bounded occurrence of every value becomes a span. Overlaps are resolved in favour
    of the longer span (then the earlier-listed entity); the same text claimed with two different
    labels keeps the first. Returns ``(spans, problems)``: a problem is a value that could not be
    grounded anywhere, or that lost every occurrence to a conflicting entity.
    """
    candidates: list[tuple[int, int, int, str, str]] = []
    problems: list[str] = []
    for order, entity in enumerate(entities):
        value, label = entity.get("value"), entity.get("label")
        if not isinstance(value, str) or not value.strip():
            problems.append(f"entity {order} ({label}) has an empty value")
            continue
        value = value.strip()
        found = [(s, s + len(value), order, label, value) for s in _occurrences(text, value)]
        if not found:
            problems.append(f"value {value!r} ({label}) not found in text")
        candidates += found
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[2], c[0]))
    taken: list[tuple[int, int]] = []
    spans: list[dict] = []
    kept_orders: set[int] = set()
    for start, end, order, label, value in candidates:
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        kept_orders.add(order)
        spans.append({"value": value, "label": label, "start": start, "end": end})
    for start, end, order, label, value in candidates:
        if order not in kept_orders:
            problems.append(f"value {value!r} ({label}) only occurs inside another entity")
            kept_orders.add(order)
    spans.sort(key=lambda s: s["start"])
    return spans, problems


def ground_coreferences(text: str, clusters: Iterable[dict[str, Any]], spans: list[dict]
                        ) -> tuple[list[dict], list[str]]:
    """Turn ``[{"entity_type", "mentions": [str, ...]}]`` into clusters of offset mentions.

    Every word-bounded occurrence of a mention string is a mention. Its type: ``name`` when it
    covers privacy-mask spans (their labels become ``privacy_mask_labels``), ``pronoun`` for any
    other single word, ``reference`` otherwise ("the customer"). Returns ``(clusters, problems)``; a mention
    found nowhere in the text is a problem.
    """
    out, problems = [], []
    for ci, cluster in enumerate(clusters):
        mentions: dict[tuple[int, int], dict] = {}
        for value in cluster.get("mentions", ()):
            value = value.strip() if isinstance(value, str) else ""
            found = list(_occurrences(text, value)) if value else []
            if not found:
                problems.append(f"coreference mention {value!r} (cluster {ci}) not found in text")
            for start in found:
                end = start + len(value)
                inside = [s["label"] for s in spans if start <= s["start"] and s["end"] <= end]
                kind = "name" if inside else ("pronoun" if " " not in value else "reference")
                mentions[(start, end)] = {"text": value, "start": start, "end": end, "type": kind,
                                          "privacy_mask_labels": inside}
        if len(mentions) >= 2:
            out.append({"cluster_id": len(out), "entity_type": cluster.get("entity_type") or "person",
                        "mentions": [mentions[k] for k in sorted(mentions)]})
    return out, problems


def first_line(sample: Sample, min_chars: int = 10) -> Sample | None:
    """The sample cut to its first non-empty line (spans inside it kept, coreferences dropped),
    or None when that line is shorter than ``min_chars``."""
    text = sample["text"]
    start = len(text) - len(text.lstrip())
    end = text.find("\n", start)
    end = len(text) if end == -1 else end
    if end - start < min_chars:
        return None
    spans = [{**s, "start": s["start"] - start, "end": s["end"] - start}
             for s in sample["privacy_mask"] if s["start"] >= start and s["end"] <= end]
    return validate({"text": text[start:end], "language": sample["language"], "country": sample["country"],
                     "privacy_mask": spans, "coreferences": [], "meta": dict(sample.get("meta", {}))})


def labeled_text(record: Any, where: str, *, catalogue: Catalogue = DEFAULT) -> tuple[str, str, list[tuple]]:
    """``(language, text, [(start, end, label)])`` of a labeled record, the looser contract of a
    user's own evaluation data: ``text``, ``privacy_mask`` (``start``, ``end``, ``label``, and
    ``value`` if given must equal the text there) and an optional ``language`` (``und`` when
    absent). Raises :class:`SampleError` naming ``where`` (and the span) and the problem."""
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise SampleError(where, "expected an object with a string 'text'")
    text, spans = record["text"], record.get("privacy_mask")
    if not isinstance(spans, list):
        raise SampleError(where, "'privacy_mask' must be a list of spans (an empty list for a text without PII)")
    language = record.get("language", "und")
    if not isinstance(language, str) or not language:
        raise SampleError(where, "'language' must be a non-empty string")
    out = []
    for i, span in enumerate(spans):
        if not isinstance(span, dict):
            raise SampleError(f"{where}, span {i}", "expected an object with start, end and label")
        start, end, label = span.get("start"), span.get("end"), span.get("label")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (start, end)) or not 0 <= start < end <= len(text):
            raise SampleError(f"{where}, span {i}", f"start {start!r} / end {end!r} are not offsets inside "
                                                    f"the text (0 <= start < end <= {len(text)})")
        if label not in catalogue.names:
            raise SampleError(f"{where}, span {i}", f"unknown label {label!r} (labels: `pii-assets label-maps`)")
        if "value" in span and span["value"] != text[start:end]:
            raise SampleError(f"{where}, span {i}", f"value {span['value']!r} is not the text at "
                                                    f"{start}:{end} ({text[start:end]!r})")
        out.append((start, end, label))
    return language, text, out


def dumps(sample: Sample) -> str:
    return json.dumps(sample, ensure_ascii=False, separators=(",", ":"))
