"""The batch provider (OpenAI Batch API shape) against the test server: stages, statuses, resume."""

import json
import os
import signal
import subprocess
import sys
import time

import openai
import pytest

from pii_assets.batches import BatchSpec
from pii_assets.llm.batch_provider import BatchRun, cancel, status
from pii_assets.llm.openai_provider import LLMConfig
from pii_assets.llm.testserver import Faults, serve

KEY = "sk-batch-secret-0d41"


def run(server, tmp_path, spec, **kw):
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=2)
    config = LLMConfig(base_url=server.base_url, model="batch-model", **kw)
    return BatchRun(client, config, tmp_path / "state.json", poll_seconds=0.01, log=lambda _: None).run(spec)


def test_generate_and_review_stages_with_error_lines(tmp_path):
    spec = BatchSpec("bp-1", size=20, seed=1, languages=("en", "nl"))
    with serve(faults=Faults(batch_line_error=0.2, malformed_json=0.1), seed=5) as server:
        result = run(server, tmp_path, spec, review=True)
        assert server.stats.batches_created == 2  # generate + review
    assert len(result.records) + len(result.rejects) == 20
    codes = {r["code"] for r in result.rejects}
    assert "remote_error" in codes and all(r["reason"] for r in result.rejects)
    assert all(r["meta"]["provider"] == "batch" and "llm_review" in r["meta"] for r in result.records)
    state = json.loads((tmp_path / "state.json").read_text())
    assert set(state["stages"]) == {"generate", "review"} and state["done"]
    assert KEY not in (tmp_path / "state.json").read_text()


@pytest.mark.parametrize("outcome", ["failed", "expired"])
def test_failed_or_expired_batches_become_rejects_with_the_status(tmp_path, outcome):
    spec = BatchSpec(f"bp-{outcome}", size=6, seed=2, languages=("de",))
    with serve(faults=Faults(batch_outcome=outcome)) as server:
        result = run(server, tmp_path, spec)
    assert not result.records and len(result.rejects) == 6
    assert all(f" {outcome}" in r["reason"] for r in result.rejects)


def test_a_finished_run_is_never_submitted_again(tmp_path):
    spec = BatchSpec("bp-again", size=5, seed=3, languages=("fr",))
    with serve() as server:
        first = run(server, tmp_path, spec)
        second = run(server, tmp_path, spec)
        assert server.stats.batches_created == 1 and server.stats.files_uploaded == 1
    assert [r["text"] for r in first.records] == [r["text"] for r in second.records]


def test_status_and_cancel(tmp_path):
    with serve() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
        state = tmp_path / "state.json"
        batch = client.batches.create(input_file_id=client.files.create(
            file=("x.jsonl", b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'),
            purpose="batch").id, endpoint="/v1/chat/completions", completion_window="24h")
        state.write_text(json.dumps({"stages": {"generate": {"batch_id": batch.id, "status": batch.status}}}))
        assert status(client, state)[0]["status"] in ("validating", "in_progress")
        assert cancel(client, state) == [batch.id]
        assert server.stats.batches_cancelled == 1


CHILD = """
import sys
import dagster as dg
from pii_assets.assets.batch import raw_samples
from pii_assets.resources import HubResource, LLMResource, StorageResource
url, root, poll = sys.argv[1], sys.argv[2], float(sys.argv[3])
with dg.instance_for_test() as instance:  # a fresh instance each time: only the files persist
    instance.add_dynamic_partitions("batches", ["bp-kill"])
    result = dg.materialize([raw_samples], partition_key="bp-kill", instance=instance, resources={
        "storage": StorageResource(root=root),
        "hub": HubResource(), "llm": LLMResource(base_url=url, api_key=dg.EnvVar("OPENAI_API_KEY"), model="m", batch_poll_seconds=poll)})
    md = result.asset_materializations_for_node("raw_samples")[0].metadata
    print("RESULT", md["raw_samples"].value, md["provider_rejects"].value, flush=True)
"""


def test_kill_9_while_polling_then_rematerializing_submits_once(tmp_path):
    from pii_assets.batches import declare_batch
    from pii_assets.storage import LocalStorage

    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("bp-kill", provider="batch", size=12, seed=6, languages=("en",)))
    state = storage.batch_file("bp-kill", "llm_batch_state.json")
    env = {**os.environ, "OPENAI_API_KEY": KEY}
    with serve() as server:
        args = [sys.executable, "-c", CHILD, server.base_url, str(storage.root)]
        child = subprocess.Popen([*args, "30"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 90
        while not (state.is_file() and json.loads(state.read_text())["stages"].get("generate")):
            assert child.poll() is None and time.monotonic() < deadline, child.stderr.read() if child.poll() else ""
            time.sleep(0.1)
        os.kill(child.pid, signal.SIGKILL)  # while it sleeps between polls
        child.wait()
        assert server.stats.batches_created == 1
        resumed = subprocess.run([*args, "0.01"], env=env, capture_output=True, text=True, timeout=180)
        assert resumed.returncode == 0, resumed.stderr
        assert "resuming remote batch" in resumed.stdout + resumed.stderr
        assert "RESULT 12 0" in resumed.stdout
        assert server.stats.batches_created == 1 and server.stats.files_uploaded == 1
    assert len(storage.batch_file("bp-kill", "raw_samples.jsonl").read_text().splitlines()) == 12


def test_cli_shows_status_and_cancels(tmp_path):
    from pathlib import Path

    spec_dir = tmp_path / "data" / "batches" / "bp-cli"
    spec_dir.mkdir(parents=True)
    with serve() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
        batch = client.batches.create(input_file_id=client.files.create(
            file=("x.jsonl", b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n'),
            purpose="batch").id, endpoint="/v1/chat/completions", completion_window="24h")
        (spec_dir / "llm_batch_state.json").write_text(
            json.dumps({"stages": {"generate": {"batch_id": batch.id, "status": "validating"}}}))
        cli = str(Path(sys.executable).parent / "pii-assets")
        env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.base_url,
               "PII_ASSETS_DATA_DIR": str(tmp_path / "data")}
        shown = subprocess.run([cli, "batch", "llm-batches", "bp-cli"], env=env, capture_output=True, text=True,
                               timeout=60)
        assert shown.returncode == 0 and f"| generate | {batch.id} |" in shown.stdout, shown.stderr
        stopped = subprocess.run([cli, "batch", "llm-batches", "bp-cli", "--cancel"], env=env, capture_output=True,
                                 text=True, timeout=60)
        assert stopped.returncode == 0 and f"cancelled {batch.id}" in stopped.stdout, stopped.stderr
        assert KEY not in shown.stdout + shown.stderr + stopped.stdout + stopped.stderr
