"""The OpenAI-compatible test server, exercised through the official ``openai`` client (and httpx
where the client hides the raw HTTP): answers, determinism, auth, every fault kind, batches."""

import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from pii_assets.llm.openai_provider import ANSWER_SCHEMA
from pii_assets.llm.testserver import Faults, TestServer, parse_multipart, serve

KEY = "sk-test-123"
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "pii_sample", "schema": ANSWER_SCHEMA, "strict": True}}


def client_for(server: TestServer, **kw) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0, **kw)


def sample_messages(seed: int, language: str = "de", **extra) -> list[dict]:
    request = {"language": language, "seed": seed, "labels": ["FIRSTNAME", "EMAIL"], "kind": "generate", **extra}
    return [{"role": "system", "content": "Reply with JSON only."},
            {"role": "user", "content": f"Write a support ticket.\nSAMPLE_REQUEST: {json.dumps(request)}"}]


def ask(client: openai.OpenAI, seed: int, language: str = "de", **kw):
    return client.chat.completions.create(model="test-model", messages=sample_messages(seed, language),
                                          response_format=JSON_SCHEMA, **kw)


def content(completion) -> str:
    return completion.choices[0].message.content


def batch_input(n: int, seed0: int = 100) -> bytes:
    lines = [{"custom_id": f"req-{i}", "method": "POST", "url": "/v1/chat/completions",
              "body": {"model": "test-model", "messages": sample_messages(seed0 + i, "en"),
                       "response_format": JSON_SCHEMA}} for i in range(n)]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def start_batch(client: openai.OpenAI, n: int):
    uploaded = client.files.create(file=("in.jsonl", batch_input(n)), purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                 completion_window="24h", metadata={"batch": "test"})


def poll(client: openai.OpenAI, batch_id: str, limit: int = 10) -> list:
    """Retrieve until a terminal status; returns every batch object seen."""
    seen = []
    for _ in range(limit):
        seen.append(client.batches.retrieve(batch_id))
        if seen[-1].status in ("completed", "failed", "expired", "cancelled"):
            return seen
    raise AssertionError(f"batch still {seen[-1].status} after {limit} polls")


def test_chat_completion_answers_a_grounded_json_sample():
    with serve() as server:
        completion = ask(client_for(server), seed=123)
        stats = server.stats.snapshot()
    assert completion.object == "chat.completion" and completion.model == "test-model"
    assert completion.choices[0].finish_reason == "stop" and completion.choices[0].message.role == "assistant"
    answer = json.loads(content(completion))
    assert set(answer) == {"text", "language", "entities", "coreferences"} and answer["language"] == "de"
    assert answer["entities"] and all(set(e) == {"value", "label"} for e in answer["entities"])
    assert all(e["value"] in answer["text"] for e in answer["entities"])
    assert len({(e["value"], e["label"]) for e in answer["entities"]}) == len(answer["entities"])  # deduped
    assert all(m in answer["text"] for c in answer["coreferences"] for m in c["mentions"])
    usage = completion.usage
    assert usage.completion_tokens == len(content(completion)) // 4 > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens and usage.prompt_tokens > 0
    assert stats["requests"] == {"POST /v1/chat/completions": 1} and stats["chat_completions"] == 1
    assert stats["faults"] == {}


def test_same_seed_same_answer_and_the_guided_json_form():
    with serve() as server:
        client = client_for(server)
        first, again = content(ask(client, seed=7, language="fr")), content(ask(client, seed=7, language="fr"))
        other = content(ask(client, seed=8, language="fr"))
        guided = client.chat.completions.create(model="m", messages=sample_messages(7, "fr"),
                                                extra_body={"guided_json": ANSWER_SCHEMA})
    assert first == again != other
    assert content(guided) == first  # vLLM's guided_json gets the same answer
    assert json.loads(first)["language"] == "fr"


def test_review_requests_echo_the_entities_found_in_the_text():
    text = "Please call Anna Berg at anna@example.org."
    request = {"kind": "review", "language": "en", "seed": 1, "text": text,
               "entities": [{"value": "Anna Berg", "label": "FULLNAME"}, {"value": "Bob", "label": "FIRSTNAME"},
                            {"value": "anna@example.org", "label": "EMAIL"}]}
    schema = {"type": "object", "required": ["review"], "properties": {"review": {"type": "string"}}}
    with serve() as server:
        completion = client_for(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": f"Check.\nSAMPLE_REQUEST: {json.dumps(request)}"}],
            response_format={"type": "json_schema", "json_schema": {"name": "review", "schema": schema,
                                                                    "strict": True}})
    assert json.loads(content(completion)) == {"entities": [{"value": "Anna Berg", "label": "FULLNAME"},
                                                            {"value": "anna@example.org", "label": "EMAIL"}]}


def test_requests_without_a_bearer_key_get_401_and_bad_requests_400():
    with serve() as server:
        url = server.base_url + "/chat/completions"
        body = {"model": "m", "messages": sample_messages(1)}
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": f"Basic {KEY}"}):
            response = httpx.post(url, json=body, headers=headers)
            assert response.status_code == 401, headers
            error = response.json()["error"]
            assert error["code"] == "invalid_api_key" and error["param"] is None and error["message"]
        client = client_for(server)
        with pytest.raises(openai.BadRequestError, match="SAMPLE_REQUEST"):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello"}])
        with pytest.raises(openai.BadRequestError, match="unknown language"):
            ask(client, seed=1, language="xx")
        assert server.stats.chat_completions == 0


def test_rate_limit_fault_answers_429_with_retry_after():
    with serve(Faults(rate_limit=1.0, retry_after=0.25)) as server:
        with pytest.raises(openai.RateLimitError) as info:
            ask(client_for(server), seed=1)
        assert server.stats.faults == {"rate_limit": 1} and server.stats.chat_completions == 0
    assert info.value.response.headers["Retry-After"] == "0.25"
    assert info.value.response.json()["error"]["code"] == "rate_limit_exceeded"


def test_server_error_fault_answers_500():
    with serve(Faults(server_error=1.0)) as server:
        with pytest.raises(openai.InternalServerError):
            ask(client_for(server), seed=1)
        assert server.stats.faults == {"server_error": 1}


def test_slow_fault_makes_the_client_time_out():
    with serve(Faults(slow=1.0, slow_seconds=0.5)) as server:
        started = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client_for(server, timeout=0.2), seed=1)
        assert time.monotonic() - started < 0.5
        assert server.stats.faults == {"slow": 1}


def test_malformed_json_fault_truncates_the_content():
    with serve(Faults(malformed_json=1.0)) as server:
        text = content(ask(client_for(server), seed=3))
        assert server.stats.faults == {"malformed_json": 1}
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_missing_value_and_wrong_label_faults_are_visible_in_the_answer():
    with serve(Faults(missing_value=1.0)) as server:
        answer = json.loads(content(ask(client_for(server), seed=3)))
        assert server.stats.faults == {"missing_value": 1}
    assert sum(e["value"] not in answer["text"] for e in answer["entities"]) == 1
    with serve(Faults(wrong_label=1.0)) as server:
        answer = json.loads(content(ask(client_for(server), seed=3)))
        assert server.stats.faults == {"wrong_label": 1}
    assert [e["label"] for e in answer["entities"]].count("NOT_A_LABEL") == 1


def test_duplicate_fault_repeats_the_previous_answer():
    with serve(Faults(duplicate=1.0)) as server:
        client = client_for(server)
        first, second = content(ask(client, seed=1)), content(ask(client, seed=2))
        assert server.stats.faults == {"duplicate": 1}  # the first answer had nothing to repeat
    with serve() as server:
        assert content(ask(client_for(server), seed=2)) != second
    assert json.loads(first)["text"] == json.loads(second)["text"]


def test_faults_can_change_while_the_server_runs_and_are_validated():
    with serve() as server:
        client = client_for(server)
        ask(client, seed=1)
        server.faults.server_error = 1.0
        with pytest.raises(openai.InternalServerError):
            ask(client, seed=1)
    assert Faults().server_error == 0  # serve() works on a copy: the default is never changed
    with pytest.raises(ValueError, match="rate_limit"):
        Faults(rate_limit=1.5)
    with pytest.raises(ValueError, match="batch_outcome"):
        Faults(batch_outcome="exploded")


def test_32_concurrent_requests_overlap():
    with serve(latency=0.3) as server:
        client = client_for(server, timeout=10)
        ask(client, seed=0)  # warm the sample cache
        started = time.monotonic()
        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(lambda i: content(ask(client, seed=i % 2)), range(32)))
        elapsed = time.monotonic() - started
        assert server.stats.chat_completions == 33
    assert elapsed < 4.0  # sequentially it would take 32 * 0.3 = 9.6 s
    assert len(set(answers)) == 2


def test_batch_end_to_end_with_line_errors():
    with serve(Faults(batch_line_error=0.5), seed=4) as server:
        client = client_for(server)
        batch = start_batch(client, 10)
        assert batch.status == "validating" and batch.output_file_id is None and batch.metadata == {"batch": "test"}
        assert batch.request_counts.total == 10
        seen = poll(client, batch.id)
        assert [b.status for b in seen] == ["in_progress", "finalizing", "completed"]
        done = seen[-1]
        assert client.batches.retrieve(batch.id).status == "completed"  # terminal: stays
        output = client.files.content(done.output_file_id).content.decode().splitlines()
        errors = client.files.content(done.error_file_id).content.decode().splitlines()
        stats = server.stats.snapshot()
    counts = done.request_counts
    assert counts.completed == len(output) and counts.failed == len(errors) and len(errors) > 0
    assert counts.completed + counts.failed == counts.total == 10
    ids = set()
    for line in map(json.loads, output):
        assert line["error"] is None and line["response"]["status_code"] == 200
        answer = json.loads(line["response"]["body"]["choices"][0]["message"]["content"])
        assert answer["language"] == "en" and all(e["value"] in answer["text"] for e in answer["entities"])
        ids.add(line["custom_id"])
    for line in map(json.loads, errors):
        assert line["response"] is None and line["error"]["code"] == "server_error"
        ids.add(line["custom_id"])
    assert ids == {f"req-{i}" for i in range(10)}
    assert stats["files_uploaded"] == 1 and stats["batches_created"] == 1 and stats["batch_ids"] == [batch.id]
    assert stats["faults"] == {"batch_line_error": len(errors)} and stats["batch_lines"] == len(output)
    assert stats["requests"]["GET /v1/batches/{id}"] == 4 and stats["requests"]["GET /v1/files/{id}/content"] == 2


def test_batch_without_errors_has_no_error_file():
    with serve() as server:
        client = client_for(server)
        done = poll(client, start_batch(client, 5).id)[-1]
    assert done.status == "completed" and done.error_file_id is None
    assert done.request_counts.completed == done.request_counts.total == 5


@pytest.mark.parametrize("outcome, statuses", [("failed", ["failed"]), ("expired", ["in_progress", "expired"])])
def test_batch_outcome_fault(outcome, statuses):
    with serve(Faults(batch_outcome=outcome)) as server:
        client = client_for(server)
        seen = poll(client, start_batch(client, 5).id)
    assert [b.status for b in seen] == statuses
    assert seen[-1].output_file_id is None and seen[-1].error_file_id is None
    if outcome == "failed":
        assert seen[-1].errors.data[0].code == "invalid_request" and seen[-1].failed_at
    else:
        assert seen[-1].expired_at


def test_cancel_a_batch():
    with serve() as server:
        client = client_for(server)
        batch = start_batch(client, 5)
        assert client.batches.retrieve(batch.id).status == "in_progress"
        assert client.batches.cancel(batch.id).status == "cancelling"
        final = client.batches.retrieve(batch.id)
        assert final.status == "cancelled" and final.cancelled_at and final.output_file_id is None
        with pytest.raises(openai.ConflictError):
            client.batches.cancel(batch.id)
        assert server.stats.batches_cancelled == 1


def test_unknown_ids_and_bad_batch_requests():
    with serve() as server:
        client = client_for(server)
        for call in (lambda: client.batches.retrieve("batch_nope"), lambda: client.batches.cancel("batch_nope"),
                     lambda: client.files.content("file-nope"), lambda: client.files.retrieve("file-nope")):
            with pytest.raises(openai.NotFoundError):
                call()
        with pytest.raises(openai.NotFoundError):
            client.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions",
                                  completion_window="24h")
        uploaded = client.files.create(file=("in.jsonl", b"not json\n"), purpose="batch")
        assert client.files.retrieve(uploaded.id).bytes == 9
        with pytest.raises(openai.BadRequestError, match="endpoint"):
            client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
        done = poll(client, client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                                  completion_window="24h").id)[-1]
        errors = [json.loads(line) for line in client.files.content(done.error_file_id).content.splitlines()]
    assert done.request_counts.failed == 1 and errors[0]["error"]["code"] == "invalid_json"


def test_multipart_parsing_keeps_bytes_exact():
    payload = b"line one\r\n--not-the-boundary\r\n\x00\xff binary\r\n"
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a; b.jsonl\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + payload + b"\r\n--XyZ--\r\n")
    parts = parse_multipart(body, 'multipart/form-data; boundary="XyZ"')
    assert parts == {"purpose": (None, b"batch"), "file": ("a; b.jsonl", payload)}


def test_the_api_key_is_neither_logged_nor_stored(caplog):
    caplog.set_level(logging.DEBUG, logger="pii_assets.llm.testserver")
    with serve() as server:
        client = client_for(server)
        ask(client, seed=1)
        poll(client, start_batch(client, 2).id)
        state = repr(vars(server)) + repr(server.stats.snapshot())
    assert "POST /v1/chat/completions" in caplog.text  # request lines are logged ...
    assert KEY not in caplog.text and KEY not in state  # ... the key is not
