import json
import re
from collections import Counter
from urllib.parse import quote

import pytest

from pii_assets.batches import BatchSpec
from pii_assets.catalogue import DEFAULT, Label
from pii_assets.generator.offline import OfflineGenerator
from pii_assets.samples import validate
from pii_assets.sft import DATASET_NAMES, FILES, SYSTEM, SftConfig, build_sft, check_sft, stats_markdown
from pii_assets.sft.negatives import KINDS
from pii_assets.sft.obfuscate import DIGIT_WORDS, LANGUAGES, OBFUSCATIONS
from pii_assets.training.release import SPLIT_SEED, split_of
from pii_assets_tests.sft.conftest import CONFIG, SEED

OUTPUT_FILES = ("sft_train.jsonl", "sft_validation.jsonl", "sft_train.meta.jsonl", "sft_validation.meta.jsonl",
                "dataset_info.json", "sft_stats.json")


def _bytes(directory, names=OUTPUT_FILES):
    return {name: (directory / name).read_bytes() for name in names}


def test_release_passes_every_check(built):
    directory, stats = built
    results = check_sft(directory)
    assert [r.name for r in results] == ["dataset_info", "schema", "meta", "positive_ratio", "hard_negative_ratio",
                                         "min_per_category", "validation_share", "split_overlap", "duplicates"]
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    assert 0.45 <= stats["positive_ratio"] <= 0.55 and 0.05 <= stats["validation_share"] <= 0.10
    assert stats["source_samples"]["test"] > 100  # the test split was there, and skipped


def test_dataset_info_is_the_llamafactory_alpaca_entry(built):
    directory, _ = built
    info = json.loads((directory / "dataset_info.json").read_text())
    assert info == {DATASET_NAMES[s]: {"file_name": FILES[s], "formatting": "alpaca",
                                       "columns": {"system": "system", "prompt": "instruction", "query": "input",
                                                   "response": "output"}}
                    for s in ("train", "validation")}


def test_stats_cover_every_category_and_match_the_files(built, examples):
    directory, stats = built
    written = json.loads((directory / "sft_stats.json").read_text())
    assert written == {k: val for k, val in stats.items() if k != "build_seconds"}
    for split in ("train", "validation"):
        per_category = stats["splits"][split]["per_category"]
        assert set(per_category) == set(DEFAULT.names)
        counted = Counter(meta["category"] for *_, meta in examples[split])
        assert {name: c["examples"] for name, c in per_category.items()} == {n: counted[n] for n in DEFAULT.names}
        for name, c in per_category.items():
            assert c["positives"] == c["negatives"]  # 50/50 within every category
            if split == "train":
                assert 0.30 <= c["hard_negative_ratio"] <= 0.40, name
    assert "| IBAN |" in stats_markdown(stats)


def test_validation_mirrors_train(built):
    _, stats = built
    train, val = stats["splits"]["train"], stats["splits"]["validation"]
    for key in ("hard_negative_ratio", "obfuscated_ratio_of_positives"):
        assert abs(train[key] - val[key]) < 0.03, key
    assert abs(train["wrapped"] / train["examples"] - val["wrapped"] / val["examples"]) < 0.03
    # category-balanced: every category in validation, in proportion to train
    for name in DEFAULT.names:
        share = val["per_category"][name]["examples"] / (val["per_category"][name]["examples"]
                                                         + train["per_category"][name]["examples"])
        assert 0.04 <= share <= 0.12, name


def test_same_input_and_seed_give_the_same_bytes_whatever_the_order(release_pairs, built, tmp_path):
    directory, _ = built
    build_sft(list(reversed(release_pairs)), tmp_path / "again", seed=SEED, config=CONFIG)
    assert _bytes(tmp_path / "again") == _bytes(directory)
    build_sft(release_pairs, tmp_path / "other", seed=SEED + 1, config=CONFIG)
    assert _bytes(tmp_path / "other", FILES.values()) != _bytes(directory, FILES.values())


def test_test_split_samples_are_never_used(release_pairs, built, examples, tmp_path):
    directory, _ = built
    without_test = [(s, split) for s, split in release_pairs if split != "test"]
    build_sft(without_test, tmp_path / "no-test", seed=SEED, config=CONFIG)
    jsonl = ("sft_train.jsonl", "sft_validation.jsonl", "sft_train.meta.jsonl", "sft_validation.meta.jsonl")
    assert _bytes(tmp_path / "no-test", jsonl) == _bytes(directory, jsonl)
    ids = {split: {s["id"] for s, sp in release_pairs if sp == split} for split in ("train", "validation", "test")}
    for split, rows in examples.items():
        used = {meta["sample_id"] for *_, meta in rows} | {meta.get("context_sample_id") for *_, meta in rows}
        assert used - {None} <= ids[split]


def test_examples_are_grounded_in_their_source(release_pairs, examples):
    samples = {s["id"]: s for s, _ in release_pairs}
    for row, out, content, meta in examples["train"]:
        assert row["instruction"].startswith(f"Category: {meta['category']} (") and row["system"] == SYSTEM
        assert out["is_sensitive"] == (meta["kind"] == "positive")
        value = meta.get("value")
        if meta["variant"] == "pixel":
            assert quote(value, safe="") in content
        elif meta.get("obfuscation"):
            assert meta["shown"] in content and meta["value"] in out["explanation"]
        elif value is not None:
            assert value in content and value[:59] in out["explanation"]
        if meta["kind"] == "negative" and not meta.get("wrapped"):
            # an ordinary negative is a window of its sample with no value of the category in it
            sample = samples[meta["sample_id"]]
            start = sample["text"].find(content)
            assert start >= 0
            assert not any(s["label"] == meta["category"] and s["start"] < start + len(content) and s["end"] > start
                           for s in sample["privacy_mask"])


def test_snippets_are_short(examples):
    lengths = [len(content) for _, _, content, meta in examples["train"]
               if meta["variant"] in ("plain", "other_pii") and not meta.get("wrapped")]
    assert max(lengths) <= 200
    assert sum(lengths) / len(lengths) < 140


def test_hard_negatives_do_not_validate_as_their_category(examples):
    strict = {"IBAN", "CREDITCARDNUMBER", "SSN", "NATIONALID", "TAXNUM", "PHONENUMBER", "DATEOFBIRTH", "AGE", "ZIP",
              "PASSPORTID", "DRIVERLICENSENUM", "LICENSEPLATENUM"}
    kinds = Counter()
    for split, rows in examples.items():
        for _, out, content, meta in rows:
            if meta["kind"] != "hard_negative":
                continue
            kinds[meta["category"]] += 1
            rejected = DEFAULT.validate_value(meta["category"], meta["value"], meta["country"]) is not None
            assert rejected == meta["validator_rejected"]
            if meta["category"] in strict:
                assert rejected, meta
            elif not rejected:  # only documented placeholders and non-PII names pass a shape-only validator
                assert KINDS[meta["hard_kind"]].semantic, meta
            assert meta["value"] in out["explanation"] and ", not " in out["explanation"]
    assert set(kinds) == set(DEFAULT.names)


def test_every_obfuscation_and_context_kind_is_present(examples):
    rows = examples["train"]
    metas = [meta for *_, meta in rows]
    assert {m["obfuscation"] for m in metas if m.get("obfuscation")} == set(OBFUSCATIONS)
    wordified = {m["language"] for m in metas if m.get("obfuscation") == "wordified"}
    assert len(wordified) >= 5
    for kind in ("positive", "hard_negative"):
        assert {m["variant"] for m in metas if m["kind"] == kind} >= {"log", "pixel"}
    assert {m["wrapped"] for m in metas if m.get("wrapped")} == set(LANGUAGES)
    assert any(m.get("wrapped") and m["wrapped"] != m["language"] for m in metas)
    assert any(m.get("wrapped") and m["wrapped"] == m["language"] for m in metas)
    contents = [content for *_, content, _ in rows]
    assert any(re.search(r"GET /\S+\?\S*=\S*%40", c) for c in contents)  # an e-mail in a pixel request
    assert any(re.match(r"\d{4}-\d\d-\d\dT\S+Z (INFO|DEBUG|WARN) ", c) for c in contents)
    # the examples of the brief, in the text's language
    assert any(m.get("obfuscation") == "wordified" and set(m["shown"].split()) & set(DIGIT_WORDS[m["language"]])
               and m["language"] == "de" for m in metas)
    assert any(m.get("obfuscation") == "email_words" for m in metas)
    assert {m["hard_kind"] for m in metas if m["category"] == "CREDITCARDNUMBER" and m.get("hard_kind")} >= {
        "luhn_fail", "masked_card"}


def test_split_errors_are_reported(release_pairs, tmp_path):
    sample = release_pairs[0][0]
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        build_sft([(sample, "dev")], tmp_path)
    with pytest.raises(ValueError, match="in both train and validation"):
        build_sft([(sample, "train"), (sample, "validation")], tmp_path)


def test_a_new_catalogue_label_becomes_a_category(tmp_path):
    mrn = Label("MEDICAL_RECORD_NUMBER", "Medical record number", "#123456", 1.5, "MRN-1234567",
                lambda value, country: None if re.fullmatch(r"MRN-\d{7}", value) else "not an MRN",
                "Medical record number", pattern=r"MRN-\d{7}")
    catalogue = DEFAULT.with_label(mrn)
    samples = [validate(s, catalogue=catalogue)
               for s in OfflineGenerator(BatchSpec("sft-mrn", size=700, seed=5), catalogue).generate()]
    pairs = [(s, split_of(s["id"], SPLIT_SEED)) for s in samples]
    stats = build_sft(pairs, tmp_path, catalogue=catalogue, seed=1, config=SftConfig(max_positives_per_category=60))
    mrn_stats = stats["splits"]["train"]["per_category"]["MEDICAL_RECORD_NUMBER"]
    assert mrn_stats["positives"] >= 20 and 0.30 <= mrn_stats["hard_negative_ratio"] <= 0.40
    results = {r.name: r for r in check_sft(tmp_path, catalogue=catalogue)}
    assert results["schema"].passed and results["hard_negative_ratio"].passed, results
    assert not check_sft(tmp_path)[1].passed  # the default catalogue does not know the new category
