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
