"""Jobs users run: one batch-partitioned job for the batch assets."""

import dagster as dg

batch_job = dg.define_asset_job(
    "batch_job",
    selection=dg.AssetSelection.groups("batch"),
    description="Generate and review one batch (select the batch key as the partition).",
)
