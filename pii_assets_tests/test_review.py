import json

import numpy as np

from pii_assets.review import review_file
from pii_assets.samples import normalized_text_hash
from pii_assets.storage import read_jsonl


def _write(path, lines):
    path.write_text("\n".join(l if isinstance(l, str) else json.dumps(l) for l in lines) + "\n")


GOOD = {"text": "Card 4111 1111 1111 1111 belongs to Anna.", "language": "en", "country": "US",
        "privacy_mask": [{"value": "4111 1111 1111 1111", "label": "CREDITCARDNUMBER", "start": 5, "end": 24},
                         {"value": "Anna", "label": "FIRSTNAME", "start": 36, "end": 40}],
        "coreferences": [], "meta": {"batch": "b"}}


def test_every_line_ends_up_reviewed_or_rejected_with_a_reason(tmp_path):
    raw, ok, bad = tmp_path / "raw.jsonl", tmp_path / "ok.jsonl", tmp_path / "bad.jsonl"
    ungrounded = {"text": "Mail anna@example.com or ANNA@example.com, anna@example.com.",
                  "language": "en", "country": "US",
                  "privacy_mask": [{"value": "anna@example.com", "label": "EMAIL"}], "meta": {}}
    _write(raw, [
        GOOD,
        "{broken json",
        {**GOOD, "text": GOOD["text"] + "  "},                        # duplicate after normalisation
        {**GOOD, "text": "Card 4111 1111 1111 1112 belongs to Anna.",  # Luhn fails
         "privacy_mask": [{**GOOD["privacy_mask"][0], "value": "4111 1111 1111 1112"}]},
        {**GOOD, "privacy_mask": [{"value": "Anna", "label": "FIRSTNAME", "start": 0, "end": 4}]},
        ungrounded,
        {"text": "Call Bob", "language": "en", "country": "US",
         "privacy_mask": [{"value": "Robert", "label": "FIRSTNAME"}]},
    ])
    stats = review_file(raw, ok, bad)
    assert (stats.total, stats.accepted, stats.rejected) == (7, 2, 5)
    rejects = [r for _, r in read_jsonl(bad)]
    assert [r["code"] for r in rejects] == ["malformed_json", "duplicate_in_batch", "validator",
                                           "contract", "grounding"]
    assert rejects[0]["line"] == 2 and rejects[0]["record"] == "{broken json"
    assert "Luhn" in rejects[2]["reason"] and "line 4" in rejects[2]["reason"]
    assert "'Robert' (FIRSTNAME) not found" in rejects[4]["reason"]
    accepted = [s for _, s in read_jsonl(ok)]
    grounded = accepted[1]
    assert [s["start"] for s in grounded["privacy_mask"]] == [5, 43]  # both exact occurrences
    assert all(s["meta"]["review"]["by"] == "rules" for s in accepted)


def test_cross_batch_duplicates_are_rejected(tmp_path):
    raw, ok, bad = tmp_path / "raw.jsonl", tmp_path / "ok.jsonl", tmp_path / "bad.jsonl"
    _write(raw, [GOOD])
    prior = np.array([normalized_text_hash(GOOD["text"])], dtype=np.uint64)
    stats = review_file(raw, ok, bad, prior_hashes=prior)
    assert stats.reject_codes == {"duplicate_across_batches": 1}


def test_review_is_deterministic(tmp_path):
    raw = tmp_path / "raw.jsonl"
    _write(raw, [GOOD, {**GOOD, "text": GOOD["text"] + " Thanks."}])
    review_file(raw, tmp_path / "a.jsonl", tmp_path / "ra.jsonl")
    review_file(raw, tmp_path / "b.jsonl", tmp_path / "rb.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_verify_file_catches_tampering_and_duplicates(tmp_path):
    from pii_assets.review import verify_file
    from pii_assets.samples import validate

    good = validate(json.loads(json.dumps(GOOD)))
    tampered = {**good, "text": good["text"].replace("Card", "Kard")}  # id no longer matches
    other = validate({**json.loads(json.dumps(GOOD)), "text": GOOD["text"] + " Thanks."})
    path = tmp_path / "reviewed.jsonl"
    _write(path, [good, tampered, other, good])
    result = verify_file(path)
    assert (result.samples, result.invalid, result.duplicate_ids, result.duplicate_texts) == (4, 1, 1, 1)
    assert "reviewed.jsonl:2" in result.first_problem and "id does not match" in result.first_problem
