"""The Dagster code location: ``dagster dev -m pii_assets.definitions``."""

import dagster as dg

from pii_assets.assets import batch
from pii_assets.jobs import batch_job
from pii_assets.resources import default_storage

defs = dg.Definitions(
    assets=[batch.raw_samples, batch.reviewed_samples],
    jobs=[batch_job],
    resources={"storage": default_storage()},
)
