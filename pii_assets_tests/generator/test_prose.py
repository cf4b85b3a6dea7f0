"""Word-frequency prose: ordinary words of each language, no names, numbers that are not PII."""

import random
import re

import pytest

from pii_assets.batches import BatchSpec
from pii_assets.generator.offline import OfflineGenerator, compile_line
from pii_assets.generator.prose import LOCAL, Prose, name_words, vocabulary
from pii_assets.generator.templates import en


@pytest.mark.parametrize("language", sorted(LOCAL))
def test_vocabulary_is_ordinary_words_without_names_or_places(language):
    words = vocabulary(language)
    assert len(words) > 20_000
    assert all(re.fullmatch(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*", w) for w in words)
    first, last, places = name_words()
    rare_names = {w for w in words[5000:] if w in first}
    assert not rare_names  # a first name is a word only when it is a very common word


def test_common_words_that_are_also_names_stay_and_names_go():
    words = set(vocabulary("en"))
    assert {"will", "may", "king", "government", "lake", "north"} <= words
    assert not {"john", "maria", "smith", "paris", "london", "murakami"} & words
    assert {"tórax", "alérgico"} <= set(vocabulary("es"))


def test_sentences_carry_numbers_that_are_not_pii_and_inserts_compile():
    prose = Prose("en", list(en.MONTHS))
    rng = random.Random(3)
    sentences = [prose.sentence(rng, numbers=0.35) for _ in range(200)]
    assert sum(bool(re.search(r"\d", s)) for s in sentences) > 150
    assert all("{" not in s for s in sentences)
    line = compile_line(prose.sentence(rng, (prose.name(rng, "FULLNAME"), "{SURNAME}")), "en/filler/prose-names")
    assert line.has_name and line.labels == {"FIRSTNAME", "SURNAME"}
    titled = [prose.name(random.Random(i), "SURNAME") for i in range(40)]
    assert any(t != "{SURNAME}" and t.endswith(" {SURNAME}") for t in titled)


def test_prose_reaches_samples_and_its_names_are_spans():
    samples = list(OfflineGenerator(BatchSpec("prose", size=300, languages=("en", "es"))).generate())
    templates = [t for s in samples for t in s["meta"]["templates"]]
    assert sum(t.endswith("/filler/prose") for t in templates) > 200
    assert any(t.endswith("/neg/prose") for t in templates)
    named = [s for s in samples if any(t.endswith("/filler/prose-names") for t in s["meta"]["templates"])]
    assert named and all(s["privacy_mask"] for s in named)
    for s in samples:
        for span in s["privacy_mask"]:
            assert s["text"][span["start"]:span["end"]] == span["value"]
