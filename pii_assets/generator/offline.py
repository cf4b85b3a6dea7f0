"""The offline provider: multilingual PII samples from templates, no network, no API key.

A sample is composed, not filled in: per sample the engine picks a language, a kind (ordinary
genre text, a short one- or two-line text, a long mostly-prose document, or text with no PII), a
genre, a person, the labels to include (by sampling weight), then lines from the language module
that carry those labels, plus coreference lines, filler prose and hard negatives, shuffles them
and renders them while recording every span and every coreference mention with exact offsets.
The output is deterministic in ``(batch key, seed, index)`` and independent of how many samples
are generated before it.
"""

from __future__ import annotations

import hashlib
import importlib
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pii_assets.batches import BatchSpec
from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.generator.locales import LOCALES
from pii_assets.generator.prose import Prose
from pii_assets.generator.values import LocaleValues, Person

GENERATOR_VERSION = "3"
PII_SLOTS = frozenset(DEFAULT.names)
COMPOSITES = {"FULLNAME": ("FIRSTNAME", "SURNAME"), "ADDRESS": ("STREET", "BUILDINGNUM", "ZIP", "CITY")}
OTHER_SLOTS = {"OTHER_FIRSTNAME": "FIRSTNAME", "OTHER_SURNAME": "SURNAME", "OTHER_FULLNAME": "FULLNAME"}
COREF_SLOTS = frozenset({"PRON_SUBJ", "PRON_OBJ", "PRON_POSS", "REF"})
NAME_SLOTS = frozenset({"FIRSTNAME", "SURNAME", "FULLNAME"})
HARD_NEGATIVE_SLOTS = frozenset({"ORDER_ID", "SKU", "PROMO_CODE", "TIMESTAMP", "VERSION", "TRACKING_NO",
                                 "TICKET_ID", "INVOICE_NO", "AMOUNT", "DATE", "TIME", "QUANTITY", "PRODUCT"})
KNOWN_SLOTS = PII_SLOTS | set(COMPOSITES) | set(OTHER_SLOTS) | COREF_SLOTS | HARD_NEGATIVE_SLOTS
GENRES = ("email", "chat", "support_ticket", "web_form", "log_line", "clinical_note", "hr_record",
          "invoice", "crm_note", "news", "legal")
_SLOT = re.compile(r"\{(G:[^{}|]*\|[^{}]*|[A-Z_0-9]+)\}")
_SENTENCE_END = frozenset(".!?\n")

PROSE_SHARE = 0.5
"""Share of filler and hard-negative lines written from word frequencies rather than taken from the
template module (``Language.filler_line``)."""
RUNNING_NAMES = (("FULLNAME",), ("FULLNAME",), ("OTHER_FULLNAME",), ("SURNAME",), ("FIRSTNAME",),
                 ("FULLNAME", "OTHER_FULLNAME"), ("SURNAME", "OTHER_FULLNAME"))
"""Name slots of running-text sentences (``Language.name_line``)."""
RUNNING_NAMES_RATE = 0.2
"""Chance that a PII sample (and, per paragraph, a long document) carries such a sentence."""

# part kinds
TEXT, PII, FULL, ADDR, OTHER, COREF, NEG, GENDER = range(8)


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Line:
    id: str
    parts: tuple[tuple[int, str, str], ...]
    labels: frozenset[str]
    has_name: bool
    has_coref: bool


def compile_line(text: str, line_id: str, catalogue: Catalogue = DEFAULT) -> Line:
    parts: list[tuple[int, str, str]] = []
    labels: set[str] = set()
    pos = 0
    for m in _SLOT.finditer(text):
        if m.start() > pos:
            parts.append((TEXT, text[pos:m.start()], ""))
        slot = m.group(1)
        if slot.startswith("G:"):
            masc, fem = slot[2:].split("|", 1)
            parts.append((GENDER, masc, fem))
        elif slot in catalogue or slot in PII_SLOTS:
            parts.append((PII, slot, ""))
            labels.add(slot)
        elif slot == "FULLNAME":
            parts.append((FULL, slot, ""))
            labels.update(COMPOSITES[slot])
        elif slot == "ADDRESS":
            parts.append((ADDR, slot, ""))
            labels.update(COMPOSITES[slot])
        elif slot in OTHER_SLOTS:
            parts.append((OTHER, OTHER_SLOTS[slot], ""))
            labels.update(COMPOSITES.get(OTHER_SLOTS[slot], (OTHER_SLOTS[slot],)))
        elif slot in COREF_SLOTS:
            parts.append((COREF, slot, ""))
        elif slot in HARD_NEGATIVE_SLOTS:
            parts.append((NEG, slot, ""))
        else:
            raise TemplateError(f"{line_id}: unknown slot {{{slot}}} in {text!r}")
        pos = m.end()
    if pos < len(text):
        parts.append((TEXT, text[pos:], ""))
    if "{" in "".join(p[1] for p in parts if p[0] == TEXT):
        raise TemplateError(f"{line_id}: unbalanced brace in {text!r}")
    kinds = {(k, a) for k, a, _ in parts}
    return Line(
        id=line_id,
        parts=tuple(parts),
        labels=frozenset(labels),
        has_name=any(k in (PII, FULL) and a in NAME_SLOTS for k, a in kinds),
        has_coref=any(k == COREF for k, _ in kinds),
    )


@dataclass
class Genre:
    name: str
    role: str
    openings: list[Line]
    body: list[Line]
    closings: list[Line]
    by_label: dict[str, list[Line]] = field(default_factory=dict)


class Language:
    """A compiled template module plus its value generators."""

    def __init__(self, code: str, seed: int, catalogue: Catalogue):
        self.code = code
        self.locale = LOCALES[code]
        module = importlib.import_module(f"pii_assets.generator.templates.{code}")
        self.pronouns: dict[str, dict[str, str]] = module.PRONOUNS
        self.roles: dict[str, dict[str, list[str]]] = module.ROLES
        self.phrases: dict[str, list[str]] = module.LABEL_PHRASES
        self.values = LocaleValues(self.locale, list(module.MONTHS), seed)
        c = catalogue
        self.genres = []
        for name in GENRES:
            g = module.GENRES[name]
            genre = Genre(
                name, g["role"],
                [compile_line(t, f"{code}/{name}/o{i}", c) for i, t in enumerate(g["openings"])],
                [compile_line(t, f"{code}/{name}/b{i}", c) for i, t in enumerate(g["body"])],
                [compile_line(t, f"{code}/{name}/c{i}", c) for i, t in enumerate(g["closings"])],
            )
            for line in genre.body:
                for label in line.labels:
                    genre.by_label.setdefault(label, []).append(line)
            self.genres.append(genre)
        self.any_by_label: dict[str, list[Line]] = {}
        for genre in self.genres:
            for label, lines in genre.by_label.items():
                self.any_by_label.setdefault(label, []).extend(lines)
        self.filler = [compile_line(t, f"{code}/filler/{i}", c) for i, t in enumerate(module.FILLER)]
        self.hard_negatives = [compile_line(t, f"{code}/neg/{i}", c)
                               for i, t in enumerate(module.HARD_NEGATIVES)]
        self.address_formats = [compile_line(t, f"{code}/address/{i}", c)
                                for i, t in enumerate(self.locale.address_formats)]
        self.prose = Prose(code, list(module.MONTHS))
        self.catalogue = c

    def filler_line(self, rng: random.Random) -> Line:
        """Ordinary text: a hand-written filler sentence or, as often, a word-frequency sentence
        with years, dates, measurements and codes that are not PII (``prose``)."""
        if rng.random() < PROSE_SHARE:
            return compile_line(self.prose.sentence(rng), f"{self.code}/filler/prose", self.catalogue)
        return rng.choice(self.filler)

    def negative_line(self, rng: random.Random) -> Line:
        """A hard negative: a template line of order ids, amounts, versions, or a prose sentence
        dense with numbers, dates and codes."""
        if rng.random() < PROSE_SHARE:
            return compile_line(self.prose.sentence(rng, numbers=0.35), f"{self.code}/neg/prose",
                                self.catalogue)
        return rng.choice(self.hard_negatives)

    def name_line(self, rng: random.Random, slots: tuple[str, ...]) -> Line:
        """A prose sentence with names and no keyword before them (running text)."""
        names = tuple(self.prose.name(rng, slot) for slot in slots)
        return compile_line(self.prose.sentence(rng, names), f"{self.code}/filler/prose-names", self.catalogue)

    def form_line(self, label: str, rng: random.Random, catalogue: Catalogue) -> Line:
        """``<field name>: {LABEL}`` for labels no template line carries (e.g. a new label)."""
        phrases = self.phrases.get(label) or [catalogue[label].field_name or label.title()]
        sep = rng.choice([": ", ": ", " - ", " = ", " "])
        return compile_line(f"{rng.choice(phrases)}{sep}{{{label}}}", f"{self.code}/form/{label}",
                            catalogue)


class _Doc:
    """Text under construction with its spans and coreference mentions."""

    __slots__ = ("chunks", "pos", "spans", "clusters")

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.pos = 0
        self.spans: list[dict[str, Any]] = []
        self.clusters: dict[int, list[dict[str, Any]]] = {}

    def add(self, text: str) -> None:
        self.chunks.append(text)
        self.pos += len(text)

    def at_sentence_start(self) -> bool:
        for chunk in reversed(self.chunks):
            stripped = chunk.rstrip(" \t")
            if stripped:
                return stripped[-1] in _SENTENCE_END
            if "\n" in chunk:
                return True
        return True

    def _chunk_before(self, start: int) -> str | None:
        pos, i = self.pos, len(self.chunks)
        while i and pos > start:
            i -= 1
            pos -= len(self.chunks[i])
        return self.chunks[i - 1] if i and pos == start else None

    def span(self, label: str, value: str) -> tuple[int, int]:
        start = self.pos
        self.add(value)
        self.spans.append({"value": value, "label": label, "start": start, "end": self.pos})
        return start, self.pos

    def mention(self, cluster: int, text: str, start: int, kind: str, labels: list[str]) -> None:
        mentions = self.clusters.setdefault(cluster, [])
        end = start + len(text)
        if kind == "name" and mentions and mentions[-1]["type"] == "name":
            prev, gap = mentions[-1], self._chunk_before(start)
            if gap in (" ", ", ") and prev["end"] + len(gap) == start:
                # "Anna" + " " + "Schmidt" written by two slots is one mention of the person
                prev["text"] += gap + text
                prev["end"] = end
                prev["privacy_mask_labels"] = prev["privacy_mask_labels"] + labels
                return
        mentions.append({"text": text, "start": start, "end": end, "type": kind,
                         "privacy_mask_labels": labels})


HARD_NEGATIVE_MAKERS = {
    "ORDER_ID": lambda rng, lv: rng.choice(["ORD-", "#", "PO-", "A", "BE-"]) + (
        f"{rng.randint(2021, 2026)}-" if rng.random() < 0.4 else "") + str(rng.randint(10000, 9999999)),
    "SKU": lambda rng, lv: f"{rng.choice(['SKU-', '', 'ART-'])}{''.join(rng.choices('ABCDEFGHKLMNPRSTXZ', k=2))}"
                           f"-{rng.randint(100, 99999)}{rng.choice(['', '-BLK', '-M', '-XL', '/2'])}",
    "PROMO_CODE": lambda rng, lv: rng.choice(["SPRING", "WELCOME", "SUMMER", "BLACKFRIDAY", "SAVE", "VIP",
                                              "NEWS", "XMAS"]) + str(rng.choice([5, 10, 15, 20, 25, 30, 50])),
    "TIMESTAMP": lambda rng, lv: _timestamp(rng),
    "VERSION": lambda rng, lv: f"{rng.choice(['v', '', 'V'])}{rng.randint(0, 12)}.{rng.randint(0, 40)}."
                               f"{rng.randint(0, 99)}{rng.choice(['', '', '-beta.2', '-rc1', '+build.7'])}",
    "TRACKING_NO": lambda rng, lv: rng.choice([
        lambda: "1Z" + "".join(rng.choices("0123456789ABCDEFGHJKLMNPRSTVWXYZ", k=16)),
        lambda: "JJD" + "".join(rng.choices("0123456789", k=18)),
        lambda: "".join(rng.choices("ABCDEFGHJKLMNPRSTVWXYZ", k=2)) + "".join(rng.choices("0123456789", k=9)) + "DE",
    ])(),
    "TICKET_ID": lambda rng, lv: rng.choice(["INC", "#", "TCK-", "SR-", "REQ"]) + str(rng.randint(1000, 9999999)),
    "INVOICE_NO": lambda rng, lv: f"{rng.choice(['INV', 'RE', 'FA', 'FAC', 'FT'])}-{rng.randint(2021, 2026)}-"
                                  f"{rng.randint(1, 99999):05d}",
    "AMOUNT": lambda rng, lv: _amount(rng, lv),
    # dates of events, deliveries, appointments: not birth dates, so not PII in this catalogue
    "DATE": lambda rng, lv: lv.format_date(rng, date(1990, 1, 1) + timedelta(days=rng.randrange(40 * 365))),
    "TIME": lambda rng, lv: f"{rng.randint(7, 20):02d}:{rng.choice([0, 15, 30, 45]):02d}",
    "QUANTITY": lambda rng, lv: str(rng.choice([1, 2, 3, 4, 5, 6, 10, 12, 20, 24, 50, 100])),
    "PRODUCT": lambda rng, lv: rng.choice(["AirFlow 300", "ThinkBook 14 G6", "Nordlicht LED Panel",
                                           "ProClean X2", "Velo City 28", "SoundMax BT-500", "Cafetto Duo",
                                           "Ergo Chair Pro", "Kindred Tablet 10", "Orbit Router AX3000"]),
}


def _timestamp(rng: random.Random) -> str:
    y, mo, d = rng.randint(2022, 2026), rng.randint(1, 12), rng.randint(1, 28)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    r = rng.random()
    if r < 0.4:
        return f"{y}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}Z"
    if r < 0.7:
        return f"{y}-{mo:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d},{rng.randint(0, 999):03d}"
    if r < 0.85:
        return str(rng.randint(1_650_000_000, 1_790_000_000))
    return f"{d:02d}/{mo:02d}/{y} {h:02d}:{mi:02d}"


def _amount(rng: random.Random, lv: LocaleValues) -> str:
    value = rng.randint(1, 500000) / 100
    if lv.country == "US":
        return f"${value:,.2f}"
    text = f"{value:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return rng.choice([f"{text} €", f"€{text}", f"EUR {text}"])


def invalid_variant(value: str, validator, country: str) -> str | None:
    """``value`` with one character changed so that ``validator`` refuses it (a digit moved on by
    one, from the last: a check digit; or the ``@`` of an address), or None if no such change does."""
    if validator(value, country) is not None:
        return None
    candidates = [value[:i] + str((int(c) + 1) % 10) + value[i + 1:]
                  for i, c in reversed(list(enumerate(value))) if c.isdigit()]
    candidates += [value.replace("@", "#", 1)] if "@" in value else []
    return next((c for c in candidates if validator(c, country) is not None), None)


def batch_seed(key: str, seed: int, *salt: object) -> int:
    blob = "\0".join([key, str(seed), *map(str, salt)]).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


class OfflineGenerator:
    """Generates the samples of one batch spec. ``generate()`` streams them in index order."""

    def __init__(self, spec: BatchSpec, catalogue: Catalogue = DEFAULT):
        self.spec = spec
        self.catalogue = catalogue
        self.base_seed = batch_seed(spec.key, spec.seed)
        weights = {label.name: label.weight for label in catalogue.labels}
        weights.update(spec.label_weights)
        self.enabled = frozenset(name for name, w in weights.items() if w > 0)
        self.disabled = frozenset(weights) - self.enabled
        self.label_names = [name for name in catalogue.names if name in self.enabled]
        self.label_cum_weights = []
        total = 0.0
        for name in self.label_names:
            total += weights[name]
            self.label_cum_weights.append(total)
        self.languages = {code: Language(code, batch_seed(spec.key, spec.seed, code), catalogue)
                          for code in spec.languages}
        self.language_codes = list(spec.languages)
        self.address_formats = {
            code: [f for f in lang.address_formats if self._ok(f)] or lang.address_formats
            for code, lang in self.languages.items()
        }

    def generate(self) -> Iterator[dict[str, Any]]:
        for index in range(self.spec.size):
            yield self.sample(index)

    # --- composition ------------------------------------------------------------------

    def _ok(self, line: Line) -> bool:
        return not (line.labels & self.disabled)

    def _pick(self, rng: random.Random, lines: list[Line]) -> Line | None:
        for _ in range(4):
            line = rng.choice(lines)
            if self._ok(line):
                return line
        allowed = [line for line in lines if self._ok(line)]
        return rng.choice(allowed) if allowed else None

    def _pick_no_pii(self, rng: random.Random, lines: list[Line]) -> Line | None:
        allowed = [line for line in lines if not line.labels and not line.has_coref]
        return rng.choice(allowed) if allowed else None

    def sample(self, index: int) -> dict[str, Any]:
        rng = random.Random(self.base_seed + index)
        lang = self.languages[rng.choice(self.language_codes)]
        genre = rng.choice(lang.genres)
        r = rng.random()
        spec = self.spec
        if r < spec.no_pii_ratio or not self.label_names:
            kind, blocks = "no_pii", self._compose_no_pii(rng, lang, genre)
        elif r < spec.no_pii_ratio + spec.long_document_ratio:
            kind, blocks = "long", self._compose_long(rng, lang, genre)
        elif r < spec.no_pii_ratio + spec.long_document_ratio + spec.short_ratio:
            kind, blocks = "short", [self._body_lines(rng, lang, genre, rng.choice((1, 1, 2)))]
        else:
            kind, blocks = "pii", self._compose_genre(rng, lang, genre)
        person = lang.values.person(rng)
        doc, used = self._render(rng, lang, genre, person, blocks, prose=kind == "long")
        sample = {
            "text": "".join(doc.chunks),
            "language": lang.code,
            "country": lang.locale.country,
            "privacy_mask": doc.spans,
            "coreferences": [
                {"cluster_id": cid, "entity_type": "person", "mentions": mentions}
                for cid, mentions in sorted(doc.clusters.items()) if len(mentions) >= 2
            ],
            "meta": {
                "batch": self.spec.key, "provider": "offline", "model": None,
                "generator_version": GENERATOR_VERSION, "seed": self.spec.seed, "index": index,
                "kind": kind, "genre": genre.name, "templates": used,
            },
        }
        if spec.invalid_ratio:
            self._seed_invalid(sample, random.Random(batch_seed(spec.key, spec.seed, "invalid", index)))
        return sample

    def _seed_invalid(self, sample: dict[str, Any], rng: random.Random) -> None:
        """With probability ``invalid_ratio``, make one value fail its label's validator (same length,
        so every offset holds): the review rejects the sample, with the reason, as it would a bad
        value from any provider. Its own RNG, so the other samples do not change."""
        if rng.random() >= self.spec.invalid_ratio:
            return
        spans = list(sample["privacy_mask"])
        rng.shuffle(spans)
        for span in spans:
            bad = invalid_variant(span["value"], self.catalogue[span["label"]].validator, sample["country"])
            if bad is not None:
                text = sample["text"]
                sample["text"] = text[:span["start"]] + bad + text[span["end"]:]
                span["value"] = bad
                sample["meta"]["seeded_invalid"] = span["label"]
                return

    def _targets(self, rng: random.Random, k: int) -> list[str]:
        picks = rng.choices(self.label_names, cum_weights=self.label_cum_weights, k=k)
        return list(dict.fromkeys(picks))

    def _body_lines(self, rng: random.Random, lang: Language, genre: Genre, k: int) -> list[Line]:
        lines: list[Line] = []
        targets = self._targets(rng, k)
        # Mostly labels the genre writes about (coherent texts); now and then one from elsewhere.
        targets = [t for t in targets if t in genre.by_label or rng.random() < 0.25] or targets[:1]
        for label in targets:
            if any(label in line.labels for line in lines):
                continue
            pool = genre.by_label.get(label) or lang.any_by_label.get(label)
            line = self._pick(rng, pool) if pool else None
            lines.append(line or lang.form_line(label, rng, self.catalogue))
        return lines

    def _compose_genre(self, rng, lang: Language, genre: Genre) -> list[list[Line]]:
        body = self._body_lines(rng, lang, genre, rng.choice((2, 3, 3, 4, 4, 5, 6)))
        if rng.random() < 0.6:
            extra = self._pick(rng, genre.body)
            if extra is not None and extra not in body:
                body.append(extra)
        for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
            body.append(lang.filler_line(rng))
        if rng.random() < 0.4:
            body.append(lang.negative_line(rng))
        if rng.random() < RUNNING_NAMES_RATE:
            self._add_running_names(rng, lang, body)
        rng.shuffle(body)
        names = [i for i, line in enumerate(body) if line.has_name]
        if names and rng.random() < 0.7:
            body.insert(0, body.pop(names[0]))
        blocks = []
        if rng.random() < 0.85:
            opening = self._pick(rng, genre.openings)
            if opening:
                blocks.append([opening])
        blocks.append(body)
        if rng.random() < 0.75:
            closing = self._pick(rng, genre.closings)
            if closing:
                blocks.append([closing])
        return blocks

    def _compose_long(self, rng, lang: Language, genre: Genre) -> list[list[Line]]:
        paragraphs = [[lang.filler_line(rng) for _ in range(rng.randint(3, 6))] for _ in range(rng.randint(3, 6))]
        for line in self._body_lines(rng, lang, genre, rng.choice((1, 2, 2, 3, 4))):
            para = rng.choice(paragraphs)
            para.insert(rng.randint(0, len(para)), line)
        if rng.random() < 0.5:
            rng.choice(paragraphs).insert(0, lang.negative_line(rng))
        for para in paragraphs:
            if rng.random() < RUNNING_NAMES_RATE:
                self._add_running_names(rng, lang, para)
        return paragraphs

    def _add_running_names(self, rng, lang: Language, lines: list[Line]) -> None:
        line = lang.name_line(rng, rng.choice(RUNNING_NAMES))
        if self._ok(line):
            lines.insert(rng.randint(0, len(lines)), line)

    def _compose_no_pii(self, rng, lang: Language, genre: Genre) -> list[list[Line]]:
        if rng.random() < 0.3:
            return [[lang.filler_line(rng) for _ in range(rng.randint(3, 6))] for _ in range(rng.randint(2, 5))]
        lines = [lang.filler_line(rng) for _ in range(rng.randint(1, 4))]
        lines += [lang.negative_line(rng) for _ in range(rng.randint(1, 3))]
        body_line = self._pick_no_pii(rng, genre.body)
        if body_line:
            lines.append(body_line)
        rng.shuffle(lines)
        return [lines]

    # --- rendering --------------------------------------------------------------------

    def _render(self, rng, lang: Language, genre: Genre, person: Person,
                blocks: list[list[Line]], prose: bool) -> tuple[_Doc, list[str]]:
        doc = _Doc()
        used: list[str] = []
        other: Person | None = None
        if prose:  # paragraphs of running text
            line_sep, block_sep = " ", "\n\n"
        else:
            line_sep = "\n" if genre.name in ("chat", "log_line", "web_form") or rng.random() < 0.3 else " "
            block_sep = "\n\n" if rng.random() < 0.8 else "\n"
        catalogue = self.catalogue
        values = lang.values
        for bi, block in enumerate(blocks):
            if bi:
                doc.add(block_sep)
            for li, line in enumerate(block):
                if li:
                    doc.add(line_sep)
                used.append(line.id)
                for kind, a, b in line.parts:
                    if kind == TEXT:
                        doc.add(a)
                    elif kind == PII:
                        value = values.value(catalogue[a], rng, person)
                        start, _ = doc.span(a, value)
                        if a in NAME_SLOTS:
                            doc.mention(0, value, start, "name", [a])
                    elif kind == FULL:
                        self._full_name(rng, doc, values, person, 0)
                    elif kind == ADDR:
                        fmt = person.cache.get("__address")
                        if fmt is None:
                            fmt = person.cache["__address"] = rng.choice(self.address_formats[lang.code])
                        for pk, pa, _ in fmt.parts:
                            if pk == TEXT:
                                doc.add(pa)
                            else:
                                doc.span(pa, values.value(catalogue[pa], rng, person))
                    elif kind == OTHER:
                        if other is None:
                            other = values.person(rng)
                        if a == "FULLNAME":
                            self._full_name(rng, doc, values, other, 1)
                        else:
                            value = values.value(catalogue[a], rng, other)
                            start, _ = doc.span(a, value)
                            doc.mention(1, value, start, "name", [a])
                    elif kind == COREF:
                        if a == "REF":
                            text = rng.choice(lang.roles[genre.role][person.gender])
                            mtype = "reference"
                        else:
                            text = lang.pronouns[person.gender][a[5:].lower()]
                            mtype = "pronoun"
                        if doc.at_sentence_start():
                            text = text[:1].upper() + text[1:]
                        doc.mention(0, text, doc.pos, mtype, [])
                        doc.add(text)
                    elif kind == NEG:
                        doc.add(HARD_NEGATIVE_MAKERS[a](rng, values))
                    else:  # GENDER
                        doc.add(a if person.gender == "male" else b)
        return doc, used

    def _full_name(self, rng, doc: _Doc, values: LocaleValues, person: Person, cluster: int) -> None:
        first = values.value(self.catalogue["FIRSTNAME"], rng, person)
        last = values.value(self.catalogue["SURNAME"], rng, person)
        start = doc.pos
        if rng.random() < 0.12:
            doc.span("SURNAME", last)
            doc.add(", ")
            doc.span("FIRSTNAME", first)
            text = f"{last}, {first}"
        else:
            doc.span("FIRSTNAME", first)
            doc.add(" ")
            doc.span("SURNAME", last)
            text = f"{first} {last}"
        doc.mention(cluster, text, start, "name", ["FIRSTNAME", "SURNAME"])
