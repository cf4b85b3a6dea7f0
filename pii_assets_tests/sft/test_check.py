import json
import shutil

import pytest

from pii_assets.sft import check_sft


@pytest.fixture
def copy(built, tmp_path):
    directory, _ = built
    target = tmp_path / "sft"
    shutil.copytree(directory, target)
    return target


def _result(directory, name, **kwargs):
    return next(r for r in check_sft(directory, **kwargs) if r.name == name)


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _rewrite(directory, split, keep):
    """Keep the lines (and their meta lines) of a split for which ``keep(row, meta)`` is true."""
    rows, metas = _lines(directory / f"sft_{split}.jsonl"), _lines(directory / f"sft_{split}.meta.jsonl")
    kept = [(r, m) for r, m in zip(rows, metas, strict=True) if keep(json.loads(r), json.loads(m))]
    (directory / f"sft_{split}.jsonl").write_text("".join(r for r, _ in kept), encoding="utf-8")
    (directory / f"sft_{split}.meta.jsonl").write_text("".join(m for _, m in kept), encoding="utf-8")


def test_a_bad_json_line_is_reported_with_file_and_line(copy):
    path = copy / "sft_train.jsonl"
    n = len(_lines(path))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"instruction": "x", "input": \n')
    schema = _result(copy, "schema")
    assert not schema.passed
    assert f"sft_train.jsonl:{n + 1}: not JSON" in schema.detail


@pytest.mark.parametrize("edit, reason", [
    (lambda row, out: out.update(confidence_score=1.5), "confidence_score 1.5 is not a number in 0..1"),
    (lambda row, out: out.update(is_sensitive="yes"), "is_sensitive is not a boolean"),
    (lambda row, out: out.pop("explanation"), "output must have exactly"),
    (lambda row, out: row.update(instruction="Content: " + row["instruction"]),
     "instruction is not 'Category: <LABEL> (<description>).'"),
    (lambda row, out: row.update(instruction=row["instruction"].replace("Category: ", "Category: NOPE", 1)),
     "unknown category"),
    (lambda row, out: row.update(system="You are helpful."), "system is not the task statement"),
    (lambda row, out: row.pop("system"), "keys"),
    (lambda row, out: row.update(extra=1), "keys"),
])
def test_schema_errors_name_the_line_and_reason(copy, edit, reason):
    path = copy / "sft_validation.jsonl"
    lines = _lines(path)
    row = json.loads(lines[2])
    out = json.loads(row["output"])
    edit(row, out)
    row["output"] = json.dumps(out)
    lines[2] = json.dumps(row, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    schema = _result(copy, "schema")
    assert not schema.passed
    assert "sft_validation.jsonl:3: " in schema.detail and reason in schema.detail


def test_output_that_is_not_a_json_string_is_caught(copy):
    path = copy / "sft_train.jsonl"
    lines = _lines(path)
    row = json.loads(lines[0])
    row["output"] = "yes, sensitive"
    lines[0] = json.dumps(row) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    assert "sft_train.jsonl:1: output is not a JSON string" in _result(copy, "schema").detail


def test_too_few_hard_negatives_in_a_category(copy):
    dropped = []

    def keep(row, meta):
        if meta["category"] == "IBAN" and meta["kind"] == "hard_negative" and len(dropped) < 40:
            dropped.append(meta)
            return False
        return True

    _rewrite(copy, "train", keep)
    result = _result(copy, "hard_negative_ratio")
    assert not result.passed and "train IBAN: hard-negative ratio" in result.detail
    assert "FIRSTNAME" not in result.detail


def test_unbalanced_positives(copy):
    _rewrite(copy, "train", lambda row, meta: meta["kind"] == "positive" or meta["line"] % 3 == 0)
    result = _result(copy, "positive_ratio")
    assert not result.passed and "positive ratio" in result.detail


def test_text_in_both_splits(copy):
    row = _lines(copy / "sft_train.jsonl")[5]
    meta = _lines(copy / "sft_train.meta.jsonl")[5]
    with open(copy / "sft_validation.jsonl", "a", encoding="utf-8") as fh:
        fh.write(row)
    with open(copy / "sft_validation.meta.jsonl", "a", encoding="utf-8") as fh:
        fh.write(meta)
    result = _result(copy, "split_overlap")
    assert not result.passed and "1 content texts occur in both" in result.detail


def test_duplicate_examples(copy):
    path = copy / "sft_train.jsonl"
    lines = _lines(path)
    metas = _lines(copy / "sft_train.meta.jsonl")
    path.write_text("".join(lines + lines[:2]), encoding="utf-8")
    (copy / "sft_train.meta.jsonl").write_text("".join(metas + metas[:2]), encoding="utf-8")
    result = _result(copy, "duplicates")
    assert not result.passed and "train: 2 duplicate" in result.detail


def test_validation_share_and_minimum_per_category(copy):
    _rewrite(copy, "validation", lambda row, meta: meta["line"] <= 30)
    assert not _result(copy, "validation_share").passed
    minimum = _result(copy, "min_per_category", min_per_category=10_000)
    assert not minimum.passed and "train FIRSTNAME:" in minimum.detail


def test_dataset_info_pointing_to_a_missing_file(copy):
    info = json.loads((copy / "dataset_info.json").read_text())
    info["pii_sft_validation"]["file_name"] = "nope.jsonl"
    (copy / "dataset_info.json").write_text(json.dumps(info))
    result = _result(copy, "dataset_info")
    assert not result.passed and "'nope.jsonl' does not exist" in result.detail
    (copy / "dataset_info.json").unlink()
    assert not _result(copy, "dataset_info").passed


def test_missing_meta_and_missing_files(copy):
    (copy / "sft_train.meta.jsonl").unlink()
    results = {r.name: r for r in check_sft(copy)}
    assert not results["meta"].passed and "sft_train.meta.jsonl: missing" in results["meta"].detail
    assert not results["hard_negative_ratio"].passed
    (copy / "sft_validation.jsonl").unlink()
    results = {r.name: r for r in check_sft(copy)}
    assert not results["schema"].passed and not results["data"].passed
