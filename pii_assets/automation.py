"""What runs by itself: declared batches flow through the batch assets (declarative automation);
releases stay explicit, with an optional nightly schedule (stopped by default)."""

from __future__ import annotations

import datetime

import dagster as dg

from pii_assets.jobs import release_job
from pii_assets.partitions import releases

BATCH_AUTOMATION = (dg.AutomationCondition.eager()
                    & dg.AutomationCondition.all_deps_blocking_checks_passed()).with_label("eager_unless_blocked")
"""A batch asset runs when its batch is newly declared (partition added) or an upstream asset of the
same batch was updated, once no upstream is missing or in progress, and only if every blocking check
of its upstream assets passed (or runs in the same request: then a failing check stops the run before
the downstream step). Release assets have no condition: nothing trains or publishes by itself."""

batch_automation_sensor = dg.AutomationConditionSensorDefinition(
    "batch_automation_sensor",
    target=dg.AssetSelection.groups("batch"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    emit_backfills=False,  # one run per batch, like batch_job
    description="Evaluates the batch assets' automation conditions every 30 s: a newly declared batch is "
                "generated, reviewed, turned into Label Studio tasks, annotated and tokenized without a click; "
                "nothing downstream of a failed blocking check runs.",
)

NIGHTLY_CRON = "0 2 * * *"
NIGHTLY_PREFIX = "nightly-"


def nightly_key(when: datetime.datetime) -> str:
    """The release key of a nightly tick: ``nightly-YYYYMMDD`` (the tick's date in UTC)."""
    return NIGHTLY_PREFIX + when.astimezone(datetime.timezone.utc).strftime("%Y%m%d")


def nothing_new(instance: dg.DagsterInstance) -> str | None:
    """Why a nightly release would add nothing (None: there is something to build)."""
    def latest(asset: str):
        records = instance.fetch_materializations(dg.AssetKey(asset), limit=1).records
        return records[0] if records else None

    tokens, manifest = latest("training_tokens"), latest("release_manifest")
    if tokens is None:
        return "no batch has training_tokens yet"
    if manifest is not None and manifest.storage_id > tokens.storage_id:
        return (f"no batch changed since the last release manifest (release {manifest.partition_key}, "
                f"run {manifest.run_id[:8]})")
    return None


@dg.schedule(
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    job=release_job,
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="When started: at 02:00 UTC, if some batch's training tokens changed since the last release "
                "manifest, creates release partition nightly-YYYYMMDD and runs release_job for it (manifest, "
                "training with the default config, evaluation, quantization, signing, dataset, SFT, cards).",
)
def nightly_release(context: dg.ScheduleEvaluationContext):
    # Dagster 1.13 schedules can only return run requests (no dynamic-partition requests, unlike a
    # SensorResult), so the tick adds the key itself; adding an existing key is a no-op, and the run
    # key makes a re-evaluated tick launch nothing twice.
    reason = nothing_new(context.instance)
    if reason:
        return dg.SkipReason(reason)
    key = nightly_key(context.scheduled_execution_time or datetime.datetime.now(datetime.timezone.utc))
    context.instance.add_dynamic_partitions(releases.name, [key])
    return dg.RunRequest(run_key=key, partition_key=key, tags={"pii_assets/trigger": "nightly_release"})
