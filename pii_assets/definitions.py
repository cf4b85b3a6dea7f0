"""The Dagster code location: ``dagster dev -m pii_assets.definitions``."""

import dagster as dg

from pii_assets.assets import batch, deploy, evaluation, labelstudio, publish, release, training
from pii_assets.automation import batch_automation_sensor, nightly_release
from pii_assets.jobs import annotation_job, batch_job, release_job
from pii_assets.sensors import labelstudio_sensor
from pii_assets.resources import (
    default_backbone, default_external_eval, default_hub, default_labelstudio, default_llm, default_signing,
    default_storage,
)

defs = dg.Definitions(
    assets=[batch.raw_samples, batch.reviewed_samples, labelstudio.ls_tasks, labelstudio.annotated_samples,
            training.training_tokens,
            release.release_manifest, release.trained_model, release.model_evaluation,
            deploy.quantized_model, deploy.model_signature, evaluation.external_evaluation,
            publish.hf_dataset, publish.sft_jsonl, publish.model_cards],
    jobs=[batch_job, release_job, annotation_job],
    sensors=[labelstudio_sensor, batch_automation_sensor],
    schedules=[nightly_release],
    resources={"storage": default_storage(), "backbone": default_backbone(), "signing": default_signing(),
               "labelstudio": default_labelstudio(), "llm": default_llm(), "hub": default_hub(),
               "external_eval": default_external_eval()},
)
