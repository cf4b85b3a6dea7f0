import random

import pytest

from pii_assets.catalogue import DEFAULT
from pii_assets.generator.locales import LOCALES
from pii_assets.sft import negatives
from pii_assets.sft.obfuscate import LANGUAGES


def test_every_catalogue_label_has_relevant_look_alikes():
    assert set(negatives.KINDS_BY_LABEL) == set(DEFAULT.names)  # no typo can silently drop a label
    for name, kinds in negatives.KINDS_BY_LABEL.items():
        assert len(kinds) >= 3 and set(kinds) <= set(negatives.KINDS), name
    for kind in negatives.KINDS.values():
        assert set(kind.nouns) == set(LANGUAGES), kind.name


@pytest.mark.parametrize("language", LANGUAGES)
def test_drawn_look_alikes_fail_the_validator_unless_semantic(language):
    country = LOCALES[language].country
    rng = random.Random(language)
    twins = {"IBAN": ["DE89 3704 0044 0532 0130 00"], "TAXNUM": [], "SSN": [], "NATIONALID": []}
    for label in DEFAULT.labels:
        for _ in range(25):
            ctx = negatives.Context(language, country, twins.get(label.name, []))
            hard = negatives.draw(label, rng, ctx, DEFAULT)
            assert hard is not None, label.name
            rejected = DEFAULT.validate_value(label.name, hard.value, country) is not None
            assert rejected == hard.rejected
            assert rejected or hard.kind.semantic, (label.name, hard.kind.name, hard.value)


def test_checksum_look_alikes():
    rng = random.Random(0)
    card = negatives.draw(DEFAULT["CREDITCARDNUMBER"], rng, negatives.Context("en", "US", []), DEFAULT)
    assert card.rejected
    iban = negatives.KINDS["iban_bad"].make(rng, negatives.Context("de", "DE", ["DE89 3704 0044 0532 0130 00"]))
    assert len(iban) == len("DE89 3704 0044 0532 0130 00") and DEFAULT.validate_value("IBAN", iban, "DE")
    value = negatives.KINDS["luhn_fail"].make(rng, negatives.Context("en", "US", []))
    assert "Luhn" in DEFAULT.validate_value("CREDITCARDNUMBER", value, "US")
