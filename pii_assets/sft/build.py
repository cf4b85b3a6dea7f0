"""Build the SFT classification dataset (LLaMA-Factory alpaca JSONL) from release samples.

One example asks: does this content contain PII of this category? Categories are the catalogue's
labels. Per split and category the builder

1. streams the samples (test-split samples are skipped unread) and keeps, per category, a bounded
   pool of positive snippets (the sentence around one of the sample's values of the category) and
   of negative snippets (a sentence of the sample without that category). Pools keep the
   candidates with the smallest hash priority of ``(seed, sample id, category)``: deterministic,
   independent of input order, and memory-bounded for any number of samples;
2. takes ``P`` positives (at most ``max_positives_per_category``; in validation ``P_train * r / (1 - r)``
   for the validation share ``r``) and ``P`` negatives, so every category is 50/50; of the
   category's ``2P`` examples ``hard_negative_share`` are hard negatives (look-alike values, see
   ``negatives.py``), the rest of the negatives are ordinary snippets;
3. rewrites ``obfuscated_share`` of the positives with an obfuscation of the value and puts
   ``log_pixel_share`` of the positives and of the hard negatives into a log line or a tracking
   pixel request, shows ``phrase_share`` of the positives in the short field phrases the hard
   negatives use, and wraps ``wrapped_share`` of all examples in a phrase of the sample's language
   or another one. Shares are quotas (rounded counts), not coin flips, so train and validation have
   the same mix;
4. drops duplicates by normalised content within a category, and any validation content that also
   occurs in train (splits follow the source samples; the builder then asserts no overlap).

Output (``write_sft``): ``sft_train.jsonl``, ``sft_validation.jsonl`` (``{"system", "instruction",
"input", "output"}``: the fixed task statement as the system prompt, the category as the
instruction, the content as the input), ``sft_train.meta.jsonl`` / ``sft_validation.meta.jsonl`` (per line: category, kind,
variant, source sample id - the lineage, and what ``check_sft`` measures ratios from),
``dataset_info.json`` and ``sft_stats.json``.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pii_assets.catalogue import DEFAULT, Catalogue, Label
from pii_assets.reporting import markdown_table
from pii_assets.samples import Sample, content_id, normalized_text_hash
from pii_assets.sft import negatives, obfuscate, snippets
from pii_assets.storage import write_json, write_jsonl

SPLITS = ("train", "validation")
SKIPPED_SPLITS = ("test",)
FILES = {"train": "sft_train.jsonl", "validation": "sft_validation.jsonl"}
META_FILES = {"train": "sft_train.meta.jsonl", "validation": "sft_validation.meta.jsonl"}
DATASET_NAMES = {"train": "pii_sft_train", "validation": "pii_sft_validation"}
STATS_FILE = "sft_stats.json"
DATASET_INFO_FILE = "dataset_info.json"
COLUMNS = {"system": "system", "prompt": "instruction", "query": "input", "response": "output"}
"""LLaMA-Factory's alpaca column mapping (its data/README.md): the task statement is each row's
system prompt, so the user turn carries only the category and the content."""

SYSTEM = (
    "You are a privacy classifier. Decide whether the content contains personal data of the given "
    "category (described in parentheses), also when the value is obfuscated (spaced, dashed, spelled "
    "out, URL-encoded) or sits in a log line or a tracking URL. Look-alikes are not sensitive: order, "
    "invoice and tracking numbers, SKUs, promo codes, versions, timestamps, documented placeholders, "
    "masked values and numbers that fail the category's check digit. Answer with a JSON object only: "
    '{"is_sensitive": true or false, "confidence_score": a number from 0 to 1, '
    '"explanation": one short sentence naming the value}.'
)

CONFIDENCE = {
    ("positive", "plain"): 0.97, ("positive", "obfuscated"): 0.88, ("positive", "log"): 0.93,
    ("positive", "pixel"): 0.9, ("positive", "phrase"): 0.95, ("hard_negative", "phrase"): 0.9, ("hard_negative", "context"): 0.9,
    ("hard_negative", "log"): 0.88, ("hard_negative", "pixel"): 0.88, ("negative", "plain"): 0.98,
    ("negative", "other_pii"): 0.95,
}
"""Confidence in the verdict per kind of example: lower where the case is harder."""

_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class SftConfig:
    max_positives_per_category: int = 400
    """Positives per category in train (and as many negatives); validation gets its share on top."""
    validation_share: float = 0.08
    """Target share of validation examples among all examples (checked: 0.05-0.10)."""
    hard_negative_share: float = 0.35
    """Share of a category's examples that are hard negatives (checked: 0.30-0.40)."""
    obfuscated_share: float = 0.20
    """Share of positives whose value is obfuscated."""
    log_pixel_share: float = 0.10
    """Share of positives and of hard negatives shown as a log line or a tracking-pixel request."""
    phrase_share: float = 0.10
    """Share of positives shown in the same short field phrases as the hard negatives ("Please quote
    the <field> <value> in any reply."), so the phrasing alone never gives the answer away."""
    hard_context_share: float = 0.5
    """Share of the remaining hard negatives that carry a sentence of a source sample."""
    wrapped_share: float = 0.12
    """Share of all examples wrapped in a short phrase ("Bitte prüfen: ...")."""
    other_language_wrapper: float = 0.4
    """Share of wrappers in another language than the sample's."""
    min_chars: int = 40
    max_chars: int = 200


@dataclass
class Example:
    category: str
    content: str
    sensitive: bool
    confidence: float
    explanation: str
    meta: dict[str, Any] = field(default_factory=dict)

    def row(self, catalogue: Catalogue) -> dict[str, str]:
        label = catalogue[self.category]
        output = {"is_sensitive": self.sensitive, "confidence_score": self.confidence,
                  "explanation": self.explanation}
        return {"system": SYSTEM, "instruction": f"Category: {label.name} ({label.description}).",
                "input": self.content, "output": json.dumps(output, ensure_ascii=False)}


@dataclass(frozen=True)
class _Candidate:
    sample_id: str
    language: str
    country: str
    snippet: str
    value: str | None = None
    value_start: int = 0
    others: tuple[tuple[str, str], ...] = ()
    """(label, value) of the other labelled values in a negative snippet."""


class _Pool:
    """The ``k`` candidates with the smallest priority (a max-heap on priority)."""

    def __init__(self, k: int):
        self.k = k
        self.heap: list[tuple[int, str, _Candidate]] = []

    def wants(self, priority: int) -> bool:
        return len(self.heap) < self.k or priority < -self.heap[0][0]

    def add(self, priority: int, candidate: _Candidate) -> None:
        item = (-priority, candidate.sample_id, candidate)
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, item)
        else:
            heapq.heappushpop(self.heap, item)

    def sorted(self) -> list[_Candidate]:
        return [c for _, _, c in sorted(self.heap, key=lambda item: (-item[0], item[1]))]


def _mix(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread 64-bit hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def _phrase(label: Label, article: bool = True) -> str:
    """``E-mail address`` -> ``an e-mail address``, ``User name`` -> ``a user name`` (explanations)."""
    d = label.description
    first = d.split(" ", 1)[0]
    if not (len(first) > 1 and first.isupper()):  # keep acronyms (IBAN, VAT)
        d = d[:1].lower() + d[1:]
    if not article:
        return d
    vowel = d[:1].lower() in "aeio" or d[:2].lower() in ("un", "um", "up") or (first.isupper() and
                                                                                d[:1] in "AEFHILMNORSX")
    return ("an " if vowel else "a ") + d


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _rng(seed: int, *parts: object) -> random.Random:
    return random.Random("\0".join(map(str, (seed, *parts))))


# --- 1. candidate pools --------------------------------------------------------------------


def _pool_sizes(config: SftConfig) -> dict[str, int]:
    cap = config.max_positives_per_category
    r = config.validation_share
    val = math.ceil(cap * r / (1 - r))
    return {"train": cap + 64, "validation": 2 * val + 64}


def collect(samples: Iterable[tuple[Sample, str]], catalogue: Catalogue, seed: int,
            config: SftConfig) -> tuple[dict[tuple[str, str, str], _Pool], Counter]:
    """Stream ``(sample, split)`` pairs into per (split, category, positive|negative) pools."""
    sizes = _pool_sizes(config)
    pools = {(split, name, kind): _Pool(sizes[split])
             for split in SPLITS for name in catalogue.names for kind in ("pos", "neg")}
    counts: Counter = Counter()
    names = catalogue.names
    split_of: dict[str, str] = {}
    for sample, split in samples:
        if split in SKIPPED_SPLITS:
            counts[split] += 1
            continue
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r} (expected one of {SPLITS + SKIPPED_SPLITS})")
        sid = sample.get("id") or content_id(sample)
        if sid in split_of:
            if split_of[sid] != split:
                raise ValueError(f"sample {sid} is in both {split_of[sid]} and {split}")
            counts["duplicate_samples"] += 1
            continue
        split_of[sid] = split
        counts[split] += 1
        text = sample["text"]
        spans = sorted(sample.get("privacy_mask", ()), key=lambda s: s["start"])
        by_label: dict[str, list[dict]] = {}
        for s in spans:
            by_label.setdefault(s["label"], []).append(s)
        base = int.from_bytes(hashlib.blake2b(f"{seed}\0{sid}".encode(), digest_size=8).digest(), "big")
        language, country = sample.get("language", "en"), sample.get("country", "US")
        us: list[snippets.Unit] | None = None
        for index, name in enumerate(names):
            priority = _mix(base ^ (index + 1) * 0x9E3779B97F4A7C15 & _MASK)
            pool = pools[(split, name, "pos")]
            if name in by_label and pool.wants(priority):
                us = us if us is not None else snippets.units(text, spans)
                span = by_label[name][priority % len(by_label[name])]
                start, end = snippets.positive_window(text, us, span, config.min_chars, config.max_chars)
                pool.add(priority, _Candidate(sid, language, country, text[start:end], span["value"],
                                              span["start"] - start))
            priority = _mix(priority)
            pool = pools[(split, name, "neg")]
            if pool.wants(priority):
                us = us if us is not None else snippets.units(text, spans)
                free = [i for i, u in enumerate(us) if name not in u.labels]
                if free:
                    i = free[priority % len(free)]
                    start, end = snippets.negative_window(text, us, i, name, config.min_chars, config.max_chars)
                    others = tuple((s["label"], s["value"]) for s in snippets.spans_in(spans, start, end))
                    pool.add(priority, _Candidate(sid, language, country, text[start:end], others=others))
    return pools, counts


# --- 2-4. examples of one category in one split ----------------------------------------------


def _quota(n: int, share: float) -> int:
    return min(n, int(share * n + 0.5))


def _positive(label: Label, cand: _Candidate, variant: str, rng: random.Random) -> Example:
    value = cand.value or ""
    meta = {"kind": "positive", "variant": variant, "sample_id": cand.sample_id, "language": cand.language,
            "country": cand.country, "value": value}
    cat = _phrase(label)
    if variant in ("log", "pixel"):
        key = rng.choice(("", "", "user_", "customer_")) + obfuscate.field_key(label.field_name or label.name)
        if variant == "log":
            content = obfuscate.log_line(key, value, rng)
            explanation = f"The log line carries {cat} in the field '{key}': '{_short(value)}'."
        else:
            content = obfuscate.pixel_line(key, value, rng)
            explanation = (f"The tracking-pixel request carries {cat}, URL-encoded, in the parameter "
                           f"'{key}': '{_short(value)}'.")
        return Example(label.name, content, True, CONFIDENCE[("positive", variant)], explanation, meta)
    if variant == "phrase":
        noun = rng.choice(obfuscate.field_nouns(label.name, label.field_name, cand.language))
        content = obfuscate.field_phrase(noun, value, cand.language, rng)
        return Example(label.name, content, True, CONFIDENCE[("positive", "phrase")], f"'{_short(value)}' is {cat}.",
                       meta)
    if variant == "obfuscated":
        kinds = obfuscate.applicable(value)
        weights = [{"email_words": 6, "wordified": 3, "url_encoded": 3}.get(k, 2) for k in kinds]
        kind = rng.choices(kinds, weights)[0]
        shown = obfuscate.obfuscate(kind, value, cand.language, rng)
        content = cand.snippet[:cand.value_start] + shown + cand.snippet[cand.value_start + len(value):]
        meta.update(obfuscation=kind, shown=shown)
        explanation = (f"'{_short(shown)}' is {cat} ('{_short(value)}') written {obfuscate.HOW[kind]}.")
        return Example(label.name, content, True, CONFIDENCE[("positive", "obfuscated")], explanation, meta)
    explanation = f"'{_short(value)}' is {cat}."
    return Example(label.name, cand.snippet, True, CONFIDENCE[("positive", "plain")], explanation, meta)


def _negative(label: Label, cand: _Candidate, catalogue: Catalogue) -> Example:
    meta = {"kind": "negative", "variant": "plain", "sample_id": cand.sample_id, "language": cand.language,
            "country": cand.country}
    what = _phrase(label, article=False)
    if cand.others:
        other, value = cand.others[0]
        meta["variant"] = "other_pii"
        explanation = (f"The content mentions {_phrase(catalogue[other])} ('{_short(value)}') but contains "
                       f"no {what}.")
    else:
        explanation = f"The content contains no {what}."
    return Example(label.name, cand.snippet, False, CONFIDENCE[("negative", meta["variant"])], explanation,
                   meta)


def _hard(label: Label, cand: _Candidate, variant: str, context: _Candidate | None, twins: list[str],
          catalogue: Catalogue, rng: random.Random) -> Example | None:
    hard = negatives.draw(label, rng, negatives.Context(cand.language, cand.country, twins), catalogue)
    if hard is None:
        return None
    value = hard.value
    if variant == "log":
        content = obfuscate.log_line(obfuscate.field_key(hard.kind.nouns["en"]), value, rng)
    elif variant == "pixel":
        content = obfuscate.pixel_line(obfuscate.field_key(hard.kind.nouns["en"]), value, rng)
    else:
        noun = hard.kind.nouns.get(cand.language, hard.kind.nouns["en"])
        content = obfuscate.field_phrase(noun, value, cand.language, rng)
        if context is not None:
            sep = rng.choice((" ", "\n"))
            content = f"{context.snippet}{sep}{content}" if rng.random() < 0.5 else f"{content}{sep}{context.snippet}"
    meta = {"kind": "hard_negative", "variant": variant, "sample_id": cand.sample_id,
            "language": cand.language, "country": cand.country, "value": value, "hard_kind": hard.kind.name,
            "validator_rejected": hard.rejected}
    if context is not None:
        meta["context_sample_id"] = context.sample_id
    explanation = f"'{_short(value)}' is {hard.kind.what}, not {_phrase(label)}."
    return Example(label.name, content, False, CONFIDENCE[("hard_negative", variant)], explanation, meta)


def _unique(cands: list[_Candidate], banned: set[int], limit: int) -> list[_Candidate]:
    seen: set[int] = set()
    out = []
    for c in cands:
        h = normalized_text_hash(c.snippet)
        if h in seen or h in banned:
            continue
        seen.add(h)
        out.append(c)
        if len(out) >= limit:
            break
    return out


def category_examples(label: Label, split: str, positives: list[_Candidate], negatives_: list[_Candidate],
                      target: int, banned: set[int], catalogue: Catalogue, seed: int,
                      config: SftConfig) -> tuple[list[Example], int]:
    """The examples of one category in one split, and how many were dropped as duplicates."""
    rng = _rng(seed, split, label.name)
    hard_per_positive = 2 * config.hard_negative_share  # hard negatives per positive (2P examples)
    pos = _unique(positives, banned, target)
    neg = _unique(negatives_, banned, len(negatives_))
    p = len(pos)
    while p and p - int(hard_per_positive * p + 0.5) > len(neg):
        p -= 1
    pos = pos[:p]
    n_hard = min(p, int(hard_per_positive * p + 0.5))
    n_plain_neg = p - n_hard

    seen: set[int] = set()
    dropped = 0

    def fresh(content: str) -> bool:
        h = normalized_text_hash(content)
        if h in seen or h in banned:
            return False
        seen.add(h)
        return True

    # positives: variants by quota, obfuscations only where the value has one
    variants = ["plain"] * p
    order = list(range(p))
    rng.shuffle(order)
    n_obf, n_log = _quota(p, config.obfuscated_share), _quota(p, config.log_pixel_share)
    n_phrase = _quota(p, config.phrase_share)
    for i in order:
        if n_obf and obfuscate.applicable(pos[i].value or ""):
            variants[i], n_obf = "obfuscated", n_obf - 1
        elif n_log:
            variants[i], n_log = ("log" if n_log % 2 else "pixel"), n_log - 1
        elif n_phrase:
            variants[i], n_phrase = "phrase", n_phrase - 1
    examples: list[Example] = []
    for cand, variant in zip(pos, variants):  # a repeated phrase or log line ("Age: 42") is redrawn
        for attempt in range(4):
            ex = _positive(label, cand, variant if attempt < 3 else "plain", rng)
            if fresh(ex.content):
                examples.append(ex)
                break
        else:
            dropped += 1
    for cand in neg[:n_plain_neg]:
        ex = _negative(label, cand, catalogue)
        if fresh(ex.content):
            examples.append(ex)
        else:
            dropped += 1

    # hard negatives: sources cycle through the rest of the negative pool (language, country and,
    # for the "context" variant, a sentence without the category); a repeat is redrawn
    sources = neg[n_plain_neg:] or neg
    twins = [c.value for c in positives if c.value]
    n_hlog = _quota(n_hard, config.log_pixel_share)
    n_ctx = _quota(n_hard - n_hlog, config.hard_context_share)
    for j in range(n_hard):
        if j < n_hlog:
            planned = "log" if j % 2 else "pixel"
        else:
            planned = "context" if j - n_hlog < n_ctx else "phrase"
        for attempt in range(8):
            variant = "context" if attempt >= 4 and sources else planned
            source = sources[(j + attempt * 7919) % len(sources)] if sources else pos[j % len(pos)]
            context = source if variant == "context" and sources else None
            example = _hard(label, source, variant, context, twins, catalogue, rng)
            if example is not None and fresh(example.content):
                examples.append(example)
                break
        else:
            dropped += 1

    # wrappers (kept only where the wrapped content is new)
    for i in rng.sample(range(len(examples)), _quota(len(examples), config.wrapped_share)):
        ex = examples[i]
        lang = ex.meta["language"] if ex.meta["language"] in obfuscate.WRAPPERS else "en"
        if rng.random() < config.other_language_wrapper:
            lang = rng.choice([code for code in obfuscate.LANGUAGES if code != lang])
        wrapped = obfuscate.wrap(ex.content, lang, rng)
        if fresh(wrapped):
            seen.discard(normalized_text_hash(ex.content))
            ex.content = wrapped
            ex.meta["wrapped"] = lang
    return examples, dropped


# --- the whole dataset -------------------------------------------------------------------------


@dataclass
class SftDataset:
    examples: dict[str, list[Example]]
    stats: dict[str, Any]


def make_examples(samples: Iterable[tuple[Sample, str]], *, catalogue: Catalogue = DEFAULT, seed: int = 0,
                  config: SftConfig = SftConfig()) -> SftDataset:
    """All examples of both splits, in memory (a few MB for a release), with their statistics."""
    pools, source_counts = collect(samples, catalogue, seed, config)
    r = config.validation_share
    examples: dict[str, list[Example]] = {}
    dropped: dict[str, int] = {}
    train_targets: dict[str, int] = {}
    banned: set[int] = set()
    for split in SPLITS:
        out: list[Example] = []
        dropped[split] = 0
        for label in catalogue.labels:
            pos = pools[(split, label.name, "pos")].sorted()
            neg = pools[(split, label.name, "neg")].sorted()
            if split == "train":
                target = config.max_positives_per_category
            else:
                target = int(train_targets.get(label.name, 0) * r / (1 - r) + 0.5)
            exs, n_dropped = category_examples(label, split, pos, neg, target, banned, catalogue, seed, config)
            if split == "train":
                train_targets[label.name] = sum(ex.sensitive for ex in exs)
            out += exs
            dropped[split] += n_dropped
        _rng(seed, split, "order").shuffle(out)
        examples[split] = out
        if split == "train":
            banned = {normalized_text_hash(ex.content) for ex in out}
    overlap = banned & {normalized_text_hash(ex.content) for ex in examples["validation"]}
    if overlap:
        raise AssertionError(f"{len(overlap)} content texts occur in both train and validation")
    stats = compute_stats(examples, catalogue)
    stats.update(seed=seed, config=asdict(config),
                 source_samples={s: source_counts.get(s, 0)
                                 for s in (*SPLITS, *SKIPPED_SPLITS, "duplicate_samples")},
                 duplicates_dropped=dropped)
    return SftDataset(examples, stats)


def _counts(exs: list[Example]) -> dict[str, Any]:
    kinds = Counter(ex.meta["kind"] for ex in exs)
    n = len(exs)
    pos = kinds["positive"]
    hard = kinds["hard_negative"]
    obf = sum(1 for ex in exs if ex.meta.get("obfuscation"))
    return {
        "examples": n, "positives": pos, "negatives": n - pos, "hard_negatives": hard,
        "plain_negatives": kinds["negative"], "obfuscated_positives": obf,
        "log_pixel_positives": sum(1 for ex in exs if ex.sensitive and ex.meta["variant"] in ("log", "pixel")),
        "log_pixel_hard_negatives": sum(1 for ex in exs if not ex.sensitive
                                        and ex.meta["variant"] in ("log", "pixel")),
        "wrapped": sum(1 for ex in exs if ex.meta.get("wrapped")),
        "positive_ratio": round(pos / n, 4) if n else 0.0,
        "hard_negative_ratio": round(hard / n, 4) if n else 0.0,
        "obfuscated_ratio_of_positives": round(obf / pos, 4) if pos else 0.0,
    }


def compute_stats(examples: dict[str, list[Example]], catalogue: Catalogue) -> dict[str, Any]:
    total = sum(len(v) for v in examples.values())
    splits = {}
    for split, exs in examples.items():
        entry = _counts(exs)
        entry["obfuscations"] = dict(sorted(Counter(ex.meta["obfuscation"] for ex in exs
                                                    if ex.meta.get("obfuscation")).items()))
        entry["hard_negative_kinds"] = dict(sorted(Counter(ex.meta["hard_kind"] for ex in exs
                                                           if ex.meta.get("hard_kind")).items()))
        entry["wrapper_languages"] = dict(sorted(Counter(ex.meta["wrapped"] for ex in exs
                                                         if ex.meta.get("wrapped")).items()))
        entry["languages"] = dict(sorted(Counter(ex.meta["language"] for ex in exs).items()))
        entry["per_category"] = {name: _counts([ex for ex in exs if ex.category == name])
                                 for name in catalogue.names}
        splits[split] = entry
    everything = [ex for exs in examples.values() for ex in exs]
    return {
        "examples": total,
        "positive_ratio": round(sum(ex.sensitive for ex in everything) / total, 4) if total else 0.0,
        "validation_share": round(len(examples.get("validation", ())) / total, 4) if total else 0.0,
        "categories": list(catalogue.names),
        "splits": splits,
    }


def dataset_info() -> dict[str, Any]:
    """The LLaMA-Factory ``dataset_info.json`` entries (alpaca formatting)."""
    return {DATASET_NAMES[split]: {"file_name": FILES[split], "formatting": "alpaca",
                                   "columns": COLUMNS}
            for split in SPLITS}


def write_sft(dataset: SftDataset, directory: str | os.PathLike, catalogue: Catalogue = DEFAULT) -> dict[str, Any]:
    """Write the JSONL files, their meta files, ``dataset_info.json`` and ``sft_stats.json``."""
    directory = Path(directory)
    stats = dict(dataset.stats)
    files = {}
    for split in SPLITS:
        exs = dataset.examples[split]
        write_jsonl(directory / FILES[split], (ex.row(catalogue) for ex in exs))
        write_jsonl(directory / META_FILES[split],
                    ({"line": i, "category": ex.category, **ex.meta} for i, ex in enumerate(exs, 1)))
        files[split] = FILES[split]
    write_json(directory / DATASET_INFO_FILE, dataset_info())
    stats["files"] = {**files, "dataset_info": DATASET_INFO_FILE}
    write_json(directory / STATS_FILE, stats)
    return stats


def build_sft(samples: Iterable[tuple[Sample, str]], directory: str | os.PathLike, *,
              catalogue: Catalogue = DEFAULT, seed: int = 0, config: SftConfig = SftConfig()) -> dict[str, Any]:
    """Build and write the SFT dataset from ``(sample, split)`` pairs; returns the statistics.

    ``split`` is the sample's release split: ``train`` and ``validation`` samples feed the
    corresponding SFT file, ``test`` samples are skipped (counted only). Same input and seed give
    the same bytes.
    """
    started = time.perf_counter()
    dataset = make_examples(samples, catalogue=catalogue, seed=seed, config=config)
    stats = write_sft(dataset, directory, catalogue)
    # not in sft_stats.json, which stays byte-identical from run to run
    stats["build_seconds"] = round(time.perf_counter() - started, 3)
    return stats


def stats_markdown(stats: dict[str, Any]) -> str:
    """A per-category Markdown table of the statistics (for asset metadata)."""
    train, val = stats["splits"]["train"], stats["splits"]["validation"]

    def row(name: str, c: dict[str, Any], validation: int) -> tuple:
        return (name, c["examples"], c["positives"], f"{c['hard_negatives']} ({c['hard_negative_ratio']:.0%})",
                c["obfuscated_positives"], f"{c['log_pixel_positives']}/{c['log_pixel_hard_negatives']}",
                c["wrapped"], validation)

    rows = [row(name, train["per_category"][name], val["per_category"][name]["examples"])
            for name in stats["categories"]]
    rows.append(row("**all**", train, val["examples"]))
    return markdown_table(rows, ("category", "train", "positives", "hard negatives", "obfuscated",
                                 "log/pixel (pos/hard)", "wrapped", "validation")) + "\n"
