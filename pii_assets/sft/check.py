"""Validate an SFT directory: schema of every line, ratios, split hygiene, dataset_info.json.

``check_sft(directory)`` returns one :class:`CheckResult` per check; a bad line is reported as
``<file>:<line>: <reason>``. Ratios are measured from the files themselves (positives from
``output.is_sensitive``; hard negatives from the per-line meta files the builder writes next to
each JSONL file), so a hand-edited or truncated file is caught.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.samples import normalized_text_hash
from pii_assets.sft.build import COLUMNS, DATASET_INFO_FILE, DATASET_NAMES, FILES, META_FILES, SPLITS, SYSTEM

_INSTRUCTION = re.compile(r"Category: (\S+) \((.*?)\)\.")


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass
class _Line:
    category: str
    content: str
    sensitive: bool
    kind: str | None = None


def _report(problems: list[str], limit: int) -> str:
    head = "; ".join(problems[:limit])
    return head + (f"; ... and {len(problems) - limit} more" if len(problems) > limit else "")


def _parse_line(raw: str, catalogue: Catalogue) -> tuple[_Line | None, str | None]:
    try:
        row = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg})"
    if not isinstance(row, dict):
        return None, "not a JSON object"
    if set(row) != set(COLUMNS.values()):
        return None, f"keys {sorted(row)} != {sorted(COLUMNS.values())}"
    if not all(isinstance(row[k], str) and row[k].strip() for k in row):
        return None, "system, instruction, input and output must be non-empty strings"
    if row["system"] != SYSTEM:
        return None, "system is not the task statement of this version (sft.build.SYSTEM)"
    m = _INSTRUCTION.fullmatch(row["instruction"])
    if not m:
        return None, "instruction is not 'Category: <LABEL> (<description>).'"
    (category, description), content = m.groups(), row["input"]
    if category not in catalogue:
        return None, f"unknown category {category!r}"
    if description != catalogue[category].description:
        return None, f"description of {category} is {description!r}, not the catalogue's"
    try:
        out = json.loads(row["output"])
    except json.JSONDecodeError as exc:
        return None, f"output is not a JSON string ({exc.msg})"
    if not isinstance(out, dict) or set(out) != {"is_sensitive", "confidence_score", "explanation"}:
        return None, "output must have exactly is_sensitive, confidence_score, explanation"
    if not isinstance(out["is_sensitive"], bool):
        return None, "is_sensitive is not a boolean"
    score = out["confidence_score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0 <= score <= 1:
        return None, f"confidence_score {score!r} is not a number in 0..1"
    if not isinstance(out["explanation"], str) or not out["explanation"].strip():
        return None, "explanation is empty"
    return _Line(category, content, out["is_sensitive"]), None


def _read(directory: Path, split: str, catalogue: Catalogue, problems: list[str]) -> list[_Line] | None:
    path = directory / FILES[split]
    if not path.is_file():
        problems.append(f"{FILES[split]}: missing")
        return None
    lines = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line, reason = _parse_line(raw, catalogue)
            if reason:
                problems.append(f"{FILES[split]}:{lineno}: {reason}")
            else:
                lines.append(line)
    return lines


def _attach_meta(directory: Path, split: str, lines: list[_Line], problems: list[str]) -> None:
    path = directory / META_FILES[split]
    if not path.is_file():
        problems.append(f"{META_FILES[split]}: missing")
        return
    metas = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            try:
                metas.append(json.loads(raw))
            except json.JSONDecodeError as exc:
                problems.append(f"{META_FILES[split]}:{lineno}: not JSON ({exc.msg})")
                return
    if len(metas) != len(lines):
        problems.append(f"{META_FILES[split]}: {len(metas)} lines for {len(lines)} valid examples")
        return
    for i, (line, meta) in enumerate(zip(lines, metas, strict=True), 1):
        if meta.get("category") != line.category or (meta.get("kind") == "positive") != line.sensitive:
            problems.append(f"{META_FILES[split]}:{i}: category/kind disagree with {FILES[split]}")
            continue
        line.kind = meta.get("kind")


MIN_PER_CATEGORY = 20
"""Train examples every category needs, by default."""


def _in(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def check_sft(directory: str | os.PathLike, *, catalogue: Catalogue = DEFAULT, min_per_category: int = MIN_PER_CATEGORY,
              positive_ratio: tuple[float, float] = (0.45, 0.55),
              hard_negative_ratio: tuple[float, float] = (0.30, 0.40),
              validation_share: tuple[float, float] = (0.05, 0.10),
              min_examples_for_ratio: int = 20, max_reported: int = 10) -> list[CheckResult]:
    """Check an SFT directory written by ``build_sft``. Every catalogue label must be a category.

    ``min_per_category`` applies to train; per-category hard-negative ratios are checked for every
    category in train and for categories with at least ``min_examples_for_ratio`` examples in
    validation (plus validation as a whole).
    """
    directory = Path(directory)
    results: list[CheckResult] = []

    def add(name: str, problems: list[str], ok_detail: str) -> None:
        results.append(CheckResult(name, not problems, _report(problems, max_reported) if problems else ok_detail))

    # dataset_info.json
    problems: list[str] = []
    info_path = directory / DATASET_INFO_FILE
    try:
        info = json.loads(info_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        info = None
        problems.append(f"{DATASET_INFO_FILE}: unreadable ({exc})")
    if isinstance(info, dict):
        for split, name in DATASET_NAMES.items():
            entry = info.get(name)
            if not isinstance(entry, dict):
                problems.append(f"{DATASET_INFO_FILE}: no entry {name!r}")
                continue
            if entry.get("formatting", "alpaca") != "alpaca":
                problems.append(f"{name}: formatting {entry.get('formatting')!r} is not alpaca")
            if entry.get("columns") != COLUMNS:
                problems.append(f"{name}: columns {entry.get('columns')!r} != {COLUMNS}")
            file_name = entry.get("file_name")
            if not isinstance(file_name, str) or not (directory / file_name).is_file():
                problems.append(f"{name}: file_name {file_name!r} does not exist in {directory}")
    elif info is not None:
        problems.append(f"{DATASET_INFO_FILE}: not a JSON object")
    add("dataset_info", problems, f"entries {', '.join(DATASET_NAMES.values())} point to existing files")

    # schema of every line, and the meta files
    schema_problems: list[str] = []
    meta_problems: list[str] = []
    data: dict[str, list[_Line]] = {}
    for split in SPLITS:
        lines = _read(directory, split, catalogue, schema_problems)
        if lines is not None:
            _attach_meta(directory, split, lines, meta_problems)
            data[split] = lines
    counts = {split: len(lines) for split, lines in data.items()}
    add("schema", schema_problems, f"all lines valid ({counts})")
    add("meta", meta_problems, "meta files agree with the examples")
    if set(data) != set(SPLITS) or not all(data.values()):
        results.append(CheckResult("data", False, f"missing or empty split files: {counts}"))
        return results

    # ratios
    everything = [line for lines in data.values() for line in lines]
    problems = []
    overall = sum(line.sensitive for line in everything) / len(everything)
    if not _in(overall, positive_ratio):
        problems.append(f"overall positive ratio {overall:.3f} outside {positive_ratio}")
    for split, lines in data.items():
        ratio = sum(line.sensitive for line in lines) / len(lines)
        if not _in(ratio, positive_ratio):
            problems.append(f"{split} positive ratio {ratio:.3f} outside {positive_ratio}")
    add("positive_ratio", problems, f"positive ratio {overall:.3f}")

    problems = []
    if any(line.kind is None for line in everything):
        problems.append("hard negatives unknown for lines without valid meta")
    for split, lines in data.items():
        by_cat: dict[str, Counter] = {}
        for line in lines:
            by_cat.setdefault(line.category, Counter())[line.kind] += 1
        for name in catalogue.names:
            c = by_cat.get(name, Counter())
            n = sum(c.values())
            if split == "validation" and n < min_examples_for_ratio:
                continue
            ratio = c["hard_negative"] / n if n else 0.0
            if not _in(ratio, hard_negative_ratio):
                problems.append(f"{split} {name}: hard-negative ratio {ratio:.3f} ({c['hard_negative']}/{n}) "
                                f"outside {hard_negative_ratio}")
        whole = sum(line.kind == "hard_negative" for line in lines) / len(lines)
        if not _in(whole, hard_negative_ratio):
            problems.append(f"{split}: hard-negative ratio {whole:.3f} outside {hard_negative_ratio}")
    add("hard_negative_ratio", problems, f"every category within {hard_negative_ratio}")

    train_counts = Counter(line.category for line in data["train"])
    problems = [f"train {name}: {train_counts[name]} examples < {min_per_category}"
                for name in catalogue.names if train_counts[name] < min_per_category]
    add("min_per_category", problems,
        f"every category has >= {min_per_category} train examples (min {min(train_counts.values())})")

    share = len(data["validation"]) / len(everything)
    add("validation_share", [] if _in(share, validation_share) else
        [f"validation share {share:.3f} outside {validation_share}"], f"validation share {share:.3f}")

    # split hygiene
    texts = {split: Counter(normalized_text_hash(line.content) for line in lines) for split, lines in data.items()}
    overlap = set(texts["train"]) & set(texts["validation"])
    add("split_overlap", [f"{len(overlap)} content texts occur in both train and validation"] if overlap else [],
        "no content text in both splits")
    problems = []
    for split, lines in data.items():
        dup = len(lines) - len({(line.category, normalized_text_hash(line.content)) for line in lines})
        if dup:
            problems.append(f"{split}: {dup} duplicate (category, content) examples")
    add("duplicates", problems, "one example per (content, category)")
    return results


def failed(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.passed]


def summary(results: list[CheckResult]) -> dict[str, Any]:
    return {r.name: {"passed": r.passed, "detail": r.detail} for r in results}
