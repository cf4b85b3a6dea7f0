"""ls_tasks on a real instance: offline (JSON file only) and synced into a real Label Studio."""

import json

import dagster as dg

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.assets.labelstudio import annotated_samples, ls_tasks
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.catalogue import DEFAULT
from pii_assets.labelstudio.client import LabelStudioClient
from pii_assets.partitions import batches
from pii_assets.resources import HubResource, LLMResource, LabelStudioResource, StorageResource
from pii_assets.storage import LocalStorage


def test_ls_tasks_offline_then_synced_idempotently(tmp_path, labelstudio_server):
    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("ls1", size=80, seed=5, languages=("en", "fr")))
    offline = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(), "labelstudio": LabelStudioResource()}
    server = {**offline, "labelstudio": LabelStudioResource(url=labelstudio_server["url"],
                                                            api_key=labelstudio_server["token"],
                                                            project_title="assets-test")}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(batches.name, ["ls1"])
        result = dg.materialize([raw_samples, reviewed_samples, ls_tasks], partition_key="ls1", instance=instance,
                                resources=offline)
        assert result.success
        tasks = json.loads(storage.batch_file("ls1", "ls_tasks.json").read_text())
        assert len(tasks) == 80 and tasks[0]["data"]["batch"] == "ls1"
        assert sum(1 for t in tasks if t["predictions"][0]["result"]) > 60  # ~10% of samples have no PII
        md = result.asset_materializations_for_node("ls_tasks")[0].metadata
        assert md["label_studio"].value == "not configured" and md["tasks"].value == 80

        first = dg.materialize([ls_tasks], partition_key="ls1", instance=instance, resources=server)
        again = dg.materialize([ls_tasks], partition_key="ls1", instance=instance, resources=server)
        first_md = first.asset_materializations_for_node("ls_tasks")[0].metadata
        again_md = again.asset_materializations_for_node("ls_tasks")[0].metadata
        assert first_md["imported"].value == 80 and first_md["import_requests"].value == 1
        assert again_md["imported"].value == 0 and again_md["already_present"].value == 80
        client = LabelStudioClient(labelstudio_server["url"], labelstudio_server["token"])
        assert len(list(client.tasks(first_md["project_id"].value, "ls1"))) == 80

        down = {**offline, "labelstudio": LabelStudioResource(url="http://127.0.0.1:9", api_key="x")}
        failed = dg.materialize([ls_tasks], partition_key="ls1", instance=instance, resources=down,
                                raise_on_error=False)
        assert not failed.success
        failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
        assert "unreachable" in str(failure.event_specific_data.user_failure_data) + \
            failure.event_specific_data.error.message


def test_annotated_samples_offline_pass_through_and_human_review(tmp_path, labelstudio_server):
    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("ann", size=40, seed=6, languages=("de",)))
    offline = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(), "labelstudio": LabelStudioResource()}
    server = {**offline, "labelstudio": LabelStudioResource(url=labelstudio_server["url"],
                                                            api_key=labelstudio_server["token"],
                                                            project_title="annotated-test")}
    chain = [raw_samples, reviewed_samples, ls_tasks, annotated_samples]
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(batches.name, ["ann"])
        assert dg.materialize(chain, partition_key="ann", instance=instance, resources=offline).success
        reviewed = [json.loads(l) for l in storage.batch_file("ann", "reviewed_samples.jsonl").read_text().splitlines()]
        passed = [json.loads(l) for l in storage.batch_file("ann", "annotated_samples.jsonl").read_text().splitlines()]
        assert passed == reviewed and all(s["meta"]["review"]["by"] == "rules" for s in passed)

        assert dg.materialize([ls_tasks], partition_key="ann", instance=instance, resources=server).success
        client = LabelStudioClient(labelstudio_server["url"], labelstudio_server["token"])
        project = client.ensure_project("annotated-test", DEFAULT.label_studio_config())
        tasks = {t["data"]["sample_id"]: t for t in client.tasks(project, "ann")}
        with_pii = [s for s in reviewed if s["privacy_mask"]]
        confirmed, cancelled, broken = (tasks[s["id"]] for s in with_pii[:3])
        client.sdk.annotations.create(id=confirmed["id"], result=confirmed["predictions"][0]["result"],
                                      was_cancelled=False)
        client.sdk.annotations.create(id=cancelled["id"], result=[], was_cancelled=True)
        bad = json.loads(json.dumps(broken["predictions"][0]["result"]))
        bad[0]["value"]["labels"] = ["NOT_A_LABEL"]
        client.sdk.annotations.create(id=broken["id"], result=bad, was_cancelled=False)

        result = dg.materialize([annotated_samples], partition_key="ann", instance=instance, resources=server)
        md = result.asset_materializations_for_node("annotated_samples")[0].metadata
        assert (md["human_reviewed"].value, md["cancelled_excluded"].value, md["rejected_annotations"].value) == (1, 1, 1)
        assert md["machine_reviewed_included"].value == len(reviewed) - 3 and md["unreviewed_policy"].value == "include"
        samples = [json.loads(l) for l in storage.batch_file("ann", "annotated_samples.jsonl").read_text().splitlines()]
        human = [s for s in samples if s["meta"]["review"]["by"] == "human"]
        assert [s["id"] for s in human] == [with_pii[0]["id"]] and human[0]["meta"]["review"]["task_id"] == confirmed["id"]
        (reject,) = [json.loads(l) for l in storage.batch_file("ann", "annotation_rejects.jsonl").read_text().splitlines()]
        assert reject["task_id"] == broken["id"] and "unknown label 'NOT_A_LABEL'" in reject["reason"]

        strict = dg.materialize([annotated_samples], partition_key="ann", instance=instance, resources=server,
                                run_config={"ops": {"annotated_samples": {"config": {"unreviewed": "exclude"}}}})
        md = strict.asset_materializations_for_node("annotated_samples")[0].metadata
        assert md["samples"].value == 1 and md["unreviewed_excluded"].value == len(reviewed) - 3
