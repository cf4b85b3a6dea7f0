"""Jobs users run: one per partitions definition (the CLI cannot mix them in one selection)."""

import dagster as dg

batch_job = dg.define_asset_job(
    "batch_job",
    selection=dg.AssetSelection.groups("batch"),
    description="Generate and review one batch (select the batch key as the partition).",
)

release_job = dg.define_asset_job(
    "release_job",
    selection=dg.AssetSelection.groups("release"),
    description="Build one release (select the release key): manifest, trained model, evaluation.",
)

annotation_job = dg.define_asset_job(
    "annotation_job",
    selection=dg.AssetSelection.assets("annotated_samples").downstream() & dg.AssetSelection.groups("batch"),
    description="Re-read one batch's Label Studio annotations and re-tokenize it (what the Label Studio "
                "sensor requests when annotations change).",
)
