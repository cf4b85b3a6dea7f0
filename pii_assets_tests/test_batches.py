import json

import pytest

from pii_assets.batches import BatchSpec, BatchSpecError, declare_batch, load_spec, validate_batch_key
from pii_assets.storage import LocalStorage


@pytest.mark.parametrize("key", ["", "a/b", "..", "a..b", "../x", "x" * 65, "-lead", "a b", "ä", None])
def test_invalid_batch_keys_are_rejected_with_the_key(key):
    with pytest.raises(BatchSpecError):
        validate_batch_key(key)


@pytest.mark.parametrize("key", ["b1", "2026-11-22.demo", "A_b-c", "x" * 64])
def test_valid_batch_keys(key):
    assert validate_batch_key(key) == key


@pytest.mark.parametrize("spec,message", [
    (BatchSpec("b", languages=("en", "xx")), "unknown language 'xx'"),
    (BatchSpec("b", label_weights={"NAME": 1.0}), "unknown label 'NAME'"),
    (BatchSpec("b", provider="gpt"), "unknown provider 'gpt'"),
    (BatchSpec("b", size=0), "size must be"),
    (BatchSpec("b", no_pii_ratio=1.5), "no_pii_ratio"),
    (BatchSpec("b", no_pii_ratio=0.5, short_ratio=0.6), "add up to more than 1"),
    (BatchSpec("b", label_weights={"EMAIL": -1}), "weight of EMAIL"),
])
def test_bad_specs_name_the_batch_and_the_reason(spec, message):
    with pytest.raises(BatchSpecError, match=message) as err:
        spec.validate()
    assert "batch 'b'" in str(err.value)


def test_declare_is_idempotent_and_immutable(tmp_path):
    storage = LocalStorage(tmp_path)
    spec = BatchSpec("b1", size=10, languages=("en", "de"), label_weights={"AGE": 0.0})
    assert declare_batch(storage, spec) is True
    assert declare_batch(storage, spec) is False
    assert load_spec(storage, "b1") == spec
    with pytest.raises(BatchSpecError, match="already declared with a different spec"):
        declare_batch(storage, BatchSpec("b1", size=11))
    assert storage.declared_batches() == ["b1"]
    assert [p.name for p in (tmp_path / "batches" / "b1").iterdir()] == ["spec.json"]


def test_invalid_spec_leaves_nothing_behind(tmp_path):
    storage = LocalStorage(tmp_path)
    with pytest.raises(BatchSpecError):
        declare_batch(storage, BatchSpec("b1", languages=("zz",)))
    assert not (tmp_path / "batches").exists()


def test_corrupt_or_unknown_spec_file_is_a_clear_error(tmp_path):
    storage = LocalStorage(tmp_path)
    with pytest.raises(BatchSpecError, match="'nope' is not declared"):
        load_spec(storage, "nope")
    path = storage.batch_file("b2", "spec.json")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(BatchSpecError, match="b2.*not valid JSON"):
        load_spec(storage, "b2")
    path.write_text(json.dumps({"key": "b2", "colour": "red"}))
    with pytest.raises(BatchSpecError, match="unknown spec fields colour"):
        load_spec(storage, "b2")
