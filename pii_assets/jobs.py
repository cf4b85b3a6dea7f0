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
    description="Build one release (select the release key): manifest, trained model, evaluation, "
                "quantized model, signature, evaluation on external sets ($PII_ASSETS_EVAL_DIR), HF dataset, "
                "SFT JSONL, model cards.",
    # the production profile's queue runs one training run at a time (deploy/dagster.production.yaml)
    tags={"pii_assets/training": "true"},
)

annotation_job = dg.define_asset_job(
    "annotation_job",
    selection=dg.AssetSelection.assets("annotated_samples").downstream() & dg.AssetSelection.groups("batch"),
    description="Re-read one batch's Label Studio annotations and re-tokenize it (what the Label Studio "
                "sensor requests when annotations change).",
)
