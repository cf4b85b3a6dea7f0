"""Every value the offline generator makes passes its label's validator, for every language."""

import random

import pytest

from pii_assets.catalogue import DEFAULT
from pii_assets.generator.locales import LOCALES
from pii_assets.generator.values import LocaleValues

MONTHS = [f"M{i}" for i in range(1, 13)]


@pytest.fixture(scope="module", params=sorted(LOCALES))
def locale_values(request):
    return LocaleValues(LOCALES[request.param], MONTHS, seed=7)


def test_every_generated_value_passes_its_validator(locale_values):
    rng = random.Random(1)
    country = locale_values.country
    failures = []
    for _ in range(400):
        person = locale_values.person(rng)
        for label in DEFAULT.labels:
            value = locale_values.value(label, rng, person)
            problem = label.validator(value, country)
            if problem:
                failures.append((label.name, value, problem))
    assert failures == []


def test_values_vary_in_format(locale_values):
    rng = random.Random(2)
    cards = {locale_values.card(rng) for _ in range(200)}
    assert any(" " in c for c in cards) and any("-" in c for c in cards) and any(c.isdigit() for c in cards)
    phones = {locale_values.phone(rng) for _ in range(200)}
    assert any(p.startswith("+") for p in phones) and any(not p.startswith("+") for p in phones)
    assert len({locale_values.person(rng).casing for _ in range(300)}) == 4


def test_repeated_mentions_of_a_person_agree(locale_values):
    rng = random.Random(3)
    person = locale_values.person(rng)
    email = DEFAULT["EMAIL"]
    assert locale_values.value(email, rng, person) == locale_values.value(email, rng, person)


def test_pools_are_deterministic_in_the_seed():
    a = LocaleValues(LOCALES["de"], MONTHS, seed=11)
    b = LocaleValues(LOCALES["de"], MONTHS, seed=11)
    assert a.last == b.last and a.streets == b.streets and a.phones == b.phones
