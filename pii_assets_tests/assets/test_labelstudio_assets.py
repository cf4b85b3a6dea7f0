"""ls_tasks on a real instance: offline (JSON file only) and synced into a real Label Studio."""

import json

import dagster as dg

from pii_assets.assets.batch import raw_samples, reviewed_samples
from pii_assets.assets.labelstudio import ls_tasks
from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.labelstudio.client import LabelStudioClient
from pii_assets.partitions import batches
from pii_assets.resources import LabelStudioResource, StorageResource
from pii_assets.storage import LocalStorage


def test_ls_tasks_offline_then_synced_idempotently(tmp_path, labelstudio_server):
    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("ls1", size=80, seed=5, languages=("en", "fr")))
    offline = {"storage": StorageResource(root=str(storage.root)), "labelstudio": LabelStudioResource()}
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
