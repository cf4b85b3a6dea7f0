"""Label Studio assets on the ``batches`` partitions: tasks with pre-annotations for human review,
and the samples that come back from it."""

import dagster as dg

from pii_assets.assets.batch import reviewed_samples
from pii_assets.automation import BATCH_AUTOMATION
from pii_assets.catalogue import DEFAULT
from pii_assets.partitions import batches
from pii_assets.resources import LabelStudioResource, StorageResource
from pii_assets.storage import read_jsonl, write_json, write_jsonl

LS_TASKS_VERSION = "1"


@dg.asset(
    partitions_def=batches,
    group_name="batch",
    automation_condition=BATCH_AUTOMATION,
    deps=[reviewed_samples],
    code_version=LS_TASKS_VERSION,
    kinds={"labelstudio", "json"},
    description="The batch's reviewed samples as Label Studio tasks with pre-annotations (every span "
                "as a region, coreference as relations). Always written as an importable JSON file; "
                "synced into the Label Studio project (idempotently, in batched requests) when one is "
                "configured.",
)
def ls_tasks(context: dg.AssetExecutionContext, storage: StorageResource,
             labelstudio: LabelStudioResource) -> dg.MaterializeResult:
    from pii_assets.labelstudio.client import LabelStudioError
    from pii_assets.labelstudio.convert import sample_to_task

    batch = context.partition_key
    store = storage.store()
    reviewed = store.batch_file(batch, "reviewed_samples.jsonl")
    store.fetch(reviewed)
    tasks = [sample_to_task(sample, batch) for _, sample in read_jsonl(reviewed)]
    path = store.batch_file(batch, "ls_tasks.json")
    write_json(path, tasks)
    store.publish(path)
    metadata = {"tasks": len(tasks), "regions": sum(len(t["predictions"][0]["result"]) for t in tasks),
                "path": dg.MetadataValue.path(str(path))}
    client = labelstudio.client()
    if client is None:
        context.log.info(f"no Label Studio configured: {len(tasks)} tasks written to {path} (import them by hand)")
        return dg.MaterializeResult(metadata={**metadata, "label_studio": "not configured"})
    try:
        project = client.ensure_project(labelstudio.project_title, DEFAULT.label_studio_config(),
                                        labelstudio.project_id)
        report = client.sync_batch(project, batch, tasks)
    except LabelStudioError as exc:
        raise dg.Failure(description=str(exc)) from None
    if report.kept_annotated_stale:
        context.log.warning(f"{len(report.kept_annotated_stale)} annotated tasks belong to samples no longer in "
                            f"batch {batch}; kept: {report.kept_annotated_stale[:20]}")
    return dg.MaterializeResult(metadata={
        **metadata, "label_studio": dg.MetadataValue.url(f"{client.url}/projects/{project}/data"),
        "project_id": project, "imported": report.imported, "already_present": report.already_present,
        "deleted_stale": report.deleted_stale, "kept_annotated_stale": len(report.kept_annotated_stale),
        "import_requests": report.requests,
    })


class AnnotationConfig(dg.Config):
    unreviewed: str = "include"
    """Samples no human has reviewed yet: ``include`` them (they stay marked as machine-reviewed,
    ``meta.review.by == "rules"``) or ``exclude`` them. Cancelled (skipped) tasks are always excluded."""


@dg.asset(
    partitions_def=batches,
    group_name="batch",
    automation_condition=BATCH_AUTOMATION,
    deps=[ls_tasks],
    code_version=LS_TASKS_VERSION,
    kinds={"labelstudio", "jsonl"},
    description="The batch's samples after human review: the latest non-cancelled Label Studio "
                "annotation of each task wins; unreviewed samples follow the configured policy; "
                "annotations that cannot become samples are rejected with the task id and reason. "
                "Without Label Studio, the machine-reviewed samples pass through, marked as such.",
)
def annotated_samples(context: dg.AssetExecutionContext, config: AnnotationConfig, storage: StorageResource,
                      labelstudio: LabelStudioResource) -> dg.MaterializeResult:
    from pii_assets.labelstudio.annotations import PolicyError, collect
    from pii_assets.labelstudio.client import LabelStudioError

    batch = context.partition_key
    store = storage.store()
    store.fetch(store.batch_file(batch, "reviewed_samples.jsonl"))
    reviewed = {s["id"]: s for _, s in read_jsonl(store.batch_file(batch, "reviewed_samples.jsonl"))}
    client = labelstudio.client()
    try:
        tasks = None
        if client is not None:
            project = client.ensure_project(labelstudio.project_title, DEFAULT.label_studio_config(),
                                        labelstudio.project_id)
            tasks = list(client.tasks(project, batch))
        result = collect(reviewed, tasks, config.unreviewed)
    except (LabelStudioError, PolicyError) as exc:
        raise dg.Failure(description=str(exc)) from None
    path = store.batch_file(batch, "annotated_samples.jsonl")
    rejects = store.batch_file(batch, "annotation_rejects.jsonl")
    write_jsonl(path, result.samples)
    write_jsonl(rejects, result.rejects)
    store.publish(path, rejects)
    if result.rejects:
        context.log.warning(f"{len(result.rejects)} annotations rejected, e.g. {result.rejects[0]['reason']}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(result.samples),
        "samples": len(result.samples),
        "human_reviewed": result.human,
        "machine_reviewed_included": result.machine_included,
        "unreviewed_excluded": result.unreviewed_excluded,
        "cancelled_excluded": result.cancelled,
        "rejected_annotations": len(result.rejects),
        "unreviewed_policy": config.unreviewed,
        "label_studio": "configured" if client is not None else "not configured (machine-reviewed pass-through)",
        "path": dg.MetadataValue.path(str(path)),
    })
