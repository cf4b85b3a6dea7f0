import re
import xml.etree.ElementTree as ET

import pytest

from pii_assets.catalogue import CATALOGUE, DEFAULT, Catalogue, Label, UnknownLabelError

EXPECTED = ("FIRSTNAME SURNAME EMAIL PHONENUMBER DATEOFBIRTH SSN CREDITCARDNUMBER STREET BUILDINGNUM "
            "CITY STATE ZIP COUNTRY IBAN DRIVERLICENSENUM PASSPORTID NATIONALID TAXNUM COMPANYNAME URL "
            "USERNAME PASSWORD LICENSEPLATENUM AGE").split()


def _ls_labels(config: str) -> dict[str, list[str]]:
    root = ET.fromstring(config)
    return {labels.get("name"): [l.get("value") for l in labels.iter("Label")]
            for labels in root.iter("Labels")}


def test_catalogue_has_the_24_design_labels():
    assert list(DEFAULT.names) == EXPECTED
    for label in CATALOGUE:
        assert re.fullmatch(r"#[0-9a-f]{6}", label.colour)
        assert label.description and label.hint and label.weight > 0
        assert label.shape in ("text", "word", "token", "address")
    shapes = {shape: {label.name for label in CATALOGUE if label.shape == shape} for shape in ("token", "address")}
    assert shapes == {"token": {"USERNAME", "PASSWORD"}, "address": {"EMAIL", "URL"}}
    # places, companies and phone numbers may start or end with punctuation (U.S., Dowergstr., +49)
    assert {label.name for label in CATALOGUE if label.shape == "text"} == {
        "PHONENUMBER", "STREET", "CITY", "STATE", "COUNTRY", "COMPANYNAME"}


def test_label_studio_config_has_every_label_and_a_coreference_relation():
    config = DEFAULT.label_studio_config()
    root = ET.fromstring(config)
    assert _ls_labels(config)["label"] == EXPECTED
    assert [r.get("value") for r in root.iter("Relation")] == ["coreference"]
    assert root.find("Text").get("value") == "$text"
    colours = [l.get("background") for l in root.iter("Label")][: len(EXPECTED)]
    assert colours == [l.colour for l in CATALOGUE]


def test_iob2_maps_are_strict_and_invertible():
    tags = DEFAULT.iob2_labels()
    assert tags[0] == "O" and len(tags) == 1 + 2 * len(EXPECTED)
    assert {t[2:] for t in tags[1:]} == set(EXPECTED)
    label2id, id2label = DEFAULT.label2id(), DEFAULT.id2label()
    assert all(id2label[i] == t for t, i in label2id.items())
    assert tags[1:3] == ["B-FIRSTNAME", "I-FIRSTNAME"]


def test_adding_a_label_is_one_entry_and_shows_up_everywhere():
    mrn = Label("MEDICAL_RECORD_NUMBER", "Hospital medical record number", "#123456", 0.5,
                "MRN-1234567", field_name="MRN", pattern=r"MRN-\d{7}")
    extended = DEFAULT.with_label(mrn)
    assert "MEDICAL_RECORD_NUMBER" in extended
    assert _ls_labels(extended.label_studio_config())["label"][-1] == "MEDICAL_RECORD_NUMBER"
    assert extended.iob2_labels()[-2:] == ["B-MEDICAL_RECORD_NUMBER", "I-MEDICAL_RECORD_NUMBER"]
    assert extended.validate_value("MEDICAL_RECORD_NUMBER", "MRN-1234567", "US") is None
    assert "MEDICAL_RECORD_NUMBER" not in DEFAULT


def test_unknown_label_and_duplicates_are_errors():
    with pytest.raises(UnknownLabelError, match="NOPE"):
        DEFAULT["NOPE"]
    with pytest.raises(ValueError, match="duplicate"):
        Catalogue((*CATALOGUE, CATALOGUE[0]))
