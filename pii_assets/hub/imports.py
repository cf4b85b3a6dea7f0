"""Importing existing PII datasets as samples (domain code, no Dagster).

Three steps, each usable on its own (docs/import.md):

1. :func:`read_rows` streams ``(where, row)`` pairs from a local source: a directory written by
   ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``, a directory of Parquet / JSONL / JSON
   files (a snapshot of a Hub dataset repo, splits taken from the file layout) or one such file.
   ``where`` names the record in every error (``data/train-00000-of-00001.parquet row 17``,
   ``data.jsonl:17``); the split is kept in the row as ``_split``. A Hub repo id is turned into a
   local snapshot by the caller (:func:`resolve` with ``pii_assets.hub.client.download``).
2. :func:`detect_format` + :func:`to_sample` map one row of a known format (``pii_assets``,
   ``kiji``, ``ai4privacy``) to a validated sample through a documented label table
   (:data:`LABEL_TABLES`): each source label becomes a catalogue label, :data:`IGNORE` (span dropped,
   row kept: not PII in the catalogue) or ``None`` (PII the catalogue cannot represent: the row is
   rejected, since keeping its text with an unlabelled name would teach the model that names are
   not PII). Values without offsets are grounded with :func:`pii_assets.samples.ground` (every
   occurrence); whatever cannot be grounded rejects the row.
3. :func:`import_rows` runs every row through 2 and returns the samples, the rejects
   (``{"where", "code", "reason", "row"}``) and the counts; nothing is dropped silently, duplicate
   content ids are rejects with code ``duplicate``.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.reporting import markdown_table
from pii_assets.samples import SampleError, ground, ground_coreferences, validate

FORMATS = ("pii_assets", "kiji", "ai4privacy")
IGNORE = "ignore"
"""Mapping target: drop the span, keep the row (the source label is not PII in our catalogue)."""

SPLIT_NAMES = frozenset({"train", "test", "validation", "valid", "val", "dev", "eval", "evaluation"})
DATA_SUFFIXES = (".parquet", ".jsonl", ".json")
_SAVE_TO_DISK_MARKERS = ("dataset_dict.json", "state.json")
_METADATA_JSON = frozenset({"dataset_info.json", "dataset_infos.json", "dataset_dict.json", "state.json"})

# --- label tables ----------------------------------------------------------------------------

AI4PRIVACY_LABELS: dict[str, str | None] = {
    # names: 400k/500k GIVENNAME/SURNAME, 300k GIVENNAME1-2/LASTNAME1-3, 200k FIRSTNAME/MIDDLENAME/LASTNAME
    "GIVENNAME": "FIRSTNAME", "GIVENNAME1": "FIRSTNAME", "GIVENNAME2": "FIRSTNAME",
    "FIRSTNAME": "FIRSTNAME", "MIDDLENAME": "FIRSTNAME",
    "SURNAME": "SURNAME", "LASTNAME": "SURNAME", "LASTNAME1": "SURNAME", "LASTNAME2": "SURNAME",
    "LASTNAME3": "SURNAME",
    "TITLE": IGNORE, "PREFIX": IGNORE,
    # contact and accounts
    "EMAIL": "EMAIL", "TELEPHONENUM": "PHONENUMBER", "TEL": "PHONENUMBER", "PHONENUMBER": "PHONENUMBER",
    "PHONE_NUMBER": "PHONENUMBER", "PHONEIMEI": None,
    "URL": "URL", "USERNAME": "USERNAME", "PASSWORD": "PASSWORD", "PASS": "PASSWORD", "PIN": "PASSWORD",
    "IP": None, "IPV4": None, "IPV6": None, "MAC": None, "USERAGENT": IGNORE,
    # dates and person attributes
    "DATEOFBIRTH": "DATEOFBIRTH", "DOB": "DATEOFBIRTH", "BOD": "DATEOFBIRTH",
    "DATE": IGNORE, "TIME": IGNORE, "AGE": "AGE",
    "SEX": IGNORE, "GENDER": IGNORE, "EYECOLOR": IGNORE, "HEIGHT": IGNORE,
    # addresses
    "STREET": "STREET", "BUILDINGNUM": "BUILDINGNUM", "BUILDINGNUMBER": "BUILDINGNUM", "BUILDING": "BUILDINGNUM",
    "SECONDARYADDRESS": None, "SECADDRESS": None,
    "CITY": "CITY", "STATE": "STATE", "COUNTY": "STATE", "ZIPCODE": "ZIP", "POSTCODE": "ZIP",
    "COUNTRY": "COUNTRY", "NEARBYGPSCOORDINATE": None, "GEOCOORD": None, "ORDINALDIRECTION": IGNORE,
    # identity documents
    "SOCIALNUM": "SSN", "SOCIALNUMBER": "SSN", "SSN": "SSN", "IDCARDNUM": "NATIONALID", "IDCARD": "NATIONALID",
    "DRIVERLICENSENUM": "DRIVERLICENSENUM", "DRIVERLICENSE": "DRIVERLICENSENUM",
    "PASSPORTNUM": "PASSPORTID", "PASSPORT": "PASSPORTID", "TAXNUM": "TAXNUM",
    "VEHICLEVRM": "LICENSEPLATENUM", "VEHICLEVIN": None,
    # finance
    "CREDITCARDNUMBER": "CREDITCARDNUMBER", "CREDITCARD": "CREDITCARDNUMBER", "CREDITCARDCVV": None,
    "CREDITCARDISSUER": IGNORE, "CARDISSUER": IGNORE, "MASKEDNUMBER": None,
    "IBAN": "IBAN", "BIC": IGNORE, "ACCOUNTNUM": None, "ACCOUNTNUMBER": None, "ACCOUNTNAME": IGNORE,
    "BITCOINADDRESS": None, "ETHEREUMADDRESS": None, "LITECOINADDRESS": None,
    "AMOUNT": IGNORE, "CURRENCY": IGNORE, "CURRENCYCODE": IGNORE, "CURRENCYNAME": IGNORE,
    "CURRENCYSYMBOL": IGNORE,
    # work
    "COMPANYNAME": "COMPANYNAME", "JOBAREA": IGNORE, "JOBTITLE": IGNORE, "JOBTYPE": IGNORE,
}
"""ai4privacy labels (pii-masking-200k/300k/400k, open-pii-masking-500k) -> catalogue."""

KIJI_LABELS: dict[str, str | None] = {
    "IDCARDNUM": "NATIONALID", "SECURITYTOKEN": "PASSWORD", "SECURITY_TOKEN": "PASSWORD",
    "DOB": "DATEOFBIRTH",
    "PRONOUN": IGNORE, "REFERENCE": IGNORE, "MENTION": IGNORE,
    "OTHER": None,
}
"""Kiji labels that differ from the catalogue; Kiji's other 23 labels are catalogue labels."""

LABEL_TABLES: dict[str, dict[str, str | None]] = {
    "pii_assets": {}, "kiji": KIJI_LABELS, "ai4privacy": AI4PRIVACY_LABELS}
"""Per format. A label absent from its table maps to itself if it is a catalogue label; any other
label is *unmapped* and rejects the row (the reason names it: add it to the mapping)."""

NOTES: dict[str, str] = {
    "TITLE": "Mr/Dr/Frau: not identifying; the generator leaves titles unlabelled",
    "PREFIX": "as TITLE",
    "MIDDLENAME": "a given name",
    "PHONEIMEI": "device identifier: PII with no catalogue label",
    "PIN": "the catalogue's PASSWORD covers PINs",
    "PASS": "300k's password label",
    "IP": "network identifier: PII with no catalogue label",
    "IPV4": "as IP", "IPV6": "as IP", "MAC": "as IP",
    "USERAGENT": "browser string, identifies software, not a person",
    "DATE": "ordinary dates are hard negatives in the generator; releases without a birth-date "
            "label (500k) may hide birth dates here: override with `DATE=` (reject) to be strict",
    "TIME": "times are hard negatives in the generator",
    "AGE": "the review's AGE validator then wants the bare number",
    "SEX": "not an identifier; no catalogue label",
    "GENDER": "as SEX", "EYECOLOR": "as SEX", "HEIGHT": "as SEX",
    "SECONDARYADDRESS": "apartment/suite: address PII, but not a street name (`SECONDARYADDRESS=STREET` to keep)",
    "SECADDRESS": "as SECONDARYADDRESS",
    "COUNTY": "an administrative region",
    "NEARBYGPSCOORDINATE": "location PII with no catalogue label",
    "GEOCOORD": "as NEARBYGPSCOORDINATE",
    "ORDINALDIRECTION": "north/south: not identifying",
    "IDCARDNUM": "identity card number",
    "SOCIALNUM": "social security / national insurance number",
    "VEHICLEVIN": "vehicle identifier: PII with no catalogue label",
    "CREDITCARDCVV": "card secret with no catalogue label",
    "CREDITCARDISSUER": "Visa/Mastercard: not identifying",
    "CARDISSUER": "as CREDITCARDISSUER",
    "MASKEDNUMBER": "partly masked numbers of unknown kind",
    "BIC": "identifies a bank, not a person",
    "ACCOUNTNUM": "bank account numbers that are mostly not IBANs: `ACCOUNTNUM=IBAN` to keep them",
    "ACCOUNTNUMBER": "as ACCOUNTNUM",
    "ACCOUNTNAME": "'Savings Account': not identifying",
    "BITCOINADDRESS": "wallet address: PII with no catalogue label",
    "ETHEREUMADDRESS": "as BITCOINADDRESS", "LITECOINADDRESS": "as BITCOINADDRESS",
    "AMOUNT": "amounts are hard negatives in the generator",
    "CURRENCY": "not identifying", "CURRENCYCODE": "not identifying", "CURRENCYNAME": "not identifying",
    "CURRENCYSYMBOL": "not identifying",
    "JOBAREA": "not identifying on its own; no catalogue label",
    "JOBTITLE": "as JOBAREA", "JOBTYPE": "as JOBAREA",
    "SECURITYTOKEN": "API tokens: the catalogue's PASSWORD is 'password or secret'",
    "SECURITY_TOKEN": "as SECURITYTOKEN",
    "DOB": "Kiji's name before DATEOFBIRTH",
    "PRONOUN": "Kiji's coreference markers in Label Studio; coreferences carry them",
    "REFERENCE": "as PRONOUN", "MENTION": "as PRONOUN",
    "OTHER": "Kiji's catch-all PII label: unknown kind",
}

# --- languages and countries -----------------------------------------------------------------

LANGUAGE_NAMES: dict[str, str] = {
    "english": "en", "german": "de", "deutsch": "de", "french": "fr", "français": "fr", "francais": "fr",
    "spanish": "es", "español": "es", "espanol": "es", "dutch": "nl", "nederlands": "nl", "italian": "it",
    "italiano": "it", "danish": "da", "dansk": "da", "portuguese": "pt", "swedish": "sv", "norwegian": "no",
    "finnish": "fi", "polish": "pl", "czech": "cs", "greek": "el", "turkish": "tr", "russian": "ru",
    "romanian": "ro", "hungarian": "hu", "hindi": "hi", "telugu": "te", "japanese": "ja", "chinese": "zh",
    "korean": "ko", "arabic": "ar",
}
"""Language names (Kiji writes ``English``) -> ISO 639-1."""

DEFAULT_COUNTRY: dict[str, str] = {
    "en": "US", "de": "DE", "fr": "FR", "es": "ES", "nl": "NL", "it": "IT", "da": "DK", "pt": "PT",
    "sv": "SE", "no": "NO", "nb": "NO", "fi": "FI", "pl": "PL", "cs": "CZ", "el": "GR", "tr": "TR",
    "ru": "RU", "ro": "RO", "hu": "HU", "hi": "IN", "te": "IN", "ja": "JP", "zh": "CN", "ko": "KR",
}
"""Country of a row that names none (no country/locale/region), by language. The six generator
languages get the offline generator's countries (en -> US)."""

COUNTRY_NAMES: dict[str, str] = {
    "united states": "US", "united states of america": "US", "usa": "US", "united kingdom": "GB",
    "great britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB", "uk": "GB", "canada": "CA",
    "australia": "AU", "ireland": "IE", "new zealand": "NZ", "south africa": "ZA", "india": "IN",
    "singapore": "SG", "philippines": "PH", "nigeria": "NG", "kenya": "KE", "germany": "DE", "austria": "AT",
    "switzerland": "CH", "liechtenstein": "LI", "france": "FR", "belgium": "BE", "luxembourg": "LU",
    "monaco": "MC", "spain": "ES", "mexico": "MX", "argentina": "AR", "colombia": "CO", "peru": "PE",
    "chile": "CL", "venezuela": "VE", "uruguay": "UY", "ecuador": "EC", "bolivia": "BO", "paraguay": "PY",
    "costa rica": "CR", "netherlands": "NL", "the netherlands": "NL", "holland": "NL", "suriname": "SR",
    "denmark": "DK", "italy": "IT", "san marino": "SM", "portugal": "PT", "brazil": "BR", "sweden": "SE",
    "norway": "NO", "finland": "FI", "poland": "PL", "czech republic": "CZ", "czechia": "CZ", "greece": "GR",
    "turkey": "TR", "russia": "RU", "romania": "RO", "hungary": "HU", "japan": "JP", "china": "CN",
    "south korea": "KR", "morocco": "MA", "algeria": "DZ", "tunisia": "TN", "senegal": "SN",
}
"""Country names (Kiji writes ``United States``) -> ISO 3166-1 alpha-2."""

_CODE = re.compile(r"[A-Za-z]{2}")
_LOCALE = re.compile(r"([A-Za-z]{2})[-_]([A-Za-z]{2})")
_PLACEHOLDER = re.compile(r"\[?([A-Za-z]+?)(?:_\d+)?\]?")


# --- errors and results ----------------------------------------------------------------------


class RowError(SampleError):
    """A row that cannot become a sample. ``code`` groups rejects, ``labels`` lists the source
    labels that caused it (unmapped or unrepresentable)."""

    def __init__(self, where: str, code: str, reason: str, labels: Iterable[str] = ()):
        super().__init__(where, reason)
        self.code = code
        self.labels = tuple(labels)


@dataclass
class ImportResult:
    samples: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    reject_counts: Counter = field(default_factory=Counter)
    """Rejects per code (``offsets``, ``unmapped_label``, ``duplicate``, ...)."""
    reject_examples: dict[str, str] = field(default_factory=dict)
    """The first reason seen per code."""
    formats: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    labels: Counter = field(default_factory=Counter)
    """Catalogue label -> spans in the accepted samples."""
    ignored: Counter = field(default_factory=Counter)
    """Source label -> spans dropped because the label maps to ``ignore`` (accepted rows)."""
    unmapped: Counter = field(default_factory=Counter)
    """Source label -> rows rejected because of it (unmapped or mapped to None)."""
    skipped: Counter = field(default_factory=Counter)
    """Language -> rows not imported because the language was not asked for (not rejects)."""

    def summary(self) -> dict[str, Any]:
        """JSON-safe counts, for asset metadata and the CLI."""
        return {"rows": self.rows, "accepted": self.accepted, "rejected": self.rejected,
                "duplicates": self.duplicates, "reject_counts": dict(self.reject_counts),
                "reject_examples": dict(self.reject_examples), "formats": dict(self.formats),
                "splits": dict(self.splits), "languages": dict(self.languages), "labels": dict(self.labels),
                "ignored_labels": dict(self.ignored), "rejecting_labels": dict(self.unmapped),
                "skipped_languages": dict(self.skipped)}


@dataclass(frozen=True)
class Unreadable:
    """A record that could not even be parsed (a malformed JSONL line): becomes a reject."""

    reason: str
    raw: str


# --- sources ---------------------------------------------------------------------------------

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def resolve(source: str | Path, download: Callable[[str], Path]) -> Path:
    """A local path for ``source``: an existing file or directory is used as it is; otherwise
    ``source`` must be a Hub repo id (``owner/name``) and ``download(repo_id)`` fetches a snapshot,
    e.g. ``lambda r: client.download(r, repo_type="dataset", token=token, endpoint=endpoint)``."""
    path = Path(source).expanduser()
    if path.exists():
        return path
    text = str(source)
    if not _REPO_ID.fullmatch(text):
        raise FileNotFoundError(f"import source {text!r} is neither an existing path nor a Hub repo id "
                                "(owner/name)")
    return Path(download(text))


def is_saved_dataset(path: Path) -> bool:
    """A directory written by ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk``."""
    return path.is_dir() and any((path / marker).is_file() for marker in _SAVE_TO_DISK_MARKERS)


def data_files(source: Path) -> tuple[list[Path], list[Path]]:
    """The files :func:`read_rows` reads from a directory, and the data-like ones it skips.

    Parquet and JSONL files are read; ``.json`` files only when there is neither (a folder of
    Label Studio task files). Hidden directories (``.cache``, ``.git``) and Hugging Face metadata
    (``dataset_info.json`` ...) are never data. A ``save_to_disk`` directory inside the tree is
    read only when there are no data files, since it usually duplicates them (this project's
    ``hf_dataset`` holds ``data/*.parquet`` and the same rows in ``arrow/``).
    """
    saved = sorted(p.parent for p in source.rglob("*") if p.name in _SAVE_TO_DISK_MARKERS
                   and not _hidden(p, source))
    saved = [p for p in saved if not any(q != p and q in p.parents for q in saved)]
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in DATA_SUFFIXES
                   and not _hidden(p, source) and p.name not in _METADATA_JSON
                   and not any(s in p.parents for s in saved))
    tabular = [p for p in files if p.suffix in (".parquet", ".jsonl")]
    if tabular:
        return tabular, [p for p in files if p.suffix == ".json"] + saved
    if files:
        return files, saved
    return saved, []


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def split_of(relative: Path) -> str | None:
    """Split named by a file's path: ``data/train-00000-of-00001.parquet``, ``data/test/x.jsonl``,
    ``validation.jsonl`` (the file name first, then the nearest folder)."""
    for part in (relative.name.split(".")[0], *reversed(relative.parts[:-1])):
        for token in re.split(r"[^A-Za-z0-9]+", part):
            if token.lower() in SPLIT_NAMES:
                return token.lower()
    return None


def read_rows(source: str | Path, *, batch_size: int = 1024) -> Iterator[tuple[str, Any]]:
    """Stream ``(where, row)`` from a local dataset (see :func:`data_files` for directories).

    Rows are dicts with ``_split`` added (the split name, or None); a malformed JSONL line is an
    :class:`Unreadable` (``import_rows`` rejects it). Parquet and Arrow are read ``batch_size`` rows
    at a time, JSONL line by line; a ``.json`` file (one object, or a list of them) at once.
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"import source {source} does not exist")
    if source.is_file():
        yield from _read_file(source, Path(source.name), batch_size)
        return
    if is_saved_dataset(source):
        yield from _read_saved(source, "", batch_size)
        return
    files, _ = data_files(source)
    if not files:
        raise FileNotFoundError(f"import source {source} holds no .parquet, .jsonl, .json or save_to_disk data")
    for path in files:
        relative = path.relative_to(source)
        if path.is_dir():
            yield from _read_saved(path, f"{relative.as_posix()}/", batch_size)
        else:
            yield from _read_file(path, relative, batch_size)


def _read_file(path: Path, relative: Path, batch_size: int) -> Iterator[tuple[str, Any]]:
    name = relative.as_posix()
    split = split_of(relative)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        index = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                yield f"{name} row {index}", {**row, "_split": split}
                index += 1
    elif path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                where = f"{name}:{lineno}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield where, Unreadable(f"malformed JSON ({exc.msg})", line.rstrip("\n"))
                    continue
                yield where, {**row, "_split": split} if isinstance(row, dict) else row
    elif path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            yield name, Unreadable(f"malformed JSON ({exc.msg})", path.read_text(encoding="utf-8", errors="replace"))
            return
        if isinstance(data, list):
            for i, row in enumerate(data):
                yield f"{name}[{i}]", {**row, "_split": split} if isinstance(row, dict) else row
        else:
            yield name, {**data, "_split": split} if isinstance(data, dict) else data
    else:
        raise ValueError(f"{name}: unsupported file type {path.suffix!r} (use {', '.join(DATA_SUFFIXES)})")


def _read_saved(path: Path, prefix: str, batch_size: int) -> Iterator[tuple[str, Any]]:
    from datasets import DatasetDict, load_from_disk

    loaded = load_from_disk(str(path))
    parts = loaded.items() if isinstance(loaded, DatasetDict) else [(None, loaded)]
    for split, dataset in parts:
        label = f"{prefix}{split}" if split else (prefix.rstrip("/") or path.name)
        index = 0
        for batch in dataset.iter(batch_size=batch_size):
            columns = list(batch)
            for values in zip(*(batch[c] for c in columns)):
                yield f"{label} row {index}", {**dict(zip(columns, values)), "_split": split}
                index += 1


# --- format detection and mapping ------------------------------------------------------------


def detect_format(row: Any) -> str:
    """``ai4privacy`` (``source_text``/``unmasked_text``), ``kiji`` (values without offsets, or a
    Label Studio task of Kiji's training folder) or ``pii_assets`` (offset spans); ValueError else."""
    if not isinstance(row, Mapping):
        raise ValueError(f"expected an object, got {type(row).__name__}")
    if "source_text" in row or "unmasked_text" in row:
        return "ai4privacy"
    data = row.get("data")
    if isinstance(data, Mapping) and "text" in data and ("annotations" in row or "predictions" in row):
        return "kiji"
    if "text" in row:
        try:
            spans = _records(row.get("privacy_mask"), "privacy_mask")
        except ValueError:
            spans = []
        if spans:
            return "pii_assets" if any(isinstance(s, Mapping) and "start" in s for s in spans) else "kiji"
        try:
            clusters = _records(row.get("coreferences"), "coreferences")
        except ValueError:
            clusters = []
        for cluster in clusters:
            for mention in (cluster.get("mentions") or []) if isinstance(cluster, Mapping) else []:
                return "pii_assets" if isinstance(mention, Mapping) and "start" in mention else "kiji"
        language = row.get("language")
        return "pii_assets" if "id" in row or (isinstance(language, str) and _CODE.fullmatch(language)) else "kiji"
    keys = ", ".join(sorted(str(k) for k in row)[:12])
    raise ValueError(f"unknown format (columns: {keys}); expected text+privacy_mask (pii_assets, kiji), "
                     "source_text+privacy_mask (ai4privacy) or a Label Studio task")


def check_mapping(mapping: Mapping[str, str | None] | None, catalogue: Catalogue = DEFAULT) -> dict[str, str | None]:
    """Normalise a caller's override (``{"ACCOUNTNUM": "IBAN", "DATE": None}``); ValueError on a
    target that is neither a catalogue label, ``"ignore"`` nor None."""
    out: dict[str, str | None] = {}
    for source, target in (mapping or {}).items():
        if target is not None and target != IGNORE and target not in catalogue:
            raise ValueError(f"label mapping {source!r} -> {target!r}: target must be a catalogue label, "
                             f"{IGNORE!r} or None")
        out[str(source).strip().upper()] = target
    return out


_UNMAPPED = object()


def map_label(label: Any, fmt: str, mapping: Mapping[str, str | None] | None = None,
              catalogue: Catalogue = DEFAULT) -> Any:
    """Catalogue label, :data:`IGNORE`, None (unrepresentable) or ``_UNMAPPED`` for a source label.
    Order: the caller's override, the format's table, the catalogue itself."""
    key = str(label).strip().upper() if label is not None else ""
    if mapping and key in mapping:
        return mapping[key]
    table = LABEL_TABLES[fmt]
    if key in table:
        return table[key]
    if key in catalogue:
        return key
    return _UNMAPPED


class _Malformed(ValueError):
    pass


def _records(value: Any, what: str) -> list:
    """A list-valued column as a list of records: lists, JSON strings (or Python reprs, as some
    ai4privacy releases have), None, or a dict of equal-length columns (``Sequence`` features)."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise _Malformed(f"{what} is a string but not JSON") from None
    if isinstance(value, Mapping):
        columns = list(value.values())
        if columns and all(isinstance(c, list) for c in columns) and len({len(c) for c in columns}) == 1:
            return [dict(zip(value, items)) for items in zip(*columns)]
        return [value]
    if isinstance(value, (list, tuple)):
        return list(value)
    if hasattr(value, "tolist"):
        return list(value.tolist())
    raise _Malformed(f"{what} must be a list, got {type(value).__name__}")


def _language_country(row: Mapping[str, Any], where: str, country_keys: tuple[str, ...],
                      default_language: str | None, default_country: str | None) -> tuple[str, str, dict]:
    original: dict[str, Any] = {}
    raw_lang = row.get("language")
    locale_country = None
    if raw_lang in (None, ""):
        if not default_language:
            raise RowError(where, "language", "row has no language: pass default_language")
        language = default_language
    else:
        text = str(raw_lang).strip()
        if _CODE.fullmatch(text):
            language = text.lower()
        elif m := _LOCALE.fullmatch(text):
            language, locale_country = m.group(1).lower(), m.group(2).upper()
        elif text.casefold() in LANGUAGE_NAMES:
            language = LANGUAGE_NAMES[text.casefold()]
        else:
            raise RowError(where, "language", f"language {text!r} is neither an ISO 639-1 code nor a known "
                                              "language name")
        if language != text:
            original["language"] = text
    country = None
    for key in country_keys:
        raw = row.get(key)
        if raw in (None, ""):
            continue
        text = str(raw).strip()
        if _CODE.fullmatch(text):
            country = {"UK": "GB"}.get(text.upper(), text.upper())
        elif m := _LOCALE.fullmatch(text):
            country = {"UK": "GB"}.get(m.group(2).upper(), m.group(2).upper())
        elif text.casefold() in COUNTRY_NAMES:
            country = COUNTRY_NAMES[text.casefold()]
        else:
            raise RowError(where, "country", f"{key} {text!r} is neither an ISO 3166 code, a locale nor a "
                                             "known country name")
        if country != text:
            original[key] = text
        break
    if country is None:
        country = locale_country or default_country or DEFAULT_COUNTRY.get(language)
        if country is None:
            raise RowError(where, "country", f"row has no country and language {language!r} has no default: "
                                             "pass default_country")
    return language, country, original


def _map_entities(entities: Iterable[Mapping[str, Any]], fmt: str, mapping, catalogue, where: str
                  ) -> tuple[list[dict], Counter]:
    """Map each entity's label; raise RowError naming every label the row cannot keep."""
    kept, ignored = [], Counter()
    unmapped, unrepresentable = [], []
    for entity in entities:
        label = entity.get("label")
        target = map_label(label, fmt, mapping, catalogue)
        if target is _UNMAPPED:
            unmapped.append(str(label))
        elif target is None:
            unrepresentable.append(str(label))
        elif target == IGNORE:
            ignored[str(label)] += 1
        else:
            kept.append({**entity, "label": target, "source_label": label})
    if unmapped:
        names = sorted(set(unmapped))
        raise RowError(where, "unmapped_label", f"label(s) {', '.join(names)} not in the {fmt} label table nor "
                                                "the catalogue: add them to the mapping (a catalogue label, "
                                                "'ignore' or None)", names + sorted(set(unrepresentable)))
    if unrepresentable:
        names = sorted(set(unrepresentable))
        raise RowError(where, "unrepresentable_label", f"label(s) {', '.join(names)} are PII without a catalogue "
                                                       "label: row rejected, not kept with unlabelled PII",
                       names)
    return kept, ignored


def _offset_spans(text: str, entities: list[dict], where: str) -> list[dict]:
    """Spans with offsets checked against the text, sorted, exact duplicates merged, no overlaps."""
    spans: dict[tuple[int, int, str], dict] = {}
    for i, e in enumerate(entities):
        start, end, label = e.get("start"), e.get("end"), e.get("source_label")
        try:
            start, end = int(start), int(end)
        except (TypeError, ValueError):
            raise RowError(where, "offsets", f"span {i} ({label}) has no integer offsets "
                                             f"({e.get('start')!r}..{e.get('end')!r})") from None
        if not 0 <= start < end <= len(text):
            raise RowError(where, "offsets", f"span {i} ({label}) offsets {start}..{end} are outside the text "
                                             f"(length {len(text)})")
        value = e.get("value")
        if value is None:
            value = text[start:end]
        if text[start:end] != value:
            raise RowError(where, "offsets", f"span {i} ({label}) value {value!r} != text[{start}:{end}] "
                                             f"{text[start:end]!r}")
        spans[(start, end, e["label"])] = {"value": value, "label": e["label"], "start": start, "end": end}
    ordered = sorted(spans.values(), key=lambda s: (s["start"], s["end"]))
    for a, b in zip(ordered, ordered[1:]):
        if b["start"] < a["end"]:
            raise RowError(where, "overlap", f"spans {a['label']} {a['value']!r} ({a['start']}..{a['end']}) and "
                                             f"{b['label']} {b['value']!r} ({b['start']}..{b['end']}) overlap")
    return ordered


def _grounded_spans(text: str, entities: list[dict], where: str) -> list[dict]:
    seen, unique = set(), []
    for e in entities:
        value = e.get("value")
        key = (value.strip() if isinstance(value, str) else value, e["label"])
        if key not in seen:
            seen.add(key)
            unique.append({"value": value, "label": e["label"]})
    spans, problems = ground(text, unique)
    if problems:
        raise RowError(where, "grounding", "; ".join(problems))
    return spans


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    return str(value)


def to_sample(row: Mapping[str, Any], fmt: str | None = None, mapping: Mapping[str, str | None] | None = None,
              *, where: str = "row", default_language: str | None = None, default_country: str | None = None,
              origin: str | None = None, catalogue: Catalogue = DEFAULT) -> dict:
    """One row of format ``fmt`` (detected when None) as a validated sample with its content id.

    ``mapping`` overrides the format's label table (see :func:`check_mapping`). ``meta.source`` is
    ``<format>:<origin>[/<split>][#<original id>]``; ``meta.import`` holds the same fields plus the
    record (``where``), the labels dropped as ``ignore`` and the language/country as written in
    the source when they were normalised. Raises :class:`RowError` (a SampleError) naming ``where``.
    """
    if isinstance(row, Unreadable):
        raise RowError(where, "malformed", row.reason)
    if not isinstance(row, Mapping):
        raise RowError(where, "contract", f"expected an object, got {type(row).__name__}")
    if fmt is None:
        try:
            fmt = detect_format(row)
        except ValueError as exc:
            raise RowError(where, "unknown_format", str(exc)) from None
    if fmt not in FORMATS:
        raise ValueError(f"unknown import format {fmt!r} (known: {', '.join(FORMATS)})")
    mapping = check_mapping(mapping, catalogue) if mapping else None
    if fmt == "kiji" and isinstance(row.get("data"), Mapping):
        row = {**_kiji_task(row, where), "_split": row.get("_split")}
    try:
        if fmt == "ai4privacy":
            sample, extra = _from_ai4privacy(row, mapping, catalogue, where, default_language, default_country)
        elif fmt == "kiji":
            sample, extra = _from_kiji(row, mapping, catalogue, where, default_language, default_country)
        else:
            sample, extra = _from_pii_assets(row, mapping, catalogue, where, default_language, default_country)
    except RowError:
        raise
    except ValueError as exc:
        raise RowError(where, "malformed" if isinstance(exc, _Malformed) else "contract", str(exc)) from None
    split = row.get("_split") or row.get("split") or row.get("set")
    original_id = extra.pop("original_id", None)
    expected_id = extra.pop("expected_id", None)
    source = f"{fmt}:{origin or 'local'}" + (f"/{split}" if split else "") + \
        (f"#{original_id}" if original_id not in (None, "") else "")
    info = {"format": fmt, "origin": origin or "local", "split": split, "original_id": _json_safe(original_id),
            "record": where, **{k: v for k, v in extra.items() if v}}
    sample["meta"] = {"source": source, "import": info}
    try:
        validate(sample, catalogue=catalogue, where=where)
    except SampleError as exc:
        code = "overlap" if "overlaps" in exc.reason else "contract"
        raise RowError(where, code, exc.reason) from None
    if expected_id and sample["id"] != expected_id:
        raise RowError(where, "id_mismatch", f"id {expected_id!r} does not match the content hash {sample['id']} "
                                             "(content edited without a new id)")
    return sample


def _from_ai4privacy(row, mapping, catalogue, where, default_language, default_country):
    text = row.get("source_text") if "source_text" in row else row.get("unmasked_text")
    if not isinstance(text, str) or not text.strip():
        raise RowError(where, "contract", "source_text is missing or empty")
    language, country, original = _language_country(row, where, ("country", "locale", "region"),
                                                    default_language, default_country)
    raw = row.get("privacy_mask")
    try:
        entities = _records(raw, "privacy_mask")
    except ValueError as exc:
        raise RowError(where, "malformed", str(exc)) from None
    if len(entities) == 1 and isinstance(raw, (str, Mapping)) and not {"label", "value"} & set(entities[0]):
        # pii-masking-200k as first published: {"[FIRSTNAME_1]": "Anna", ...}, no offsets
        entities = [{"label": _placeholder_label(k), "value": v} for k, v in entities[0].items()]
    for i, e in enumerate(entities):
        if not isinstance(e, Mapping):
            raise RowError(where, "malformed", f"privacy_mask[{i}] is not an object")
    kept, ignored = _map_entities(entities, "ai4privacy", mapping, catalogue, where)
    with_offsets = all("start" in e and "end" in e for e in entities)
    spans = _offset_spans(text, kept, where) if with_offsets else _grounded_spans(text, kept, where)
    sample = {"text": text, "language": language, "country": country, "privacy_mask": spans, "coreferences": []}
    original_id = row.get("uid", row.get("id"))
    return sample, {"original_id": original_id, "ignored_labels": dict(ignored), "original": original}


def _placeholder_label(key: Any) -> str:
    """``[FIRSTNAME_1]`` -> ``FIRSTNAME``."""
    m = _PLACEHOLDER.fullmatch(str(key).strip())
    return m.group(1) if m else str(key)


def _kiji_task(task: Mapping[str, Any], where: str) -> dict:
    """A Label Studio task of Kiji's training folder -> Kiji's training format (values, no offsets).

    The latest non-cancelled annotation wins, else the first prediction. Coreference clusters are
    built like Kiji's own converter: relations grouped by their target (``to_id``), the target's
    text first, the cluster's entity type the target's label.
    """
    data = task["data"]
    annotations = [a for a in task.get("annotations") or [] if isinstance(a, Mapping) and not a.get("was_cancelled")]
    if annotations:
        chosen = max(enumerate(annotations),
                     key=lambda ia: (str(ia[1].get("updated_at") or ia[1].get("created_at") or ""), ia[0]))[1]
        result = chosen.get("result") or []
    else:
        predictions = [p for p in task.get("predictions") or [] if isinstance(p, Mapping)]
        result = predictions[0].get("result") or [] if predictions else []
    entities: dict[Any, dict] = {}
    relations: dict[Any, list] = {}
    for item in result:
        if not isinstance(item, Mapping):
            continue
        if "from_id" in item and "to_id" in item:
            relations.setdefault(item["to_id"], []).append(item["from_id"])
        elif isinstance(item.get("value"), Mapping):
            value = item["value"]
            labels = value.get("labels") or []
            entities[item.get("id")] = {"text": value.get("text"), "label": labels[0] if labels else None}
    privacy_mask = [{"value": e["text"], "label": e["label"]} for e in entities.values() if e["label"]]
    coreferences = []
    for target, sources in relations.items():
        if target not in entities:
            continue
        mentions = [entities[target]["text"]] + [entities[s]["text"] for s in sources if s in entities]
        if len(mentions) > 1:
            coreferences.append({"cluster_id": len(coreferences), "entity_type": entities[target]["label"] or "person",
                                 "mentions": mentions})
    out = {"text": data.get("text"), "privacy_mask": privacy_mask, "coreferences": coreferences,
           "language": data.get("language"), "country": data.get("country")}
    if data.get("file_name") or task.get("id") is not None:
        out["_original_id"] = data.get("file_name") or task.get("id")
    return out


def _text_and_entities(row, fmt, mapping, catalogue, where, default_language, default_country):
    """What the Kiji and pii_assets rows share: text, language/country and the mapped entities."""
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise RowError(where, "contract", "text is missing or empty")
    language, country, original = _language_country(row, where, ("country",), default_language, default_country)
    entities = _records(row.get("privacy_mask"), "privacy_mask")
    for i, e in enumerate(entities):
        if not isinstance(e, Mapping):
            raise RowError(where, "malformed", f"privacy_mask[{i}] is not an object")
    kept, ignored = _map_entities(entities, fmt, mapping, catalogue, where)
    return text, language, country, original, kept, ignored


def _from_kiji(row, mapping, catalogue, where, default_language, default_country):
    text, language, country, original, kept, ignored = _text_and_entities(
        row, "kiji", mapping, catalogue, where, default_language, default_country)
    spans = _grounded_spans(text, kept, where)
    clusters = []
    for cluster in _records(row.get("coreferences"), "coreferences"):
        if not isinstance(cluster, Mapping):
            raise RowError(where, "malformed", "coreferences holds a non-object")
        mentions = [m.get("text") if isinstance(m, Mapping) else m for m in cluster.get("mentions") or []]
        clusters.append({"entity_type": cluster.get("entity_type"), "mentions": mentions})
    coreferences, problems = ground_coreferences(text, clusters, spans)
    if problems:
        raise RowError(where, "grounding", "; ".join(problems))
    sample = {"text": text, "language": language, "country": country, "privacy_mask": spans,
              "coreferences": coreferences}
    return sample, {"original_id": row.get("_original_id", row.get("id")), "ignored_labels": dict(ignored),
                    "original": original}


def _from_pii_assets(row, mapping, catalogue, where, default_language, default_country):
    text, language, country, original, kept, ignored = _text_and_entities(
        row, "pii_assets", mapping, catalogue, where, default_language, default_country)
    spans = _offset_spans(text, kept, where)
    relabel = {e["source_label"]: e["label"] for e in kept}
    coreferences = []
    for ci, cluster in enumerate(_records(row.get("coreferences"), "coreferences")):
        if not isinstance(cluster, Mapping):
            raise RowError(where, "malformed", f"coreferences[{ci}] is not an object")
        mentions = []
        for m in _records(cluster.get("mentions"), f"coreferences[{ci}].mentions"):
            if not isinstance(m, Mapping):
                raise RowError(where, "malformed", f"coreferences[{ci}] has a mention that is not an object")
            labels = [relabel.get(lab, map_label(lab, "pii_assets", mapping, catalogue))
                      for lab in _records(m.get("privacy_mask_labels"), "privacy_mask_labels")]
            mentions.append({"text": m.get("text"), "start": m.get("start"), "end": m.get("end"),
                             "type": m.get("type"),
                             "privacy_mask_labels": [lab for lab in labels
                                                     if isinstance(lab, str) and lab in catalogue]})
        cluster_id = cluster.get("cluster_id")
        coreferences.append({"cluster_id": ci if cluster_id is None else cluster_id,
                             "entity_type": cluster.get("entity_type"), "mentions": mentions})
    sample = {"text": text, "language": language, "country": country, "privacy_mask": spans,
              "coreferences": coreferences}
    unchanged = not ignored and not original and row.get("language") and row.get("country") and \
        all(e["label"] == e["source_label"] for e in kept)
    extra = {"original_id": row.get("id"), "ignored_labels": dict(ignored), "original": original}
    if isinstance(row.get("source"), str) and row["source"]:
        extra["original_source"] = row["source"]
    if unchanged and isinstance(row.get("id"), str) and row["id"]:
        extra["expected_id"] = row["id"]
    return sample, extra


# --- import ----------------------------------------------------------------------------------


def _language_of(row: Any) -> str | None:
    """Best-effort language code of a raw row (for the language filter of rows that fail)."""
    if not isinstance(row, Mapping):
        return None
    data = row.get("data")
    raw = row.get("language") if "language" in row or not isinstance(data, Mapping) else data.get("language")
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if _CODE.fullmatch(text):
        return text.lower()
    if m := _LOCALE.fullmatch(text):
        return m.group(1).lower()
    return LANGUAGE_NAMES.get(text.casefold())


def import_rows(rows: Iterable[tuple[str, Any] | Mapping[str, Any]], mapping: Mapping[str, str | None] | None = None,
                *, limit: int | None = None, fmt: str | None = None, origin: str | None = None,
                default_language: str | None = None, default_country: str | None = None,
                languages: Collection[str] | None = None, catalogue: Catalogue = DEFAULT,
                on_sample: Callable[[dict], None] | None = None,
                on_reject: Callable[[dict], None] | None = None) -> ImportResult:
    """Map every row to a sample or a reject.

    ``rows``: ``(where, row)`` pairs from :func:`read_rows` (bare dicts are named ``row <i>``).
    ``limit``: stop once that many samples were accepted. ``fmt``: force a format instead of
    detecting it per row. ``languages``: import only these (rows in other languages are
    counted in ``skipped``, not rejected, even when they are broken). ``on_sample`` /
    ``on_reject``: stream results to a callback instead of collecting them in ``samples`` /
    ``rejects`` (for large imports). A reject is
    ``{"where", "code", "reason", "row"}`` with the reason starting with ``where`` and ``row`` the
    original row made JSON-safe.
    """
    mapping = check_mapping(mapping, catalogue)
    result = ImportResult()
    seen: set[int] = set()
    wanted = set(languages) if languages is not None else None

    def reject(where: str, code: str, reason: str, row: Any) -> None:
        result.rejected += 1
        result.reject_counts[code] += 1
        result.reject_examples.setdefault(code, reason)
        record = {"where": where, "code": code, "reason": reason,
                  "row": row.raw if isinstance(row, Unreadable) else _json_safe(row)}
        (on_reject or result.rejects.append)(record)

    for index, item in enumerate(rows):
        if limit is not None and result.accepted >= limit:
            break
        where, row = item if isinstance(item, tuple) else (f"row {index}", item)
        result.rows += 1
        try:
            sample = to_sample(row, fmt, mapping, where=where, default_language=default_language,
                               default_country=default_country, origin=origin, catalogue=catalogue)
        except RowError as exc:
            language = _language_of(row) if wanted is not None else None
            if language is not None and language not in wanted:
                result.skipped[language] += 1
                continue
            result.unmapped.update(exc.labels)
            reject(where, exc.code, str(exc), row)
            continue
        if wanted is not None and sample["language"] not in wanted:
            result.skipped[sample["language"]] += 1
            continue
        key = int(sample["id"][:16], 16)
        if key in seen:
            result.duplicates += 1
            reject(where, "duplicate", f"{where}: same content id {sample['id']} as an earlier row", row)
            continue
        seen.add(key)
        info = sample["meta"]["import"]
        result.accepted += 1
        result.formats[info["format"]] += 1
        result.splits[str(info["split"])] += 1
        result.languages[sample["language"]] += 1
        result.labels.update(s["label"] for s in sample["privacy_mask"])
        result.ignored.update(info.get("ignored_labels") or {})
        (on_sample or result.samples.append)(sample)
    return result


def import_source(source: str | Path, mapping: Mapping[str, str | None] | None = None, *,
                  origin: str | None = None, batch_size: int = 1024, **kwargs: Any) -> ImportResult:
    """:func:`read_rows` + :func:`import_rows` over a local path (``origin`` defaults to it)."""
    return import_rows(read_rows(source, batch_size=batch_size), mapping,
                       origin=origin or str(source), **kwargs)


# --- documentation ---------------------------------------------------------------------------


def mapping_markdown(fmt: str) -> str:
    """The label table of ``fmt`` as the markdown table printed in docs/import.md."""
    def target(t: str | None) -> str:
        return "reject row" if t is None else ("ignore span" if t == IGNORE else f"`{t}`")

    return markdown_table(((f"`{label}`", target(t), NOTES.get(label, ""))
                           for label, t in LABEL_TABLES[fmt].items()), ("source label", "becomes", "why"))

