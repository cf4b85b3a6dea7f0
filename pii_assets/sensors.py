"""Sensors: react to Label Studio (new annotations, new export snapshots)."""

import time

import dagster as dg

from pii_assets.jobs import annotation_job
from pii_assets.partitions import batches
from pii_assets.resources import LabelStudioResource

TICK_BUDGET_SECONDS = 30
"""Stop listing updated tasks after this long (the tasks come oldest first, so the cursor stays
exact and the next tick goes on); Dagster's sensor time-out is 60 s."""


@dg.sensor(job=annotation_job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Watches the Label Studio project for annotations created or updated since its "
                       "cursor and for new export snapshots, and requests annotation_job runs "
                       "(annotated_samples -> training_tokens) for the batches that changed.")
def labelstudio_sensor(context: dg.SensorEvaluationContext, labelstudio: LabelStudioResource):
    from pii_assets.labelstudio.changes import Cursor, annotated, changes
    from pii_assets.labelstudio.client import LabelStudioError

    client = labelstudio.client()
    if client is None:
        return dg.SkipReason("no Label Studio configured (set LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY)")
    cursor = Cursor.parse(context.cursor)
    try:
        project = client.find_project(labelstudio.project_title, labelstudio.project_id)
        if project is None:
            return dg.SkipReason(f"no project {labelstudio.project_title!r} in Label Studio yet "
                                 "(materialize ls_tasks for a batch first)")
        deadline, updated = time.monotonic() + TICK_BUDGET_SECONDS, []
        for task in client.tasks_updated_since(project.id, cursor.since):
            updated.append(task)
            if time.monotonic() > deadline:
                break
        latest_export = client.latest_export(project.id)
        everything = None
        if latest_export is not None and (cursor.export is None or latest_export > cursor.export):
            everything = sorted({t["data"].get("batch") for t in client.tasks(project.id) if annotated(t)} - {None})
    except LabelStudioError as exc:
        return dg.SkipReason(f"{exc}; cursor kept at {cursor.dumps()}")
    found = changes(cursor, updated, latest_export, everything)
    known = set(context.instance.get_dynamic_partitions(batches.name))
    unknown = sorted(set(found.run_keys) - known)
    if unknown:
        context.log.warning(f"annotated tasks of batches this instance does not know: {unknown}")
    context.update_cursor(found.cursor.dumps())
    requests = [dg.RunRequest(partition_key=batch, run_key=key, tags={"pii_assets/trigger": key})
                for batch, key in sorted(found.run_keys.items()) if batch in known]
    if not requests:
        return dg.SkipReason(f"no annotation changes ({found.tasks_seen} tasks updated since {cursor.since})")
    return requests
