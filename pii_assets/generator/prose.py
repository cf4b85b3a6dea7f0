"""Ordinary text of a language from its word frequencies: what a PII model must learn to leave alone.

The hand-written filler of the template modules is a few hundred sentences; people's text uses
tens of thousands of words. A model that has seen only the filler tags every word it has not seen
as PII ("alérgico", "tórax", "Danach"). This module writes sentences from the ~40,000 most
frequent words of each language (the ``wordfreq`` package: its code is Apache-2.0, its word lists
CC BY-SA 4.0, from Wikipedia, subtitles, news, books and web text), mixed with what people write
between words and is not PII: years, decades and dates of events, measurements, doses, lab values,
ratios, staging and product codes, versions, percentages, times, section references.

The sentences are not grammatical: they teach the model the vocabulary of a language, not its
syntax (the template lines do that). Words that are names, surnames, cities or countries in any
of Faker's Latin-script locales are left out unless they are very common words ("will", "may"), so
the prose never teaches that a name is an ordinary word. Sentences may carry slots (``{FULLNAME}``,
``{SURNAME}``, ...) for names in running text with no keyword before them; the offline engine fills
them like any template line.
"""

from __future__ import annotations

import math
import random
import re
from datetime import date, timedelta
from functools import lru_cache

WORDS = 40_000
"""Words per language (by frequency); the tail below ~rank 40k is mostly names, typos and jargon."""
FUNCTION_WORDS = 250
"""The most frequent words, drawn by frequency; the rest are drawn uniformly (broad vocabulary)."""
_WORD = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")

# Latin-script Faker locales whose names, cities and countries are kept out of the prose.
NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_IN", "en_NG", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CA",
                "fr_BE", "es_ES", "es_MX", "it_IT", "nl_NL", "nl_BE", "pt_BR", "pt_PT", "pl_PL", "sv_SE",
                "da_DK", "no_NO", "fi_FI", "cs_CZ", "sk_SK", "hu_HU", "ro_RO", "hr_HR", "sl_SI", "tr_TR",
                "lt_LT", "lv_LV", "id_ID", "vi_VN", "zu_ZA", "yo_NG")
FIRST_NAME_KEEP_ZIPF = 5.5  # "will", "may", "mark" stay words; "john", "maria" go
SURNAME_KEEP_ZIPF = 5.0     # "king", "green", "young" stay; "hill", "wood", "smith" go
PLACE_KEEP_ZIPF = 5.5


@lru_cache(maxsize=1)
def name_words() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Lower-cased single words of first names, surnames and place names across ``NAME_LOCALES``,
    read from the Faker providers' own lists (deterministic, no sampling)."""
    from faker import Faker

    first: set[str] = set()
    last: set[str] = set()
    places: set[str] = set()

    def add(target: set[str], values, whole: bool = False) -> None:
        for value in values or ():
            words = _WORD.findall(str(value).lower())
            if not whole or len(words) == 1:  # "green" of "Green Bay" is a word, "Bilbao" a place
                target.update(words)

    for locale in NAME_LOCALES:
        faker = Faker(locale)
        for provider in faker.providers:
            for attr in ("first_names", "first_names_male", "first_names_female", "first_names_nonbinary"):
                add(first, getattr(provider, attr, None))
            add(last, getattr(provider, "last_names", None))
            for attr in ("cities", "city_names", "countries", "states", "provinces", "regions",
                         "administrative_units"):
                values = getattr(provider, attr, None)
                if isinstance(values, (list, tuple, set, frozenset, dict)):
                    add(places, values, whole=True)
    from pii_assets.generator.values import geonames_cities

    for country in {locale.split("_")[1] for locale in NAME_LOCALES} | {None}:
        add(places, geonames_cities(country)[0], whole=True)
    return frozenset(first), frozenset(last), frozenset(places)


INTERNATIONAL_BELOW_ZIPF = 4.0
"""A rarer word about as frequent in three of the five other languages is a proper noun (a person,
a band, a brand: "murakami", "pinochet", "kendrick") or a loan word; either way it is left out."""
LANGUAGES = ("en", "de", "fr", "es", "it", "nl")


def _zipf(word: str, language: str) -> float:
    """wordfreq's Zipf frequency of a word of its list (0 when absent), from its cached dictionary."""
    from wordfreq import get_frequency_dict

    freq = get_frequency_dict(language).get(word, 0.0)
    return math.log10(freq) + 9 if freq else 0.0


@lru_cache(maxsize=8)
def vocabulary(language: str, size: int = WORDS) -> tuple[str, ...]:
    """The ``size`` most frequent words of ``language`` that are words (letters, inner apostrophes
    or hyphens) and neither names nor places, most frequent first."""
    from wordfreq import top_n_list

    first, last, places = name_words()
    others = [o for o in LANGUAGES if o != language]
    out = []
    for rank, word in enumerate(top_n_list(language, size)):
        if not _WORD.fullmatch(word) or (len(word) < 2 and rank > 100) or word.endswith(("'s", "’s")):
            continue
        zipf = _zipf(word, language)
        if any(word in names and zipf < keep for names, keep in
               ((first, FIRST_NAME_KEEP_ZIPF), (last, SURNAME_KEEP_ZIPF), (places, PLACE_KEEP_ZIPF))):
            continue
        if zipf < INTERNATIONAL_BELOW_ZIPF and sum(_zipf(word, other) >= zipf - 1 for other in others) >= 3:
            continue
        out.append(word)
    return tuple(out)


# Per language: decimal comma?, decade formats, month-year formats, section references, units that
# are not ages. Kept here, beside the code that uses them, because they are few.
LOCAL = {
    "en": {"titles": ("Mr", "Mr.", "Mrs", "Ms", "Dr", "Dr.", "Prof.", "Judge", "Sir", "President"),
           "comma": False, "decades": ("{d}s", "the {d}s", "mid-{d}s"), "month_year": ("{month} {yyyy}",),
           "refs": ("Article {n}", "Section {n}", "p. {n}", "chapter {n}", "No. {n}", "Vol. {n}", "§ {n}")},
    "de": {"titles": ("Herr", "Frau", "Dr.", "Prof.", "Prof. Dr.", "Herrn", "Richter"),
           "comma": True, "decades": ("{d}er", "in den {d}er Jahren", "{d}er-Jahre"), "month_year": ("{month} {yyyy}",),
           "refs": ("Art. {n}", "§ {n}", "Abs. {n}", "S. {n}", "Kapitel {n}", "Nr. {n}", "Bd. {n}")},
    "fr": {"titles": ("M.", "Mme", "Mlle", "Dr", "Pr", "Me", "docteur", "monsieur", "madame"),
           "comma": True, "decades": ("années {d}", "les années {d}"), "month_year": ("{month} {yyyy}",),
           "refs": ("article {n}", "art. {n}", "p. {n}", "chapitre {n}", "n° {n}", "alinéa {n}")},
    "es": {"titles": ("Sr.", "Sra.", "Dr.", "Dra.", "D.", "Dña.", "don", "doña", "doctor", "doctora"),
           "comma": True, "decades": ("años {dd}", "los años {d}", "década de {d}"),
           "month_year": ("{month} de {yyyy}", "{month} {yyyy}"),
           "refs": ("artículo {n}", "art. {n}", "pág. {n}", "capítulo {n}", "n.º {n}", "apartado {n}")},
    "it": {"titles": ("Sig.", "Sig.ra", "Dott.", "Dott.ssa", "Prof.", "Avv.", "signor", "dottor"),
           "comma": True, "decades": ("anni {dd}", "anni '{dd}", "negli anni {d}"), "month_year": ("{month} {yyyy}",),
           "refs": ("articolo {n}", "art. {n}", "pag. {n}", "capitolo {n}", "n. {n}", "comma {n}")},
    "nl": {"titles": ("dhr.", "mevr.", "dr.", "prof.", "mr.", "de heer", "mevrouw"),
           "comma": True, "decades": ("jaren {dd}", "de jaren {d}", "{d}'s"), "month_year": ("{month} {yyyy}",),
           "refs": ("artikel {n}", "art. {n}", "blz. {n}", "hoofdstuk {n}", "nr. {n}", "lid {n}")},
}
UNITS = ("mg", "g", "kg", "µg", "ml", "l", "dl", "cm", "mm", "m", "km", "km/h", "m²", "cm³", "mmHg", "lpm", "bpm",
         "rpm", "mg/dl", "mg/kg", "mmol/l", "UI/l", "U/l", "g/dl", "mEq/l", "ng/ml", "ml/h", "°C", "ºC", "kWh", "kW",
         "MW", "V", "W", "Hz", "GB", "MB", "TB", "ms", "s", "min", "h", "t", "ha", "kcal", "dB", "mSv", "Gy", "x")
MARKERS = ("CD{n}+", "CD{n}-", "BCL{d}+", "HER{d}+", "HER{d}-", "Ki-{nn}", "p{nn}", "BRCA{d}", "KRAS", "EGFR+",
           "PD-L1", "IgG", "IgM", "HbA1c", "TSH", "PCR", "VIH", "HLA-B{nn}", "ALK-", "ER+", "PR-", "Gleason {d}+{d}",
           "ECOG {d}", "NYHA {r}", "T{d}N{d0}M{b}", "pT{d}pN{d0}", "G{d}", "BI-RADS {d}", "ASA {r}", "COVID-19",
           "SARS-CoV-2", "H{d}N{d}", "F-{nn}", "A{nnn}", "ISO {nnnn}", "EN {nnnnn}", "USB-C", "Wi-Fi {d}", "4G",
           "5G", "H.{nnn}", "MP{d}", "IPv{d}", "x{nn}", "{d}D", "M{d}", "E{nnn}", "B{nn}", "K{d}", "RS-{nnn}")


def _number(rng: random.Random, comma: bool) -> str:
    r = rng.random()
    if r < 0.35:
        return str(rng.randint(1, 300))
    if r < 0.7:
        whole, frac = rng.randint(0, 150), rng.randint(0, 99)
        return f"{whole}{',' if comma else '.'}{frac if frac % 10 else frac // 10}"
    if r < 0.85:
        n = rng.randint(1000, 99999)
        sep = rng.choice((".", " ", "")) if comma else rng.choice((",", ""))
        return f"{n:,}".replace(",", sep)
    return str(rng.randint(300, 9999))


def _fill(pattern: str, rng: random.Random) -> str:
    return pattern.format(n=rng.randint(1, 99), nn=rng.randint(10, 99), nnn=rng.randint(100, 999),
                          nnnn=rng.randint(1000, 9999), nnnnn=rng.randint(10000, 99999), d=rng.randint(1, 9),
                          d0=rng.randint(0, 3), b=rng.randint(0, 1), r=rng.choice(("I", "II", "III", "IV")))


class Prose:
    """Sentences of one language; ``months`` are the template module's month names."""

    def __init__(self, language: str, months: list[str]):
        self.language = language
        self.words = vocabulary(language)
        self.common = self.words[:FUNCTION_WORDS]
        self.common_weights = [1.0 / (rank + 10) for rank in range(len(self.common))]
        self.months = months
        self.local = LOCAL[language]

    def not_pii(self, rng: random.Random) -> str:
        """A number, date, measurement or code that is not PII."""
        local, r = self.local, rng.random()
        if r < 0.22:  # a year: of an event, a publication, a season
            return str(rng.choice((rng.randint(1900, 2030), rng.randint(1500, 2030), rng.randint(1980, 2026))))
        if r < 0.30:
            decade = rng.randrange(1900, 2030, 10)
            return rng.choice(local["decades"]).format(d=decade, dd=f"{decade % 100:02d}")
        if r < 0.45:  # a date that is not a birth date: events, admissions, appointments
            d = date(1850, 1, 1) + timedelta(days=rng.randrange(180 * 365))
            if rng.random() < 0.4:
                return rng.choice(local["month_year"]).format(month=self.months[d.month - 1], yyyy=d.year)
            fmt = rng.choice(("{d} {month} {yyyy}", "{dd}/{mm}/{yyyy}", "{d}.{m}.{yyyy}", "{yyyy}-{mm}-{dd}",
                              "{d} {month}", "{dd}-{mm}-{yy}", "{month} {d}"))
            if self.language == "es" and "{month}" in fmt and "{d}" in fmt:
                fmt = fmt.replace("{d} {month} {yyyy}", "{d} de {month} de {yyyy}").replace("{d} {month}", "{d} de {month}")
            return fmt.format(d=d.day, dd=f"{d.day:02d}", m=d.month, mm=f"{d.month:02d}", yy=f"{d.year % 100:02d}",
                              yyyy=d.year, month=self.months[d.month - 1])
        if r < 0.68:  # a measurement, dose or lab value
            value = _number(rng, local["comma"])
            unit = rng.choice(UNITS)
            return f"{value}{rng.choice(('', ' ', ' ', ' '))}{unit}" if unit != "x" else f"{value}x"
        if r < 0.74:  # a ratio, a pressure, a score, a range
            a = rng.randint(1, 200)
            return rng.choice((f"{a}/{rng.randint(1, 120)}", f"{rng.randint(90, 180)}/{rng.randint(50, 110)}",
                               f"{a}-{a + rng.randint(1, 30)}", f"{a}–{a + rng.randint(1, 30)}", f"{rng.randint(1, 10)}/10"))
        if r < 0.84:
            return _fill(rng.choice(MARKERS), rng)
        if r < 0.90:
            value = _number(rng, local["comma"])
            return f"{value}{rng.choice(('%', ' %'))}"
        if r < 0.95:
            return _fill(rng.choice(local["refs"]), rng)
        return rng.choice((f"{rng.randint(0, 23)}:{rng.choice((0, 15, 30, 45)):02d}",
                           f"v{rng.randint(0, 12)}.{rng.randint(0, 30)}", f"{rng.randint(1, 12)}.{rng.randint(0, 9)}.{rng.randint(0, 40)}",
                           str(rng.randint(1, 50))))

    def _word(self, rng: random.Random) -> str:
        if rng.random() < 0.45:
            return rng.choices(self.common, weights=self.common_weights)[0]
        return rng.choice(self.words)

    def sentence(self, rng: random.Random, inserts: tuple[str, ...] = (), numbers: float = 0.12) -> str:
        """A sentence of 4-24 words; ``numbers`` is the chance of a not-PII number after each word;
        ``inserts`` (template text such as ``{FULLNAME}``) are placed at random positions."""
        n = rng.randint(4, 24)
        parts: list[str] = []
        for i in range(n):
            word = self._word(rng)
            r = rng.random()
            if r < 0.04:
                word = word.upper() if len(word) > 3 else word
            elif r < 0.12 or (i == 0):
                word = word[:1].upper() + word[1:]  # headings, titles, German nouns, sentence starts
            parts.append(word)
            if rng.random() < numbers:
                parts.append(self.not_pii(rng))
            if rng.random() < 0.07 and i < n - 1:
                parts[-1] += rng.choice((",", ",", ",", ";", ":", " -"))
            elif rng.random() < 0.02 and i < n - 1:
                parts[-1] = f"({parts[-1]})"
        if rng.random() < 0.03:
            parts = [p.lower() for p in parts]
        taken: list[int] = []  # inserts never touch: two names side by side would read as one
        for insert in inserts:
            free = [i for i in range(len(parts) + 1) if all(abs(i - t) > 1 for t in taken)] or [len(parts)]
            position = rng.choice(free)
            taken = [t + (t >= position) for t in taken] + [position]
            parts.insert(position, insert)
        text = " ".join(parts)
        return text + rng.choice((".", ".", ".", ".", ".", "?", "!", ":", ""))

    def name(self, rng: random.Random, slot: str) -> str:
        """A name slot as template text, now and then after a title ("Dra. {SURNAME}"): the title
        is not part of the name."""
        if rng.random() < 0.25:
            return f"{rng.choice(self.local['titles'])} {{{slot}}}"
        return f"{{{slot}}}"
