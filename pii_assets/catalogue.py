"""The label catalogue: the single source of truth for every PII label.

Everything label-shaped in the project is derived from ``CATALOGUE``: the IOB2 label maps, the
Label Studio labeling config, the validators the reviewer applies, the field names and value
patterns the offline generator uses, and (in later stages) prompts, SFT categories and the model's
``label_mappings.json``. Adding a label is one ``Label(...)`` entry below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from pii_assets import validators as v


@dataclass(frozen=True)
class Label:
    name: str
    description: str
    colour: str
    weight: float
    """Relative sampling weight when a batch spec does not override it."""
    hint: str
    """How values look; used in prompts and in the Label Studio hint."""
    validator: v.Validator = v.non_empty
    field_name: str = ""
    """English field name for forms and log lines when a language module has none."""
    pattern: str | None = None
    """Regex the offline generator expands for labels without a built-in value generator."""
    shape: str = "text"
    """How a value is written, for span decoding: ``text`` (words), ``word`` (words that start and
    end with a letter or digit: names, dates, numbers, codes), ``token`` (no spaces: a login, a
    password) or ``address`` (a token that never ends in sentence punctuation: an e-mail, a URL)."""


CATALOGUE: tuple[Label, ...] = (
    Label("FIRSTNAME", "Given name of a person", "#e6194b", 1.6,
          "given names, any casing, including compound names (Jean-Luc, Anna-Lena)",
          v.name_like, "First name", shape="word"),
    Label("SURNAME", "Family name of a person", "#3cb44b", 1.6,
          "family names incl. particles (van der Berg, de la Cruz)", v.name_like, "Last name", shape="word"),
    Label("EMAIL", "E-mail address", "#4363d8", 1.2,
          "personal or work e-mail addresses", v.email, "E-mail", shape="address"),
    Label("PHONENUMBER", "Telephone number", "#f58231", 1.2,
          "national and international (E.164) formats, with or without separators",
          v.phone, "Phone"),
    Label("DATEOFBIRTH", "Date of birth", "#911eb4", 0.9,
          "birth dates in the locale's numeric or written formats", v.date_of_birth,
          "Date of birth", shape="word"),
    Label("SSN", "Social security number", "#42d4f4", 0.6,
          "US SSN, French NIR, German RVNR, Spanish NUSS, Dutch BSN, Italian health card",
          v.ssn, "Social security number", shape="word"),
    Label("CREDITCARDNUMBER", "Payment card number", "#f032e6", 0.7,
          "13-19 digits, Luhn-valid, plain, spaced or dashed", v.credit_card, "Card number", shape="word"),
    Label("STREET", "Street name", "#bfef45", 0.9,
          "street name without the building number", v.non_empty, "Street"),
    Label("BUILDINGNUM", "Building / house number", "#fabed4", 0.8,
          "house number, optionally with a letter (12b)", v.non_empty, "House number", shape="word"),
    Label("CITY", "City or town", "#469990", 1.0, "city or town names", v.non_empty, "City"),
    Label("STATE", "State, region or province", "#dcbeff", 0.5,
          "administrative region (state, Land, région, provincia)", v.non_empty, "State"),
    Label("ZIP", "Postal code", "#9a6324", 0.8, "postal code in the country's format",
          v.zip_code, "ZIP code", shape="word"),
    Label("COUNTRY", "Country", "#fffac8", 0.5, "country names in the text's language",
          v.non_empty, "Country"),
    Label("IBAN", "International bank account number", "#800000", 0.7,
          "ISO 13616 IBAN, compact or in groups of four", v.iban, "IBAN", shape="word"),
    Label("DRIVERLICENSENUM", "Driving licence number", "#aaffc3", 0.5,
          "driving licence numbers in the country's format", v.driver_license,
          "Driver's license number", shape="word"),
    Label("PASSPORTID", "Passport number", "#808000", 0.5,
          "passport numbers in the country's format", v.passport, "Passport number", shape="word"),
    Label("NATIONALID", "National identity card number", "#ffd8b1", 0.6,
          "ID card numbers (DNI, Personalausweis, CIE, ...)", v.national_id, "ID number", shape="word"),
    Label("TAXNUM", "Personal tax identification number", "#000075", 0.6,
          "tax ids (Steuer-ID, NIF, codice fiscale, EIN, ...)", v.tax_number, "Tax ID", shape="word"),
    Label("COMPANYNAME", "Name of a company or organisation", "#a9a9a9", 0.7,
          "company names with legal form (GmbH, SARL, S.L., Inc.)", v.non_empty, "Company"),
    Label("URL", "Web address that identifies a person or their account", "#e6beff", 0.6,
          "URLs with paths, profile pages, personal sites", v.url, "Website", shape="address"),
    Label("USERNAME", "User name / login handle", "#ff6f61", 0.8,
          "logins and handles (jdoe, anna.m_92, @handle)", v.no_whitespace, "Username", shape="token"),
    Label("PASSWORD", "Password or secret", "#6b5b95", 0.5,
          "passwords and PINs in realistic shapes", v.no_whitespace, "Password", shape="token"),
    Label("LICENSEPLATENUM", "Vehicle licence plate", "#88b04b", 0.5,
          "licence plates in the country's format", v.license_plate, "Licence plate", shape="word"),
    Label("AGE", "Age of a person in years", "#f7cac9", 0.6,
          "the bare number of years (42)", v.age, "Age", shape="word"),
)

OUTSIDE = "O"


class UnknownLabelError(ValueError):
    pass


MENTION_LABELS = {
    "NAME": ("#ffd8b1", "A person's name as a coreference mention (link it to the other mentions)"),
    "PRONOUN": ("#cccccc", "Pronoun referring to a person"),
    "REFERENCE": ("#999999", "Noun phrase referring to a person (the customer)"),
    "ENTITY": ("#a9a9a9", "Another mention of an entity (e.g. a company)"),
}
"""Label Studio labels of coreference mentions: the mention type (samples.MENTION_TYPES) upper-cased."""


class Catalogue:
    """A set of labels with everything derived from it. ``CATALOGUE`` is the default."""

    def __init__(self, labels: Iterable[Label]):
        self.labels: tuple[Label, ...] = tuple(labels)
        self.by_name: Mapping[str, Label] = {label.name: label for label in self.labels}
        if len(self.by_name) != len(self.labels):
            raise ValueError("duplicate label names in the catalogue")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(label.name for label in self.labels)

    def __contains__(self, name: object) -> bool:
        return name in self.by_name

    def __getitem__(self, name: str) -> Label:
        try:
            return self.by_name[name]
        except KeyError:
            raise UnknownLabelError(f"unknown label {name!r}") from None

    def with_label(self, label: Label) -> Catalogue:
        return Catalogue((*self.labels, label))

    # --- derived artefacts ----------------------------------------------------------------

    def iob2_labels(self) -> list[str]:
        """``O`` followed by ``B-X, I-X`` for each label, in catalogue order."""
        tags = [OUTSIDE]
        for name in self.names:
            tags += [f"B-{name}", f"I-{name}"]
        return tags

    def label2id(self) -> dict[str, int]:
        return {tag: i for i, tag in enumerate(self.iob2_labels())}

    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.iob2_labels()))

    def validate_value(self, label: str, value: str, country: str) -> str | None:
        return self[label].validator(value, country)

    def label_studio_config(self) -> str:
        """Labeling config: one region label per catalogue label, coreference as a relation."""
        lines = [
            "<View>",
            '  <Relations>',
            '    <Relation value="coreference"/>',
            "  </Relations>",
            '  <Labels name="label" toName="text">',
        ]
        for label in self.labels:
            lines.append(
                f"    <Label value={quoteattr(label.name)} background={quoteattr(label.colour)}"
                f" hint={quoteattr(label.description + ': ' + label.hint)}/>"
            )
        lines += [
            "  </Labels>",
            '  <Labels name="mention" toName="text">',
            *(f"    <Label value={quoteattr(value)} background={quoteattr(colour)} hint={quoteattr(hint)}/>"
              for value, (colour, hint) in MENTION_LABELS.items()),
            "  </Labels>",
            '  <Text name="text" value="$text"/>',
            "</View>",
        ]
        return "\n".join(lines) + "\n"


DEFAULT = Catalogue(CATALOGUE)
