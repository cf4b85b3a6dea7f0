"""The CLI and the code location as a new user runs them (subprocesses, persistent instance)."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture
def user_env(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path / "home"), "PII_ASSETS_DATA_DIR": str(tmp_path / "data")}
    env.pop("PII_ASSETS_EVAL_DIR", None)  # a new user has no evaluation sets
    (tmp_path / "home").mkdir()
    return env


def run(args, env, check=True):
    proc = subprocess.run([str(BIN / "pii-assets"), *args], env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc


def test_declare_materialize_summary(user_env, tmp_path):
    out = run(["batch", "declare", "cli-1", "--size", "120", "--languages", "en,it", "--seed", "4"], user_env)
    assert "cli-1: declared" in out.stdout
    assert "already declared" in run(["batch", "declare", "cli-1", "--size", "120", "--languages", "en,it",
                                      "--seed", "4"], user_env).stdout
    out = run(["batch", "materialize", "cli-1"], user_env)
    assert "succeeded" in out.stdout
    out = run(["batch", "summary"], user_env)
    assert "| cli-1 | 120 | 0 |" in out.stdout and "| it |" in out.stdout
    # the run is in the persistent instance
    assert any((tmp_path / "home").rglob("*.db"))


def test_batches_on_s3_are_seen_from_another_working_copy(user_env, tmp_path, s3_bucket, s3_endpoint):
    _, bucket = s3_bucket
    env = {**user_env, "PII_ASSETS_S3_BUCKET": bucket, "PII_ASSETS_S3_PREFIX": "cli",
           "PII_ASSETS_S3_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    run(["batch", "declare", "s3-cli", "--size", "40", "--languages", "en"], env)
    assert "succeeded" in run(["batch", "materialize", "s3-cli"], env).stdout
    elsewhere = {**env, "PII_ASSETS_DATA_DIR": str(tmp_path / "elsewhere")}  # another machine, same bucket
    assert "already declared" in run(["batch", "declare", "s3-cli", "--size", "40", "--languages", "en"],
                                     elsewhere).stdout
    assert "| s3-cli | 40 | 0 |" in run(["batch", "summary"], elsewhere).stdout
    assert (tmp_path / "elsewhere" / "batches" / "s3-cli" / "reviewed_samples.jsonl").read_bytes() == \
        (tmp_path / "data" / "batches" / "s3-cli" / "reviewed_samples.jsonl").read_bytes()


@pytest.mark.parametrize("args,message", [
    (["batch", "declare", "../evil"], "batch key '../evil' is invalid"),
    (["batch", "declare", "ok", "--languages", "en,xx"], "unknown language 'xx'"),
    (["batch", "declare", "ok", "--label-weight", "NAME=2"], "unknown label 'NAME'"),
    (["batch", "materialize", "never-declared"], "batch 'never-declared' is not declared"),
    (["release", "build", "r9", "--log-level", "ERROR"],
     "release r9 failed; see the run in the UI\n  release_manifest: release 'r9': no batch is eligible"),
    (["evaluate", "--model", "m", "--input", "in.jsonl", "--eval-dir", "sets"],
     "error: --input and --eval-dir are alternatives: give one of them"),
    (["evaluate", "--model", "m"], "error: evaluate needs --input FILE or --eval-dir DIR (or $PII_ASSETS_EVAL_DIR)"),
])
def test_bad_input_is_a_clear_error(user_env, tmp_path, args, message):
    proc = run(args, user_env, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not (tmp_path / "data" / "batches" / "ok").exists()


def _commands(parser, path=()):
    import argparse

    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_help_lists_every_command(user_env):
    out = run(["--help"], user_env).stdout  # a bare % in a help string breaks this
    assert "95% intervals" in out and "evaluation directory" in out
    assert "$PII_ASSETS_EVAL_DIR" in run(["evaluate", "--help"], user_env).stdout


def test_every_command_has_help_with_every_option_explained_and_its_default_shown(capsys):
    import argparse

    from pii_assets.cli import build_parser

    commands = list(_commands(build_parser()))
    assert len(commands) >= 15
    for path, parser in commands:
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args([*path, "--help"])
        assert exc.value.code == 0, path
        text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
        for action in parser._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help, f"{' '.join(path)} {action.option_strings or action.dest}: no help text"
            if action.option_strings and action.default not in (None, False, []):
                assert f"default: {action.default}" in text or "default" in action.help, (path, action.dest)


def test_a_closed_pipe_ends_quietly(user_env):
    """`pii-assets label-maps | head -1`: the reader is gone before the output is written."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as when `head` has exited
    try:
        proc = subprocess.run([str(BIN / "pii-assets"), "label-maps"], env=user_env, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert proc.returncode == 1 and proc.stderr == ""


def test_definitions_validate_without_deprecation_warnings(user_env):
    proc = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-m", "pii_assets.definitions"],
                          env=user_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Validation successful" in proc.stdout + proc.stderr
    assert "Deprecat" not in proc.stderr and "pii_assets" not in proc.stderr.replace("pii_assets.definitions", "")


def test_demo_builds_a_signed_verified_release(user_env, tmp_path, tiny_backbone):
    key = tmp_path / "keys" / "signing.pem"
    out = run(["keygen", "--out", str(key)], user_env).stdout
    assert "PII_ASSETS_SIGNING_KEY_FILE=" in out and (tmp_path / "keys" / "signing.pem.pub").is_file()
    assert "refusing to overwrite" in run(["keygen", "--out", str(key)], user_env, check=False).stderr
    env = {**user_env, "PII_ASSETS_BACKBONE": tiny_backbone, "PII_ASSETS_SIGNING_KEY_FILE": str(key)}
    out = run(["demo", "--size", "60", "--epochs", "2", "--learning-rate", "3e-3", "--macro-f1-floor", "0",
               "--sft-min-per-category", "5"], env).stdout
    assert "batch demo-a: run" in out and "batch demo-b: run" in out
    # demo-b seeds invalid values (1%; 3 of these 60 samples): rejected, each with its reason
    assert "| demo-a | 60 | 0 |" in out and "| demo-b | 57 | 3 |" in out
    rejects = [json.loads(line) for line in (tmp_path / "data/batches/demo-b/rejected_samples.jsonl").open()]
    assert len(rejects) == 3 and all(r["code"] == "validator" and r["reason"] for r in rejects)
    assert "| IBAN |" in out and str(tmp_path / "data") in out
    assert "| macro_f1 |" in out and "| size (MiB) |" in out and "latency, batch 1" in out
    assert "| test texts | trained model | presidio (vanilla) | trained - presidio (95% interval) |" in out
    assert "F1 drop" in out and "points (95% interval " in out
    assert "external evaluation: no evaluation directory configured ($PII_ASSETS_EVAL_DIR)" in out
    assert f"OK {tmp_path / 'data' / 'releases' / 'r1' / 'quantized_model'}" in out
    assert "release r1: run" in out and "succeeded" in out.split("release r1: run")[1]
    assert "HF dataset" in out and "LLaMA-Factory: llamafactory-cli train" in out
    assert (tmp_path / "data/releases/r1/sft/dataset_info.json").is_file()


def test_a_hub_backbone_name_is_downloaded_once_then_used_from_the_cache(user_env, tmp_path, tiny_backbone):
    """PII_ASSETS_BACKBONE as a Hub name (here on the fake Hub): the demo trains on it, and without the
    Hub (HF_HUB_OFFLINE=1, server gone) a new batch is tokenized from the local cache."""
    from huggingface_hub import ModelCard

    from pii_assets.hub.client import push_folder
    from pii_assets_tests.hubserver import serve

    key = tmp_path / "signing.pem"
    run(["keygen", "--out", str(key)], user_env)
    env = {**user_env, "PII_ASSETS_BACKBONE": "acme/tiny-bert", "PII_ASSETS_SIGNING_KEY_FILE": str(key),
           "HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}
    env.pop("HF_TOKEN", None)  # a public repo: downloads need no token
    with serve(token="hf_backbone_t0ken") as hub:
        push_folder(Path(tiny_backbone), "acme/tiny-bert", repo_type="model", token="hf_backbone_t0ken",
                    endpoint=hub.endpoint, private=False, commit_message="tiny backbone")
        out = run(["demo", "--size", "60", "--epochs", "1", "--learning-rate", "3e-3", "--macro-f1-floor", "0",
                   "--sft-min-per-category", "5"], {**env, "HF_ENDPOINT": hub.endpoint}).stdout
        fetched = {path for method, path, status in hub.requests if method == "GET" and status == 200}
    assert "release r1: run" in out and "succeeded" in out.split("release r1: run")[1]
    assert {"/acme/tiny-bert/resolve/main/config.json", "/acme/tiny-bert/resolve/main/tokenizer.json"} <= fetched
    release = tmp_path / "data/releases/r1"
    assert json.loads((release / "manifest.json").read_text())["config"]["backbone"] == "acme/tiny-bert"
    assert ModelCard.load(release / "model_cards/trained_model.md").data.base_model == "acme/tiny-bert"
    offline = {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    run(["batch", "declare", "later", "--size", "20", "--languages", "en"], offline)
    assert "succeeded" in run(["batch", "materialize", "later"], offline).stdout
    assert (tmp_path / "data/batches/later/training_tokens.parquet").is_file()


def test_a_batch_is_not_materialized_again_while_a_run_of_it_is_unfinished(user_env, tmp_path):
    """The daemon's sensor (or the UI, or another shell) may already be materializing a batch; a second
    run would pay the LLM provider twice. A run whose process was killed stays STARTED in the
    instance: --force runs anyway."""
    import signal
    import time

    from pii_assets.llm.testserver import serve

    with serve(latency=120.0) as server:  # the first run's requests hang until it is killed
        env = {**user_env, "OPENAI_API_KEY": "sk-cli-secret-77", "OPENAI_BASE_URL": server.base_url}
        run(["batch", "declare", "llm-1", "--provider", "openai", "--size", "6", "--languages", "en"], env)
        first = subprocess.Popen([str(BIN / "pii-assets"), "batch", "materialize", "llm-1"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not server.stats.snapshot()["requests"]:
            assert first.poll() is None and time.monotonic() < deadline, first.communicate()
            time.sleep(0.2)
        sent = server.stats.snapshot()["requests"]
        refused = run(["batch", "materialize", "llm-1"], env, check=False)
        assert refused.returncode == 1 and "error: batch llm-1 is being materialized by run " in refused.stderr
        assert "(STARTED since " in refused.stderr and "job batch_job)" in refused.stderr and "--force" in refused.stderr
        assert server.stats.snapshot()["requests"] == sent  # the refused command sent nothing
        assert first.poll() is None
        first.send_signal(signal.SIGKILL)
        first.wait()
        # the dead run is still STARTED in the instance, so the next command is refused too ...
        assert "is being materialized by run" in run(["batch", "materialize", "llm-1"], env, check=False).stderr
        # ... and --force runs anyway
        server.latency = 0.0
        assert "succeeded" in run(["batch", "materialize", "llm-1", "--force"], env).stdout
    assert len((tmp_path / "data/batches/llm-1/reviewed_samples.jsonl").read_text().splitlines()) == 6


def test_runs_in_flight_are_those_of_the_same_assets_and_partition_not_yet_finished():
    import dagster as dg

    from pii_assets.cli import runs_in_flight
    from pii_assets.definitions import defs

    batch_job, release_job = defs.resolve_job_def("batch_job"), defs.resolve_job_def("release_job")
    tokens = frozenset({dg.AssetKey("training_tokens")})
    with dg.instance_for_test() as instance:
        # what the automation sensor launches: an asset selection of the implicit asset job
        sensor_run = instance.create_run_for_job(
            job_def=defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=tokens),
            asset_selection=tokens, tags={"dagster/partition": "b1", "dagster/sensor_name": "batch_automation_sensor"})
        # a release whose key happens to be a batch's key
        release_run = instance.create_run_for_job(job_def=release_job, tags={"dagster/partition": "b1"})
        [line] = runs_in_flight(instance, batch_job, "b1")
        assert line.startswith(f"run {sensor_run.run_id} (NOT_STARTED since ") and \
            line.endswith(" UTC, sensor batch_automation_sensor)")
        assert runs_in_flight(instance, batch_job, "b2") == []
        [line] = runs_in_flight(instance, release_job, "b1")
        assert line.startswith(f"run {release_run.run_id} (NOT_STARTED since ") and line.endswith(", job release_job)")
        instance.report_run_canceled(sensor_run)
        instance.report_run_failed(release_run)
        assert runs_in_flight(instance, batch_job, "b1") == runs_in_flight(instance, release_job, "b1") == []


def test_the_demo_waits_for_a_batch_run_in_flight_and_skips_the_batch_it_materialized(capsys):
    """`make demo` next to `make ui`: the automation sensor may start a batch the moment the demo
    declares it. The demo waits for that run instead of refusing, and runs the batch itself only if
    the run failed or did not cover all of batch_job's assets."""
    import threading

    import dagster as dg

    from pii_assets.cli import wait_for_runs_in_flight
    from pii_assets.definitions import defs

    batch_job = defs.resolve_job_def("batch_job")
    all_assets = frozenset(batch_job.asset_layer.selected_asset_keys)
    tokens = frozenset({dg.AssetKey("training_tokens")})
    implicit = defs.resolve_implicit_global_asset_job_def()

    def finish_later(instance, run, succeeded):
        def finish():
            time.sleep(0.3)
            if succeeded:
                instance.report_dagster_event(dg.DagsterEvent(dg.DagsterEventType.RUN_SUCCESS.value,
                                                              job_name=run.job_name), run.run_id)
            else:
                instance.report_run_failed(run)
        thread = threading.Thread(target=finish)
        thread.start()
        return thread

    with dg.instance_for_test() as instance:
        assert wait_for_runs_in_flight(instance, batch_job, "b1", "batch", poll_seconds=0.05) is None
        assert capsys.readouterr().out == ""  # nothing in flight: no wait, nothing done for it
        cases = [(all_assets, True, True), (all_assets, False, False), (tokens, True, False)]
        for selection, succeeded, done in cases:
            run = instance.create_run_for_job(
                job_def=implicit.get_subset(asset_selection=selection), asset_selection=selection,
                tags={"dagster/partition": "b1", "dagster/sensor_name": "batch_automation_sensor"})
            thread = finish_later(instance, run, succeeded)
            assert wait_for_runs_in_flight(instance, batch_job, "b1", "batch", poll_seconds=0.05) == \
                (run.run_id if done else None)
            thread.join()
            [line] = capsys.readouterr().out.splitlines()  # said once, however long it waits
            assert line.startswith(f"batch b1: waiting for run {run.run_id} (NOT_STARTED since ") and \
                "sensor batch_automation_sensor)" in line and "--force" in line


def test_failure_reasons_name_the_failed_step_and_the_failed_blocking_check():
    import dagster as dg

    from pii_assets.cli import failure_reasons

    @dg.asset(check_specs=[dg.AssetCheckSpec("floor", asset="scored", blocking=True)])
    def scored():
        return dg.MaterializeResult(check_results=[dg.AssetCheckResult(check_name="floor", passed=False)])

    @dg.asset
    def broken():
        raise dg.Failure(description="the input is empty\nmore detail in the log")

    @dg.asset
    def crashed():
        raise KeyError("label")

    result = dg.materialize([scored, broken, crashed], raise_on_error=False)
    assert not result.success
    assert sorted(failure_reasons(result.all_events)) == ["broken: the input is empty", "check floor on scored failed",
                                               "crashed: KeyError: 'label'"]
