"""A batch's tasks -> annotated samples: policies, cancellations, rejects, duplicates."""

import pytest

from pii_assets.labelstudio.annotations import PolicyError, collect
from pii_assets.labelstudio.convert import sample_to_task


def tasks_for(samples, annotate):
    out = []
    for i, sample in enumerate(samples):
        task = {**sample_to_task(sample, "b"), "id": i + 1, "annotations": []}
        if i in annotate:
            task["annotations"] = [{"id": 100 + i, "was_cancelled": annotate[i] == "cancel",
                                    "updated_at": "2026-11-22T10:00:00Z",
                                    "result": [] if annotate[i] == "empty" else task["predictions"][0]["result"]}]
        out.append(task)
    return out


def test_offline_every_sample_is_machine_reviewed_and_included(corpus):
    reviewed = {s["id"]: s for s in corpus[:20]}
    result = collect(reviewed, None)
    assert result.samples == list(reviewed.values()) and result.machine_included == 20 and result.human == 0
    assert collect(reviewed, None, "exclude").samples == []


def test_human_cancelled_unreviewed_and_policy(corpus):
    picked = [s for s in corpus if s["privacy_mask"]][:6]
    reviewed = {s["id"]: s for s in picked}
    tasks = tasks_for(picked, {0: "keep", 1: "cancel", 2: "empty"})
    result = collect(reviewed, tasks)
    assert (result.human, result.cancelled, result.machine_included) == (2, 1, 3)
    human_empty = next(s for s in result.samples if s["meta"].get("source_sample_id") == picked[2]["id"])
    assert human_empty["privacy_mask"] == []  # the reviewer removed every span: that is the sample now
    strict = collect(reviewed, tasks, "exclude")
    assert len(strict.samples) == 2 and strict.unreviewed_excluded == 3
    with pytest.raises(PolicyError, match="'sometimes'"):
        collect(reviewed, tasks, "sometimes")


def test_a_bad_annotation_is_rejected_and_the_rest_processed(corpus):
    picked = [s for s in corpus if s["privacy_mask"]][:3]
    tasks = tasks_for(picked, {0: "keep", 1: "keep"})
    tasks[0]["annotations"][0]["result"][0]["value"]["end"] = 10**6
    result = collect({s["id"]: s for s in picked}, tasks)
    assert [r["task_id"] for r in result.rejects] == [1] and "outside the text" in result.rejects[0]["reason"]
    assert result.human == 1 and result.machine_included == 1 and len(result.samples) == 2
