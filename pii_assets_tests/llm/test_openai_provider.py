"""The openai provider through the official client against the project's OpenAI-compatible server."""

import json

import dagster as dg
import pytest

from pii_assets.batches import BatchSpec, declare_batch
from pii_assets.llm.openai_provider import (
    DISTRACTORS, NAME_FORMS, PROMPT_VERSION, LLMConfig, generate, messages, sample_requests,
)
from pii_assets.llm.testserver import Faults, serve
from pii_assets.review import Reject, review_sample

KEY = "sk-test-secret-7f3a9c"


def config(server, **kw):
    return LLMConfig(base_url=server.base_url, model="test-model", **{
        "max_concurrency": 16, "timeout": 30.0,  # the server builds its generator (~5 s) on first use
        "backoff_base": 0.01, "backoff_cap": 0.2, **kw})


def reviewed(records):
    ok, rejects = [], []
    for i, record in enumerate(records, 1):
        try:
            ok.append(review_sample(record, i))
        except Reject as rej:
            rejects.append(rej.code)
    return ok, rejects


def test_clean_answers_become_grounded_samples():
    spec = BatchSpec("llm-clean", size=24, seed=3, languages=("en", "de", "it"))
    with serve() as server:
        result = generate(spec, config(server), KEY)
    assert len(result.records) == 24 and not result.rejects
    assert [r["meta"]["index"] for r in result.records] == list(range(24))
    assert all(r["meta"]["prompt_version"] == PROMPT_VERSION and r["meta"]["model"] == "test-model"
               for r in result.records)
    ok, rejects = reviewed(result.records)
    assert len(ok) + len(rejects) == 24 and len(ok) >= 20
    assert any(s["coreferences"] for s in ok)  # LLM coreference strings grounded into mentions
    acc = result.accounting
    assert acc.requested == acc.answered == acc.requests == 24 and acc.retries == 0
    assert acc.input_tokens > 0 and acc.output_tokens > 0


def test_requests_follow_the_spec_and_rotate_styles():
    spec = BatchSpec("llm-req", size=60, seed=1, languages=("fr", "nl"), label_weights={"PASSWORD": 0})
    requests = sample_requests(spec)
    assert requests == sample_requests(spec)  # deterministic
    assert {r["language"] for r in requests} == {"fr", "nl"} and {r["country"] for r in requests} == {"FR", "NL"}
    assert not any("PASSWORD" in r["labels"] for r in requests)
    assert len({r["style"] for r in requests}) >= 5 and len({r["complexity"] for r in requests}) == 4
    # every request asks for two look-alikes of personal data that must not be listed
    assert {d for r in requests for d in r["distractors"]} == set(DISTRACTORS)
    assert all(len(set(r["distractors"])) == 2 for r in requests)
    assert {r["name_form"] for r in requests if r["labels"]} == set(NAME_FORMS)
    assert all(r["name_form"] is None for r in requests if not r["labels"])
    request = next(r for r in requests if r["labels"])
    user = messages(request)[1]["content"]
    assert NAME_FORMS[request["name_form"]] in user
    assert all(DISTRACTORS[d] in user for d in request["distractors"])
    assert "DATEOFBIRTH only when it is someone's birth date" in messages(request)[0]["content"]


def test_300_samples_with_transient_faults_and_malformed_outputs_all_accounted_for():
    spec = BatchSpec("llm-faults", size=300, seed=5, languages=("en", "es"))
    faults = Faults(rate_limit=0.08, server_error=0.07, slow=0.05, malformed_json=0.10, missing_value=0.05,
                    wrong_label=0.05, retry_after=0.02, slow_seconds=1.0)
    with serve(faults=faults, seed=11) as server:
        result = generate(spec, config(server, max_concurrency=32, timeout=0.5), KEY)
        injected = dict(server.stats.faults)
    assert len(result.records) + len(result.rejects) == 300
    assert sorted([r["meta"]["index"] for r in result.records] + [r["index"] for r in result.rejects]) == list(range(300))
    codes = {r["code"] for r in result.rejects}
    assert "malformed_json" in codes and all(r["reason"] for r in result.rejects)
    acc = result.accounting
    assert acc.retries >= injected.get("rate_limit", 0) and acc.retries > 0
    assert {"HTTP 429", "HTTP 500", "APITimeoutError"} <= set(acc.retry_reasons)
    ok, review_rejects = reviewed(result.records)
    assert len(ok) + len(review_rejects) == len(result.records) and "grounding" in review_rejects


def test_guided_json_form_and_a_missing_key():
    spec = BatchSpec("llm-guided", size=4, seed=2, languages=("de",))
    with serve() as server:
        assert len(generate(spec, config(server, structured="guided_json"), KEY).records) == 4
    with pytest.raises(ValueError, match="needs an API key"):
        generate(spec, LLMConfig(base_url="http://127.0.0.1:9/v1", model="m"), "")


@pytest.mark.parametrize("provider", ["openai", "batch"])
def test_the_api_key_never_reaches_events_run_config_or_files(tmp_path, monkeypatch, provider):
    from pii_assets.assets.batch import raw_samples, reviewed_samples
    from pii_assets.partitions import batches
    from pii_assets.resources import HubResource, LLMResource, StorageResource
    from pii_assets.storage import LocalStorage

    storage = LocalStorage(tmp_path / "data")
    declare_batch(storage, BatchSpec("llm-asset", provider=provider, size=30, seed=4, languages=("en",)))
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with serve(faults=Faults(malformed_json=0.1), seed=2) as server, dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(batches.name, ["llm-asset"])
        resources = {"storage": StorageResource(root=str(storage.root)),
                     "hub": HubResource(), "llm": LLMResource(base_url=server.base_url, api_key=dg.EnvVar("OPENAI_API_KEY"), model="m",
                                        batch_poll_seconds=0.01)}
        result = dg.materialize([raw_samples, reviewed_samples], partition_key="llm-asset", instance=instance,
                                resources=resources)
        assert result.success
        md = result.asset_materializations_for_node("raw_samples")[0].metadata
        assert md["requested"].value == 30 == md["raw_samples"].value + md["provider_rejects"].value
        assert md["estimated_cost_usd"].value > 0 and "| malformed_json |" in md["provider_reject_reasons"].value
        logs = instance.all_logs(result.run_id)
        run = instance.get_run_by_id(result.run_id)
        haystack = json.dumps([str(e) for e in logs]) + json.dumps(run.run_config, default=str)
        assert KEY not in haystack
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    rejects = [json.loads(l) for l in storage.batch_file("llm-asset", "provider_rejects.jsonl").read_text().splitlines()]
    assert all({"index", "code", "reason", "record"} <= set(r) for r in rejects)


def test_llm_review_corrects_invented_values_before_the_rule_based_review():
    spec = BatchSpec("llm-review", size=60, seed=8, languages=("en", "fr"))
    faults = Faults(missing_value=0.5, review_content_faults=False)  # the writer invents, the reviewer does not
    with serve(faults=faults, seed=3) as server:
        plain = generate(spec, config(server), KEY)
    with serve(faults=faults, seed=3) as server:
        checked = generate(spec, config(server, review=True), KEY)
    assert checked.accounting.requests == 2 * plain.accounting.requests == 120
    assert all(r["meta"]["llm_review"]["status"] == "ok" for r in checked.records)
    assert sum(r["meta"]["llm_review"]["removed"] for r in checked.records) >= 10
    _, plain_rejects = reviewed(plain.records)
    ok, review_rejects = reviewed(checked.records)
    assert plain_rejects.count("grounding") >= 10 and review_rejects.count("grounding") == 0


def test_a_failed_review_call_keeps_the_first_answer_marked():
    spec = BatchSpec("llm-review-fail", size=40, seed=9, languages=("de",))
    with serve(faults=Faults(malformed_json=0.3), seed=4) as server:
        result = generate(spec, config(server, review=True), KEY)
    statuses = [r["meta"]["llm_review"]["status"] for r in result.records]
    assert "failed" in statuses and "ok" in statuses
    assert len(result.records) + len(result.rejects) == 40
    failed = next(r for r in result.records if r["meta"]["llm_review"]["status"] == "failed")
    assert failed["meta"]["llm_review"]["code"] == "malformed_json"
    assert sum(result.accounting.review_failures.values()) == statuses.count("failed")
