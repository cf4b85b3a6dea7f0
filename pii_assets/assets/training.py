"""Training-side assets: ``training_tokens`` per batch."""

import dagster as dg

from pii_assets.assets.labelstudio import annotated_samples
from pii_assets.automation import BATCH_AUTOMATION
from pii_assets.catalogue import DEFAULT
from pii_assets.partitions import batches
from pii_assets.reporting import counts_table
from pii_assets.resources import BackboneResource, StorageResource
from pii_assets.samples import SampleError, validate
from pii_assets.storage import read_jsonl
from pii_assets.training.backbone import BackboneError, configured_backbone, load_tokenizer
from pii_assets.training.tokens import TOKENS_VERSION, Aligner, WindowConfig, write_tokens


@dg.asset(
    partitions_def=batches,
    group_name="batch",
    automation_condition=BATCH_AUTOMATION,
    deps=[annotated_samples],
    # The backbone decides the tokenizer: a different $PII_ASSETS_BACKBONE is a new code version,
    # so Dagster shows the tokens as stale.
    code_version=f"{TOKENS_VERSION}:{configured_backbone()}",
    kinds={"python", "parquet"},
    description="Annotated samples tokenized with the backbone's fast tokenizer and aligned to "
                "strict IOB2 + coreference ids, in overlapping windows (Parquet).",
)
def training_tokens(context: dg.AssetExecutionContext, storage: StorageResource,
                    backbone: BackboneResource) -> dg.MaterializeResult:
    key = context.partition_key
    store = storage.store()
    reviewed = store.batch_file(key, "annotated_samples.jsonl")
    store.fetch(reviewed)
    if not reviewed.is_file():
        raise dg.Failure(description=f"batch {key}: {reviewed} is missing; materialize annotated_samples first")
    try:
        config = WindowConfig(backbone.max_length, backbone.stride)
        aligner = Aligner(load_tokenizer(backbone.backbone), DEFAULT, config)
    except (BackboneError, ValueError) as exc:
        raise dg.Failure(description=str(exc)) from None
    path = store.batch_file(key, "training_tokens.parquet")
    # Re-validate on the way in: a hand-edited or corrupted samples file fails here, naming the
    # line and sample, instead of producing misaligned labels.
    samples = (validate(record, where=f"{reviewed.name}:{lineno}") for lineno, record in read_jsonl(reviewed))
    try:
        stats = write_tokens(samples, path, aligner)
    except SampleError as exc:
        raise dg.Failure(description=f"batch {key}: {exc}") from None
    store.publish(path)
    context.log.info(f"batch {key}: {stats.samples} samples -> {stats.windows} windows, "
                     f"{stats.tokens} tokens ({stats.non_o_ratio:.1%} non-O)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": stats.windows,
        "samples": stats.samples,
        "windows": stats.windows,
        "average_window_tokens": round(stats.average_length, 1),
        "non_o_ratio": round(stats.non_o_ratio, 4),
        "backbone": backbone.backbone,
        "max_length": config.max_length,
        "stride": config.stride,
        "tokens_per_label": dg.MetadataValue.md(counts_table(stats.per_label, "label", DEFAULT.names)),
        "path": dg.MetadataValue.path(str(path)),
    })
