"""The Dagster code location: ``dagster dev -m pii_assets.definitions``."""

import dagster as dg

from pii_assets.assets import batch, training
from pii_assets.jobs import batch_job
from pii_assets.resources import default_backbone, default_storage

defs = dg.Definitions(
    assets=[batch.raw_samples, batch.reviewed_samples, training.training_tokens],
    jobs=[batch_job],
    resources={"storage": default_storage(), "backbone": default_backbone()},
)
