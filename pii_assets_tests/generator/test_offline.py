from collections import Counter

import pytest

from pii_assets.batches import BatchSpec
from pii_assets.catalogue import DEFAULT, Label
from pii_assets.generator.locales import LOCALES
from pii_assets.generator.offline import GENRES, OfflineGenerator
from pii_assets.review import review_sample
from pii_assets.samples import dumps

N = 3000


@pytest.fixture(scope="module")
def batch():
    return list(OfflineGenerator(BatchSpec("gen-test", size=N, seed=3)).generate())


def test_every_sample_passes_review_contract_and_validators(batch):
    for i, sample in enumerate(batch):
        review_sample(dict(sample), i + 1)  # raises Reject with the reason


def test_all_labels_languages_and_genres_appear(batch):
    labels = Counter(span["label"] for s in batch for span in s["privacy_mask"])
    assert set(labels) == set(DEFAULT.names)
    assert min(labels.values()) >= 20
    langs = Counter(s["language"] for s in batch)
    assert set(langs) == set(LOCALES) and min(langs.values()) > N / 6 * 0.8
    assert all(s["country"] == LOCALES[s["language"]].country for s in batch)
    assert {s["meta"]["genre"] for s in batch} == set(GENRES)


def test_density_no_pii_short_and_long_documents_and_hard_negatives(batch):
    kinds = Counter(s["meta"]["kind"] for s in batch)
    assert 0.07 < kinds["no_pii"] / N < 0.13
    assert 0.21 < kinds["short"] / N < 0.29
    for s in (s for s in batch if s["meta"]["kind"] == "short"):
        assert s["privacy_mask"] and len(s["meta"]["templates"]) <= 2 and len(s["text"]) < 400, s["text"]
    assert all(not s["privacy_mask"] for s in batch if s["meta"]["kind"] == "no_pii")
    pii = [s for s in batch if s["meta"]["kind"] != "no_pii"]
    assert sum(len(s["privacy_mask"]) for s in batch) / N >= 3
    long_docs = [s for s in batch if s["meta"]["kind"] == "long"]
    assert len(long_docs) > N * 0.06
    for s in long_docs:
        assert s["text"].count("\n\n") >= 2
        pii_chars = sum(span["end"] - span["start"] for span in s["privacy_mask"])
        assert pii_chars / len(s["text"]) < 0.25
    with_negatives = sum(any("/neg/" in t for t in s["meta"]["templates"]) for s in batch)
    assert with_negatives > N * 0.25
    assert len(pii) > N * 0.85


def test_kind_ratios_are_honoured():
    spec = BatchSpec("ratios", size=400, seed=1, no_pii_ratio=0, long_document_ratio=0, short_ratio=1)
    assert {s["meta"]["kind"] for s in OfflineGenerator(spec).generate()} == {"short"}
    spec = BatchSpec("ratios", size=400, seed=1, short_ratio=0)
    assert "short" not in {s["meta"]["kind"] for s in OfflineGenerator(spec).generate()}


def test_coreference_clusters_link_names_pronouns_and_references(batch):
    types = Counter(m["type"] for s in batch for c in s["coreferences"] for m in c["mentions"])
    assert types["name"] > 0 and types["pronoun"] > 0 and types["reference"] > 0
    assert sum(bool(s["coreferences"]) for s in batch) > N * 0.4
    repeated = sum(len({sp["value"] for sp in s["privacy_mask"]}) < len(s["privacy_mask"]) for s in batch)
    assert repeated > N * 0.05  # repeated mentions of the same value
    for s in batch:
        for c in s["coreferences"]:
            assert len(c["mentions"]) >= 2
            for m in c["mentions"]:
                if m["type"] == "name":
                    assert m["privacy_mask_labels"]


def test_variety_compositions_casing_and_formats(batch):
    composed = [s for s in batch if s["meta"]["kind"] != "short"]  # a short text is one or two lines
    assert len({tuple(s["meta"]["templates"]) for s in composed}) > 0.95 * len(composed)
    assert len({s["text"] for s in batch}) > 0.99 * N  # a few one-line form fields repeat ("Country: Italy")
    firsts = [sp["value"] for s in batch for sp in s["privacy_mask"] if sp["label"] == "FIRSTNAME"]
    assert any(v.isupper() for v in firsts) and any(v.islower() for v in firsts)
    starts = Counter(s["privacy_mask"][0]["start"] for s in batch if s["privacy_mask"])
    assert len(starts) > 200  # the first entity is not always at the same place


def test_deterministic_and_order_independent():
    spec = BatchSpec("det", size=60, languages=("de", "fr"), seed=5)
    a = [dumps(s) for s in OfflineGenerator(spec).generate()]
    b = [dumps(s) for s in OfflineGenerator(spec).generate()]
    assert a == b
    assert dumps(OfflineGenerator(spec).sample(42)) == a[42]
    other = [dumps(s) for s in OfflineGenerator(BatchSpec("det", size=60, languages=("de", "fr"), seed=6)).generate()]
    assert len(set(a) & set(other)) == 0


def test_label_weights_zero_disables_a_label():
    spec = BatchSpec("w", size=400, languages=("en", "it"), label_weights={"EMAIL": 0, "FIRSTNAME": 0})
    labels = {sp["label"] for s in OfflineGenerator(spec).generate() for sp in s["privacy_mask"]}
    assert "EMAIL" not in labels and "FIRSTNAME" not in labels and "IBAN" in labels


def test_a_new_catalogue_label_is_generated_without_template_changes():
    catalogue = DEFAULT.with_label(Label("MEDICAL_RECORD_NUMBER", "Medical record number", "#123456", 3.0,
                                         "MRN-1234567", field_name="MRN", pattern=r"MRN-\d{7}"))
    spec = BatchSpec("mrn", size=400, languages=("en", "nl"))
    samples = list(OfflineGenerator(spec, catalogue).generate())
    mrns = [sp for s in samples for sp in s["privacy_mask"] if sp["label"] == "MEDICAL_RECORD_NUMBER"]
    assert len(mrns) > 20
    for i, s in enumerate(samples):
        review_sample(dict(s), i + 1, catalogue)


def test_reproducible_across_processes_and_hash_seeds():
    """Byte-identical batches from fresh interpreters with different PYTHONHASHSEED values."""
    import os
    import subprocess
    import sys

    code = ("import hashlib; from pii_assets.batches import BatchSpec; "
            "from pii_assets.generator.offline import OfflineGenerator; from pii_assets.samples import dumps; "
            "h = hashlib.sha256(); [h.update(dumps(s).encode()) for s in "
            "OfflineGenerator(BatchSpec('xproc', size=300, seed=2)).generate()]; print(h.hexdigest())")
    digests = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(digests) == 1


def test_seeded_invalid_values_are_rejected_with_their_reason_and_leave_the_rest_unchanged():
    from pii_assets.review import Reject

    spec = BatchSpec("inv", size=150, seed=4, languages=("en", "de", "es", "it"))
    clean = list(OfflineGenerator(spec).generate())
    seeded = list(OfflineGenerator(BatchSpec(**{**spec.to_json(), "languages": spec.languages,
                                                "invalid_ratio": 0.1})).generate())
    changed = [i for i, (a, b) in enumerate(zip(clean, seeded)) if a != b]
    assert 5 <= len(changed) <= 30 and all("seeded_invalid" in seeded[i]["meta"] for i in changed)
    for i in changed:
        assert len(seeded[i]["text"]) == len(clean[i]["text"])  # one character changed, offsets hold
        with pytest.raises(Reject) as rejected:
            review_sample(seeded[i], i + 1)
        assert rejected.value.code == "validator" and seeded[i]["meta"]["seeded_invalid"] in str(rejected.value)
