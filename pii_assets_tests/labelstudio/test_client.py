"""Against a real Label Studio server: project, idempotent imports, human annotations back to samples."""

import copy

import pytest

from pii_assets.catalogue import DEFAULT, Label
from pii_assets.labelstudio.client import IMPORT_CHUNK, LabelStudioClient, LabelStudioError
from pii_assets.labelstudio.convert import sample_to_task, task_to_sample


@pytest.fixture(scope="module")
def client(labelstudio_server):
    return LabelStudioClient(labelstudio_server["url"], labelstudio_server["token"])


def test_project_is_created_once_and_follows_the_catalogue(client):
    first = client.ensure_project("catalogue-test", DEFAULT.label_studio_config())
    assert client.ensure_project("catalogue-test", DEFAULT.label_studio_config()) == first
    extended = DEFAULT.with_label(Label("MEDICAL_RECORD_NUMBER", "Medical record number", "#123456", 0.5,
                                        "MRN-1234567", field_name="MRN", pattern=r"MRN-\d{7}"))
    assert client.ensure_project("catalogue-test", extended.label_studio_config()) == first
    assert 'value="MEDICAL_RECORD_NUMBER"' in client.sdk.projects.get(id=first).label_config
    # by id: the same project whatever the title; an unknown id is an error, not a new project
    assert client.ensure_project("another title", DEFAULT.label_studio_config(), project_id=first) == first
    with pytest.raises(LabelStudioError, match="has no project 999999"):
        client.ensure_project("x-title", DEFAULT.label_studio_config(), project_id=999999)


def test_sync_is_idempotent_batched_and_keeps_human_work(client, corpus):
    project = client.ensure_project("sync-test", DEFAULT.label_studio_config())
    tasks = [sample_to_task(s, "b1") for s in corpus[:IMPORT_CHUNK + 20]]
    report = client.sync_batch(project, "b1", tasks)
    assert report.imported == len(tasks) and report.requests == 2 and report.already_present == 0
    again = client.sync_batch(project, "b1", tasks)
    assert again.imported == 0 and again.already_present == len(tasks) and again.deleted_stale == 0
    assert len(list(client.tasks(project, "b1"))) == len(tasks)
    # another batch in the same project is left alone
    client.sync_batch(project, "b2", [sample_to_task(corpus[-1], "b2")])
    by_sample = {t["data"]["sample_id"]: t for t in client.tasks(project, "b1")}
    annotated = by_sample[corpus[0]["id"]]
    client.sdk.annotations.create(id=annotated["id"], result=annotated["predictions"][0]["result"],
                                  was_cancelled=False)
    # the batch lost its first two samples: the unannotated task goes, the annotated one stays
    shrunk = client.sync_batch(project, "b1", tasks[2:])
    assert shrunk.deleted_stale == 1 and shrunk.kept_annotated_stale == [annotated["id"]]
    assert len(list(client.tasks(project, "b1"))) == len(tasks) - 1
    assert len(list(client.tasks(project, "b2"))) == 1


def test_human_review_round_trip(client, corpus, labelstudio_server):
    """Fix a label, delete a false region, add a missed entity, add a relation, cancel one task,
    annotate one task twice: the samples read back are exactly the expected ones."""
    project = client.ensure_project("review-test", DEFAULT.label_studio_config())
    picked = [s for s in corpus if len(s["privacy_mask"]) >= 3][:4]
    client.sync_batch(project, "rt", [sample_to_task(s, "rt") for s in picked])
    tasks = {t["data"]["sample_id"]: t for t in client.tasks(project, "rt")}
    a, b, c, d = (tasks[s["id"]] for s in picked)
    result = copy.deepcopy(a["predictions"][0]["result"])
    labels = [r for r in result if r["from_name"] == "label"]
    labels[0]["value"]["labels"] = ["COMPANYNAME"]          # fix a label
    result.remove(labels[1])                                 # delete a false region
    text = picked[0]["text"]
    covered = {i for s in picked[0]["privacy_mask"] for i in range(s["start"], s["end"])}
    free = next(i for i in range(len(text) - 3) if text[i:i + 3].isalpha() and not covered & set(range(i, i + 3)))
    result.append({"id": "added", "from_name": "label", "to_name": "text", "type": "labels",   # a missed entity
                   "value": {"start": free, "end": free + 3, "text": text[free:free + 3], "labels": ["USERNAME"]}})
    result.append({"type": "relation", "from_id": labels[2]["id"], "to_id": "added", "direction": "right",
                   "labels": ["coreference"]})                                                  # a relation
    client.sdk.annotations.create(id=a["id"], result=result, was_cancelled=False)
    client.sdk.annotations.create(id=b["id"], result=[], was_cancelled=True)                   # cancelled
    client.sdk.annotations.create(id=c["id"], result=[], was_cancelled=False)                  # twice: first
    client.sdk.annotations.create(id=c["id"], result=c["predictions"][0]["result"], was_cancelled=False)
    originals = {s["id"]: s for s in picked}
    back = {t["data"]["sample_id"]: task_to_sample(t, originals) for t in client.tasks(project, "rt")}
    assert back[picked[1]["id"]] is None and back[picked[3]["id"]] is None   # cancelled, not reviewed
    assert back[picked[2]["id"]]["id"] == picked[2]["id"]                     # the later annotation won
    fixed = back[picked[0]["id"]]
    spans = {(s["start"], s["end"]): s["label"] for s in fixed["privacy_mask"]}
    assert spans[(labels[0]["value"]["start"], labels[0]["value"]["end"])] == "COMPANYNAME"
    assert (labels[1]["value"]["start"], labels[1]["value"]["end"]) not in spans
    assert spans[(free, free + 3)] == "USERNAME"
    assert len(spans) == len(picked[0]["privacy_mask"])  # one removed, one added
    linked = [c for c in fixed["coreferences"] if any(m["start"] == free for m in c["mentions"])]
    assert len(linked) == 1 and {m["start"] for m in linked[0]["mentions"]} == {labels[2]["value"]["start"], free}
    assert fixed["meta"]["review"]["by"] == "human" and fixed["meta"]["review"]["task_id"] == a["id"]


def test_unreachable_server_is_a_clear_error():
    client = LabelStudioClient("http://127.0.0.1:9", "token", timeout=2)
    with pytest.raises(LabelStudioError, match="unreachable"):
        client.ensure_project("x", DEFAULT.label_studio_config())


def test_wrong_token_is_refused_with_the_status(labelstudio_server):
    client = LabelStudioClient(labelstudio_server["url"], "0" * 40)
    with pytest.raises(LabelStudioError, match="HTTP 401"):
        client.ensure_project("x", DEFAULT.label_studio_config())
