import pytest

from pii_assets.samples import SampleError, content_id, ground, normalized_text_hash, validate


def make(text="Call Anna Schmidt on +49 30 901820.", **kw):
    sample = {
        "text": text, "language": "de", "country": "DE",
        "privacy_mask": [
            {"value": "Anna", "label": "FIRSTNAME", "start": 5, "end": 9},
            {"value": "Schmidt", "label": "SURNAME", "start": 10, "end": 17},
            {"value": "+49 30 901820", "label": "PHONENUMBER", "start": 21, "end": 34},
        ],
        "coreferences": [],
        "meta": {"batch": "b1"},
    }
    sample.update(kw)
    return sample


def test_valid_sample_gets_a_content_hash_id_that_ignores_meta():
    a = validate(make())
    b = validate(make(meta={"batch": "other"}))
    assert a["id"] == b["id"] == content_id(a)
    assert len(a["id"]) == 24
    c = validate(make(text="Call Anna Schmidt on +49 30 901820!"))
    assert c["id"] != a["id"]


@pytest.mark.parametrize("change,reason", [
    ({"text": ""}, "text is missing or empty"),
    ({"language": "deu"}, "language 'deu'"),
    ({"country": "de"}, "country 'de'"),
    ({"privacy_mask": [{"value": "Anna", "label": "NAME", "start": 5, "end": 9}]}, "unknown label 'NAME'"),
    ({"privacy_mask": [{"value": "Anna", "label": "FIRSTNAME", "start": 4, "end": 8}]}, "!= text[4:8]"),
    ({"privacy_mask": [{"value": "Anna", "label": "FIRSTNAME", "start": 5, "end": 99}]}, "invalid offsets"),
    ({"privacy_mask": [{"value": "Anna Schmidt", "label": "FIRSTNAME", "start": 5, "end": 17},
                       {"value": "Schmidt", "label": "SURNAME", "start": 10, "end": 17}]}, "overlaps"),
    ({"coreferences": [{"cluster_id": 0, "mentions": [{"text": "Anna", "start": 0, "end": 4,
                                                       "type": "name"}]}]}, "mentions[0] text"),
])
def test_contract_errors_name_the_sample_and_the_reason(change, reason):
    with pytest.raises(SampleError) as err:
        validate(make(**change), where="line 7")
    assert reason in str(err.value)
    assert str(err.value).startswith("line 7")


def test_tampered_id_is_rejected():
    sample = validate(make())
    sample["text"] = sample["text"].replace("Call", "Ring")
    sample["privacy_mask"] = []
    with pytest.raises(SampleError, match=f"sample {sample['id']}: id does not match"):
        validate(sample)


def test_grounding_finds_every_word_bounded_occurrence():
    text = "Anna wrote to Annabelle. Later anna and Anna met; mail anna@x.de."
    spans, problems = ground(text, [{"value": "Anna", "label": "FIRSTNAME"},
                                    {"value": "anna@x.de", "label": "EMAIL"}])
    assert problems == []
    assert [(s["start"], s["label"]) for s in spans] == [(0, "FIRSTNAME"), (40, "FIRSTNAME"), (55, "EMAIL")]
    assert all(text[s["start"]:s["end"]] == s["value"] for s in spans)


def test_grounding_prefers_longer_spans_and_reports_what_cannot_be_grounded():
    text = "Ship to 12 Main Street, Springfield 62704."
    spans, problems = ground(text, [
        {"value": "Main", "label": "SURNAME"},
        {"value": "Main Street", "label": "STREET"},
        {"value": "Boston", "label": "CITY"},
        {"value": "", "label": "ZIP"},
    ])
    assert [s["value"] for s in spans] == ["Main Street"]
    assert any("'Boston' (CITY) not found" in p for p in problems)
    assert any("'Main' (SURNAME) only occurs inside another entity" in p for p in problems)
    assert any("empty value" in p for p in problems)


def test_normalized_hash_ignores_case_and_whitespace():
    assert normalized_text_hash("Hello  World\n") == normalized_text_hash("hello world")
    assert normalized_text_hash("hello world") != normalized_text_hash("hello word")


def test_first_line_keeps_the_spans_inside_it():
    from pii_assets.samples import first_line

    sample = validate({"text": "\n  Anna Schmidt called.\nHer mail: a@b.de", "language": "en", "country": "US",
                       "privacy_mask": [{"value": "Anna", "label": "FIRSTNAME", "start": 3, "end": 7},
                                        {"value": "a@b.de", "label": "EMAIL", "start": 34, "end": 40}],
                       "coreferences": [], "meta": {}})
    line = first_line(sample)
    assert line["text"] == "Anna Schmidt called." and line["privacy_mask"][0]["start"] == 0
    assert len(line["privacy_mask"]) == 1
    assert first_line({**sample, "text": "short\nx" + sample["text"][7:], "privacy_mask": []}) is None


def test_ground_coreferences_types_every_occurrence_and_reports_missing_mentions():
    from pii_assets.samples import ground, ground_coreferences

    text = "Anna Weber called. She said Anna Weber moved; the customer wants a refund."
    spans, _ = ground(text, [{"value": "Anna", "label": "FIRSTNAME"}, {"value": "Weber", "label": "SURNAME"}])
    clusters, problems = ground_coreferences(
        text, [{"entity_type": "person", "mentions": ["Anna Weber", "She", "the customer"]}], spans)
    assert problems == []
    (cluster,) = clusters
    kinds = [(m["text"], m["start"], m["type"], m["privacy_mask_labels"]) for m in cluster["mentions"]]
    assert kinds == [("Anna Weber", 0, "name", ["FIRSTNAME", "SURNAME"]), ("She", 19, "pronoun", []),
                     ("Anna Weber", 28, "name", ["FIRSTNAME", "SURNAME"]), ("the customer", 46, "reference", [])]
    _, problems = ground_coreferences(text, [{"mentions": ["Anna Weber", "Mr. Smith"]}], spans)
    assert problems == ["coreference mention 'Mr. Smith' (cluster 0) not found in text"]


def test_labeled_text_is_the_loose_contract_of_evaluation_data():
    from pii_assets.samples import labeled_text

    assert labeled_text({"text": "Anna", "privacy_mask": [{"start": 0, "end": 4, "label": "FIRSTNAME", "value": "Anna"}]},
                        "f:1") == ("und", "Anna", [(0, 4, "FIRSTNAME")])  # no id, language, country or coreferences needed
    assert labeled_text({"text": "", "privacy_mask": [], "language": "de"}, "f:1") == ("de", "", [])
    with pytest.raises(SampleError, match=r"f:3, span 0: start True / end 4"):  # JSON true is not an offset
        labeled_text({"text": "Anna", "privacy_mask": [{"start": True, "end": 4, "label": "FIRSTNAME"}]}, "f:3")
    with pytest.raises(SampleError, match=r"f:4: 'language' must be a non-empty string"):
        labeled_text({"text": "Anna", "privacy_mask": [], "language": 7}, "f:4")
