"""Deterministic review of raw samples: grounding, contract, validators, de-duplication.

Streams a raw JSONL file and splits it into reviewed samples and rejects. Nothing is dropped
silently: every input line ends up in exactly one of the two files, a reject carrying its line
number, a reason code, a readable reason and the original record.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.samples import SampleError, dumps, ground, ground_coreferences, normalized_text_hash, validate
from pii_assets.storage import atomic_writer, read_jsonl

REVIEW_VERSION = "1"


class Reject(Exception):
    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class ReviewStats:
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    reject_codes: Counter = field(default_factory=Counter)
    reject_examples: dict[str, str] = field(default_factory=dict)
    labels: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    entities: int = 0
    coref_clusters: int = 0
    text_hashes: list[int] = field(default_factory=list)

    @property
    def rejected_ratio(self) -> float:
        return self.rejected / self.total if self.total else 0.0


def review_sample(record: Any, lineno: int, catalogue: Catalogue = DEFAULT) -> dict:
    """Ground (if needed), validate and check one record; raise :class:`Reject` with the reason."""
    where = f"line {lineno}"
    if not isinstance(record, dict):
        raise Reject("contract", f"{where}: expected a JSON object")
    spans = record.get("privacy_mask")
    if isinstance(spans, list) and any(isinstance(s, dict) and "start" not in s for s in spans):
        text = record.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Reject("contract", f"{where}: text is missing or empty")
        grounded, problems = ground(text, spans)
        if problems:
            raise Reject("grounding", f"{where}: " + "; ".join(problems))
        record = {**record, "privacy_mask": grounded}
    clusters = record.get("coreferences")
    if isinstance(clusters, list) and any(isinstance(c, dict) and any(isinstance(m, str) for m in c.get("mentions", ()))
                                          for c in clusters):
        spans = record["privacy_mask"] if isinstance(record.get("privacy_mask"), list) else []
        grounded_clusters, problems = ground_coreferences(record.get("text") or "", clusters, spans)
        if problems:
            raise Reject("grounding", f"{where}: " + "; ".join(problems))
        record = {**record, "coreferences": grounded_clusters}
    record.pop("id", None)
    try:
        sample = validate(record, catalogue=catalogue, where=where)
    except SampleError as exc:
        raise Reject("contract", f"{where}: {exc.reason}") from None
    problem = value_problem(sample, catalogue)
    if problem:
        raise Reject("validator", f"sample {sample['id']} ({where}): {problem}")
    return sample


def value_problem(sample: dict, catalogue: Catalogue = DEFAULT) -> str | None:
    """The first span whose value fails its label's validator for the sample's country."""
    for i, span in enumerate(sample["privacy_mask"]):
        problem = catalogue.validate_value(span["label"], span["value"], sample["country"])
        if problem:
            return f"privacy_mask[{i}] {span['label']} {span['value']!r}: {problem}"
    return None


def review_file(raw_path: Path, reviewed_path: Path, rejected_path: Path, *,
                prior_hashes: np.ndarray | None = None, catalogue: Catalogue = DEFAULT) -> ReviewStats:
    """Review ``raw_path`` into ``reviewed_path`` + ``rejected_path`` (both written atomically).

    ``prior_hashes`` is the sorted array of normalised-text hashes of earlier batches; a sample
    whose text is already there is rejected as a cross-batch duplicate.
    """
    prior = prior_hashes if prior_hashes is not None else np.empty(0, dtype=np.uint64)
    stats = ReviewStats()
    seen: set[int] = set()
    with open(raw_path, encoding="utf-8") as raw, atomic_writer(reviewed_path) as ok, \
            atomic_writer(rejected_path) as bad:
        for lineno, line in enumerate(raw, 1):
            if not line.strip():
                continue
            stats.total += 1
            record: Any = line.rstrip("\n")
            try:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise Reject("malformed_json", f"line {lineno}: malformed JSON ({exc.msg})") from None
                sample = review_sample(record, lineno, catalogue)
                h = normalized_text_hash(sample["text"])
                if h in seen:
                    raise Reject("duplicate_in_batch",
                                 f"sample {sample['id']} (line {lineno}): same text as an earlier sample")
                if prior.size and prior[min(np.searchsorted(prior, h), prior.size - 1)] == h:
                    raise Reject("duplicate_across_batches",
                                 f"sample {sample['id']} (line {lineno}): text already in an earlier batch")
            except Reject as rej:
                stats.rejected += 1
                stats.reject_codes[rej.code] += 1
                stats.reject_examples.setdefault(rej.code, rej.reason)
                bad.write(dumps({"line": lineno, "code": rej.code, "reason": rej.reason, "record": record}))
                bad.write("\n")
                continue
            seen.add(h)
            stats.text_hashes.append(h)
            sample["meta"] = {**sample.get("meta", {}), "review": {"by": "rules", "version": REVIEW_VERSION}}
            ok.write(dumps(sample))
            ok.write("\n")
            stats.accepted += 1
            stats.languages[sample["language"]] += 1
            stats.kinds[sample["meta"].get("kind", "unknown")] += 1
            stats.entities += len(sample["privacy_mask"])
            stats.coref_clusters += len(sample.get("coreferences", ()))
            for span in sample["privacy_mask"]:
                stats.labels[span["label"]] += 1
    return stats


@dataclass
class Verification:
    """An independent re-read of a reviewed file, for the asset checks."""

    samples: int = 0
    invalid: int = 0
    first_problem: str = ""
    duplicate_ids: int = 0
    duplicate_texts: int = 0
    examples: list[dict] = field(default_factory=list)


def verify_file(path: Path, *, catalogue: Catalogue = DEFAULT, examples: int = 3) -> Verification:
    """Re-validate every sample of a reviewed file (contract, validators, ids, duplicates)."""
    result = Verification()
    ids: set[str] = set()
    texts: set[int] = set()
    for lineno, record in read_jsonl(path):
        result.samples += 1
        try:
            sample = validate(record, catalogue=catalogue, where=f"{path.name}:{lineno}")
            problem = value_problem(sample, catalogue)
            if problem:
                raise SampleError(f"{path.name}:{lineno}, sample {sample['id']}", problem)
        except SampleError as exc:
            result.invalid += 1
            result.first_problem = result.first_problem or str(exc)
            continue
        h = normalized_text_hash(sample["text"])
        result.duplicate_ids += sample["id"] in ids
        result.duplicate_texts += h in texts
        ids.add(sample["id"])
        texts.add(h)
        if len(result.examples) < examples and sample["privacy_mask"]:
            result.examples.append(sample)
    return result
