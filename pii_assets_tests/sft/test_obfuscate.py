import random
from urllib.parse import unquote

import pytest

from pii_assets.sft import obfuscate as o


@pytest.mark.parametrize("language, expected", [
    ("en", "plus four nine three zero"), ("de", "plus vier neun drei null"),
    ("fr", "plus quatre neuf trois zéro"), ("es", "más cuatro nueve tres cero"),
    ("nl", "plus vier negen drie nul"), ("it", "più quattro nove tre zero"),
])
def test_wordified_digits_in_the_texts_language(language, expected):
    assert o.obfuscate("wordified", "+49 30", language, random.Random(0)) == expected
    assert o.obfuscate("wordified", "DE89", language, random.Random(0)).startswith("D E ")


def test_each_obfuscation():
    rng = random.Random(1)
    assert o.obfuscate("spaced", "4111 1111", "en", rng) == "4 1 1 1 1 1 1 1"
    assert set(o.obfuscate("dashed", "4111111111111111", "en", rng).replace("-", "")) == {"4", "1"}
    assert "-" in o.obfuscate("dashed", "4111111111111111", "en", rng)
    assert o.obfuscate("dashed", "Anna", "en", rng) == "A-n-n-a"
    assert o.obfuscate("url_encoded", "jane.doe@x.org", "en", rng) == "jane.doe%40x.org"
    words = o.obfuscate("email_words", "jane.doe@mail.example.org", "fr", rng)
    assert "@" not in words and words.count(" ") >= 6
    assert o.obfuscate("email_words", "jane@x.org", "en", random.Random(2)) in {
        "jane at x dot org", "jane [at] x [dot] org", "jane (at) x (dot) org"}


def test_applicable_obfuscations_depend_on_the_value():
    assert o.applicable("jane@x.org") == ["spaced", "dashed", "url_encoded", "email_words"]
    assert o.applicable("+49 30 901820") == ["spaced", "dashed", "wordified", "url_encoded"]
    assert o.applicable("42") == []
    assert o.applicable("Jo") == []


def test_log_and_pixel_lines_carry_the_value():
    rng = random.Random(3)
    line = o.log_line("phone", "+49 30 901820", rng)
    assert 'phone="+49 30 901820"' in line and line[:4].isdigit()
    pixel = o.pixel_line("e_mail", "jane@x.org", rng)
    assert "e_mail=jane%40x.org" in pixel and pixel.startswith("203.0.113.") and '" 200 ' in pixel
    assert unquote("jane%40x.org") == "jane@x.org"


def test_wrappers_and_field_phrases():
    rng = random.Random(4)
    assert o.wrap("Tel. 030 1234", "de", rng).startswith(o.WRAPPERS["de"])
    assert all(len(o.WRAPPERS[lang]) >= 3 and len(o.FRAMES[lang]) >= 3 for lang in o.LANGUAGES)
    assert o.field_key("Driver's license number") == "drivers_license_number"
    assert "Kartennummer" in o.field_nouns("CREDITCARDNUMBER", "Card number", "de")
    assert o.field_nouns("NEW_LABEL", "New field", "de") == ["New field"]
    phrase = o.field_phrase("Order number", "ORD-1", "en", random.Random(5))
    assert "ORD-1" in phrase and ("order number" in phrase or phrase.startswith("Order number"))
