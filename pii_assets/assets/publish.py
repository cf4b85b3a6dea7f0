"""What leaves the pipeline: the release's HF dataset, SFT JSONL and the model cards (+ Hub pushes)."""

import json
from pathlib import Path

import dagster as dg

from pii_assets.assets.deploy import PUBLIC_KEY, SIGNATURE, model_signature
from pii_assets.assets.evaluation import EXTERNAL_JSON, external_evaluation
from pii_assets.assets.release import SAMPLES, fetch_release, model_evaluation, release_manifest
from pii_assets.partitions import partitioned_check, releases
from pii_assets.reporting import counts_table, markdown_table
from pii_assets.resources import HUB_REPO_ENVS, HubResource, StorageResource
from pii_assets.sft.check import MIN_PER_CATEGORY
from pii_assets.storage import LocalStorage, atomic_directory, write_json
from pii_assets.training.release import SPLITS, release_dir, release_samples, split_ids

HF_DATASET_VERSION = "1"
SFT_VERSION = "2"


def _push(hub: HubResource, store: LocalStorage, field: str, folder: Path, repo_type: str, release: str, log,
          **kwargs) -> dict:
    """Push ``folder`` if ``hub`` is configured for ``field``; the metadata says what happened either way."""
    from pii_assets.hub.client import HubError, push_folder

    repo = getattr(hub, field)
    reason = hub.unpublished_reason(repo, HUB_REPO_ENVS[field])
    if reason:
        log.info(f"{folder.name}: {reason}")
        return {"hub": reason}
    store.fetch(folder)
    try:
        result = push_folder(folder, repo, repo_type=repo_type, token=hub.token, endpoint=hub.endpoint,
                             private=hub.private, commit_message=f"pii_assets release {release}", tag=release,
                             **kwargs)
    except HubError as exc:
        raise dg.Failure(description=str(exc)) from None
    deleted = f", deleted {len(result.deleted)} files it no longer has" if result.deleted else ""
    log.info(f"pushed {len(result.files)} files to {result.url} (commit {result.commit[:12]}, tag {result.tag}{deleted})")
    return {"hub": f"pushed to {repo} (private={hub.private})", "hub_url": dg.MetadataValue.url(result.url),
            "hub_commit": result.commit}


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[release_manifest],
    code_version=HF_DATASET_VERSION,
    kinds={"huggingface", "parquet"},
    description="The release's samples as a Hugging Face DatasetDict (its train/validation/test split) in "
                "Parquet with a dataset card; pushed to the Hub when a dataset repo and token are configured.",
)
def hf_dataset(context: dg.AssetExecutionContext, storage: StorageResource, hub: HubResource) -> dg.MaterializeResult:
    from pii_assets.hub import dataset as hfd

    release = context.partition_key
    store = storage.store()
    manifest = fetch_release(store, release, batch_files=(SAMPLES,))
    ids = split_ids(store, release)
    samples = release_samples(store, manifest, set().union(*ids.values()))
    missing = sum(len(ids[s]) for s in SPLITS) - len(samples)
    if missing:
        raise dg.Failure(description=f"release {release}: {missing} samples of splits.parquet are not in the "
                                     "batches' annotated_samples.jsonl; rebuild the release manifest")
    splits = {s: [samples[i] for i in sorted(ids[s])] for s in SPLITS}
    stats = hfd.statistics(splits)
    directory = release_dir(store, release) / "hf_dataset"
    card = hfd.card(release, manifest, stats, model_repo=hub.model_repo, quantized_repo=hub.quantized_model_repo)
    with atomic_directory(directory) as tmp:
        hfd.write(hfd.build(splits), tmp, card)
        write_json(tmp / "stats.json", stats)
    loaded = hfd.load_parquet(directory)  # what a consumer does; the counts must come back
    counts = {s: loaded[s].num_rows for s in loaded}
    if counts != stats["splits"]:
        raise dg.Failure(description=f"release {release}: load_dataset read {counts}, wrote {stats['splits']}")
    store.publish(directory)
    pushed = _push(hub, store, "dataset_repo", directory, "dataset", release, context.log,
                   ignore_patterns=[f"{hfd.ARROW_DIR}/*", "stats.json"])
    languages = stats["samples_per_language"]
    return dg.MaterializeResult(metadata={
        "splits": dg.MetadataValue.md(counts_table(stats["splits"], "split", SPLITS)),
        "labels": dg.MetadataValue.md(counts_table(stats["spans_per_label"], "label")),
        "languages": dg.MetadataValue.md(markdown_table(
            ((lang, *(c.get(s, 0) for s in SPLITS)) for lang, c in languages.items()), ("language", *SPLITS))),
        "columns": ", ".join(loaded["train"].column_names),
        "path": dg.MetadataValue.path(str(directory)),
        **pushed,
    })


class SftAssetConfig(dg.Config):
    seed: int = 0
    max_positives_per_category: int = 400
    """Positives per category in train (as many negatives); validation gets its share on top."""
    min_per_category: int = MIN_PER_CATEGORY
    """Check: every catalogue category has at least this many train examples."""


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[release_manifest],
    code_version=SFT_VERSION,
    kinds={"jsonl"},
    check_specs=[partitioned_check("sft_valid", "sft_jsonl", releases, blocking=True,
                                   description="Schema of every line, ~50/50 positives, 30-40% hard negatives per "
                                               "category, per-category counts, 5-10% validation, no text in both "
                                               "splits, dataset_info.json entries.")],
    description="LLaMA-Factory alpaca JSONL (train + validation) and its dataset_info.json: one example per "
                "(text, category) from the release's train/validation samples, with hard negatives, "
                "obfuscations, multilingual wrappers and log/pixel contexts (docs/sft.md).",
)
def sft_jsonl(context: dg.AssetExecutionContext, config: SftAssetConfig, storage: StorageResource) -> dg.MaterializeResult:
    from pii_assets.sft import SftConfig, build_sft, check_sft, stats_markdown

    release = context.partition_key
    store = storage.store()
    manifest = fetch_release(store, release, batch_files=(SAMPLES,))
    ids = split_ids(store, release)
    samples = release_samples(store, manifest, ids["train"] | ids["validation"])
    pairs = [(samples[i], split) for split in ("train", "validation") for i in sorted(ids[split]) if i in samples]
    directory = release_dir(store, release) / "sft"
    with atomic_directory(directory) as tmp:
        stats = build_sft(pairs, tmp, seed=config.seed,
                          config=SftConfig(max_positives_per_category=config.max_positives_per_category))
    store.publish(directory)
    results = check_sft(directory, min_per_category=config.min_per_category)
    failed = [r.name for r in results if not r.passed]
    context.log.info(f"sft: {stats['splits']['train']['examples']} train / {stats['splits']['validation']['examples']} "
                     f"validation examples in {stats['build_seconds']} s; checks failed: {failed or 'none'}")
    return dg.MaterializeResult(
        metadata={
            "train_examples": stats["splits"]["train"]["examples"],
            "validation_examples": stats["splits"]["validation"]["examples"],
            "categories": dg.MetadataValue.md(stats_markdown(stats)),
            "dataset_info": dg.MetadataValue.path(str(directory / "dataset_info.json")),
            "llamafactory": f"llamafactory-cli train --stage sft --do_train --dataset pii_sft_train "
                            f"--eval_dataset pii_sft_validation --dataset_dir {directory} ... (docs/sft.md)",
            "path": dg.MetadataValue.path(str(directory)),
        },
        check_results=[dg.AssetCheckResult(
            check_name="sft_valid", passed=not failed,
            metadata={"checks": dg.MetadataValue.md(markdown_table(
                ((r.name, "passed" if r.passed else "FAILED", r.detail) for r in results),
                ("check", "result", "detail"))), "failed": ", ".join(failed) or "none"})],
    )


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[model_evaluation, model_signature, hf_dataset, external_evaluation],
    kinds={"huggingface", "markdown"},
    description="Model cards of the trained and the quantized model (evaluation, parity, evaluation on external "
                "sets when configured, intended use and limits, cross-links dataset -> trained -> quantized); "
                "both models are pushed with their card, signature and public key when model repos and a "
                "token are configured.",
)
def model_cards(context: dg.AssetExecutionContext, storage: StorageResource, hub: HubResource) -> dg.MaterializeResult:
    from pii_assets.hub.model_cards import Links, quantized_card, trained_card

    release = context.partition_key
    store = storage.store()
    directory = release_dir(store, release)
    manifest = fetch_release(store, release, release_files=("evaluation.json", "parity.json", "comparison.json",
                                                             EXTERNAL_JSON, SIGNATURE, PUBLIC_KEY))
    read = lambda name: json.loads((directory / name).read_text(encoding="utf-8"))  # noqa: E731
    evaluation, parity = read("evaluation.json"), read("parity.json")
    comparison = read("comparison.json") if (directory / "comparison.json").is_file() else None
    external = read(EXTERNAL_JSON) if (directory / EXTERNAL_JSON).is_file() else None
    links = Links(release, hub.dataset_repo, hub.model_repo, hub.quantized_model_repo)
    backbone = manifest["config"]["backbone"]
    cards = {"trained_model": trained_card(links, backbone, evaluation, comparison, manifest, external=external),
             "quantized_model": quantized_card(links, backbone, evaluation, parity, manifest, external=external)}
    with atomic_directory(directory / "model_cards") as tmp:
        for name, text in cards.items():
            (tmp / f"{name}.md").write_text(text, encoding="utf-8")
    store.publish(directory / "model_cards")
    published = {"signature.json": (directory / SIGNATURE).read_bytes(),
                 "signing_key.pub": (directory / PUBLIC_KEY).read_bytes()}
    external_sets = len((external or {}).get("results") or {})
    metadata = {"path": dg.MetadataValue.path(str(directory / "model_cards")),
                "external_sets": f"{external_sets} in the cards" if external_sets else
                                 "none: " + ((external or {}).get("note") or f"no {EXTERNAL_JSON}")}
    for name, field in (("trained_model", "model_repo"), ("quantized_model", "quantized_model_repo")):
        pushed = _push(hub, store, field, directory / name, "model", release, context.log,
                       extra_files={"README.md": cards[name].encode("utf-8"), **published})
        metadata.update({f"{name}_{k}": v for k, v in pushed.items()})
    metadata["trained_model_card"] = dg.MetadataValue.md(cards["trained_model"].split("\n---\n", 1)[-1])
    return dg.MaterializeResult(metadata=metadata)
