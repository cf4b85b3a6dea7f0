"""The Label Studio sensor against a real server and a real instance."""

import json

import dagster as dg

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.assets.labelstudio import annotated_samples, ls_tasks
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.labelstudio.client import LabelStudioClient
from pii_assets.partitions import batches
from pii_assets.resources import HubResource, LLMResource, LabelStudioResource, StorageResource
from pii_assets.sensors import labelstudio_sensor
from pii_assets.storage import LocalStorage


def tick(instance, cursor, resource):
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"labelstudio": resource})
    result = labelstudio_sensor(context)
    return result, context.cursor


def test_sensor_requests_runs_for_changed_batches_once(tmp_path, labelstudio_server):
    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("sx", size=30, seed=8, languages=("en",)))
    ls = LabelStudioResource(url=labelstudio_server["url"], api_key=labelstudio_server["token"], project_title="sensor-test")
    resources = {"storage": StorageResource(root=str(storage.root)), "llm": LLMResource(), "hub": HubResource(), "labelstudio": ls}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(batches.name, ["sx"])
        assert dg.materialize([raw_samples, reviewed_samples, ls_tasks, annotated_samples], partition_key="sx",
                              instance=instance, resources=resources).success
        result, cursor = tick(instance, None, ls)
        assert isinstance(result, dg.SkipReason) and "no annotation changes" in result.skip_message
        assert json.loads(cursor)["since"]  # the imports moved the cursor, nothing was annotated

        client = LabelStudioClient(labelstudio_server["url"], labelstudio_server["token"])
        project = client.find_project("sensor-test").id
        tasks = {t["data"]["sample_id"]: t for t in client.tasks(project, "sx")}
        reviewed = [json.loads(l) for l in storage.batch_file("sx", "reviewed_samples.jsonl").read_text().splitlines()]
        target = tasks[next(s["id"] for s in reviewed if len(s["privacy_mask"]) >= 2)]
        result = target["predictions"][0]["result"]
        client.sdk.annotations.create(id=target["id"], result=result, was_cancelled=False)

        requests, cursor2 = tick(instance, cursor, ls)
        assert [r.partition_key for r in requests] == ["sx"] and requests[0].run_key.startswith("sx:annotations-until-")
        assert json.loads(cursor2)["since"] > json.loads(cursor)["since"]
        again, cursor3 = tick(instance, cursor2, ls)
        assert isinstance(again, dg.SkipReason) and cursor3 == cursor2

        # the reviewer changes their mind: drops the first region -> a second, different run key
        client.sdk.annotations.create(id=target["id"], result=result[1:], was_cancelled=False)
        second, cursor4 = tick(instance, cursor3, ls)
        assert [r.partition_key for r in second] == ["sx"] and second[0].run_key != requests[0].run_key

        # a new export snapshot re-requests every annotated batch once
        client.sdk.projects.exports.create(id=project, title="done")
        exported, cursor5 = tick(instance, cursor4, ls)
        assert [r.run_key for r in exported] == [f"sx:export-{json.loads(cursor5)['export']}"]
        assert isinstance(tick(instance, cursor5, ls)[0], dg.SkipReason)

        # server down: skip with the reason, cursor unchanged
        down = LabelStudioResource(url="http://127.0.0.1:9", api_key="x", project_title="sensor-test")
        skipped, kept = tick(instance, cursor5, down)
        assert isinstance(skipped, dg.SkipReason) and "unreachable" in skipped.skip_message and kept == cursor5

        # the requested run: the batch's samples now carry the reviewer's latest annotation
        run = dg.materialize([annotated_samples], partition_key="sx", instance=instance, resources=resources)
        assert run.success
        samples = [json.loads(l) for l in storage.batch_file("sx", "annotated_samples.jsonl").read_text().splitlines()]
        human = [s for s in samples if s["meta"]["review"]["by"] == "human"]
        assert len(human) == 1 and len(samples) == len(reviewed)
        original = next(s for s in reviewed if s["id"] == target["data"]["sample_id"])
        assert human[0]["privacy_mask"] == original["privacy_mask"][1:]


def test_sensor_without_label_studio_skips():
    with dg.instance_for_test() as instance:
        result, cursor = tick(instance, None, LabelStudioResource())
    assert isinstance(result, dg.SkipReason) and "no Label Studio configured" in result.skip_message and cursor is None
