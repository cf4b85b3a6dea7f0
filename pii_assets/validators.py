"""Value validators for catalogue labels.

Each validator takes ``(value, country)`` and returns ``None`` when the value is acceptable for
that label in that country, or a short reason why it is not. Check-digit schemes come from
python-stdnum and phonenumbers; only the few national schemes those libraries lack are written
here (German Personalausweis and Rentenversicherungsnummer, Spanish NUSS).

Countries without a specific scheme get a shape check only, so imported or LLM-written data from
other countries is not rejected for lack of a rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn
from stdnum.de import idnr as de_idnr
from stdnum.es import dni as es_dni
from stdnum.es import nie as es_nie
from stdnum.es import nif as es_nif
from stdnum.fr import nif as fr_nif
from stdnum.fr import nir as fr_nir
from stdnum.it import codicefiscale as it_cf
from stdnum.nl import bsn as nl_bsn
from stdnum.nl import btw as nl_btw
from stdnum.nl import identiteitskaartnummer as nl_idk
from stdnum.us import ein as us_ein
from stdnum.us import ssn as us_ssn

Validator = Callable[[str, str], "str | None"]

_SEPARATORS = re.compile(r"[\s.\-/]")
_GENERIC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-/]{3,30}[A-Za-z0-9]$")


def _compact(value: str) -> str:
    return _SEPARATORS.sub("", value).upper()


def _ok(flag: bool, reason: str) -> str | None:
    return None if flag else reason


def _generic_id(value: str) -> str | None:
    return _ok(bool(_GENERIC_ID.match(value)), "not an identifier shape (5-32 letters/digits)")


# --- check-digit schemes not in python-stdnum -------------------------------------------------

_ICAO_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def icao_check_digit(chars: str) -> str:
    """ICAO 9303 7-3-1 check digit (German ID card numbers, passports' machine-readable zone)."""
    weights = (7, 3, 1)
    return str(sum(_ICAO_CHARS.index(c) * weights[i % 3] for i, c in enumerate(chars)) % 10)


def de_rvnr_check_digit(body: str) -> str:
    """Check digit of a German Rentenversicherungsnummer (11 chars: 8 digits, letter, 2 digits)."""
    digits = body[:8] + f"{ord(body[8]) - 64:02d}" + body[9:11]
    weights = (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1)
    total = sum(sum(divmod(int(d) * w, 10)) for d, w in zip(digits, weights, strict=True))
    return str(total % 10)


def es_nuss_check(body10: str) -> str:
    """Control digits of a Spanish Seguridad Social number (10 digits -> 2 digits, mod 97)."""
    province, rest = int(body10[:2]), int(body10[2:])
    number = rest + province * 10**8 if rest < 10**7 else int(body10)
    return f"{number % 97:02d}"


# --- per-label validators ----------------------------------------------------------------------


def credit_card(value: str, country: str) -> str | None:
    digits = re.sub(r"[\s\-]", "", value)
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return "card number must be 13-19 digits (spaces/dashes allowed)"
    return _ok(luhn.is_valid(digits), "card number fails the Luhn check")


def iban(value: str, country: str) -> str | None:
    return _ok(std_iban.is_valid(value), "IBAN fails the ISO 13616 mod-97 check")


def _de_rvnr(value: str) -> bool:
    v = _compact(value)
    return bool(re.fullmatch(r"\d{8}[A-Z]\d{3}", v)) and de_rvnr_check_digit(v[:11]) == v[11]


def _es_nuss(value: str) -> bool:
    v = _compact(value)
    return v.isdigit() and len(v) == 12 and es_nuss_check(v[:10]) == v[10:]


def _it_tessera(value: str) -> bool:
    v = _compact(value)
    return v.isdigit() and len(v) == 20 and v.startswith("80380") and luhn.is_valid(v)


_SSN_SCHEMES: dict[str, Callable[[str], bool]] = {
    "US": lambda v: us_ssn.is_valid(re.sub(r"\s", "", v)),  # area not 000/666/9xx, group/serial not 0
    "FR": fr_nir.is_valid,
    "DE": _de_rvnr,
    "ES": _es_nuss,
    "NL": nl_bsn.is_valid,
    "IT": _it_tessera,
}


def ssn(value: str, country: str) -> str | None:
    scheme = _SSN_SCHEMES.get(country)
    if scheme is None:
        return _generic_id(value)
    return _ok(scheme(value), f"not a valid social security number for {country}")


def _de_ausweis(value: str) -> bool:
    v = _compact(value)
    return bool(re.fullmatch(r"[CFGHJKLMNPRTVWXYZ0-9]{9}\d", v)) and icao_check_digit(v[:9]) == v[9]


_NATIONAL_ID_SCHEMES: dict[str, Callable[[str], bool]] = {
    "US": lambda v: bool(re.fullmatch(r"[A-Z]\d{7,8}", _compact(v))),  # state ID card
    "DE": _de_ausweis,
    "FR": lambda v: bool(re.fullmatch(r"\d{12}|[A-Z0-9]{9}", _compact(v))),
    "ES": lambda v: es_dni.is_valid(v) or es_nie.is_valid(v),
    "NL": nl_idk.is_valid,
    "IT": lambda v: bool(re.fullmatch(r"C[A-Z]\d{5}[A-Z]{2}", _compact(v))),
}


def national_id(value: str, country: str) -> str | None:
    scheme = _NATIONAL_ID_SCHEMES.get(country)
    if scheme is None:
        return _generic_id(value)
    return _ok(scheme(value), f"not a valid national ID number for {country}")


_TAX_SCHEMES: dict[str, Callable[[str], bool]] = {
    "US": us_ein.is_valid,
    "DE": de_idnr.is_valid,
    "FR": fr_nif.is_valid,
    "ES": es_nif.is_valid,
    "NL": nl_btw.is_valid,
    "IT": it_cf.is_valid,
}


def tax_number(value: str, country: str) -> str | None:
    scheme = _TAX_SCHEMES.get(country)
    if scheme is None:
        return _generic_id(value)
    return _ok(scheme(value), f"not a valid tax number for {country}")


def _pattern_validator(patterns: dict[str, str], what: str) -> Validator:
    compiled = {c: re.compile(p) for c, p in patterns.items()}

    def validate(value: str, country: str) -> str | None:
        pattern = compiled.get(country)
        if pattern is None:
            return _generic_id(value)
        return _ok(bool(pattern.fullmatch(value)), f"not a {what} of {country}")

    return validate


passport = _pattern_validator(
    {
        "US": r"[A-Z]?\d{8,9}",
        "DE": r"C[CFGHJKLMNPRTVWXYZ0-9]{8}",
        "FR": r"\d{2}[A-Z]{2}\d{5}",
        "ES": r"[A-Z]{3}\d{6}",
        "NL": r"[A-NP-Z]{2}[A-NP-Z0-9]{6}\d",
        "IT": r"[A-Z]{2}\d{7}",
    },
    "passport number",
)

driver_license = _pattern_validator(
    {
        "US": r"[A-Z]\d{7,12}|\d{9}",
        "DE": r"[A-Z0-9]{11}",
        "FR": r"\d{12}|\d{2}[A-Z]{2}\d{5}",
        "ES": r"\d{8}[A-Z]",
        "NL": r"\d{10}",
        "IT": r"[A-Z]{2}\d{7}[A-Z]",
    },
    "driving licence number",
)

license_plate = _pattern_validator(
    {
        "US": r"[A-Z0-9]{1,4}[- ]?[A-Z0-9]{2,4}",
        "DE": r"[A-ZÄÖÜ]{1,3}[- ][A-Z]{1,2}[- ]?\d{1,4}[EH]?",
        "FR": r"[A-Z]{2}-\d{3}-[A-Z]{2}",
        "ES": r"\d{4} ?[B-DF-HJ-NP-TV-Z]{3}",
        "NL": r"[A-Z0-9]{1,3}-[A-Z0-9]{2,3}-[A-Z0-9]{1,2}",
        "IT": r"[A-Z]{2} ?\d{3} ?[A-Z]{2}",
    },
    "licence plate",
)

zip_code = _pattern_validator(
    {
        "US": r"\d{5}(-\d{4})?",
        "DE": r"\d{5}",
        "FR": r"\d{5}",
        "ES": r"(0[1-9]|[1-4]\d|5[0-2])\d{3}",
        "NL": r"[1-9]\d{3} ?[A-Z]{2}",
        "IT": r"\d{5}",
    },
    "postal code",
)


def phone(value: str, country: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, country or None)
    except phonenumbers.NumberParseException as exc:
        return f"phone number does not parse ({exc})"
    return _ok(phonenumbers.is_valid_number(parsed), "not a valid phone number")


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"(https?://|www\.)[^\s/$.?#][^\s]*", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(\d{4}|\d{2})(?!\d)")


def email(value: str, country: str) -> str | None:
    return _ok(bool(_EMAIL.fullmatch(value)), "not an e-mail address")


def url(value: str, country: str) -> str | None:
    return _ok(bool(_URL.fullmatch(value)), "not a URL (http(s):// or www.)")


def date_of_birth(value: str, country: str) -> str | None:
    years = [int(y) for y in _YEAR.findall(value)]
    if not years:
        return "date of birth has no year"
    four = [y for y in years if y >= 1000]
    if four and not 1900 <= four[-1] <= date.today().year:
        return "year of birth out of range 1900..today"
    return None


def age(value: str, country: str) -> str | None:
    return _ok(value.isdigit() and 0 < int(value) <= 120, "age must be a whole number 1..120")


def no_whitespace(value: str, country: str) -> str | None:
    return _ok(bool(value) and not any(c.isspace() for c in value), "must not contain whitespace")


def name_like(value: str, country: str) -> str | None:
    return _ok(
        bool(value.strip()) and not any(c.isdigit() for c in value),
        "a name must not contain digits",
    )


def non_empty(value: str, country: str) -> str | None:
    return _ok(bool(value.strip()), "empty value")
