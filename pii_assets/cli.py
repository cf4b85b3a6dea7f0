"""``pii-assets``: declare and materialize batches, build releases, predict, run the demo.

The commands use the persistent Dagster instance in $DAGSTER_HOME (the Makefile sets it to
``.dagster_home`` in the repository), so every run shows up in the Dagster UI.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import sys
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pii_assets.batches import PROVIDERS, BatchSpec, BatchSpecError, declare_batch, load_spec
from pii_assets.catalogue import DEFAULT
from pii_assets.reporting import external_results, markdown_table, prf_table
from pii_assets.samples import SampleError, dumps
from pii_assets.signing import SigningError
from pii_assets.sft.check import MIN_PER_CATEGORY
from pii_assets.storage import LocalStorage, dump_json, read_jsonl
from pii_assets.terminal import STDIO, emit, is_stdout, jsonl_input, output_stream, progress
from pii_assets.training.config import MACRO_F1_FLOOR, PRECISIONS, TrainConfig
from pii_assets.training.release import SPLITS, ReleaseError, validate_release_key

LOCATION = "pii_assets"
"""The code location's name in workspace.yaml (and in deploy/'s), where --launch submits runs."""
LAUNCH_POLL_SECONDS = 2.0
DEMO_BATCHES = ("demo-a", "demo-b")
DEMO_INVALID_RATIO = 0.01
"""demo-b's ``invalid_ratio`` (demo-a has none): about ten rejects with their reasons."""


def _storage(args: argparse.Namespace) -> LocalStorage:
    """The artifact store the assets use: local, or mirrored to S3 when $PII_ASSETS_S3_BUCKET is set."""
    import dagster as dg

    resource = _storage_resource(args)
    if not resource.s3_bucket:
        return resource.store()
    with dg.build_resources({"storage": resource}) as built:  # resolves the EnvVar-bound settings
        return built.storage.store()


def _instance():
    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        raise SystemExit("error: DAGSTER_HOME is not set; run through `make` or export "
                         "DAGSTER_HOME=$PWD/.dagster_home (see README)")
    Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
    return dg.DagsterInstance.get()


def _parse_weights(items: list[str]) -> dict[str, float]:
    weights = {}
    for item in items:
        label, sep, value = item.partition("=")
        if not sep:
            raise BatchSpecError(f"label weight {item!r} must look like LABEL=WEIGHT")
        try:
            weights[label] = float(value)
        except ValueError:
            raise BatchSpecError(f"label weight {item!r}: {value!r} is not a number") from None
    return weights


def _parse_label_map(items: list[str]) -> dict[str, str | None]:
    mapping = {}
    for item in items:
        source, sep, target = item.partition("=")
        if not sep or not source or not target:
            raise BatchSpecError(f"label map {item!r} must look like SOURCE=TARGET (TARGET: a label, ignore or reject)")
        mapping[source] = None if target == "reject" else target
    return mapping


def declare(args: argparse.Namespace) -> None:
    spec = BatchSpec(
        key=args.key, provider=args.provider, size=args.size, seed=args.seed,
        languages=tuple(x.strip() for x in args.languages.split(",") if x.strip()),
        label_weights=_parse_weights(args.label_weight or []),
        no_pii_ratio=args.no_pii_ratio, long_document_ratio=args.long_document_ratio, short_ratio=args.short_ratio,
        invalid_ratio=args.invalid_ratio, source=args.source, source_revision=args.source_revision, label_mapping=_parse_label_map(args.label_map or []),
    )
    new = declare_batch(_storage(args), spec)
    instance = _instance()
    instance.add_dynamic_partitions("batches", [spec.key])
    print(f"batch {spec.key}: {'declared' if new else 'already declared (same spec)'}")


def _unfinished_runs(instance, job, key: str) -> list:
    """The records of the unfinished runs (queued or running, launched by anyone: the daemon's sensors,
    the UI, another CLI) that materialize one of ``job``'s assets for partition ``key``."""
    import dagster as dg

    unfinished = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
                  dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
    assets = job.asset_layer.selected_asset_keys
    return [record for record in instance.get_run_records(dg.RunsFilter(statuses=unfinished,
                                                                         tags={"dagster/partition": key}))
            if record.dagster_run.job_name == job.name or (record.dagster_run.asset_selection or set()) & assets]


def _describe_run(record) -> str:
    """One line for a run record: id, status, since when, and who launched it."""
    run = record.dagster_run
    since = datetime.datetime.fromtimestamp(record.start_time or record.create_timestamp.timestamp(),
                                            datetime.timezone.utc)
    origin = (f"sensor {run.tags['dagster/sensor_name']}" if "dagster/sensor_name" in run.tags
              else f"schedule {run.tags['dagster/schedule_name']}" if "dagster/schedule_name" in run.tags
              else f"job {run.job_name}")
    return f"run {run.run_id} ({run.status.value} since {since:%Y-%m-%d %H:%M:%S} UTC, {origin})"


def runs_in_flight(instance, job, key: str) -> list[str]:
    """``_unfinished_runs``, one line each."""
    return [_describe_run(record) for record in _unfinished_runs(instance, job, key)]


def wait_for_runs_in_flight(instance, job, key: str, what: str, poll_seconds: float = 2.0) -> str | None:
    """Wait until no other run materializes ``job``'s assets for ``key``, instead of refusing: with
    `make ui` running, the daemon's automation sensor starts a batch the moment the demo declares it.
    Returns the id of a run waited for that succeeded and covered all of ``job``'s assets (then there
    is nothing left to do for ``key``), else None."""
    import dagster as dg

    waited: list[str] = []
    while records := _unfinished_runs(instance, job, key):
        for record in records:
            if record.dagster_run.run_id not in waited:
                waited.append(record.dagster_run.run_id)
                print(f"{what} {key}: waiting for {_describe_run(record)} (if its process is gone, "
                      "terminate it in the UI: Runs; or stop this and pass --force)", flush=True)
        time.sleep(poll_seconds)
    assets = job.asset_layer.selected_asset_keys
    for run_id in waited:
        run = instance.get_run_by_id(run_id)
        if run.status == dg.DagsterRunStatus.SUCCESS and (run.job_name == job.name
                                                           or assets <= (run.asset_selection or set())):
            return run_id
    return None


def _refuse_runs_in_flight(instance, job, keys: list[str], what: str) -> None:
    """Stop before a second run of the same partition: it would redo the work (and, for an LLM batch,
    pay for it twice) while the first one writes the same files."""
    busy = {key: runs_in_flight(instance, job, key) for key in keys}
    if any(busy.values()):
        raise SystemExit("".join(f"error: {what} {key} is being materialized by " + "; ".join(runs) + "\n"
                                 for key, runs in busy.items() if runs)
                         + "Wait for it (see it in the UI: Runs). If its process is gone (killed, machine "
                           "restarted), terminate it in the UI, or pass --force to run anyway.")


def materialize(args: argparse.Namespace, wait: bool = False) -> None:
    """Runs batch_job per batch. ``wait`` (the demo): wait for another run of a batch instead of
    refusing, and skip the batch if that run materialized it."""
    from pii_assets.definitions import defs

    instance = _instance()
    storage = _storage(args)
    known = set(instance.get_dynamic_partitions("batches"))
    job = defs.resolve_job_def("batch_job")
    for key in args.keys:
        load_spec(storage, key)
    wait = wait and not args.force
    if not (args.force or wait):
        _refuse_runs_in_flight(instance, job, args.keys, "batch")
    failed = []
    for key in args.keys:
        if wait and (done_by := wait_for_runs_in_flight(instance, job, key, "batch")):
            print(f"batch {key}: materialized by run {done_by}")
            continue
        if key not in known:
            instance.add_dynamic_partitions("batches", [key])
        run = _run(args, instance, job, key, {"loggers": {"console": {"config": {"log_level": args.log_level}}}},
                   f"batch {key}")
        print(f"batch {key}: run {run.run_id} {'succeeded' if run.success else 'FAILED'}")
        if not run.success:
            failed.append(key)
            print("".join(f"  {reason}\n" for reason in run.reasons), end="", file=sys.stderr)
    if failed:
        raise SystemExit(f"error: batch run failed for {', '.join(failed)}; see the run in the UI")


def failure_reasons(events) -> list[str]:
    """Why a run failed, one line per failed step or failed blocking check (the first line of each
    error, as the run's log has it in full): what the CLI prints instead of a bare FAILED.
    ``events``: a run's Dagster events (``result.all_events``, or read back from the instance)."""
    reasons = []
    for event in events:
        if event.is_step_failure:
            data, error = event.step_failure_data, event.step_failure_data.error
            while error and error.cause:  # Dagster wraps what the asset raised
                error = error.cause
            if error and error.cls_name == "DagsterAssetCheckFailedError":
                continue  # the failed check has its own line
            message = (data.user_failure_data.description if data.user_failure_data and data.user_failure_data.description
                       else error.message if error else "failed")
            reasons.append(f"{event.step_key}: {message.strip().splitlines()[0]}")
        elif event.event_type_value == "ASSET_CHECK_EVALUATION" and not event.asset_check_evaluation_data.passed:
            check = event.asset_check_evaluation_data
            reasons.append(f"check {check.check_name} on {check.asset_key.to_user_string()} failed")
    return reasons


@dataclass(frozen=True)
class RunOutcome:
    run_id: str
    success: bool
    reasons: list[str]


def _run(args: argparse.Namespace, instance, job, key: str, run_config: dict, what: str) -> RunOutcome:
    """One partition of ``job``: in this process (the default on a laptop: the CLI's --data-dir), or
    with ``--launch URL`` submitted to the deployment's webserver, which queues it for the daemon and
    its run launcher (the deployment's resources and data), then waited for."""
    if not getattr(args, "launch", None):
        result = job.execute_in_process(partition_key=key, instance=instance, raise_on_error=False,
                                        resources={"storage": _storage_resource(args)}, run_config=run_config)
        return RunOutcome(result.run_id, result.success, failure_reasons(result.all_events))
    from dagster import DagsterRunStatus
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    url = urllib.parse.urlsplit(args.launch)
    client = DagsterGraphQLClient(url.hostname, port_number=url.port, use_https=url.scheme == "https",
                                  path_prefix=url.path.rstrip("/"))
    try:
        run_id = client.submit_job_execution(job.name, repository_location_name=LOCATION, run_config=run_config,
                                             tags={"dagster/partition": key, "pii_assets/submitted_by": "cli"})
    except (DagsterGraphQLClientError, OSError) as exc:  # no server there, or the job / location is unknown
        raise SystemExit(f"error: {what}: could not submit {job.name} to {args.launch}: {exc}") from None
    print(f"{what}: submitted run {run_id} to the instance's queue and run launcher "
          f"({args.launch.rstrip('/')}/runs/{run_id}); waiting for it")
    status, last = None, None
    while status not in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
        time.sleep(LAUNCH_POLL_SECONDS)
        try:
            status = client.get_run_status(run_id)
        except (DagsterGraphQLClientError, OSError) as exc:
            print(f"{what}: cannot reach {args.launch} ({exc}); retrying", file=sys.stderr)
            continue
        if status != last:
            print(f"{what}: run {run_id} {status.value.lower()}", file=sys.stderr)
            last = status
    record = instance.get_run_by_id(run_id)  # the same instance: its events say why it failed
    events = ([e.dagster_event for e in instance.all_logs(run_id) if e.dagster_event] if record else [])
    return RunOutcome(run_id, status == DagsterRunStatus.SUCCESS, failure_reasons(events))


def _storage_resource(args: argparse.Namespace):
    from pii_assets.resources import default_storage

    return default_storage(root=str(Path(args.data_dir).resolve()))


def summary(args: argparse.Namespace) -> None:
    storage = _storage(args)
    keys = args.keys or storage.declared_batches()
    labels: Counter = Counter()
    languages: Counter = Counter()
    rows = []
    for key in keys:
        reviewed = storage.batch_file(key, "reviewed_samples.jsonl")
        rejected = storage.batch_file(key, "rejected_samples.jsonl")
        storage.fetch(reviewed, rejected)
        if not reviewed.is_file():
            rows.append((key, "-", "-", "-", "not materialized"))
            continue
        n = entities = 0
        for _, sample in read_jsonl(reviewed):
            n += 1
            entities += len(sample["privacy_mask"])
            languages[sample["language"]] += 1
            labels.update(span["label"] for span in sample["privacy_mask"])
        n_rej = sum(1 for _ in read_jsonl(rejected)) if rejected.is_file() else 0
        rows.append((key, n, n_rej, f"{entities / max(n, 1):.2f}", str(reviewed)))
    emit("\n\n".join((markdown_table(rows, ("batch", "reviewed", "rejected", "entities/sample", "file")),
                       markdown_table(sorted(languages.items()), ("language", "samples")),
                       markdown_table(((name, labels.get(name, 0)) for name in DEFAULT.names), ("label", "spans")))),
         args.markdown)


def llm_batches(args: argparse.Namespace) -> None:
    """Status (or cancel) of a batch's remote Batch API batches, with $OPENAI_API_KEY / $OPENAI_BASE_URL."""
    from pii_assets.llm.batch_provider import cancel, status
    from pii_assets.resources import default_llm

    storage = _storage(args)
    state = storage.batch_file(args.key, "llm_batch_state.json")
    storage.fetch(state)
    if not state.is_file():
        raise SystemExit(f"error: batch {args.key} has no remote batches ({state} does not exist)")
    llm = default_llm()
    if not os.environ.get("OPENAI_API_KEY"):
        raise SystemExit("error: set OPENAI_API_KEY (and OPENAI_BASE_URL) to query the remote batches")
    client = llm.model_copy(update={"api_key": os.environ["OPENAI_API_KEY"],
                                    "base_url": os.environ.get("OPENAI_BASE_URL", llm.base_url)}).sync_client()
    if args.cancel:
        cancelled = cancel(client, state)
        print(f"cancelled {', '.join(cancelled)}" if cancelled else "nothing to cancel: no remote batch is running")
    rows = status(client, state)
    emit(markdown_table([(r["stage"], r["batch_id"], r["status"], json.dumps(r["request_counts"]))
                         for r in rows], ("stage", "remote batch", "status", "requests")), args.markdown)


def demo(args: argparse.Namespace) -> None:
    base_seed, invalid_ratio = args.seed, args.invalid_ratio
    for index, key in enumerate(DEMO_BATCHES):  # demo-a gets --seed, demo-b the next one
        # demo-b seeds a few invalid values, so the review's rejects and their reasons are seen
        args.key, args.seed, args.invalid_ratio = key, base_seed + index, invalid_ratio if index else 0.0
        try:
            declare(args)
        except BatchSpecError as exc:
            raise SystemExit(f"error: {exc}\n  the demo's batches were declared with other options (or by an "
                             "earlier version of the demo): `make clean-data` starts over, or give --data-dir and "
                             "DAGSTER_HOME of a new instance") from None
    args.keys = list(DEMO_BATCHES)
    materialize(args, wait=True)  # `make ui`'s sensor may start them first
    print()
    summary(args)
    if not args.skip_release:
        print()
        release_build(args)
    print(f"\nData under {Path(args.data_dir).resolve()}/ (batches/<batch>/, releases/<release>/); "
          "open the Dagster UI with `make ui`.")


def release_create(args: argparse.Namespace) -> None:
    instance = _instance()
    key = validate_release_key(args.release)
    new = key not in instance.get_dynamic_partitions("releases")
    instance.add_dynamic_partitions("releases", [key])
    print(f"release {key}: {'created' if new else 'already exists'}")


def release_build(args: argparse.Namespace) -> None:
    from pii_assets.definitions import defs

    instance = _instance()
    key = validate_release_key(args.release)
    instance.add_dynamic_partitions("releases", [key])
    job = defs.resolve_job_def("release_job")
    if not args.force:
        _refuse_runs_in_flight(instance, job, [key], "release")
    training = {"epochs": args.epochs, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
                "head_learning_rate": args.head_learning_rate, "macro_f1_floor": args.macro_f1_floor,
                "max_train_samples": args.max_train_samples, "precision": args.precision,
                "coref_weight": args.coref_weight, "seed": args.train_seed, "calibrate": args.calibrate}
    result = _run(args, instance, job, key,
                  {"ops": {"trained_model": {"config": training},
                           "sft_jsonl": {"config": {"min_per_category": args.sft_min_per_category}}},
                   "loggers": {"console": {"config": {"log_level": args.log_level}}}}, f"release {key}")
    evaluation = Path(args.data_dir) / "releases" / key / "evaluation.json"
    if evaluation.is_file():
        emit(metric_tables(json.loads(evaluation.read_text(encoding="utf-8")), "test metric"), args.markdown)
    directory = Path(args.data_dir) / "releases" / key
    if (directory / "comparison.json").is_file():
        print()
        emit(comparison_table(json.loads((directory / "comparison.json").read_text(encoding="utf-8"))), args.markdown)
    if (directory / "external_evaluation.json").is_file():
        external = json.loads((directory / "external_evaluation.json").read_text(encoding="utf-8"))
        print()
        if external.get("results"):
            from pii_assets.training.external import report_markdown

            print(f"external evaluation ({', '.join(external['results'])}; {directory / 'external_evaluation.md'}):\n")
            emit(report_markdown(external_results(external)).rstrip("\n"), args.markdown)
        else:
            print(f"external evaluation: {external.get('note')}")
    if (directory / "parity.json").is_file():
        print()
        emit(deployment_table(json.loads((directory / "parity.json").read_text(encoding="utf-8"))), args.markdown)
    if (directory / "signature.json").is_file() and result.success:
        print()
        for entry in ("quantized_model", "trained_model"):
            verify(argparse.Namespace(directory=str(directory / entry), signature=str(directory / "signature.json"),
                                      public_key=str(directory / "signing_key.pub"), entry=entry))
    if (directory / "hf_dataset" / "stats.json").is_file():
        print()
        emit(publication_summary(directory), args.markdown)
    print(f"release {key}: run {result.run_id} {'succeeded' if result.success else 'FAILED'}")
    if not result.success:
        raise SystemExit(f"error: release {key} failed; see the run in the UI\n"
                         + "".join(f"  {reason}\n" for reason in result.reasons).rstrip("\n"))


def metric_tables(report: dict, title: str, per_language: bool = False) -> str:
    """An evaluation document (``metrics.report_json``, evaluation.json) as markdown: the summary
    and the per-label table (and the per-language one) with their 95% intervals."""
    intervals = report.get("intervals", {})
    tables = [markdown_table([(k, v, "{:.4f}-{:.4f}".format(*intervals[k]) if k in intervals else "")
                              for k, v in report["summary"].items()], (title, "value", "95% interval")),
              prf_table(sorted(report["per_label"].items()), "label", intervals.get("per_label_f1"))]
    if per_language:
        tables.append(prf_table(sorted(report["per_language"].items()), "language", intervals.get("per_language_f1")))
    return "\n\n".join(tables)


def deployment_table(parity: dict) -> str:
    summary, sizes = parity["summary"], parity["sizes"]
    mib = 2 ** 20
    return markdown_table([
        ("size (MiB)", round(sizes["trained_safetensors_bytes"] / mib, 1), round(sizes["quantized_bytes"] / mib, 1)),
        ("latency, batch 1 (ms/window)", summary["trained_ms_batch1"], summary["quantized_ms_batch1"]),
        ("test strict micro F1", summary["reference_micro_f1"], summary["candidate_micro_f1"]),
    ], ("", "trained (torch fp32)", "quantized (int8 ONNX)")) + (
        f"\n\nparity: argmax agreement {summary['argmax_agreement']:.2%}, F1 drop "
        f"{summary['micro_f1_drop_points']:.2f} points"
        + (f" (95% interval {summary['micro_f1_drop_points_ci95']})" if "micro_f1_drop_points_ci95" in summary else "")
        + f", {summary['differing_spans']} differing spans")


def comparison_table(comparison: dict) -> str:
    """The trained model next to vanilla Presidio (model_evaluation's comparison.json), with the
    paired-bootstrap interval of each difference when both were measured."""
    results, differences = comparison["results"], comparison.get("trained_minus_presidio", {})
    figures = (("char F2", "all_labels", "char_f2", "char_f2"),
               ("entity macro F1 (all labels)", "all_labels", "macro_f1", "macro_f1_all_labels"),
               ("entity micro F1 (1:1 labels)", "one_to_one_labels", "micro_f1", "micro_f1_one_to_one_labels"))
    systems = sorted(results, key=lambda name: name != "trained model")
    rows = [(name, *(results[system][group][key] for system in systems),
             *((f"{d['point']:+.4f} ({d['low']:+.4f} to {d['high']:+.4f})" if (d := differences.get(diff)) else "",)
               if differences else ()))
            for name, group, key, diff in figures]
    header = ("test texts", *systems, *(("trained - presidio (95% interval)",) if differences else ()))
    return markdown_table(rows, header) + ("" if len(results) > 1 else f"\n\nno Presidio baseline: {comparison['presidio']}")


def publication_summary(directory: Path) -> str:
    """Where the release's dataset, SFT files and model cards are, and how to use them."""
    lines = []
    dataset = json.loads((directory / "hf_dataset" / "stats.json").read_text(encoding="utf-8"))
    lines.append(f"HF dataset {directory / 'hf_dataset'}: " + ", ".join(
        f"{split} {dataset['splits'][split]}" for split in SPLITS) + " (datasets.load_dataset('parquet', ...) "
        "or load_from_disk(.../arrow))")
    if (directory / "sft" / "sft_stats.json").is_file():
        sft = json.loads((directory / "sft" / "sft_stats.json").read_text(encoding="utf-8"))
        lines.append(f"SFT JSONL {directory / 'sft'}: {sft['splits']['train']['examples']} train, "
                     f"{sft['splits']['validation']['examples']} validation examples, positive ratio "
                     f"{sft['positive_ratio']}; LLaMA-Factory: llamafactory-cli train --stage sft --do_train "
                     f"--dataset pii_sft_train --eval_dataset pii_sft_validation --dataset_dir {directory / 'sft'} "
                     "... (docs/sft.md)")
    if (directory / "model_cards").is_dir():
        lines.append(f"model cards {directory / 'model_cards'}/ (pushed with the models when "
                     "PII_ASSETS_HF_*_REPO and HF_TOKEN are set)")
    return "\n".join(lines)


def probability(value: str) -> float:
    """An argparse type: a float strictly between 0 and 1."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return number


PREDICT_CHUNK = 64
"""Texts per ``Predictor.predict`` call, so memory is bounded by the chunk, not the input file
(512 was not measurably faster on 1,000 demo texts and held 0.2 GB more)."""


def _prediction_inputs(args: argparse.Namespace, models: list[str], source: str | None = None) -> float:
    """Checks ``models`` are model directories and ``source`` (unless none or ``-``) a file, before
    anything loads; returns the threshold of ``--threshold`` / ``--sensitivity``."""
    from pii_assets.training.predict import SENSITIVITY

    for model in models:
        if not (Path(model) / "config.json").is_file():
            raise SystemExit(f"error: {model} is not a model directory (no config.json)")
    if source not in (None, STDIO) and not Path(source).is_file():
        raise SystemExit(f"error: {source}: no such file")
    return args.threshold if args.threshold is not None else SENSITIVITY[args.sensitivity]


def predict(args: argparse.Namespace) -> None:
    """Tag PII in one ``--text`` (a readable table) or in a stream of texts (JSONL, or ``--lines``)."""
    from pii_assets.training.predict import Predictor

    source = args.source or args.input
    if args.source and args.input:
        raise SystemExit("error: predict: give the input once (INPUT or --input)")
    if (args.text is None) == (source is None):
        raise SystemExit("error: predict needs INPUT (a JSONL file, or - for standard input) or --text TEXT")
    threshold = _prediction_inputs(args, [args.model], source)
    if args.text is not None:
        spans = Predictor(Path(args.model)).predict([args.text], threshold)[0]
        emit(markdown_table([(s["value"], s["label"], f"{s['score']:.3f}", s["start"], s["end"]) for s in spans],
                            ("value", "label", "score", "start", "end")) if spans else "no PII found", args.markdown)
        return

    def records():
        if args.lines:
            stream = sys.stdin if source == STDIO else open(source, encoding="utf-8")
            with stream:
                yield from ({"text": line.rstrip("\r\n")} for line in stream)
            return
        for lineno, record in jsonl_input(source):
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                name = "<stdin>" if source == STDIO else source
                raise SystemExit(f"error: {name}:{lineno}: expected an object with a string 'text'")
            yield record

    # A file gets a first pass that checks every line before the model loads, so a bad line fails in
    # seconds, not after hours of predictions; standard input is checked as it streams.
    total = None if source == STDIO else sum(1 for _ in records())
    predictor = Predictor(Path(args.model))
    done, stream = 0, records()
    with output_stream(args.output) as out, progress(total, "texts") as bar:
        while chunk := list(itertools.islice(stream, PREDICT_CHUNK)):
            for record, spans in zip(chunk, predictor.predict([r["text"] for r in chunk], threshold)):
                out.write(dumps({**record, "privacy_mask": spans}) + "\n")
            done += len(chunk)
            bar.update(len(chunk))
    print(f"{done} texts -> {'standard output' if is_stdout(args.output) else args.output} (threshold {threshold})",
          file=sys.stderr if is_stdout(args.output) else sys.stdout)


def evaluate_models(args: argparse.Namespace) -> None:
    """Score a model, or two systems side by side (two models, or a model and vanilla Presidio), on
    the user's own labeled JSONL; or every system on the sets of an evaluation directory."""
    from pii_assets.training.external import EVAL_DIR_ENV

    if args.input and args.eval_dir:
        raise SystemExit("error: --input and --eval-dir are alternatives: give one of them")
    if not args.input:
        args.eval_dir = args.eval_dir or os.environ.get(EVAL_DIR_ENV, "").strip() or None
        if not args.eval_dir:
            raise SystemExit(f"error: evaluate needs --input FILE or --eval-dir DIR (or ${EVAL_DIR_ENV})")
        evaluate_eval_dir(args)
        return
    from pii_assets.samples import labeled_text
    from pii_assets.training.metrics import (confidence_intervals, differences_json, evaluate, paired_differences,
                                             report_json)
    from pii_assets.training.predict import Predictor
    from pii_assets.training.presidio import NAME as PRESIDIO

    systems = list(dict.fromkeys(args.model)) + ([PRESIDIO] if args.presidio else [])
    if len(systems) != len(args.model) + args.presidio or len(systems) > 2:
        raise SystemExit("error: evaluate scores one system or compares two: one or two different --model "
                         "directories, or one --model and --presidio")
    threshold = _prediction_inputs(args, args.model, args.input)
    name = "<stdin>" if args.input == STDIO else args.input
    labeled = [labeled_text(record, f"{name}:{lineno}") for lineno, record in jsonl_input(args.input)]
    if not labeled:
        raise SystemExit(f"error: {args.input}: no labeled texts")
    texts = [text for _, text, _ in labeled]
    out = sys.stderr if args.output == STDIO else sys.stdout  # the tables; the JSON report may be on stdout
    print(f"{len(texts)} texts, {sum(len(spans) for *_, spans in labeled)} labeled spans ({args.input}), "
          f"threshold {threshold}", file=out)
    examples, document = {}, {"input": str(args.input), "texts": len(texts), "threshold": threshold, "models": {}}
    for system in systems:
        if system == PRESIDIO:
            from pii_assets.training.presidio import PresidioUnavailable, mapped, presidio_spans

            try:
                spans = [mapped(found) for found in presidio_spans(texts)]
            except PresidioUnavailable as exc:
                raise SystemExit(f"error: --presidio: {exc}") from None
        else:
            spans = [[(p["start"], p["end"], p["label"]) for p in found]
                     for found in _predict_all(Predictor(Path(system)), texts, threshold)]
        examples[system] = [(language, gold, found) for (language, _, gold), found in zip(labeled, spans)]
        document["models"][system] = report_json(evaluate(examples[system]), confidence_intervals(examples[system]))
        emit(f"\n{system}\n\n" + metric_tables(document["models"][system], "metric", per_language=True),
             args.markdown, out)
    if len(systems) == 2:
        differences = paired_differences(*examples.values())
        document["first_minus_second"] = {"first": systems[0], "second": systems[1],
                                          **differences_json(differences, len(texts))}
        first, second = (document["models"][m]["summary"] for m in systems)
        emit("\n" + markdown_table(
            [(k, first[k], second[k], f"{d.point:+.4f} ({d.low:+.4f} to {d.high:+.4f})") for k, d in differences.items()],
            ("metric", "first", "second", "first - second (95% interval, paired bootstrap)")), args.markdown, out)
        if args.presidio:
            print("\nPresidio runs its English recognizers on every text; its types outside the catalogue count "
                  "as errors at entity level, so char F2 is the fair comparison.", file=out)
    if args.output:
        _write_report(args.output, document, out)


def evaluate_eval_dir(args: argparse.Namespace) -> None:
    """``evaluate --eval-dir``: every --model (and --presidio) on every set of the directory, the
    figures of ``pii_assets.training.external`` (docs/evaluation.md) as markdown."""
    from pii_assets.training.external import evaluate_sets, model_system, presidio_system, read_eval_dir, report_markdown
    from pii_assets.training.presidio import NAME as PRESIDIO, PresidioUnavailable

    models = list(dict.fromkeys(args.model))
    if len(models) != len(args.model):
        raise SystemExit("error: evaluate: the same --model directory is given twice")
    threshold = _prediction_inputs(args, models)
    try:  # before any model loads; a bad record or .types.json is a SampleError naming it (main prints it)
        eval_sets = read_eval_dir(args.eval_dir)
    except OSError as exc:  # an unreadable file
        raise SystemExit(f"error: {args.eval_dir}: {type(exc).__name__}: {exc}") from None
    if not eval_sets:
        raise SystemExit(f"error: {args.eval_dir}: no *.jsonl sets in the directory")
    out = sys.stderr if args.output == STDIO else sys.stdout
    print(f"{len(eval_sets)} sets ({', '.join(s.name for s in eval_sets)}), "
          f"{sum(len(s.records) for s in eval_sets)} texts ({args.eval_dir}), threshold {threshold}\n", file=out)
    # tables name a model by its last two path parts (r1/trained_model) unless two models share them
    short = ["/".join(Path(model).resolve().parts[-2:]) for model in models]
    names = dict(zip(short if len(set(short)) == len(short) else models, models))
    systems = {name: model_system(model, threshold) for name, model in names.items()}
    if args.presidio:
        try:
            systems[PRESIDIO] = presidio_system()
        except PresidioUnavailable as exc:
            raise SystemExit(f"error: --presidio: {exc}") from None
    results = evaluate_sets(eval_sets, systems, log=lambda line: print(line, file=sys.stderr))
    emit(report_markdown(results), args.markdown, out)
    if args.output:
        _write_report(args.output, {"eval_dir": str(args.eval_dir), "threshold": threshold, "systems": list(systems),
                                 "models": {name: str(Path(model).resolve()) for name, model in names.items()},
                                 "sets": {s.name: {"style": s.style, "texts": len(s.records), "file": s.path}
                                          for s in eval_sets},
                                 "results": results}, out)


def _predict_all(predictor, texts: list[str], threshold: float) -> list[list[dict]]:
    """``predictor.predict`` chunk by chunk, with a progress bar on a terminal."""
    found: list[list[dict]] = []
    with progress(len(texts), "texts") as bar:
        for i in range(0, len(texts), PREDICT_CHUNK):
            found.extend(predictor.predict(texts[i:i + PREDICT_CHUNK], threshold))
            bar.update(len(texts[i:i + PREDICT_CHUNK]))
    return found


def _write_report(path: str, document: dict, out) -> None:
    """``--output``: the JSON report to a file (atomically) or to standard output (``-``)."""
    with output_stream(path) as fh:
        dump_json(document, fh)
    if not is_stdout(path):
        print(f"\nreport -> {path}", file=out)


def keygen(args: argparse.Namespace) -> None:
    from pii_assets.resources import SIGNING_KEY_FILE_ENV
    from pii_assets.signing import generate_key

    public = generate_key(Path(args.out))
    print(f"private key {args.out} (mode 0600; keep it out of git and out of data/)\n"
          f"public key  {public}\n"
          f"sign releases with it: export {SIGNING_KEY_FILE_ENV}={Path(args.out).resolve()}")


def verify(args: argparse.Namespace) -> None:
    from pii_assets.signing import HUB_FILES, load_public_key, read_signature, verify as verify_directory

    document = read_signature(Path(args.signature))
    result = verify_directory(Path(args.directory), document, load_public_key(Path(args.public_key)), args.entry,
                              ignore=HUB_FILES if getattr(args, "hub", False) else ())
    if not result.ok:
        sys.stderr.write("".join(f"FAILED {args.directory}: {problem}\n" for problem in result.problems))
        raise SystemExit(1)
    payload = document["payload"]
    print(f"OK {args.directory}: {result.files} files match the signature of release {payload['release']} "
          f"({result.entry}, data manifest {payload['data_manifest_sha256'][:12]}...)")


def labelstudio_config(args: argparse.Namespace) -> None:
    sys.stdout.write(DEFAULT.label_studio_config())


def label_maps(args: argparse.Namespace) -> None:
    print(json.dumps({"label2id": DEFAULT.label2id(), "id2label": DEFAULT.id2label()}, indent=2))


def _add_sensitivity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threshold", type=probability,
                        help="token probability for a PII label, between 0 and 1 (overrides --sensitivity)")
    parser.add_argument("--sensitivity", choices=("high", "medium", "low"), default="low",
                        help="presets: high=0.1, medium=0.25, low=0.5")


class _HelpFormatter(argparse.HelpFormatter):
    """Shows every option's default (unless none, off, or already in its help)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (action.option_strings and "%(default)" not in text and "default" not in text
                and action.default not in (None, False, [], argparse.SUPPRESS)):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """Every (sub)command's parser gets the formatter that shows defaults."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pii-assets", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("PII_ASSETS_DATA_DIR", "data"),
                        help="artifact store (default: $PII_ASSETS_DATA_DIR or ./data)")
    parser.add_argument("--markdown", action="store_true",
                        help="print tables as markdown on a terminal too (piped output is always markdown)")
    sub = parser.add_subparsers(dest="command", required=True)

    batch = sub.add_parser("batch", help="declare, materialize and list batches")
    bsub = batch.add_subparsers(dest="batch_command", required=True)
    d = bsub.add_parser("declare", help="declare a batch with its spec and register its partition")
    d.add_argument("key", help="batch key: the partition and directory name (letters, digits, _ - .)")
    _spec_options(d)
    d.set_defaults(func=declare)
    m = bsub.add_parser("materialize", help="generate and review declared batches")
    m.add_argument("keys", nargs="+", metavar="KEY", help="declared batch keys")
    m.add_argument("--log-level", default="INFO", help=LOG_LEVEL_HELP)
    _add_launch(m)
    _add_force(m)
    m.set_defaults(func=materialize)
    lb = bsub.add_parser("llm-batches", help="status of a batch-provider batch's remote batches (--cancel to stop)")
    lb.add_argument("key", help="a batch declared with --provider batch")
    lb.add_argument("--cancel", action="store_true", help="cancel the remote batches that are still running")
    lb.set_defaults(func=llm_batches)
    s = bsub.add_parser("summary", help="counts per batch, language and label")
    s.add_argument("keys", nargs="*", metavar="KEY", help="batch keys (default: every declared batch)")
    s.set_defaults(func=summary)

    release = sub.add_parser("release", help="create and build releases (manifest, trained model)")
    rsub = release.add_subparsers(dest="release_command", required=True)
    rc = rsub.add_parser("create", help="register a release partition")
    rc.add_argument("release", help="release key, e.g. r2")
    rc.set_defaults(func=release_create)
    rb = rsub.add_parser("build", help="materialize release_job for a release on all eligible batches")
    rb.add_argument("release", help="release key, e.g. r2 (created if new)")
    _training_options(rb)
    rb.add_argument("--log-level", default="INFO", help=LOG_LEVEL_HELP)
    _add_launch(rb)
    _add_force(rb)
    rb.set_defaults(func=release_build)

    pr = sub.add_parser("predict", help="tag PII spans in {'text': ...} JSONL lines (or one --text) with a model "
                                        "directory")
    pr.add_argument("--model", required=True, help="a model directory: releases/<r>/trained_model (torch) or "
                                                   "releases/<r>/quantized_model (onnxruntime)")
    pr.add_argument("source", nargs="?", metavar="INPUT",
                    help="JSONL file of {'text': ...} objects, or - for standard input")
    pr.add_argument("--input", help="same as INPUT")
    pr.add_argument("--text", help="tag this one text and print its spans as a table (value, label, score, offsets)")
    pr.add_argument("--lines", action="store_true", help="each input line is one plain text, not a JSON object")
    pr.add_argument("--output", help="JSONL file to write, each input object with its privacy_mask (default: "
                                     "standard output; a regular file is replaced atomically)")
    _add_sensitivity(pr)
    pr.set_defaults(func=predict)

    ev = sub.add_parser("evaluate", help="strict entity-level and character-level scores of a model (or two, or "
                                         "one and vanilla Presidio, compared) on your own labeled JSONL, with "
                                         "95%% intervals; or on the labeled sets of an evaluation directory")
    ev.add_argument("--model", required=True, action="append",
                    help="a trained or quantized model directory; give it twice to compare two models (with "
                         "--eval-dir: any number)")
    ev.add_argument("--input",
                    help='JSONL: {"text", "privacy_mask": [{"start", "end", "label"}], "language"?} per line')
    ev.add_argument("--eval-dir", metavar="DIR",
                    help="instead of --input: a directory of labeled *.jsonl sets, catalogue or PER/LOC/ORG/MISC "
                         "gold (docs/evaluation.md); default $PII_ASSETS_EVAL_DIR when --input is not given")
    ev.add_argument("--presidio", action="store_true",
                    help="compare with vanilla Presidio on the same texts (the bench extra; `make test` installs it)")
    ev.add_argument("--output", help="also write the report as JSON")
    _add_sensitivity(ev)
    ev.set_defaults(func=evaluate_models)

    dm = sub.add_parser("demo", help="declare and materialize demo-a and demo-b, then build, quantize, sign "
                                      "and verify release r1")
    _spec_options(dm)
    _training_options(dm)
    dm.set_defaults(invalid_ratio=DEMO_INVALID_RATIO)
    dm.add_argument("--release", default="r1", help="release to build after the batches")
    dm.add_argument("--skip-release", action="store_true", help="stop after the batches")
    dm.add_argument("--log-level", default="INFO", help=LOG_LEVEL_HELP)
    dm.add_argument("--force", action="store_true",
                    help="run even if an unfinished run of a demo batch or of the release is in the instance "
                         "(started by `make ui`'s sensor, or whose process is gone); without it the demo waits "
                         "for a batch's run and refuses a release's")
    dm.set_defaults(func=demo)
    kg = sub.add_parser("keygen", help="create an Ed25519 signing key (0600) and its public key")
    kg.add_argument("--out", required=True, help="private key file to create (FILE.pub gets the public key)")
    kg.set_defaults(func=keygen)
    vf = sub.add_parser("verify", help="check a model directory against its signature; exit 0 only if "
                                       "every file matches")
    vf.add_argument("directory", help="a signed model directory (trained_model or quantized_model)")
    vf.add_argument("--signature", required=True, help="the release's signature.json")
    vf.add_argument("--public-key", required=True, help="the signer's public key (PEM), e.g. signing_key.pub")
    vf.add_argument("--entry", help="which signed directory this is (default: its name, e.g. quantized_model)")
    vf.add_argument("--hub", action="store_true",
                    help="DIR is a download of a published Hub repo: ignore the model card, .gitattributes, the "
                         "signature and key files and huggingface_hub's .cache/ (signed files must still match)")
    vf.set_defaults(func=verify)
    sub.add_parser("labelstudio-config", help="print the Label Studio labeling config").set_defaults(
        func=labelstudio_config)
    sub.add_parser("label-maps", help="print the IOB2 label maps").set_defaults(func=label_maps)
    return parser


LOG_LEVEL_HELP = "console log level of the runs (DEBUG shows every event)"


def _add_launch(p: argparse.ArgumentParser) -> None:
    p.add_argument("--launch", nargs="?", metavar="URL", const=os.environ.get("DAGSTER_WEBSERVER_URL", "http://127.0.0.1:3000"),
                   help="submit the run to the instance behind this Dagster webserver (its queue, daemon and run "
                        "launcher, e.g. a Kubernetes GPU job on the production profile) and wait for it, instead of "
                        "running it in this process; URL defaults to $DAGSTER_WEBSERVER_URL or http://127.0.0.1:3000 "
                        "(`make ui`)")


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true",
                   help="run even if an unfinished run of the same batch or release is in the instance (use it "
                        "when that run's process is gone)")


def _training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=int, default=TrainConfig.epochs, help="passes over the training windows")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size, help="windows per optimizer step")
    p.add_argument("--learning-rate", type=float, default=TrainConfig.learning_rate,
                   help="peak learning rate of the encoder (linear warm-up, then linear decay)")
    p.add_argument("--head-learning-rate", type=float, default=TrainConfig.head_learning_rate,
                   help="peak learning rate of the new classification heads")
    p.add_argument("--coref-weight", type=float, default=TrainConfig.coref_weight,
                   help="weight of the coreference head's loss next to the PII head's (0: the head is not "
                        "trained; default %(default)s)")
    p.add_argument("--calibrate", action="store_true", default=TrainConfig.calibrate,
                   help="calibrate a decision weight per label on the validation split after training "
                        "(decoding.json beside the weights)")
    p.add_argument("--train-seed", type=int, default=TrainConfig.seed,
                   help="seed of the model's initialisation and batch order (default %(default)s)")
    p.add_argument("--precision", choices=PRECISIONS, default=TrainConfig.precision,
                   help="auto: bf16 autocast on a GPU or a CPU with native bf16 (AMX or AVX512-BF16), "
                        "fp32 elsewhere")
    p.add_argument("--macro-f1-floor", type=float, default=MACRO_F1_FLOOR,
                   help="the macro_f1_floor check fails (and blocks the release) below this test macro F1")
    p.add_argument("--max-train-samples", type=int, default=0,
                   help="train on the first N training samples only, by sample id (0: all)")
    p.add_argument("--sft-min-per-category", type=int, default=MIN_PER_CATEGORY,
                   help="sft_valid check: train examples every category needs (lower it for tiny releases)")


def _spec_options(p: argparse.ArgumentParser) -> None:
    defaults = BatchSpec(key="x")
    p.add_argument("--provider", default=defaults.provider, choices=PROVIDERS,
                   help="where samples come from: the embedded offline generator, an OpenAI-compatible endpoint "
                        "(openai), its batch API (batch), or a labeled dataset (hf)")
    p.add_argument("--size", type=int, default=defaults.size, help="samples per batch")
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help="generation seed: the same spec and seed give the same samples, byte for byte")
    p.add_argument("--languages", default=",".join(defaults.languages),
                   help="comma-separated languages, rotated over the samples")
    p.add_argument("--label-weight", action="append", metavar="LABEL=WEIGHT",
                   help="override a label's sampling weight (0 disables it); repeatable")
    p.add_argument("--no-pii-ratio", type=float, default=defaults.no_pii_ratio,
                   help="share of texts with no personal data at all")
    p.add_argument("--long-document-ratio", type=float, default=defaults.long_document_ratio,
                   help="share of long, mostly-prose documents (several windows of the model)")
    p.add_argument("--short-ratio", type=float, default=defaults.short_ratio,
                   help="offline provider: share of one- or two-line texts")
    p.add_argument("--invalid-ratio", type=float, default=defaults.invalid_ratio,
                   help="offline provider: share of samples with one value made invalid (a wrong check digit), "
                        "rejected by the review with the reason")
    p.add_argument("--source", help="provider hf: a local dataset (directory or file) or a Hub dataset repo id")
    p.add_argument("--source-revision", help="provider hf, Hub source: the tag, branch or commit to import")
    p.add_argument("--label-map", action="append", metavar="SOURCE=TARGET",
                   help="provider hf: map a source label to a catalogue label, to 'ignore' (drop the span) or "
                        "to 'reject' (reject the row); repeatable (docs/import.md has the default tables)")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
        sys.stdout.flush()
    except (BatchSpecError, SampleError, ReleaseError, SigningError) as exc:
        raise SystemExit(f"error: {exc}") from None
    except BrokenPipeError:  # `pii-assets ... | head`: the reader is gone, which is not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
