"""Samples <-> Label Studio tasks without a server."""

import copy

import pytest

from pii_assets.labelstudio.convert import TaskError, latest_annotation, sample_to_task, task_to_sample


def annotated(task, result, **extra):
    return {**task, "id": 7, "annotations": [{"id": 1, "result": result, "was_cancelled": False,
                                               "updated_at": "2026-11-22T10:00:00Z", **extra}]}


def test_round_trip_keeps_every_sample_identical(corpus):
    originals = {s["id"]: s for s in corpus}
    for sample in corpus:
        task = sample_to_task(sample, "b1")
        assert task["data"] == {"text": sample["text"], "sample_id": sample["id"], "batch": "b1",
                                "language": sample["language"], "country": sample["country"]}
        back = task_to_sample(annotated(task, task["predictions"][0]["result"]), originals)
        assert back["id"] == sample["id"] and back["privacy_mask"] == sample["privacy_mask"]
        assert back["meta"]["review"]["by"] == "human" and back["meta"]["source_sample_id"] == sample["id"]


def test_latest_non_cancelled_annotation_wins():
    task = {"annotations": [
        {"id": 1, "updated_at": "2026-11-22T10:00:00Z", "was_cancelled": False, "result": []},
        {"id": 2, "updated_at": "2026-11-22T12:00:00Z", "was_cancelled": False, "result": [1]},
        {"id": 3, "updated_at": "2026-11-22T13:00:00Z", "was_cancelled": True, "result": [2]}]}
    assert latest_annotation(task)["id"] == 2
    assert latest_annotation({"annotations": [{"id": 3, "was_cancelled": True}]}) is None
    assert latest_annotation({"annotations": []}) is None


def test_human_edits_become_the_sample(corpus):
    sample = next(s for s in corpus if len(s["privacy_mask"]) >= 3 and s["coreferences"])
    originals = {sample["id"]: sample}
    task = sample_to_task(sample, "b1")
    result = copy.deepcopy(task["predictions"][0]["result"])
    regions = [r for r in result if r["type"] == "labels" and r["from_name"] == "label"]
    relabelled, deleted = regions[0], regions[1]
    relabelled["value"]["labels"] = ["COMPANYNAME"]
    result.remove(deleted)
    text = sample["text"]
    free = next(i for i in range(len(text) - 4) if text[i:i + 4].isalpha()
                and all(not (s["start"] < i + 4 and i < s["end"]) for s in sample["privacy_mask"]))
    result.append({"id": "new1", "from_name": "label", "to_name": "text", "type": "labels",
                   "value": {"start": free, "end": free + 4, "text": text[free:free + 4], "labels": ["USERNAME"]}})
    back = task_to_sample(annotated(task, result), originals)
    spans = {(s["start"], s["end"]): s["label"] for s in back["privacy_mask"]}
    assert spans[(relabelled["value"]["start"], relabelled["value"]["end"])] == "COMPANYNAME"
    assert (deleted["value"]["start"], deleted["value"]["end"]) not in spans
    assert spans[(free, free + 4)] == "USERNAME" and back["id"] != sample["id"]


def test_a_relation_between_catalogue_regions_is_a_coreference_cluster(corpus):
    sample = next(s for s in corpus if len(s["privacy_mask"]) >= 2 and not s["coreferences"])
    task = sample_to_task(sample, "b1")
    result = task["predictions"][0]["result"] + [
        {"type": "relation", "from_id": "s0", "to_id": "s1", "direction": "right", "labels": ["coreference"]}]
    back = task_to_sample(annotated(task, result), {sample["id"]: sample})
    (cluster,) = back["coreferences"]
    assert [m["start"] for m in cluster["mentions"]] == [sample["privacy_mask"][0]["start"],
                                                          sample["privacy_mask"][1]["start"]]
    assert all(m["type"] == "name" for m in cluster["mentions"])


@pytest.mark.parametrize("edit,reason", [
    (lambda r: r["value"].update(start=-1), "offsets -1.."),
    (lambda r: r["value"].update(end=10**6), "outside the text"),
    (lambda r: r["value"].update(text="nope"), "its text 'nope' !="),
    (lambda r: r["value"].update(labels=["NAME_OF_PET"]), "unknown label 'NAME_OF_PET'"),
    (lambda r: r["value"].update(labels=[]), "exactly one is needed"),
])
def test_bad_regions_reject_the_task_with_its_id_and_reason(corpus, edit, reason):
    sample = next(s for s in corpus if s["privacy_mask"])
    task = sample_to_task(sample, "b1")
    result = copy.deepcopy(task["predictions"][0]["result"])
    edit(result[0])
    with pytest.raises(TaskError) as err:
        task_to_sample(annotated(task, result), {sample["id"]: sample})
    assert err.value.task_id == 7 and reason in str(err.value) and str(err.value).startswith("task 7: region s0")


def test_unannotated_or_cancelled_tasks_give_no_sample(corpus):
    task = sample_to_task(corpus[0], "b1")
    assert task_to_sample({**task, "id": 1, "annotations": []}, {}) is None
    assert task_to_sample({**task, "id": 1, "annotations": [{"id": 1, "was_cancelled": True, "result": []}]}, {}) is None
