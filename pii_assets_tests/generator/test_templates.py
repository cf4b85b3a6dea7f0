"""The language modules follow the schema in pii_assets/generator/templates/README.md."""

import importlib
import re

import pytest

from pii_assets.catalogue import DEFAULT
from pii_assets.generator.locales import LOCALES
from pii_assets.generator.offline import (
    COREF_SLOTS, GENRES, HARD_NEGATIVE_SLOTS, KNOWN_SLOTS, compile_line,
)

SLOT = re.compile(r"\{([^{}]*)\}")


@pytest.fixture(scope="module", params=sorted(LOCALES))
def module(request):
    return importlib.import_module(f"pii_assets.generator.templates.{request.param}")


def _lines(module):
    for name, genre in module.GENRES.items():
        for part in ("openings", "body", "closings"):
            for i, text in enumerate(genre[part]):
                yield f"{name}/{part}/{i}", text
    for i, text in enumerate(module.FILLER):
        yield f"filler/{i}", text
    for i, text in enumerate(module.HARD_NEGATIVES):
        yield f"neg/{i}", text


def test_schema_counts(module):
    assert set(module.GENRES) >= set(GENRES)
    for name in GENRES:
        genre = module.GENRES[name]
        assert genre["role"] in module.ROLES
        assert len(genre["openings"]) >= 5 and len(genre["body"]) >= 16 and len(genre["closings"]) >= 5
    assert len(module.FILLER) >= 80 and len(module.HARD_NEGATIVES) >= 30
    assert len(module.MONTHS) == 12
    assert set(module.PRONOUNS) == {"female", "male"}
    for forms in module.PRONOUNS.values():
        assert set(forms) == {"subj", "obj", "poss"}
    for refs in module.ROLES.values():
        assert len(refs["female"]) >= 2 and len(refs["male"]) >= 2
    assert set(module.LABEL_PHRASES) == set(DEFAULT.names)


def test_every_slot_is_known_and_every_line_compiles(module):
    for where, text in _lines(module):
        for slot in SLOT.findall(text):
            assert slot.startswith("G:") and "|" in slot or slot in KNOWN_SLOTS, (where, text)
        compile_line(text, where)


def test_filler_and_hard_negatives_carry_no_pii(module):
    for where, text in _lines(module):
        if where.startswith(("filler", "neg")):
            slots = set(SLOT.findall(text))
            assert slots <= HARD_NEGATIVE_SLOTS, (where, text)
            if where.startswith("filler"):
                assert not slots, (where, text)


def test_every_label_appears_in_three_genres_and_coreference_is_common(module):
    genres_with = {label: set() for label in DEFAULT.names}
    body = coref = 0
    for name in GENRES:
        for i, text in enumerate(module.GENRES[name]["body"]):
            line = compile_line(text, f"{name}/{i}")
            for label in line.labels:
                genres_with[label].add(name)
            body += 1
            coref += bool(set(SLOT.findall(text)) & COREF_SLOTS)
    assert {label: g for label, g in genres_with.items() if len(g) < 3} == {}
    assert coref / body >= 1 / 3
