import pytest

from pii_assets.training.release import SPLIT_SEED, ReleaseError, split_of, validate_release_key


def test_splits_are_stable_across_releases_and_roughly_80_10_10():
    groups = [f"en:g{i}" for i in range(5000)]
    splits = [split_of(g, SPLIT_SEED) for g in groups]
    assert splits == [split_of(g, SPLIT_SEED) for g in groups]
    share = {s: splits.count(s) / len(splits) for s in ("train", "validation", "test")}
    assert 0.77 < share["train"] < 0.83 and 0.08 < share["test"] < 0.12


@pytest.mark.parametrize("key", ["", "../r", "a/b", "x" * 65, "r..1"])
def test_invalid_release_keys(key):
    with pytest.raises(ReleaseError):
        validate_release_key(key)
