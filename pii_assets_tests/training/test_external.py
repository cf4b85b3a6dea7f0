"""External evaluation figures on small hand-computed cases (the definitions of
``pii_assets.training.external``, which follow the evaluation sets' README)."""

import json

import pytest

from pii_assets.samples import SampleError
from pii_assets.training.external import (CATALOGUE, COARSE, EvalSet, Record, figures_table, name_chars,
                                          read_eval_dir, read_set, report_markdown, score_set, strings_table)

TEXT = "Ana Ruiz vive en Madrid desde 2010."
#       0123456789012345678901234567890123456


def _catalogue_set() -> EvalSet:
    record = Record("es", TEXT, gold=[(0, 3, "FIRSTNAME"), (4, 8, "SURNAME"), (17, 23, "CITY")],
                    ignore=[(30, 34, "FECHAS")])
    return EvalSet("clinic", CATALOGUE, [record])


def test_strict_and_character_figures_drop_predictions_that_overlap_an_ignore_region():
    predictions = [[(0, 3, "FIRSTNAME"),      # hit
                    (4, 8, "CITY"),           # right place, wrong label: spurious CITY, missed SURNAME
                    (17, 23, "CITY"),         # hit
                    (24, 29, "COMPANYNAME"),  # "desde": spurious
                    (28, 32, "DATEOFBIRTH")]]  # overlaps the ignored year: dropped, counts nowhere
    result = score_set(_catalogue_set(), predictions, resamples=50)
    overall = result["overall"]
    assert overall["strict_precision"] == pytest.approx(2 / 4, abs=1e-4)
    assert overall["strict_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert overall["strict_micro_f1"] == pytest.approx(4 / 7, abs=1e-4)
    # characters: gold 3+4+6 = 13, all predicted; predicted (after the drop) 3+4+6+5 = 18
    assert overall["char_precision"] == pytest.approx(13 / 18, abs=1e-4)
    assert overall["char_recall"] == 1.0
    assert overall["char_f1"] == pytest.approx(26 / 31, abs=1e-4)
    assert result["per_label"]["SURNAME"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1,
                                              "predicted": 0}
    assert result["per_label"]["CITY"]["precision"] == 0.5 and result["per_label"]["CITY"]["recall"] == 1.0
    assert result["spurious"] == {"CITY": [("Ruiz", 1)], "COMPANYNAME": [("desde", 1)]}
    assert result["missed"] == {"SURNAME": [("Ruiz", 1)]}
    assert result["per_language"]["es"]["strict_micro_f1"] == overall["strict_micro_f1"]


def test_ignored_characters_leave_the_character_mask_but_a_prediction_inside_gold_still_counts():
    record = Record("es", "NHC 7845642 de Ana", gold=[(15, 18, "FIRSTNAME")], ignore=[(4, 11, "ID")])
    # a prediction covering the ignored number and the space after it overlaps the region: dropped
    result = score_set(EvalSet("x", CATALOGUE, [record]), [[(4, 12, "PASSPORTID"), (15, 18, "FIRSTNAME")]],
                       resamples=0)
    assert result["overall"]["char_precision"] == 1.0 and result["overall"]["strict_micro_f1"] == 1.0
    # without the ignore region the same prediction is 8 spurious characters and one spurious span
    plain = Record("es", record.text, gold=record.gold)
    result = score_set(EvalSet("x", CATALOGUE, [plain]), [[(4, 12, "PASSPORTID"), (15, 18, "FIRSTNAME")]],
                       resamples=0)
    assert result["overall"]["char_precision"] == pytest.approx(3 / 11, abs=1e-4)
    assert result["overall"]["strict_precision"] == 0.5


COARSE_TEXT = "Mr John Smith met Mary in Paris in 1999."


def _coarse_set() -> EvalSet:
    assert len(COARSE_TEXT) == 40
    record = Record("en", COARSE_TEXT, gold=[(0, 13, "PER"), (18, 22, "PER"), (26, 31, "LOC")])
    other = Record("de", "Das ist alles.", gold=[])
    return EvalSet("wiki", COARSE, [record, other])


def test_name_recall_leaves_out_a_leading_title_and_spurious_rate_counts_characters_outside_entities():
    predictions = [[(3, 7, "FIRSTNAME"), (8, 13, "SURNAME"),  # "John" "Smith": the space between stays untagged
                    (26, 31, "CITY"),                         # inside LOC: reported, not scored
                    (35, 39, "DATEOFBIRTH")],                 # "1999": spurious
                   [(8, 13, "COMPANYNAME")]]                  # "alles": spurious
    result = score_set(_coarse_set(), predictions, resamples=50)
    en, de, overall = result["per_language"]["en"], result["per_language"]["de"], result["overall"]
    # name characters: "John Smith" (10, "Mr " left out) + "Mary" (4) = 14; tagged 4 + 5 = 9
    assert en["name_recall"] == pytest.approx(9 / 14, abs=1e-4)
    # outside every entity: 40 - 22 = 18 characters in English, 4 of them tagged
    assert en["spurious_rate"] == pytest.approx(4 / 18, abs=1e-4)
    assert en["spurious_spans_per_1k_chars"] == pytest.approx(1000 / 40, abs=1e-3)
    assert en["loc_tagged"] == 1.0 and en["org_tagged"] == 0.0
    assert de["spurious_rate"] == pytest.approx(5 / 14, abs=1e-4) and de["name_recall"] == 0.0
    assert overall["spurious_rate"] == pytest.approx(9 / 32, abs=1e-4)  # pooled over texts, not averaged
    assert result["missed"] == {"PER": [("Mary", 1)]}  # John Smith is partly tagged, so not missed
    assert result["spurious"] == {"COMPANYNAME": [("alles", 1)], "DATEOFBIRTH": [("1999", 1)]}
    low, high = overall["ci95"]["spurious_rate"]
    assert low <= overall["spurious_rate"] <= high


@pytest.mark.parametrize("text, expected", [("Mr John Smith", "John Smith"), ("Dr. Jane Doe", "Jane Doe"),
                                            ("Judge Mr. Wolf", "Wolf"), ("Sra. Pérez", "Pérez"),
                                            ("Mister Rogers", "Mister Rogers"), ("Dr", "Dr")])
def test_name_chars_strip_leading_titles_only(text, expected):
    chars = sorted(name_chars(text, 0, len(text)))
    assert text[chars[0]:chars[-1] + 1] == expected


def test_intervals_cover_the_point_and_tables_render():
    result = score_set(_catalogue_set(), [[(0, 3, "FIRSTNAME")]], resamples=100)
    low, high = result["overall"]["ci95"]["strict_micro_f1"]
    assert low <= result["overall"]["strict_micro_f1"] <= high
    table = figures_table({"model": result})
    assert "| model | all | 1 |" in table and "strict_micro_f1" in table
    assert '"Ruiz"' in strings_table(result, "missed")
    assert "### clinic (catalogue gold)" in report_markdown({"clinic": {"model": result}})


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_reading_a_directory_both_styles_and_a_type_mapping(tmp_path):
    _write(tmp_path / "med.jsonl", [{"text": TEXT, "language": "es",
                                     "privacy_mask": [{"start": 0, "end": 3, "label": "FIRSTNAME", "value": "Ana"}],
                                     "ignore": [{"start": 30, "end": 34, "source_label": "FECHAS"}]}])
    _write(tmp_path / "news.jsonl", [{"text": COARSE_TEXT, "entities": [{"type": "PERSON", "start": 18, "end": 22},
                                                                        {"type": "GPE", "start": 26, "end": 31}]}])
    (tmp_path / "news.types.json").write_text(json.dumps({"PERSON": "PER", "GPE": "LOC"}))
    (tmp_path / "notes.txt").write_text("not a set")
    med, news = read_eval_dir(tmp_path)
    assert (med.name, med.style, news.name, news.style) == ("med", CATALOGUE, "news", COARSE)
    assert med.records[0].ignore == [(30, 34, "FECHAS")]
    assert news.records[0].gold == [(18, 22, "PER"), (26, 31, "LOC")] and news.records[0].language == "und"


@pytest.mark.parametrize("records, message", [
    ([{"text": "abc", "privacy_mask": [], "entities": []}], "exactly one of"),
    ([{"text": "abc", "privacy_mask": []}, {"text": "abc", "entities": []}], "catalogue gold"),
    ([{"text": "abc", "privacy_mask": [{"start": 0, "end": 9, "label": "AGE"}]}], "not offsets inside"),
    ([{"text": "abc", "privacy_mask": [{"start": 0, "end": 2, "label": "NOPE"}]}], "unknown label 'NOPE'"),
    ([{"text": "abc", "entities": [{"start": 0, "end": 2, "type": "PERSON"}]}], "none of PER"),
    ([{"text": "abc", "entities": [{"start": 0, "end": 2, "type": "PER", "value": "xy"}]}], "is not the text"),
    ([], "no labeled texts"),
])
def test_bad_records_name_the_file_line_and_reason(tmp_path, records, message):
    path = tmp_path / "bad.jsonl"
    _write(path, records)
    with pytest.raises(SampleError, match=message) as raised:
        read_set(path)
    assert str(path) in str(raised.value)


def test_a_malformed_line_and_a_malformed_type_mapping_are_named(tmp_path):
    path = tmp_path / "news.jsonl"
    path.write_bytes(b'{"text": "abc", "entities": []}\n{"text": "\xff"}\n')
    with pytest.raises(SampleError, match=r"news.jsonl:2.*not UTF-8"):
        read_set(path)
    path.write_text('{"text": "abc", "entities": []}\n')
    (tmp_path / "news.types.json").write_text("PERSON: PER")
    with pytest.raises(SampleError, match=r"news.types.json.*not a JSON object"):
        read_set(path)
    (tmp_path / "news.types.json").write_text('["PER"]')
    with pytest.raises(SampleError, match=r"maps types onto PER"):
        read_set(path)
