"""Batch-level assets: ``raw_samples`` and ``reviewed_samples`` on the ``batches`` partitions."""

import dagster as dg
import numpy as np

from pii_assets.automation import BATCH_AUTOMATION
from pii_assets.batches import BatchSpecError, load_spec
from pii_assets.catalogue import DEFAULT
from pii_assets.generator.offline import GENERATOR_VERSION, OfflineGenerator
from pii_assets.partitions import batches, partitioned_check
from pii_assets.reporting import counts_table, markdown_table, samples_markdown
from pii_assets.resources import HubResource, LLMResource, StorageResource
from pii_assets.review import REVIEW_VERSION, review_file, verify_file
from pii_assets.samples import dumps
from pii_assets.storage import LocalStorage, atomic_writer, write_jsonl


class ReviewConfig(dg.Config):
    max_rejected_ratio: float = 0.05
    """Blocking: a batch that rejects more than this share of its raw samples fails."""
    min_label_count: int = 1
    """Label coverage warns when an enabled label occurs fewer times than this."""
    examples: int = 3
    """How many samples to render in the metadata."""


def _spec(store: LocalStorage, key: str):
    try:
        return load_spec(store, key)
    except BatchSpecError as exc:
        raise dg.Failure(
            description=f"{exc}. Declare it first: pii-assets batch declare {key} --size N",
        ) from None


@dg.asset(
    partitions_def=batches,
    group_name="batch",
    automation_condition=BATCH_AUTOMATION,
    code_version=GENERATOR_VERSION,
    kinds={"python", "jsonl"},
    description="Samples as the batch's provider produced them (offline generator by default).",
)
def raw_samples(context: dg.AssetExecutionContext, storage: StorageResource, llm: LLMResource,
                hub: HubResource) -> dg.MaterializeResult:
    key = context.partition_key
    store = storage.store()
    spec = _spec(store, key)
    path = store.batch_file(key, "raw_samples.jsonl")
    rejects = store.batch_file(key, "provider_rejects.jsonl")
    metadata: dict = {}
    if spec.provider in ("openai", "batch"):
        state = store.batch_file(key, "llm_batch_state.json")
        store.fetch(state)  # a run re-launched elsewhere resumes the same remote batches
        try:
            metadata = _llm_samples(context, spec, llm, path, rejects, state)
        finally:
            if state.is_file():
                store.publish(state)
        count = metadata["raw_samples"]
    elif spec.provider == "hf":
        metadata = _imported_samples(spec, hub, path, rejects)
        count = metadata["raw_samples"]
    else:
        count = write_jsonl(path, OfflineGenerator(spec).generate())
    store.publish(path, *([rejects] if spec.provider != "offline" else []))
    context.log.info(f"batch {key}: {count} raw samples from provider {spec.provider} -> {path}")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": count,
        "path": dg.MetadataValue.path(str(path)),
        "provider": spec.provider,
        "spec": dg.MetadataValue.json(spec.to_json()),
        **metadata,
    })


def _imported_samples(spec, hub: HubResource, path, rejects_path) -> dict:
    """The ``hf`` provider: rows of an existing dataset mapped to samples, rejects kept with reasons."""
    from pii_assets.hub.client import HubError, download
    from pii_assets.hub.imports import import_rows, read_rows, resolve

    try:
        source = resolve(spec.source, lambda repo: download(repo, repo_type="dataset", token=hub.token,
                                                            endpoint=hub.endpoint, revision=spec.source_revision))
    except (FileNotFoundError, HubError) as exc:
        raise dg.Failure(description=f"batch {spec.key}: {exc}") from None
    with atomic_writer(path) as samples_fh, atomic_writer(rejects_path) as rejects_fh:
        def keep(sample):
            sample["meta"].update(batch=spec.key, provider="hf")
            samples_fh.write(dumps(sample) + "\n")

        result = import_rows(read_rows(source), spec.label_mapping, limit=spec.size, origin=spec.source,
                             languages=spec.languages, on_sample=keep,
                             on_reject=lambda reject: rejects_fh.write(dumps(reject) + "\n"))
    summary = result.summary()
    if not result.accepted:
        raise dg.Failure(description=f"batch {spec.key}: no row of {spec.source} could be imported "
                                     f"({result.rows} rows read; rejects: {summary['reject_counts']}; "
                                     f"see {rejects_path})")
    return {
        "raw_samples": result.accepted, "source": spec.source, "rows_read": result.rows,
        "provider_rejects": result.rejected,
        "formats": dg.MetadataValue.json(summary["formats"]),
        "provider_reject_reasons": dg.MetadataValue.md(markdown_table(
            [(code, n, summary["reject_examples"][code][:160]) for code, n in result.reject_counts.most_common()],
            ("code", "count", "example")) if result.rejected else "none"),
        "skipped_languages": dg.MetadataValue.json(summary["skipped_languages"]),
        "ignored_source_labels": dg.MetadataValue.json(summary["ignored_labels"]),
    }


def _llm_samples(context, spec, llm: LLMResource, path, rejects_path, state_path) -> dict:
    from pii_assets.llm.batch_provider import BatchProviderError, BatchRun
    from pii_assets.llm.openai_provider import PROMPT_VERSION, generate

    if not llm.api_key:
        raise dg.Failure(description=f"batch {spec.key}: provider {spec.provider} needs an API key: set "
                                     "OPENAI_API_KEY (and OPENAI_BASE_URL for a server other than OpenAI)")
    config = llm.config()
    if spec.provider == "batch":
        try:
            result = BatchRun(llm.sync_client(), config, state_path, llm.batch_poll_seconds,
                              log=context.log.info).run(spec)
        except BatchProviderError as exc:
            raise dg.Failure(description=f"batch {spec.key}: {exc}") from None
    else:
        result = generate(spec, config, llm.api_key)
    write_jsonl(path, result.records)
    write_jsonl(rejects_path, result.rejects)
    acc = result.accounting
    examples = {}
    for reject in result.rejects:
        examples.setdefault(reject["code"], reject["reason"])
    return {
        "raw_samples": len(result.records),
        "requested": acc.requested,
        "provider_rejects": len(result.rejects),
        "model": config.model,
        "base_url": config.base_url,
        "prompt_version": PROMPT_VERSION,
        "requests": acc.requests,
        "retries": acc.retries,
        "input_tokens": acc.input_tokens,
        "output_tokens": acc.output_tokens,
        "estimated_cost_usd": round(acc.cost_usd(config), 4),
        "provider_reject_reasons": dg.MetadataValue.md(markdown_table(
            [(code, n, examples[code][:160]) for code, n in acc.rejects.most_common()],
            ("code", "count", "example")) if acc.rejects else "none"),
        "retry_reasons": dg.MetadataValue.json(dict(acc.retry_reasons)),
        "llm_review": "on" if config.review else "off",
        "llm_review_failures": dg.MetadataValue.json(dict(acc.review_failures)),
    }


CHECKS = [
    partitioned_check("spans_valid", "reviewed_samples", batches, blocking=True,
                      description="Every reviewed sample re-validates: offsets, labels, validators, id."),
    partitioned_check("no_duplicates", "reviewed_samples", batches, blocking=True,
                      description="No two reviewed samples share an id or a normalised text."),
    partitioned_check("rejected_ratio", "reviewed_samples", batches, blocking=True,
                      description="Share of raw samples rejected by review is under the limit."),
    partitioned_check("label_coverage", "reviewed_samples", batches,
                      description="Every label enabled in the batch spec occurs in the batch."),
]


@dg.asset(
    partitions_def=batches,
    group_name="batch",
    automation_condition=BATCH_AUTOMATION,
    deps=[raw_samples],
    code_version=REVIEW_VERSION,
    kinds={"python", "jsonl"},
    check_specs=CHECKS,
    description="Raw samples after deterministic review (grounding, contract, validators, "
                "dedup within the batch and against earlier batches); rejects kept with reasons.",
)
def reviewed_samples(context: dg.AssetExecutionContext, config: ReviewConfig,
                     storage: StorageResource) -> dg.MaterializeResult:
    key = context.partition_key
    store = storage.store()
    spec = _spec(store, key)
    raw = store.batch_file(key, "raw_samples.jsonl")
    store.fetch(raw)
    if not raw.is_file():
        raise dg.Failure(description=f"batch {key}: {raw} is missing; materialize raw_samples first")
    # Cross-batch dedup looks at batches declared before this one (instance order), so the result
    # of a re-run is the same as long as those earlier batches are unchanged.
    declared = context.instance.get_dynamic_partitions(batches.name)
    earlier = declared[: declared.index(key)] if key in declared else []
    store.fetch(*(store.batch_file(k, "text_hashes.npy") for k in earlier))
    hashes = [store.read_hashes(store.batch_file(k, "text_hashes.npy")) for k in earlier]
    prior = np.unique(np.concatenate(hashes)) if hashes else None
    reviewed = store.batch_file(key, "reviewed_samples.jsonl")
    rejected = store.batch_file(key, "rejected_samples.jsonl")
    stats = review_file(raw, reviewed, rejected, prior_hashes=prior)
    store.write_hashes(store.batch_file(key, "text_hashes.npy"), stats.text_hashes)
    store.publish(reviewed, rejected, store.batch_file(key, "text_hashes.npy"))
    context.log.info(f"batch {key}: {stats.accepted} accepted, {stats.rejected} rejected "
                     f"{dict(stats.reject_codes)}")

    verified = verify_file(reviewed, examples=config.examples)
    enabled = [l.name for l in DEFAULT.labels if spec.label_weights.get(l.name, l.weight) > 0]
    missing = [name for name in enabled if stats.labels.get(name, 0) < config.min_label_count]

    check_results = [
        dg.AssetCheckResult(
            check_name="spans_valid", passed=verified.invalid == 0,
            metadata={"samples": verified.samples, "invalid": verified.invalid,
                      "first_problem": verified.first_problem or "none"}),
        dg.AssetCheckResult(
            check_name="no_duplicates", passed=not (verified.duplicate_ids or verified.duplicate_texts),
            metadata={"duplicate_ids": verified.duplicate_ids,
                      "duplicate_texts": verified.duplicate_texts}),
        dg.AssetCheckResult(
            check_name="rejected_ratio", passed=stats.rejected_ratio <= config.max_rejected_ratio,
            metadata={"rejected_ratio": round(stats.rejected_ratio, 4),
                      "max_rejected_ratio": config.max_rejected_ratio,
                      "reject_codes": dg.MetadataValue.json(dict(stats.reject_codes))}),
        dg.AssetCheckResult(
            check_name="label_coverage", passed=not missing, severity=dg.AssetCheckSeverity.WARN,
            metadata={"missing_labels": ", ".join(missing) or "none",
                      "labels_present": sum(1 for n in enabled if stats.labels.get(n))}),
    ]
    reasons = "\n".join(f"- **{code}** ({stats.reject_codes[code]}): {stats.reject_examples[code]}"
                        for code in sorted(stats.reject_codes)) or "none"
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": stats.accepted,
            "rejected": stats.rejected,
            "rejected_ratio": round(stats.rejected_ratio, 4),
            "entities": stats.entities,
            "entities_per_sample": round(stats.entities / max(stats.accepted, 1), 2),
            "coref_clusters": stats.coref_clusters,
            "dedup_against": ", ".join(earlier) or "none",
            "path": dg.MetadataValue.path(str(reviewed)),
            "rejected_path": dg.MetadataValue.path(str(rejected)),
            "per_label": dg.MetadataValue.md(counts_table(stats.labels, "label", DEFAULT.names)),
            "per_language": dg.MetadataValue.md(counts_table(stats.languages, "language")),
            "per_kind": dg.MetadataValue.md(counts_table(stats.kinds, "kind")),
            "reject_reasons": dg.MetadataValue.md(reasons),
            "examples": dg.MetadataValue.md(samples_markdown(verified.examples)),
        },
        check_results=check_results,
    )
