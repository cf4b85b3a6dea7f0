"""Importing existing PII datasets: sources, formats, label mapping, rejects, round trip."""

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pii_assets.batches import BatchSpec
from pii_assets.catalogue import DEFAULT
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.hub import dataset as hf
from pii_assets.hub.imports import (
    IGNORE, LABEL_TABLES, RowError, check_mapping, data_files, detect_format, import_rows, import_source,
    mapping_markdown, read_rows, resolve, split_of, to_sample,
)
from pii_assets.samples import validate

REPO = Path(__file__).resolve().parents[2]
CONTENT = ("id", "text", "language", "country", "privacy_mask", "coreferences")


def content(sample):
    return {k: sample[k] for k in CONTENT}


def spans(text, *items):
    """ai4privacy-style spans: (value, label) or (value, label, occurrence) -> offsets found in text."""
    out = []
    for value, label, *nth in items:
        start = -1
        for _ in range((nth or [0])[0] + 1):
            start = text.index(value, start + 1)
        out.append({"value": value, "start": start, "end": start + len(value), "label": label})
    return out


def write_jsonl(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
            fh.write("\n")
    return path


@pytest.fixture(scope="module")
def samples():
    spec = BatchSpec("import-src", size=40, seed=5, languages=("en", "de", "fr"))
    out = [validate(s) for s in OfflineGenerator(spec).generate()]
    assert sum(bool(s["coreferences"]) for s in out) >= 5
    return out


# --- round trip through this project's HF dataset --------------------------------------------


def test_round_trip_through_hf_dataset_parquet_and_save_to_disk(tmp_path, samples):
    dd = hf.build({"train": samples[:30], "test": samples[30:]})
    hf.write(dd, tmp_path / "hf", card="---\n---\ncard\n")
    by_id = {s["id"]: s for s in samples}

    read, skipped = data_files(tmp_path / "hf")
    assert [p.relative_to(tmp_path / "hf").as_posix() for p in read] == [
        "data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"]
    assert skipped == [tmp_path / "hf" / "arrow"]  # the same rows again: not read twice

    for source in (tmp_path / "hf", tmp_path / "hf" / "arrow"):
        result = import_source(source, origin="me/pii-release", batch_size=7)
        assert (result.rows, result.accepted, result.rejected, result.rejects) == (40, 40, 0, [])
        assert result.splits == Counter({"train": 30, "test": 10})
        assert result.formats == Counter({"pii_assets": 40})
        for sample in result.samples:
            original = by_id[sample["id"]]
            assert content(sample) == content(original)
            info = sample["meta"]["import"]
            assert info["original_id"] == sample["id"]
            assert info["original_source"] == hf.source_of(original)
            assert sample["meta"]["source"] == f"pii_assets:me/pii-release/{info['split']}#{sample['id']}"
        where = {s["meta"]["import"]["record"] for s in result.samples}
        if source.name == "hf":
            assert "data/test-00000-of-00001.parquet row 9" in where
            assert "data/train-00000-of-00001.parquet row 29" in where
        else:
            assert {"train row 0", "test row 9"} <= where

    # exported again, the imported samples are the same rows
    again = hf.build({"all": result.samples})["all"]
    assert sorted(again["id"]) == sorted(by_id)


def test_pii_assets_columns_as_json_strings(tmp_path, samples):
    rows = [hf.row(s) for s in samples[:6]]
    table = pa.table({
        "id": [r["id"] for r in rows], "text": [r["text"] for r in rows],
        "privacy_mask": [json.dumps(r["privacy_mask"], ensure_ascii=False) for r in rows],
        "coreferences": [json.dumps(r["coreferences"], ensure_ascii=False) for r in rows],
        "language": [r["language"] for r in rows], "country": [r["country"] for r in rows],
        "source": [r["source"] for r in rows]})
    path = tmp_path / "snap" / "data" / "train-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    result = import_source(tmp_path / "snap")
    assert result.accepted == 6 and not result.rejects
    assert [content(s) for s in result.samples] == [content(s) for s in samples[:6]]


def test_pii_assets_id_that_does_not_match_its_content_is_rejected(samples):
    first = next(s for s in samples if s["privacy_mask"])
    row = hf.row(first)
    row["text"] = row["text"] + " "
    [rej] = import_rows([("export.jsonl:3", row)]).rejects
    assert rej["code"] == "id_mismatch" and rej["reason"].startswith("export.jsonl:3: id ")
    # relabelled by an override, the content changes on purpose: new id, no reject
    label = first["privacy_mask"][0]["label"]
    target = "COMPANYNAME" if label != "COMPANYNAME" else "CITY"
    [sample] = import_rows([hf.row(first)], {label: target}).samples
    assert sample["id"] != first["id"]
    assert {s["label"] for s in sample["privacy_mask"]} >= {target}


# --- ai4privacy ------------------------------------------------------------------------------

R1 = ("Dear Mr. Oliver O'Brien-Smyth, your 🩺 appointment on 12/03/2024 at 14:30 is confirmed. "
      "Reach us at oliver.obrien@example.co.uk or +44 20 7946 0958.")
R2 = "Sehr geehrte Frau Zoë Müller, Ihre neue Adresse lautet Bahnhofstraße 12b, 8001 Zürich."
R3 = "Adres: Kerkstraat12, 1017GC Amsterdam – bel 020-5551234 als Jan niet thuis is."
R4 = "Bonjour Élodie, votre numéro est 06 12 34 56 78."
R5 = "Mi IP es 192.168.0.1 y mi nombre es Lucía."
R6 = "Lieblingsfarbe von Jonas: Türkis."
R7 = "Il signor Mario Rossi abita a Torino."
R10 = "Please wire the refund to DE89 3704 0044 0532 0130 00, account holder Anna Schmidt."


def ai4privacy_rows():
    return [
        {"source_text": R1, "masked_text": "…", "uid": 1001, "language": "en", "locale": "GB", "split": "train",
         "privacy_mask": spans(R1, ("Mr.", "TITLE"), ("Oliver", "GIVENNAME"), ("O'Brien-Smyth", "SURNAME"),
                               ("12/03/2024", "DATE"), ("14:30", "TIME"),
                               ("oliver.obrien@example.co.uk", "EMAIL"), ("+44 20 7946 0958", "TELEPHONENUM")),
         "mbert_tokens": ["Dear", "Mr", "."], "mbert_token_classes": ["O", "B-TITLE", "I-TITLE"]},
        # privacy_mask as a JSON string, unsorted; locale of a Swiss German row
        {"source_text": R2, "uid": 1002, "language": "de", "locale": "CH", "split": "train",
         "privacy_mask": json.dumps(spans(R2, ("8001", "ZIPCODE"), ("Zürich", "CITY"), ("Zoë", "GIVENNAME"),
                                          ("Müller", "SURNAME"), ("Bahnhofstraße", "STREET"), ("12b", "BUILDINGNUM")),
                                    ensure_ascii=False)},
        # adjacent spans (street and number without a space); no locale: the language's country
        {"source_text": R3, "uid": 1003, "language": "nl", "split": "train",
         "privacy_mask": spans(R3, ("Kerkstraat", "STREET"), ("12", "BUILDINGNUM"), ("1017GC", "ZIPCODE"),
                               ("Amsterdam", "CITY"), ("020-5551234", "TELEPHONENUM"), ("Jan", "GIVENNAME"))},
        # offsets shifted by one: the value is not at its offsets
        {"source_text": R4, "uid": 1004, "language": "fr", "split": "train",
         "privacy_mask": [{**s, "start": s["start"] + 1, "end": s["end"] + 1} if s["label"] == "TELEPHONENUM" else s
                          for s in spans(R4, ("Élodie", "GIVENNAME"), ("06 12 34 56 78", "TELEPHONENUM"))]},
        # PII the catalogue cannot represent
        {"source_text": R5, "uid": 1005, "language": "es", "split": "train",
         "privacy_mask": spans(R5, ("192.168.0.1", "IPV4"), ("Lucía", "GIVENNAME"))},
        # a label nobody mapped
        {"source_text": R6, "uid": 1006, "language": "de", "split": "train",
         "privacy_mask": spans(R6, ("Jonas", "GIVENNAME"), ("Türkis", "FAVOURITECOLOUR"))},
        # overlapping spans
        {"source_text": R7, "uid": 1007, "language": "it", "split": "train",
         "privacy_mask": spans(R7, ("Mario", "GIVENNAME"), ("Mario Rossi", "SURNAME"), ("Torino", "CITY"))},
        '{"source_text": "broken line", "privacy_mask": [',
        # the first row again under another uid
        {"source_text": R1, "uid": 1009, "language": "en", "locale": "GB", "split": "train",
         "privacy_mask": spans(R1, ("Oliver", "GIVENNAME"), ("O'Brien-Smyth", "SURNAME"),
                               ("oliver.obrien@example.co.uk", "EMAIL"), ("+44 20 7946 0958", "TELEPHONENUM"))},
        # 400k's ACCOUNTNUM: rejected unless the caller maps it
        {"source_text": R10, "uid": 1010, "language": "en", "locale": "US", "split": "train",
         "privacy_mask": spans(R10, ("DE89 3704 0044 0532 0130 00", "ACCOUNTNUM"), ("Anna", "GIVENNAME"),
                               ("Schmidt", "SURNAME"))},
        # pii-masking-200k as first published: placeholders -> values, no offsets (Python repr)
        {"unmasked_text": "Jean habite à Lyon depuis 2019, Jean aime Lyon.", "language": "fr",
         "privacy_mask": "{'[FIRSTNAME_1]': 'Jean', '[CITY_1]': 'Lyon'}"},
    ]


def test_ai4privacy_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", ai4privacy_rows())
    result = import_source(path, origin="ai4privacy/pii-masking-400k")
    assert result.rows == 11
    assert result.accepted == 4 and result.rejected == 7
    assert result.reject_counts == Counter({"offsets": 1, "unrepresentable_label": 2, "unmapped_label": 1,
                                            "overlap": 1, "malformed": 1, "duplicate": 1})
    assert result.duplicates == 1
    for rej in result.rejects:
        assert rej["reason"].startswith(rej["where"] + ": ")
        json.dumps(rej)
    rejects = {r["where"]: r for r in result.rejects}
    assert set(rejects) == {"data.jsonl:4", "data.jsonl:5", "data.jsonl:6", "data.jsonl:7", "data.jsonl:8",
                            "data.jsonl:9", "data.jsonl:10"}
    assert "value '06 12 34 56 78' != text[34:48]" in rejects["data.jsonl:4"]["reason"]
    assert rejects["data.jsonl:4"]["row"] == {**ai4privacy_rows()[3], "_split": None}
    assert "IPV4" in rejects["data.jsonl:5"]["reason"] and rejects["data.jsonl:5"]["code"] == "unrepresentable_label"
    assert "FAVOURITECOLOUR" in rejects["data.jsonl:6"]["reason"] and "add them to the mapping" in \
        rejects["data.jsonl:6"]["reason"]
    assert "overlap" in rejects["data.jsonl:7"]["reason"]
    assert rejects["data.jsonl:8"]["row"] == '{"source_text": "broken line", "privacy_mask": ['
    assert "same content id" in rejects["data.jsonl:9"]["reason"]
    assert "ACCOUNTNUM" in rejects["data.jsonl:10"]["reason"]
    assert result.unmapped == Counter({"IPV4": 1, "FAVOURITECOLOUR": 1, "ACCOUNTNUM": 1})
    assert result.ignored == Counter({"TITLE": 1, "DATE": 1, "TIME": 1})

    s1, s2, s3, s11 = result.samples
    assert (s1["language"], s1["country"]) == ("en", "GB")
    assert [(s["label"], s["value"]) for s in s1["privacy_mask"]] == [
        ("FIRSTNAME", "Oliver"), ("SURNAME", "O'Brien-Smyth"), ("EMAIL", "oliver.obrien@example.co.uk"),
        ("PHONENUMBER", "+44 20 7946 0958")]
    assert all(R1[s["start"]:s["end"]] == s["value"] for s in s1["privacy_mask"])  # offsets after an emoji
    assert s1["meta"]["source"] == "ai4privacy:ai4privacy/pii-masking-400k/train#1001"
    assert s1["meta"]["import"]["ignored_labels"] == {"TITLE": 1, "DATE": 1, "TIME": 1}
    assert s1["meta"]["import"]["record"] == "data.jsonl:1"
    assert (s2["language"], s2["country"]) == ("de", "CH")
    assert [s["label"] for s in s2["privacy_mask"]] == ["FIRSTNAME", "SURNAME", "STREET", "BUILDINGNUM", "ZIP", "CITY"]
    assert (s3["language"], s3["country"]) == ("nl", "NL")
    street, number = s3["privacy_mask"][:2]
    assert street["end"] == number["start"] and (street["label"], number["label"]) == ("STREET", "BUILDINGNUM")
    assert (s11["language"], s11["country"]) == ("fr", "FR")
    assert [(s["label"], s["start"]) for s in s11["privacy_mask"]] == [
        ("FIRSTNAME", 0), ("CITY", 14), ("FIRSTNAME", 32), ("CITY", 42)]  # every occurrence, grounded
    assert result.labels["FIRSTNAME"] == 5

    # the caller decides what 400k's ACCOUNTNUM is
    kept = import_source(path, {"ACCOUNTNUM": "IBAN"})
    assert kept.accepted == 5
    iban = kept.samples[3]["privacy_mask"][0]
    assert (iban["label"], iban["value"]) == ("IBAN", "DE89 3704 0044 0532 0130 00")
    # and may reject what the table ignores
    strict = import_source(path, {"DATE": None})
    assert strict.reject_counts["unrepresentable_label"] == 3 and "DATE" in strict.rejects[0]["reason"]
    assert strict.accepted == 4 and strict.duplicates == 0  # row 9 (no DATE span) is no duplicate any more


def test_hub_snapshot_layout_with_splits(tmp_path):
    rows = ai4privacy_rows()
    snap = tmp_path / "snapshot"
    for split, chunk in (("train", rows[:3]), ("validation", rows[9:10])):
        table = pa.Table.from_pylist([{**r, "privacy_mask": r["privacy_mask"] if isinstance(r["privacy_mask"], list)
                                       else json.loads(r["privacy_mask"]), "split": split} for r in chunk
                                      if "source_text" in r])
        path = snap / "data" / f"{split}-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
    (snap / "README.md").write_text("---\nconfigs: []\n---\n")
    (snap / ".cache" / "huggingface").mkdir(parents=True)
    (snap / ".cache" / "huggingface" / "x.json").write_text("{}")
    (snap / "license.md").write_text("licence")

    where = [w for w, _ in read_rows(snap, batch_size=2)]
    assert where == ["data/train-00000-of-00001.parquet row 0", "data/train-00000-of-00001.parquet row 1",
                     "data/train-00000-of-00001.parquet row 2", "data/validation-00000-of-00001.parquet row 0"]
    result = import_source(snap, {"ACCOUNTNUM": "IBAN"}, origin="ai4privacy/pii-masking-400k")
    assert result.accepted == 4 and not result.rejects
    assert result.splits == Counter({"train": 3, "validation": 1})
    assert [s["meta"]["import"]["split"] for s in result.samples] == ["train"] * 3 + ["validation"]
    assert result.samples[1]["country"] == "CH"


# --- Kiji ------------------------------------------------------------------------------------

K1 = ("Contact Dr. Maria Santos at maria.santos@hospital.org. Maria will call back; she is on leave "
      "until Friday.")
K2 = "Kundin Anna Gruber, Ausweis P1234567, API-Schlüssel sk-live-9f8e7d6c5b4a. Frau Gruber ruft an."


def kiji_rows():
    return [
        {"text": K1, "language": "English", "country": "United States",
         "privacy_mask": [{"value": "Maria", "label": "FIRSTNAME"}, {"value": "Santos", "label": "SURNAME"},
                          {"value": "maria.santos@hospital.org", "label": "EMAIL"},
                          {"value": "Maria", "label": "FIRSTNAME"}],
         "coreferences": [{"mentions": ["Maria Santos", "she"], "entity_type": "person", "cluster_id": 0}]},
        {"text": K2, "language": "German", "country": "Austria",
         "privacy_mask": [{"value": "Anna", "label": "FIRSTNAME"}, {"value": "Gruber", "label": "SURNAME"},
                          {"value": "P1234567", "label": "IDCARDNUM"},
                          {"value": "sk-live-9f8e7d6c5b4a", "label": "SECURITYTOKEN"}],
         "coreferences": [{"mentions": [{"text": "Anna Gruber", "type": "name",
                                         "privacy_mask_labels": ["FIRSTNAME", "SURNAME"]},
                                        {"text": "Frau Gruber", "type": "reference"}],
                           "entity_type": "person", "cluster_id": 0}]},
        {"text": "Call Pieter on 06-12345678.", "language": "Dutch", "country": "Netherlands",
         "privacy_mask": [{"value": "Pieter", "label": "FIRSTNAME"},
                          {"value": "+31 6 12345678", "label": "PHONENUMBER"}],
         "coreferences": []},
        {"text": "Ticket from Lars about his account.", "language": "Danish", "country": "Denmark",
         "privacy_mask": [{"value": "Lars", "label": "FIRSTNAME"}, {"value": "account", "label": "OTHER"}],
         "coreferences": []},
    ]


def test_kiji_training_format():
    result = import_rows([(f"kiji.jsonl:{i + 1}", r) for i, r in enumerate(kiji_rows())],
                         origin="dataiku/kiji-pii-training-data")
    assert result.formats == Counter({"kiji": 2})
    assert result.reject_counts == Counter({"grounding": 1, "unrepresentable_label": 1})
    k1, k2 = result.samples
    assert (k1["language"], k1["country"]) == ("en", "US")
    assert [(s["label"], s["start"]) for s in k1["privacy_mask"]] == [
        ("FIRSTNAME", 12), ("SURNAME", 18), ("EMAIL", 28), ("FIRSTNAME", 55)]  # every occurrence of Maria
    [cluster] = k1["coreferences"]
    assert [(m["text"], m["type"]) for m in cluster["mentions"]] == [("Maria Santos", "name"), ("she", "pronoun")]
    assert cluster["mentions"][0]["privacy_mask_labels"] == ["FIRSTNAME", "SURNAME"]
    assert k1["meta"]["import"]["original"] == {"language": "English", "country": "United States"}
    assert (k2["language"], k2["country"]) == ("de", "AT")
    assert [s["label"] for s in k2["privacy_mask"]] == ["FIRSTNAME", "SURNAME", "NATIONALID", "PASSWORD", "SURNAME"]
    assert [m["text"] for m in k2["coreferences"][0]["mentions"]] == ["Anna Gruber", "Frau Gruber"]
    rejects = {r["where"]: r for r in result.rejects}
    assert rejects["kiji.jsonl:3"]["reason"] == \
        "kiji.jsonl:3: value '+31 6 12345678' (PHONENUMBER) not found in text"
    assert rejects["kiji.jsonl:4"]["reason"].startswith("kiji.jsonl:4: label(s) OTHER are PII without a catalogue")


def labelstudio_task(text, result, **extra):
    return {"data": {"text": text, "language": "English", "country": "United Kingdom", "file_name": extra.pop(
        "file_name")}, **extra, "predictions": [{"model_version": "x", "result": result}]}


def region(rid, text, value, label, nth=0):
    start = -1
    for _ in range(nth + 1):
        start = text.index(value, start + 1)
    return {"id": rid, "from_name": "entities", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": start + len(value), "text": value, "labels": [label] if label else []}}


def test_kiji_labelstudio_task_folder(tmp_path):
    text = "Jan Kowalski wrote again. Jan says he moved to Leeds."
    predicted = [region("e1", text, "Jan", "FIRSTNAME"), region("e2", text, "Kowalski", "SURNAME"),
                 region("e3", text, "Leeds", "CITY")]
    annotated = predicted + [region("m1", text, "Jan Kowalski", None), region("p1", text, "he", "PRONOUN"),
                             {"id": "r1", "type": "relation", "from_id": "p1", "to_id": "m1"}]
    folder = tmp_path / "training_samples"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(labelstudio_task(
        text, predicted, file_name="a.json",
        annotations=[{"id": 1, "was_cancelled": True, "result": []},
                     {"id": 2, "created_at": "2025-01-02T10:00:00", "result": annotated}])))
    (folder / "b.json").write_text(json.dumps(labelstudio_task(
        "Nothing personal here at all.", [], file_name="b.json")))
    result = import_source(folder, origin="kiji-proxy/model/dataset/data_samples/training_samples")
    assert result.accepted == 2 and not result.rejects
    a, b = result.samples
    # Kiji's own converter labelled only the first "Jan": grounding labels both
    assert [(s["label"], s["value"], s["start"]) for s in a["privacy_mask"]] == [
        ("FIRSTNAME", "Jan", 0), ("SURNAME", "Kowalski", 4), ("FIRSTNAME", "Jan", 26), ("CITY", "Leeds", 47)]
    [cluster] = a["coreferences"]
    assert [m["text"] for m in cluster["mentions"]] == ["Jan Kowalski", "he"]
    assert a["meta"]["import"]["original_id"] == "a.json" and a["meta"]["import"]["record"] == "a.json"
    assert (a["country"], b["privacy_mask"]) == ("GB", [])


# --- sources, detection, options -------------------------------------------------------------


def test_read_rows_files_and_saved_dataset(tmp_path, samples):
    from datasets import Dataset

    rows = [hf.row(s) for s in samples[:3]]
    write_jsonl(tmp_path / "validation.jsonl", rows)
    (tmp_path / "one.json").write_text(json.dumps(rows))
    pq.write_table(pa.Table.from_pylist(rows, schema=hf.features().arrow_schema), tmp_path / "x.parquet")
    Dataset.from_list(rows, features=hf.features()).save_to_disk(str(tmp_path / "saved"))

    assert [w for w, _ in read_rows(tmp_path / "validation.jsonl")] == [
        "validation.jsonl:1", "validation.jsonl:2", "validation.jsonl:3"]
    assert {r["_split"] for _, r in read_rows(tmp_path / "validation.jsonl")} == {"validation"}
    assert [w for w, _ in read_rows(tmp_path / "one.json")] == ["one.json[0]", "one.json[1]", "one.json[2]"]
    assert [w for w, _ in read_rows(tmp_path / "x.parquet")][-1] == "x.parquet row 2"
    saved = list(read_rows(tmp_path / "saved"))
    assert [w for w, _ in saved] == ["saved row 0", "saved row 1", "saved row 2"]
    assert saved[0][1]["_split"] is None
    for source in ("validation.jsonl", "one.json", "x.parquet", "saved"):
        result = import_source(tmp_path / source)
        assert [s["id"] for s in result.samples] == [r["id"] for r in rows], source
    with pytest.raises(FileNotFoundError):
        list(read_rows(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no"):
        list(read_rows(tmp_path / "empty"))


def test_split_names_from_paths():
    assert split_of(Path("data/train-00000-of-00001.parquet")) == "train"
    assert split_of(Path("data/validation/1english_openpii_8k.jsonl")) == "validation"
    assert split_of(Path("default/test/0000.parquet")) == "test"
    assert split_of(Path("english_pii_43k.jsonl")) is None


def test_detect_format_and_unknown_rows():
    assert detect_format({"source_text": "x", "privacy_mask": "[]"}) == "ai4privacy"
    assert detect_format({"text": "x", "privacy_mask": [{"value": "a", "label": "CITY"}]}) == "kiji"
    assert detect_format({"text": "x", "privacy_mask": [{"value": "a", "label": "CITY", "start": 0, "end": 1}]}) \
        == "pii_assets"
    assert detect_format({"text": "x", "privacy_mask": [], "language": "English"}) == "kiji"
    assert detect_format({"text": "x", "privacy_mask": [], "language": "en", "id": "abc"}) == "pii_assets"
    assert detect_format({"data": {"text": "x"}, "annotations": []}) == "kiji"
    with pytest.raises(RowError) as exc:
        to_sample({"sentence": "x", "tags": []}, where="odd.jsonl:2")
    assert exc.value.code == "unknown_format" and str(exc.value).startswith("odd.jsonl:2: unknown format")
    with pytest.raises(RowError, match="^row 0: row has no language: pass default_language$"):
        to_sample({"text": "Hi Bob", "privacy_mask": [{"value": "Bob", "label": "FIRSTNAME"}]}, where="row 0")
    sample = to_sample({"text": "Hi Bob", "privacy_mask": [{"value": "Bob", "label": "FIRSTNAME"}]},
                       default_language="de", default_country="AT")
    assert (sample["language"], sample["country"]) == ("de", "AT")
    with pytest.raises(RowError, match="coreferences is a string but not JSON") as exc:
        to_sample({"id": "x", "text": "Hi Bob", "privacy_mask": [], "coreferences": "[{broken", "language": "en"})
    assert exc.value.code == "malformed"
    with pytest.raises(RowError, match="country 'Atlantis'"):
        to_sample({"text": "Hi Bob", "privacy_mask": [], "language": "English", "country": "Atlantis"})


def test_limit_languages_and_streaming(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", ai4privacy_rows())
    assert import_source(path, limit=2).accepted == 2
    assert import_source(path, limit=2).rows == 2
    only = import_source(path, languages={"de", "nl"})
    assert [s["language"] for s in only.samples] == ["de", "nl"]
    assert only.skipped == Counter({"en": 3, "fr": 2, "es": 1, "it": 1})  # broken or not
    assert only.reject_counts == Counter({"unmapped_label": 1, "malformed": 1})  # de, and language unknown
    got, bad = [], []
    streamed = import_source(path, on_sample=got.append, on_reject=bad.append)
    assert (streamed.samples, streamed.rejects) == ([], [])
    assert (len(got), len(bad)) == (streamed.accepted, streamed.rejected) == (4, 7)


def test_resolve_local_path_or_hub_repo(tmp_path):
    calls = []

    def download(repo_id):
        calls.append(repo_id)
        return tmp_path

    assert resolve(tmp_path, download) == tmp_path and calls == []
    assert resolve("ai4privacy/pii-masking-400k", download) == tmp_path
    assert calls == ["ai4privacy/pii-masking-400k"]
    with pytest.raises(FileNotFoundError, match="neither an existing path nor a Hub repo id"):
        resolve("no such thing", download)


def test_mapping_tables_are_valid_and_documented():
    for fmt, table in LABEL_TABLES.items():
        for label, target in table.items():
            assert label == label.upper()
            assert target is None or target == IGNORE or target in DEFAULT, (fmt, label, target)
    assert check_mapping({"accountnum": "IBAN", "date": None}) == {"ACCOUNTNUM": "IBAN", "DATE": None}
    with pytest.raises(ValueError, match="target must be a catalogue label"):
        check_mapping({"ACCOUNTNUM": "BANKACCOUNT"})
    doc = (REPO / "docs" / "import.md").read_text(encoding="utf-8")
    for fmt in ("kiji", "ai4privacy"):
        assert mapping_markdown(fmt) in doc, f"docs/import.md lacks the current {fmt} table"
