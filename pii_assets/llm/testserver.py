"""A real OpenAI-compatible HTTP server for tests and benchmarks, with injectable faults.

The LLM providers talk to any OpenAI-compatible endpoint over HTTP. To test them (and to benchmark
their concurrency, retries and batch handling) without a network, an API key or a GPU, this module
runs a small server in-process on ``127.0.0.1`` on a free port, in a background thread::

    with serve(Faults(rate_limit=0.1), latency=0.05) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
        ...
        assert server.stats.faults["rate_limit"] > 0

It speaks enough of the OpenAI API for the providers: ``POST /v1/chat/completions`` (plain,
``response_format`` json_schema or vLLM's ``guided_json``), ``POST /v1/files``,
``GET /v1/files/{id}`` and ``/content``, ``POST /v1/batches``, ``GET /v1/batches/{id}`` and
``POST /v1/batches/{id}/cancel``. Every request needs ``Authorization: Bearer <key>``; any
non-empty key is accepted and the key is never logged or stored.

Answers come from the project's offline generator, so they are real multilingual samples and are
deterministic: the last user message carries a line ``SAMPLE_REQUEST: {json}`` with ``language``
and ``seed`` (and ``labels`` and ``kind``, see ``openai_provider.messages``), and the answer is the
offline sample of that language and seed in the shape a model returns (values without offsets).
The requested ``labels`` are not enforced: the offline sample decides which labels it carries. For
``kind: "review"`` the request also carries ``text`` and ``entities`` and the answer echoes the
entities whose value occurs in the text.

Faults (:class:`Faults`) are drawn per request from a ``random.Random(seed)``, so a sequential run
is reproducible; ``TestServer.stats`` counts what was requested, answered and injected. Batches
advance one status per poll (validating -> in_progress -> finalizing -> completed) and are answered
when they complete, line by line with the chat-completions logic. HTTP-level faults (rate limit,
server error, slow) and ``latency`` apply to direct chat requests only; batch lines get the content
faults and ``batch_line_error``.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, NamedTuple

from pii_assets.batches import MAX_BATCH_SIZE, BatchSpec, BatchSpecError
from pii_assets.generator.offline import OfflineGenerator

log = logging.getLogger(__name__)

REQUEST_MARKER = "SAMPLE_REQUEST:"
WRONG_LABEL = "NOT_A_LABEL"
BATCH_ENDPOINT = "/v1/chat/completions"
BATCH_OUTCOMES = (None, "failed", "expired")
MAX_BODY_BYTES = 64 * 1024 * 1024
SAMPLE_CACHE_SIZE = 4096


@dataclass
class Faults:
    """Fault probabilities (each in [0, 1], drawn per request) and fault parameters.

    HTTP faults (direct chat requests only): ``rate_limit`` answers 429 with ``Retry-After:
    retry_after``; ``server_error`` answers 500; ``slow`` sleeps ``slow_seconds`` before answering.
    Content faults (chat requests and batch lines): ``malformed_json`` truncates the JSON content;
    ``missing_value`` replaces one entity's value by a string not in the text; ``wrong_label``
    gives one entity the label ``NOT_A_LABEL``; ``duplicate`` repeats the previous answer of the
    same kind. ``batch_line_error`` sends a batch line to the batch's error file. ``batch_outcome``
    ("failed" or "expired") makes new batches end in that status instead of "completed".
    """

    rate_limit: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    malformed_json: float = 0.0
    missing_value: float = 0.0
    wrong_label: float = 0.0
    duplicate: float = 0.0
    batch_line_error: float = 0.0
    retry_after: float = 0.05
    slow_seconds: float = 2.0
    batch_outcome: str | None = None
    review_content_faults: bool = True
    """Whether malformed_json / missing_value / wrong_label / duplicate also hit review answers
    (False: a reliable reviewer, to see what a review call fixes)."""

    KINDS: ClassVar[tuple[str, ...]] = ("rate_limit", "server_error", "slow", "malformed_json",
                                        "missing_value", "wrong_label", "duplicate", "batch_line_error")
    HTTP_KINDS: ClassVar[tuple[str, ...]] = ("rate_limit", "server_error", "slow", "malformed_json",
                                             "missing_value", "wrong_label", "duplicate")
    BATCH_KINDS: ClassVar[tuple[str, ...]] = ("batch_line_error", "malformed_json", "missing_value",
                                              "wrong_label", "duplicate")

    def __post_init__(self) -> None:
        for kind in self.KINDS:
            p = getattr(self, kind)
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p <= 1:
                raise ValueError(f"fault probability {kind} must be a number in [0, 1], not {p!r}")
        if self.retry_after < 0 or self.slow_seconds < 0:
            raise ValueError("retry_after and slow_seconds must be >= 0")
        if self.batch_outcome not in BATCH_OUTCOMES:
            raise ValueError(f"batch_outcome must be None, 'failed' or 'expired', not {self.batch_outcome!r}")


@dataclass
class Stats:
    """Counters of one server. Updated by the handler threads under ``lock``; read them when the
    requests are done, or take a consistent copy with :meth:`snapshot`."""

    requests: dict[str, int] = field(default_factory=dict)
    """Requests per endpoint, e.g. ``{"POST /v1/chat/completions": 3}`` (unknown routes: "other")."""
    chat_completions: int = 0
    """Chat completions answered over HTTP (200 responses)."""
    batch_lines: int = 0
    """Batch lines answered (lines written to a batch's output file)."""
    faults: dict[str, int] = field(default_factory=dict)
    """Faults injected, per kind (a content fault that could not apply is not counted)."""
    files_uploaded: int = 0
    batches_created: int = 0
    batch_ids: list[str] = field(default_factory=list)
    batches_cancelled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count_request(self, endpoint: str) -> None:
        with self.lock:
            self.requests[endpoint] = self.requests.get(endpoint, 0) + 1

    def count_fault(self, kind: str) -> None:
        with self.lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    def add(self, counter: str, n: int = 1) -> None:
        """Increment an integer counter by name (``chat_completions``, ``files_uploaded``, ...)."""
        with self.lock:
            setattr(self, counter, getattr(self, counter) + n)

    def batch_created(self, batch_id: str) -> None:
        with self.lock:
            self.batches_created += 1
            self.batch_ids.append(batch_id)

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of all counters as plain data."""
        with self.lock:
            return {f.name: copy.deepcopy(getattr(self, f.name)) for f in fields(self) if f.name != "lock"}


class ApiError(Exception):
    """An OpenAI-style error response: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error",
                 code: str = "invalid_request", param: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type, code, param
        self.headers = headers or {}

    def payload(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class Response(NamedTuple):
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = {}


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json", headers or {})


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:24]}"


def _load_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"the request body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


# --- multipart -----------------------------------------------------------------------------

_PARAM = re.compile(r';\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    """``'form-data; name="file"; filename="a.jsonl"'`` -> ``("form-data", {"name": ..., ...})``."""
    main, _, rest = value.partition(";")
    params = {}
    for key, raw in _PARAM.findall(";" + rest):
        raw = raw.strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params[key.lower()] = raw
    return main.strip().lower(), params


def parse_multipart(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a ``multipart/form-data`` body: ``{field name: (filename or None, bytes)}``.

    Each part starts after ``--boundary`` + CRLF and ends right before CRLF + ``--boundary``; the
    last delimiter is followed by ``--``. Raises :class:`ApiError` (400) on a malformed body.
    """
    kind, params = _header_params(content_type)
    boundary = params.get("boundary")
    if kind != "multipart/form-data" or not boundary:
        raise ApiError(400, "expected a multipart/form-data body with a boundary")
    segments = (b"\r\n" + body).split(b"\r\n--" + boundary.encode("latin-1"))
    parts: dict[str, tuple[str | None, bytes]] = {}
    closed = False
    for segment in segments[1:]:  # segments[0] is the preamble
        if segment.startswith(b"--"):
            closed = True
            break
        head, sep, content = segment.partition(b"\r\n\r\n")
        if not sep:
            raise ApiError(400, "malformed multipart body: a part has no header/body separator")
        disposition = None
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = _header_params(value)[1]
        if not disposition or "name" not in disposition:
            raise ApiError(400, "malformed multipart body: a part has no Content-Disposition name")
        parts[disposition["name"]] = (disposition.get("filename"), content)
    if not closed:
        raise ApiError(400, "malformed multipart body: no closing boundary")
    return parts


# --- the server ----------------------------------------------------------------------------


@dataclass
class _Batch:
    """A batch: its public API object plus what the server needs to process it."""

    obj: dict[str, Any]
    lines: list[str]
    outcome: str | None
    processing: bool = False


class TestServer:
    """The state and request logic of one server; see :func:`serve` to run one.

    ``faults`` and ``latency`` may be changed while the server runs (the next request sees them).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, faults: Faults | None = None, latency: float = 0.0, seed: int = 0):
        self.faults = faults if faults is not None else Faults()
        self.latency = latency
        self.stats = Stats()
        self.base_url = ""
        self._rng = random.Random(seed)
        self._lock = threading.Lock()  # rng, files, batches, last answers
        self._generate_lock = threading.Lock()  # one offline generator at a time
        self._samples: dict[tuple[str, int], dict[str, Any]] = {}
        self._generators: dict[str, OfflineGenerator] = {}
        self._last: dict[str, dict[str, Any]] = {}
        self._files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._batches: dict[str, _Batch] = {}
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: list[tuple[str, re.Pattern[str], str, Callable[..., Response]]] = [
            ("POST", re.compile(r"/v1/chat/completions"), "POST /v1/chat/completions", self._post_chat),
            ("POST", re.compile(r"/v1/files"), "POST /v1/files", self._post_file),
            ("GET", re.compile(r"/v1/files/([^/]+)"), "GET /v1/files/{id}", self._get_file),
            ("GET", re.compile(r"/v1/files/([^/]+)/content"), "GET /v1/files/{id}/content",
             self._get_file_content),
            ("POST", re.compile(r"/v1/batches"), "POST /v1/batches", self._post_batch),
            ("GET", re.compile(r"/v1/batches/([^/]+)"), "GET /v1/batches/{id}", self._get_batch),
            ("POST", re.compile(r"/v1/batches/([^/]+)/cancel"), "POST /v1/batches/{id}/cancel",
             self._cancel_batch),
        ]

    # --- lifecycle ---

    def start(self) -> None:
        """Listen on 127.0.0.1 on a free port and serve in a daemon thread."""
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.app = self
        port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"llm-testserver-{port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the socket (in-flight handler threads are daemons)."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    # --- dispatch ---

    def handle(self, method: str, path: str, headers: Any, body: bytes) -> Response:
        """Route one request; every failure becomes an OpenAI-style JSON error."""
        path = path.split("?", 1)[0].rstrip("/") or "/"
        matched = [(m, pattern.fullmatch(path), name, fn) for m, pattern, name, fn in self._routes]
        matched = [r for r in matched if r[1]]
        route = next((r for r in matched if r[0] == method), None)
        self.stats.count_request(route[2] if route else "other")
        try:
            if not _authorized(headers.get("Authorization")):
                raise ApiError(401, "Incorrect or missing API key: send 'Authorization: Bearer <key>'.",
                               code="invalid_api_key")
            if route is None:
                if matched:
                    raise ApiError(405, f"method {method} is not allowed on {path}", code="method_not_allowed")
                raise ApiError(404, f"unknown URL {method} {path}", code="unknown_url")
            return route[3](route[1], headers, body)
        except ApiError as exc:
            return _json(exc.payload(), exc.status, exc.headers)
        except Exception as exc:  # a bug in the test server: still answer in the API's error shape
            log.exception("test server failed on %s %s", method, path)
            return _json(ApiError(500, f"test server bug: {type(exc).__name__}: {exc}",
                                  type="server_error", code="internal_error").payload(), 500)

    # --- chat completions ---

    def _post_chat(self, match: re.Match, headers: Any, body: bytes) -> Response:
        if self.latency > 0:
            time.sleep(self.latency)
        faults = self._draw(Faults.HTTP_KINDS)
        if "rate_limit" in faults:
            self.stats.count_fault("rate_limit")
            retry_after = self.faults.retry_after
            raise ApiError(429, "Rate limit reached (injected fault). Please retry after a short while.",
                           type="rate_limit_error", code="rate_limit_exceeded",
                           headers={"Retry-After": f"{retry_after:g}",
                                    "retry-after-ms": f"{retry_after * 1000:g}"})
        if "server_error" in faults:
            self.stats.count_fault("server_error")
            raise ApiError(500, "The server had an error while processing your request (injected fault).",
                           type="server_error", code="server_error")
        if "slow" in faults:  # counted before the answer is built, which can take longer than a client waits
            self.stats.count_fault("slow")
            time.sleep(self.faults.slow_seconds)
        completion = self.complete(_load_json(body), faults)
        self.stats.add("chat_completions")
        return _json(completion, headers={"x-request-id": _new_id("req_")})

    def _draw(self, kinds: tuple[str, ...]) -> set[str]:
        """The faults hitting one request: one draw per kind, in a fixed order."""
        with self._lock:
            return {kind for kind in kinds if self._rng.random() < getattr(self.faults, kind)}

    def complete(self, body: dict[str, Any], faults: AbstractSet[str] = frozenset()) -> dict[str, Any]:
        """A ``chat.completion`` object for a request body, with the given content faults applied."""
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(model, str) or not model:
            raise ApiError(400, "'model' is required", param="model")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise ApiError(400, "'messages' must be a non-empty list of objects", param="messages")
        texts = [_message_text(m) for m in messages]
        user = [t for m, t in zip(messages, texts) if m.get("role") == "user"]
        if not user:
            raise ApiError(400, "no user message", param="messages")
        request = _sample_request(user[-1])
        schema = _requested_schema(body)
        if request.get("kind") == "review" or _is_review_schema(schema, body):
            kind, answer = "review", _review_answer(request)
        else:
            kind, answer = "generate", self._generate_answer(request)
        if kind == "review" and not self.faults.review_content_faults:
            faults = set(faults) - {"malformed_json", "missing_value", "wrong_label", "duplicate"}
        content = self._apply_content_faults(kind, answer, faults)
        prompt_tokens = sum(len(t) for t in texts) // 4
        completion_tokens = len(content) // 4
        return {
            "id": _new_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }

    def _generate_answer(self, request: dict[str, Any]) -> dict[str, Any]:
        """The offline sample of ``(language, seed)`` in the model-answer shape (a fresh copy)."""
        language, seed = request.get("language"), request.get("seed")
        if not isinstance(language, str) or not isinstance(seed, int) or isinstance(seed, bool):
            raise ApiError(400, "SAMPLE_REQUEST needs a string 'language' and an integer 'seed'")
        key = (language, seed)
        with self._lock:
            cached = self._samples.get(key)
        if cached is None:
            with self._generate_lock:
                generator = self._generators.get(language)
                if generator is None:  # building one (Faker locales) takes ~0.1 s: once per language
                    try:
                        spec = BatchSpec(key="llm-test", size=MAX_BATCH_SIZE, languages=(language,)).validate()
                    except BatchSpecError as exc:
                        raise ApiError(400, f"SAMPLE_REQUEST: {exc}") from None
                    generator = self._generators[language] = OfflineGenerator(spec)
                cached = to_answer(generator.sample(seed % MAX_BATCH_SIZE))
            with self._lock:
                if len(self._samples) >= SAMPLE_CACHE_SIZE:
                    self._samples.pop(next(iter(self._samples)))
                self._samples[key] = cached
        return copy.deepcopy(cached)

    def _apply_content_faults(self, kind: str, answer: dict[str, Any], faults: AbstractSet[str]) -> str:
        """Apply duplicate / missing_value / wrong_label / malformed_json; return the content string."""
        with self._lock:
            previous = self._last.get(kind)
            if "duplicate" in faults and previous is not None:
                answer = copy.deepcopy(previous)
                self.stats.count_fault("duplicate")
            self._last[kind] = copy.deepcopy(answer)
            entities = answer.get("entities") or []
            if "missing_value" in faults and entities:
                entity = self._rng.choice(entities)
                text = answer.get("text", "")
                invented = f"{entity['value']}-{self._rng.getrandbits(32):08x}"
                while invented in text:
                    invented += "x"
                entity["value"] = invented
                self.stats.count_fault("missing_value")
            if "wrong_label" in faults and entities:
                self._rng.choice(entities)["label"] = WRONG_LABEL
                self.stats.count_fault("wrong_label")
        content = json.dumps(answer, ensure_ascii=False)
        if "malformed_json" in faults:
            self.stats.count_fault("malformed_json")
            content = content[: len(content) // 2]  # an unclosed object is never valid JSON
        return content

    # --- files ---

    def _post_file(self, match: re.Match, headers: Any, body: bytes) -> Response:
        parts = parse_multipart(body, headers.get("Content-Type", ""))
        if "file" not in parts:
            raise ApiError(400, "missing the 'file' field", param="file")
        purpose = parts.get("purpose", (None, b""))[1].decode("utf-8", "replace").strip()
        if not purpose:
            raise ApiError(400, "missing the 'purpose' field", param="purpose")
        filename, data = parts["file"]
        obj = self._store_file(filename or "upload", data, purpose)
        self.stats.add("files_uploaded")
        return _json(obj)

    def _store_file(self, filename: str, data: bytes, purpose: str) -> dict[str, Any]:
        obj = {"id": _new_id("file-"), "object": "file", "bytes": len(data), "created_at": int(time.time()),
               "filename": filename, "purpose": purpose, "status": "processed", "status_details": None}
        with self._lock:
            self._files[obj["id"]] = (obj, data)
        return obj

    def _file(self, file_id: str) -> tuple[dict[str, Any], bytes]:
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None:
            raise ApiError(404, f"No such File object: {file_id}", code="not_found", param="id")
        return stored

    def _get_file(self, match: re.Match, headers: Any, body: bytes) -> Response:
        return _json(self._file(match[1])[0])

    def _get_file_content(self, match: re.Match, headers: Any, body: bytes) -> Response:
        return Response(200, self._file(match[1])[1], "application/octet-stream", {})

    # --- batches ---

    def _post_batch(self, match: re.Match, headers: Any, body: bytes) -> Response:
        data = _load_json(body)
        input_file_id = data.get("input_file_id")
        if not isinstance(input_file_id, str):
            raise ApiError(400, "'input_file_id' is required", param="input_file_id")
        if data.get("endpoint") != BATCH_ENDPOINT:
            raise ApiError(400, f"'endpoint' must be {BATCH_ENDPOINT!r}", param="endpoint")
        if data.get("completion_window") != "24h":
            raise ApiError(400, "'completion_window' must be '24h'", param="completion_window")
        metadata = data.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ApiError(400, "'metadata' must be an object", param="metadata")
        _, raw = self._file(input_file_id)
        try:
            lines = [line for line in raw.decode("utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise ApiError(400, "the input file is not UTF-8", param="input_file_id") from None
        now = int(time.time())
        obj = {
            "id": _new_id("batch_"), "object": "batch", "endpoint": BATCH_ENDPOINT, "errors": None,
            "input_file_id": input_file_id, "completion_window": "24h", "status": "validating",
            "output_file_id": None, "error_file_id": None, "created_at": now, "in_progress_at": None,
            "expires_at": now + 24 * 3600, "finalizing_at": None, "completed_at": None, "failed_at": None,
            "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0}, "metadata": metadata,
        }
        with self._lock:
            self._batches[obj["id"]] = _Batch(obj, lines, self.faults.batch_outcome)
            result = copy.deepcopy(obj)
        self.stats.batch_created(obj["id"])
        return _json(result)

    def _batch(self, batch_id: str) -> _Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError(404, f"No such Batch object: {batch_id}", code="not_found", param="id")
        return batch

    def _get_batch(self, match: re.Match, headers: Any, body: bytes) -> Response:
        """Advance the batch one status and return it; the last step answers all its lines."""
        lines: list[str] | None = None
        with self._lock:
            batch = self._batch(match[1])
            obj, now = batch.obj, int(time.time())
            status = obj["status"]
            if status == "validating" and batch.outcome == "failed":
                obj.update(status="failed", failed_at=now, errors={"object": "list", "data": [{
                    "code": "invalid_request", "message": "The batch failed validation (injected outcome).",
                    "param": None, "line": None}]})
            elif status == "validating":
                obj.update(status="in_progress", in_progress_at=now)
            elif status == "in_progress" and batch.outcome == "expired":
                obj.update(status="expired", expired_at=now)
            elif status == "in_progress":
                obj.update(status="finalizing", finalizing_at=now)
            elif status == "cancelling":
                obj.update(status="cancelled", cancelled_at=now)
            elif status == "finalizing" and not batch.processing:
                batch.processing = True  # this poll answers the lines; others see "finalizing"
                lines = list(batch.lines)
            if lines is None:  # advanced one step, or nothing to do
                return _json(copy.deepcopy(obj))
        try:
            outputs, errors = self._run_batch(lines)  # without the lock: it generates samples
        finally:
            with self._lock:
                batch.processing = False
        output = self._store_file(f"{obj['id']}_output.jsonl", _jsonl(outputs), "batch_output")
        error = self._store_file(f"{obj['id']}_error.jsonl", _jsonl(errors), "batch_output") if errors else None
        with self._lock:
            if obj["status"] == "finalizing":  # not cancelled meanwhile
                obj.update(status="completed", completed_at=int(time.time()), output_file_id=output["id"],
                           error_file_id=error["id"] if error else None,
                           request_counts={"total": len(lines), "completed": len(outputs),
                                           "failed": len(errors)})
            return _json(copy.deepcopy(obj))

    def _run_batch(self, lines: list[str]) -> tuple[list[dict], list[dict]]:
        """Answer every input line: (output file lines, error file lines)."""
        outputs, errors = [], []
        for number, line in enumerate(lines, 1):
            custom_id = None
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise ApiError(400, f"line {number} is not a JSON object")
                custom_id = item.get("custom_id")
                if not isinstance(custom_id, str):
                    raise ApiError(400, f"line {number} has no string 'custom_id'", param="custom_id")
                if item.get("url") != BATCH_ENDPOINT or item.get("method", "POST") != "POST":
                    raise ApiError(400, f"line {number}: only POST {BATCH_ENDPOINT} is supported",
                                   code="invalid_url", param="url")
                if not isinstance(item.get("body"), dict):
                    raise ApiError(400, f"line {number} has no 'body' object", param="body")
                faults = self._draw(Faults.BATCH_KINDS)
                if "batch_line_error" in faults:
                    self.stats.count_fault("batch_line_error")
                    raise ApiError(500, "The server had an error processing this request (injected fault).",
                                   type="server_error", code="server_error")
                completion = self.complete(item["body"], faults)
            except json.JSONDecodeError as exc:
                errors.append(_error_line(None, "invalid_json", f"line {number} is not JSON ({exc.msg})"))
            except ApiError as exc:
                errors.append(_error_line(custom_id, exc.code, exc.message))
            else:
                self.stats.add("batch_lines")
                outputs.append({"id": _new_id("batch_req_"), "custom_id": custom_id, "error": None,
                                "response": {"status_code": 200, "request_id": _new_id("req_"),
                                             "body": completion}})
        return outputs, errors

    def _cancel_batch(self, match: re.Match, headers: Any, body: bytes) -> Response:
        with self._lock:
            obj = self._batch(match[1]).obj
            if obj["status"] not in ("validating", "in_progress", "finalizing"):
                raise ApiError(409, f"Cannot cancel a batch with status {obj['status']!r}.",
                               code="batch_not_cancellable")
            obj.update(status="cancelling", cancelling_at=int(time.time()))
            result = copy.deepcopy(obj)
        self.stats.add("batches_cancelled")
        return _json(result)


# --- request parsing and answers -------------------------------------------------------------


def _authorized(header: str | None) -> bool:
    scheme, _, key = (header or "").partition(" ")
    return scheme.lower() == "bearer" and bool(key.strip())


def _message_text(message: dict[str, Any]) -> str:
    """The text of a message whose content is a string or a list of ``{"type": "text"}`` parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _sample_request(text: str) -> dict[str, Any]:
    """The JSON object on the ``SAMPLE_REQUEST:`` line of the last user message."""
    for line in reversed(text.splitlines()):
        head, marker, rest = line.partition(REQUEST_MARKER)
        if marker and not head.strip():
            try:
                request = json.loads(rest)
            except json.JSONDecodeError as exc:
                raise ApiError(400, f"SAMPLE_REQUEST is not valid JSON ({exc.msg})", param="messages") from None
            if not isinstance(request, dict):
                raise ApiError(400, "SAMPLE_REQUEST must be a JSON object", param="messages")
            return request
    raise ApiError(400, f"the last user message has no '{REQUEST_MARKER} {{json}}' line", param="messages")


def _requested_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of ``response_format`` (json_schema) or vLLM's ``guided_json``, if any."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else None
    guided = body.get("guided_json")
    if isinstance(guided, str):
        try:
            guided = json.loads(guided)
        except json.JSONDecodeError:
            raise ApiError(400, "'guided_json' is not valid JSON", param="guided_json") from None
    return guided if isinstance(guided, dict) else None


def _is_review_schema(schema: dict[str, Any] | None, body: dict[str, Any]) -> bool:
    """A review request: its schema requires "review", or the json_schema is named "review"."""
    required = (schema or {}).get("required")
    if isinstance(required, list) and "review" in required:
        return True
    response_format = body.get("response_format")
    return isinstance(response_format, dict) and (response_format.get("json_schema") or {}).get("name") == "review"


def _review_answer(request: dict[str, Any]) -> dict[str, Any]:
    """The request's entities whose value occurs in its text (as a reviewing model would keep)."""
    text, entities = request.get("text"), request.get("entities")
    if not isinstance(text, str) or not isinstance(entities, list):
        raise ApiError(400, "a review SAMPLE_REQUEST needs 'text' and 'entities'", param="messages")
    kept = [{"value": e["value"], "label": e.get("label")} for e in entities
            if isinstance(e, dict) and isinstance(e.get("value"), str) and e["value"] and e["value"] in text]
    return {"entities": kept}


def to_answer(sample: dict[str, Any]) -> dict[str, Any]:
    """An offline sample in the shape a model answers: values without offsets, mention texts only."""
    entities = []
    for span in sample["privacy_mask"]:
        entity = {"value": span["value"], "label": span["label"]}
        if entity not in entities:
            entities.append(entity)
    return {
        "text": sample["text"],
        "language": sample["language"],
        "entities": entities,
        "coreferences": [{"entity_type": c["entity_type"], "mentions": [m["text"] for m in c["mentions"]]}
                         for c in sample["coreferences"]],
    }


def _error_line(custom_id: str | None, code: str, message: str) -> dict[str, Any]:
    return {"id": _new_id("batch_req_"), "custom_id": custom_id, "response": None,
            "error": {"code": code, "message": message}}


def _jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()


# --- HTTP plumbing ---------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    app: TestServer


class _Handler(BaseHTTPRequestHandler):
    """Reads the request, hands it to the server's :class:`TestServer`, writes the response.

    HTTP/1.1 keep-alive: the body is always read in full and every response has a Content-Length.
    Nothing is logged except method and path (never headers, so never the API key).
    """

    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle's algorithm the second waits for the
    # client's delayed ACK (~40 ms per response on Linux)
    disable_nagle_algorithm = True
    server_version = "pii-assets-llm-testserver"
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            body = self._read_body()
        except ApiError as exc:
            self.close_connection = True
            self._write(_json(exc.payload(), exc.status))
            return
        self._write(self.server.app.handle(method, self.path, self.headers, body))

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ApiError(413, "request body too large", code="payload_too_large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise ApiError(400, "invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "request body too large", code="payload_too_large")
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. timed out)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


@contextmanager
def serve(faults: Faults = Faults(), latency: float = 0.0, seed: int = 0) -> Iterator[TestServer]:
    """Run a :class:`TestServer` on 127.0.0.1 (free port) in a background thread for the block.

    The server works on a copy of ``faults`` (so the shared default is never changed); change
    faults while it runs through ``server.faults``.
    """
    server = TestServer(faults=replace(faults), latency=latency, seed=seed)
    server.start()
    try:
        yield server
    finally:
        server.stop()
