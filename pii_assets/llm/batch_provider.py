"""The ``batch`` provider: the OpenAI Batch API shape (OpenAI, Doubleword, ... by base URL).

Stages: ``generate`` (one chat completion per sample: the text, its entities and its coreference
mentions in one structured answer, so the seed's separate coreference stage is part of it) and,
with ``review`` on, ``review``. Each stage uploads a JSONL file (``purpose=batch``), creates a
batch for ``/v1/chat/completions``, polls it and downloads the output file and the error file.

Resumable: the remote file and batch ids of every stage are written to a state file right after
the batch is created (atomically), so a crashed or re-launched materialization of the same
partition polls the same remote batches instead of submitting again. Every status is handled:
``validating / in_progress / finalizing / cancelling`` are waited on; ``completed`` is read;
``failed / expired / cancelled`` turn the stage's missing answers into rejects with the status and
the remote errors (an expired batch's partial output is still read).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pii_assets.batches import BatchSpec
from pii_assets.catalogue import DEFAULT, Catalogue
from pii_assets.llm.openai_provider import (
    ANSWER_SCHEMA, REVIEW_SCHEMA, LLMConfig, Result, messages, review_messages, sample_requests, to_record,
)
from pii_assets.storage import write_json

WAITING = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchProviderError(RuntimeError):
    pass


def _body(config: LLMConfig, chat_messages: list[dict], name: str, schema: dict) -> dict:
    body: dict[str, Any] = {"model": config.model, "messages": chat_messages, "temperature": config.temperature}
    if config.structured == "json_schema":
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
    else:
        body["guided_json"] = schema
    return body


class BatchRun:
    """One batch spec's remote batches, persisted in ``state_path``."""

    def __init__(self, client, config: LLMConfig, state_path: Path, poll_seconds: float = 30.0,
                 log: Callable[[str], None] = print):
        self.client, self.config, self.state_path = client, config, Path(state_path)
        self.poll_seconds, self.log = poll_seconds, log
        self.state: dict[str, Any] = (json.loads(self.state_path.read_text(encoding="utf-8"))
                                      if self.state_path.is_file() else {"stages": {}})

    def _save(self) -> None:
        write_json(self.state_path, self.state)

    def _stage(self, name: str, lines: list[dict], key: str) -> tuple[dict[str, dict], dict[str, str], dict]:
        """Submit (or resume) one stage; returns (answers by custom_id, errors by custom_id, remote)."""
        remote = self.state["stages"].get(name)
        if remote is None:
            data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
            uploaded = self.client.files.create(file=(f"{key}-{name}.jsonl", data), purpose="batch")
            batch = self.client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                               completion_window="24h",
                                               metadata={"pii_assets_batch": key, "stage": name})
            remote = {"batch_id": batch.id, "input_file_id": uploaded.id, "status": batch.status, "lines": len(lines)}
            self.state["stages"][name] = remote
            self._save()
            self.log(f"stage {name}: submitted {len(lines)} requests as remote batch {batch.id}")
        else:
            self.log(f"stage {name}: resuming remote batch {remote['batch_id']} ({remote['status']})")
        while True:
            batch = self.client.batches.retrieve(remote["batch_id"])
            if batch.status != remote["status"]:
                remote["status"] = batch.status
                self._save()
                self.log(f"stage {name}: remote batch {batch.id} is {batch.status}")
            if batch.status in TERMINAL:
                break
            if batch.status not in WAITING:
                raise BatchProviderError(f"remote batch {batch.id} has an unknown status {batch.status!r}")
            time.sleep(self.poll_seconds)
        answers, errors = {}, {}
        for file_id, target in ((batch.output_file_id, answers), (batch.error_file_id, errors)):
            if not file_id:
                continue
            for raw in self.client.files.content(file_id).content.decode("utf-8").splitlines():
                if raw.strip():
                    line = json.loads(raw)
                    target[line["custom_id"]] = line
        if batch.status != "completed":
            remote_errors = getattr(batch, "errors", None)
            detail = "; ".join(e.message for e in (remote_errors.data or [])) if remote_errors else ""
            remote["failure"] = f"remote batch {batch.id} {batch.status}" + (f": {detail}" if detail else "")
        remote.update(output_file_id=batch.output_file_id, error_file_id=batch.error_file_id)
        self._save()
        return answers, {cid: self._error_reason(line) for cid, line in errors.items()}, remote

    @staticmethod
    def _error_reason(line: dict) -> str:
        error = line.get("error") or ((line.get("response") or {}).get("body") or {}).get("error") or {}
        return f"{error.get('code', 'error')}: {error.get('message', '')}".strip()

    def _content(self, line: dict, result: Result) -> Any:
        response = line.get("response") or {}
        if response.get("status_code") != 200:
            raise ValueError(f"HTTP {response.get('status_code')}")
        body = response["body"]
        usage = body.get("usage") or {}
        result.accounting.answered += 1
        result.accounting.input_tokens += usage.get("prompt_tokens") or 0
        result.accounting.output_tokens += usage.get("completion_tokens") or 0
        return json.loads(body["choices"][0]["message"]["content"] or "")

    def run(self, spec: BatchSpec, catalogue: Catalogue = DEFAULT) -> Result:
        requests = sample_requests(spec, catalogue)
        result = Result()
        acc = result.accounting
        acc.requested = len(requests)
        lines = [{"custom_id": f"generate-{r['index']}", "method": "POST", "url": "/v1/chat/completions",
                  "body": _body(self.config, messages(r, catalogue), "pii_sample", ANSWER_SCHEMA)} for r in requests]
        answers, errors, remote = self._stage("generate", lines, spec.key)
        acc.requests += len(lines)
        records: dict[int, dict] = {}
        for r in requests:
            cid = f"generate-{r['index']}"
            try:
                if cid in answers:
                    records[r["index"]] = to_record(self._content(answers[cid], result), r, spec, self.config.model)
                    continue
                code, reason = ("remote_error", errors[cid]) if cid in errors else (
                    "no_answer", remote.get("failure") or f"remote batch {remote['batch_id']} returned no line for it")
            except json.JSONDecodeError as exc:
                code, reason = "malformed_json", f"the answer is not JSON ({exc.msg} at {exc.pos})"
            except (ValueError, KeyError, TypeError) as exc:
                code, reason = "bad_shape", str(exc)
            result.rejects.append({"index": r["index"], "code": code, "reason": reason, "record": None})
            acc.rejects[code] += 1
        if self.config.review and records:
            review_lines = [{"custom_id": f"review-{i}", "method": "POST", "url": "/v1/chat/completions",
                             "body": _body(self.config, review_messages(rec, catalogue), "review", REVIEW_SCHEMA)}
                            for i, rec in sorted(records.items())]
            answers, errors, remote = self._stage("review", review_lines, spec.key)
            acc.requests += len(review_lines)
            for i, record in records.items():
                cid = f"review-{i}"
                try:
                    entities = self._content(answers[cid], result)["entities"]
                    if not isinstance(entities, list) or not all(isinstance(e, dict) for e in entities):
                        raise ValueError("no 'entities' list of objects")
                except KeyError:
                    reason = errors.get(cid) or remote.get("failure") or "no line in the output"
                    record["meta"]["llm_review"] = {"status": "failed", "code": "remote_error", "reason": reason}
                    acc.review_failures["remote_error"] += 1
                except (ValueError, TypeError) as exc:
                    record["meta"]["llm_review"] = {"status": "failed", "code": "bad_answer", "reason": str(exc)}
                    acc.review_failures["bad_answer"] += 1
                else:
                    record["privacy_mask"] = [{"value": e.get("value"), "label": e.get("label")} for e in entities]
                    record["meta"]["llm_review"] = {"status": "ok"}
        for record in records.values():
            record["meta"]["provider"] = "batch"
        result.records = [records[i] for i in sorted(records)]
        result.rejects.sort(key=lambda r: r["index"])
        self.state["done"] = True
        self._save()
        return result


def status(client, state_path: Path) -> list[dict]:
    """The remote batches of a state file, with their current status."""
    state = json.loads(Path(state_path).read_text(encoding="utf-8"))
    out = []
    for stage, remote in state["stages"].items():
        batch = client.batches.retrieve(remote["batch_id"])
        out.append({"stage": stage, "batch_id": batch.id, "status": batch.status,
                    "request_counts": batch.request_counts.model_dump() if batch.request_counts else None})
    return out


def cancel(client, state_path: Path) -> list[str]:
    """Cancel the state file's remote batches that are still running; returns their ids."""
    cancelled = []
    for row in status(client, state_path):
        if row["status"] in ("validating", "in_progress", "finalizing"):
            client.batches.cancel(row["batch_id"])
            cancelled.append(row["batch_id"])
    return cancelled
