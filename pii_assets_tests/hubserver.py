"""A fake Hugging Face Hub: a real HTTP server for the part of the Hub API that huggingface_hub 0.36
uses to create repos, commit files (regular and LFS), tag commits and download snapshots.

Tests run the real huggingface_hub code against it through its ``endpoint`` argument::

    with serve(token="hf_test") as hub:
        HfApi(endpoint=hub.endpoint, token="hf_test").create_repo("acme/data", repo_type="dataset")
        assert hub.repos[("dataset", "acme/data")].private is False

Behaviour follows the Hub where huggingface_hub depends on it:

- Auth: a wrong ``Authorization: Bearer`` token is a 401 "Invalid credentials" on every API route;
  writes need the token; private repos (and missing ones) answer ``RepoNotFound``, 401 without a
  token and 404 with one, so huggingface_hub raises its usual errors.
- ``POST /api/repos/create`` adds the Hub's default ``.gitattributes`` in an initial commit; an
  existing repo is a 409 whose body carries the ``url`` (create_repo(exist_ok=True) reads it).
  Repo and commit URLs in answers are on huggingface.co, as the Hub's are (see CANONICAL_URL).
- ``POST /api/validate-yaml`` (create_commit sends a README.md's front matter there first)
  rejects front matter that is not a YAML mapping.
- ``preupload`` answers ``lfs`` for files over 10 MiB, files matching a ``filter=lfs`` pattern of
  the head's ``.gitattributes`` (``*.parquet``, ``*.bin``, ...) and binary samples (a NUL byte),
  else ``regular``, with the remote ``oid`` so unchanged files are skipped.
- LFS batch API with the ``basic`` transfer only: Xet is never chosen or advertised, so the
  regular and LFS paths are used even with hf-xet installed. Upload hrefs are signed URLs on this
  server (like S3's); the PUT checks size and sha256; ``verify`` checks the object arrived.
- ``commit`` applies NDJSON ``file`` / ``lfsFile`` / ``deletedFile`` / ``deletedFolder`` lines
  atomically; an ``lfsFile`` must name an uploaded object; non-LFS files over 10 MiB or binary are
  rejected; ``parentCommit`` must be the head (412).
- Downloads: ``GET /api/{type}s/{id}[/revision/{rev}]``, ``/refs``, ``/tree/{rev}``, and
  ``HEAD``/``GET /[datasets/]{id}/resolve/{rev}/{path}``: regular files answer 200 with ``ETag``
  (git blob sha1); LFS files redirect (302) to a signed storage URL, with ``X-Linked-Etag``
  (sha256) and ``X-Linked-Size``; both carry ``X-Repo-Commit``.

Only the ``main`` branch exists; revisions are ``main``, a tag or a full commit sha. State is
inspectable: ``hub.repos[(type, repo_id)]`` (:class:`Repo`), ``hub.requests`` (method, path,
status; never headers, so never the token) and ``hub.lfs_transfers`` (transfers offered per batch).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

import yaml

log = logging.getLogger(__name__)

LFS_THRESHOLD = 10 * 1024 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024
# The Hub answers with URLs on huggingface.co whatever endpoint was called; huggingface_hub
# rewrites some (repo URL, LFS verify href) to its endpoint but parses the commit URL as is, and
# fails on a URL of another host (CommitInfo -> RepoUrl). So this fake answers the same way.
CANONICAL_URL = "https://huggingface.co"
LFS_PATTERNS = ("*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
                "*.lfs.*", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb",
                "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "*.tar", "*.tflite",
                "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*")
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()
_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_ID = r"(?P<id>(?!api/)[\w.-]+/[\w.-]+)"
_API = rf"/api/(?P<types>models|datasets|spaces)/{_ID}"
_WEB = rf"/(?:(?P<prefix>datasets|spaces)/)?{_ID}"


def git_hash(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    files: dict[str, bytes]
    """The whole tree at this commit: path -> content."""
    lfs: frozenset[str]
    """The paths stored through LFS."""
    parent: str | None = None
    description: str = ""

    def blob(self, path: str) -> tuple[str, dict[str, Any] | None]:
        """(git blob id, LFS info or None); an LFS file's blob is its pointer file, as in git."""
        data = self.files[path]
        if path not in self.lfs:
            return git_hash(data), None
        oid = hashlib.sha256(data).hexdigest()
        pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n".encode()
        return git_hash(pointer), {"oid": oid, "size": len(data), "pointerSize": len(pointer)}


@dataclass
class Repo:
    type: str
    repo_id: str
    private: bool
    commits: list[Commit] = field(default_factory=list)
    """The history of ``main``, oldest first."""
    tags: dict[str, str] = field(default_factory=dict)
    """Tag -> commit sha."""
    lfs_objects: dict[str, bytes] = field(default_factory=dict)
    """Uploaded LFS objects: sha256 -> content."""
    created_at: str = field(default_factory=_now)

    @property
    def head(self) -> Commit:
        return self.commits[-1]

    def add_commit(self, message: str, files: dict[str, bytes], lfs: set[str], description: str = "") -> Commit:
        parent = self.commits[-1].sha if self.commits else None
        digest = hashlib.sha1(json.dumps([parent, message, sorted((p, hashlib.sha256(d).hexdigest())
                                                                  for p, d in files.items())]).encode())
        commit = Commit(digest.hexdigest(), message, files, frozenset(lfs), parent, description)
        self.commits.append(commit)
        return commit

    def resolve(self, revision: str) -> Commit:
        sha = self.head.sha if revision == "main" else self.tags.get(revision, revision)
        for commit in self.commits:
            if commit.sha == sha:
                return commit
        raise ApiError(404, f"Invalid rev id: {revision}", code="RevisionNotFound")


class ApiError(Exception):
    """A Hub-style error: JSON ``{"error": message}`` plus ``X-Error-Message`` / ``X-Error-Code``."""

    def __init__(self, status: int, message: str, code: str | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.extra = status, message, code, extra or {}
        self.headers = {"X-Error-Message": message, **({"X-Error-Code": code} if code else {}), **(headers or {})}

    def response(self) -> Response:
        return _json({"error": self.message, **self.extra}, self.status, self.headers)


class Response(NamedTuple):
    status: int
    body: bytes = b""
    headers: dict[str, str] = {}


class Request(NamedTuple):
    match: re.Match[str]
    query: dict[str, str]
    body: bytes
    authed: bool

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise ApiError(400, "the request body is not valid JSON") from None


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


class FakeHub:
    """The state and request logic of one fake Hub; run one with :func:`serve`."""

    __test__ = False

    def __init__(self, token: str, user: str = "tester"):
        self.token, self.user, self.endpoint = token, user, ""
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.lfs_transfers: list[list[str]] = []
        self._secret = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._routes = [(methods.split(), re.compile(pattern), handler) for methods, pattern, handler in (
            ("POST", r"/api/repos/create", self._create_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("GET", rf"{_API}(?:/revision/(?P<rev>[^/]+))?", self._repo_info),
            ("GET", rf"{_API}/refs", self._refs),
            ("GET", rf"{_API}/tree/(?P<rev>[^/]+)(?P<path>/.*)?", self._tree),
            ("POST", rf"{_API}/preupload/(?P<rev>[^/]+)", self._preupload),
            ("POST", rf"{_API}/commit/(?P<rev>[^/]+)", self._commit),
            ("POST", rf"{_API}/tag/(?P<rev>[^/]+)", self._create_tag),
            ("DELETE", rf"{_API}/tag/(?P<tag>[^/]+)", self._delete_tag),
            ("POST", rf"{_WEB}\.git/info/lfs/objects/batch", self._lfs_batch),
            ("POST", rf"{_WEB}\.git/info/lfs/objects/verify", self._lfs_verify),
            ("GET HEAD", rf"{_WEB}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self._resolve),
            ("GET PUT", rf"/lfs-storage/(?P<type>model|dataset|space)/{_ID}/(?P<oid>[0-9a-f]{{64}})",
             self._storage),
        )]

    # --- dispatch ---

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> Response:
        url = urlsplit(target)
        try:
            for methods, pattern, handler in self._routes:
                match = pattern.fullmatch(url.path)
                if match and method in methods:
                    # storage URLs are signed (like S3's): no token there
                    authed = not url.path.startswith("/lfs-storage/") and self._authed(headers)
                    with self._lock:
                        response = handler(Request(match, dict(parse_qsl(url.query)), body, authed), method)
                    break
            else:
                raise ApiError(404, f"Sorry, we can't find the page you are looking for ({method} {url.path}).")
        except ApiError as exc:
            response = exc.response()
        with self._lock:
            self.requests.append((method, url.path, response.status))
        return response

    def _authed(self, headers: Any) -> bool:
        value = headers.get("Authorization")
        if not value:
            return False
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.token.encode()):
            raise ApiError(401, "Invalid credentials in Authorization header")
        return True

    def _repo(self, request: Request, write: bool = False) -> Repo:
        groups = request.match.groupdict()
        if groups.get("types"):  # /api/{models|datasets|spaces}/...
            repo_type = _TYPES[groups["types"]]
        else:  # /lfs-storage/{type}/... or /[datasets/|spaces/]{id}...
            repo_type = groups.get("type") or _TYPES.get(groups.get("prefix") or "", "model")
        repo = self.repos.get((repo_type, groups["id"]))
        if repo is None or (repo.private and not request.authed):
            raise ApiError(404 if request.authed else 401, "Repository not found", code="RepoNotFound")
        if write and not request.authed:
            raise ApiError(401, "You must be authenticated to write to this repo")
        return repo

    def _url(self, repo: Repo) -> str:
        """The repo's canonical URL: always on huggingface.co, like the Hub's own answers."""
        return f"{CANONICAL_URL}/{_PREFIX[repo.type]}{repo.repo_id}"

    def _sign(self, method: str, repo: Repo, oid: str, size: int) -> str:
        return hmac.new(self._secret, f"{method}:{repo.type}:{repo.repo_id}:{oid}:{size}".encode(),
                        "sha256").hexdigest()

    def _storage_url(self, method: str, repo: Repo, oid: str, size: int) -> str:
        return (f"{self.endpoint}/lfs-storage/{repo.type}/{repo.repo_id}/{oid}"
                f"?size={size}&sig={self._sign(method, repo, oid, size)}")

    # --- repos and metadata ---

    def _create_repo(self, request: Request, method: str) -> Response:
        if not request.authed:
            raise ApiError(401, "You must be authenticated to create a repo")
        body = request.json()
        name, repo_type = body.get("name"), body.get("type") or "model"
        if not isinstance(name, str) or not re.fullmatch(r"[\w.-]{1,96}", name) or repo_type not in _PREFIX:
            raise ApiError(400, "Invalid repo name or type")
        repo = Repo(repo_type, f"{body.get('organization') or self.user}/{name}", bool(body.get("private")))
        if (repo.type, repo.repo_id) in self.repos:
            raise ApiError(409, f"You already created this {repo_type} repo", extra={"url": self._url(repo)})
        repo.add_commit("initial commit", {".gitattributes": GITATTRIBUTES}, set())
        self.repos[(repo.type, repo.repo_id)] = repo
        return _json({"url": self._url(repo), "name": repo.repo_id, "id": repo.repo_id})

    def _validate_yaml(self, request: Request, method: str) -> Response:
        found = re.match(r"---\s*\n(.*?)\n---\s*(?:\n|$)", request.json().get("content") or "", re.S)
        try:
            metadata = yaml.safe_load(found[1]) if found else None
            errors = [] if metadata is None or isinstance(metadata, dict) else ["metadata must be a YAML mapping"]
        except yaml.YAMLError as exc:
            errors = [f"invalid YAML in the README metadata: {exc}"]
        return _json({"errors": [{"message": e} for e in errors], "warnings": []}, 400 if errors else 200)

    def _repo_info(self, request: Request, method: str) -> Response:
        repo = self._repo(request)
        commit = repo.resolve(unquote(request.match["rev"] or "main"))
        blobs = request.query.get("blobs", "").lower() in ("1", "true")
        siblings = []
        for path in sorted(commit.files):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:  # files_metadata=True
                blob_id, lfs = commit.blob(path)
                sibling.update(size=len(commit.files[path]), blobId=blob_id, lfs=lfs and {
                    "size": lfs["size"], "sha256": lfs["oid"], "pointerSize": lfs["pointerSize"]})
            siblings.append(sibling)
        return _json({"_id": hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24], "id": repo.repo_id,
                      "author": repo.repo_id.split("/")[0], "sha": commit.sha, "private": repo.private,
                      "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
                      "createdAt": repo.created_at, "lastModified": repo.created_at, "siblings": siblings,
                      "xetEnabled": False})

    def _refs(self, request: Request, method: str) -> Response:
        repo = self._repo(request)
        return _json({"branches": [{"name": "main", "ref": "refs/heads/main", "targetCommit": repo.head.sha}],
                      "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": s} for t, s in repo.tags.items()],
                      "converts": [], "pullRequests": []})

    def _tree(self, request: Request, method: str) -> Response:
        commit = self._repo(request).resolve(unquote(request.match["rev"]))
        base = unquote(request.match["path"] or "").strip("/")
        prefix, recursive = base + "/" if base else "", request.query.get("recursive", "").lower() in ("1", "true")
        entries: dict[str, dict[str, Any]] = {}
        for path in sorted(p for p in commit.files if p.startswith(prefix)):
            parts = path[len(prefix):].split("/")
            for depth in range(1, len(parts) if recursive else min(2, len(parts))):
                folder = prefix + "/".join(parts[:depth])
                entries.setdefault(folder, {"type": "directory", "path": folder,
                                            "oid": hashlib.sha1(folder.encode()).hexdigest()})
            if recursive or len(parts) == 1:
                blob_id, lfs = commit.blob(path)
                entries[path] = {"type": "file", "path": path, "oid": blob_id, "size": len(commit.files[path]),
                                 **({"lfs": lfs} if lfs else {})}
        if base and not entries:
            raise ApiError(404, f"Entry not found: {base}", code="EntryNotFound")
        return _json(list(entries.values()))

    # --- uploads and commits ---

    def _lfs_patterns(self, commit: Commit) -> list[str]:
        lines = commit.files.get(".gitattributes", b"").decode("utf-8", "replace").splitlines()
        return [line.split()[0] for line in lines if "filter=lfs" in line.split()[1:]]

    def _preupload(self, request: Request, method: str) -> Response:
        repo = self._repo(request, write=True)
        head = repo.resolve(unquote(request.match["rev"]))
        patterns, answers = self._lfs_patterns(head), []
        for item in request.json().get("files") or []:
            path, size, sample = item["path"], int(item["size"]), base64.b64decode(item.get("sample") or "")
            by_pattern = any(fnmatch.fnmatch(path if "/" in p else path.rsplit("/", 1)[-1], p) for p in patterns)
            mode = "lfs" if size > LFS_THRESHOLD or by_pattern or b"\0" in sample else "regular"
            oid = None  # the remote file's oid, in the local oid's terms: huggingface_hub skips equal ones
            if path in head.files:
                oid = hashlib.sha256(head.files[path]).hexdigest() if mode == "lfs" else git_hash(head.files[path])
            answers.append({"path": path, "uploadMode": mode, "shouldIgnore": False, "oid": oid})
        return _json({"files": answers, "commitOid": head.sha})

    def _lfs_batch(self, request: Request, method: str) -> Response:
        repo, body = self._repo(request, write=True), request.json()
        transfers = body.get("transfers") or ["basic"]
        self.lfs_transfers.append(list(transfers))
        if body.get("operation") != "upload" or "basic" not in transfers:
            raise ApiError(422, "only uploads with the 'basic' transfer are supported")
        objects = []
        for obj in body.get("objects") or []:
            oid, size = obj.get("oid"), obj.get("size")
            if not (isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid)
                    and isinstance(size, int) and size >= 0):
                objects.append({"oid": str(oid), "size": size if isinstance(size, int) else 0,
                                "error": {"code": 422, "message": "invalid oid or size"}})
            elif oid in repo.lfs_objects:  # already stored: no actions, nothing to upload
                objects.append({"oid": oid, "size": size})
            else:
                verify = f"{self._url(repo)}.git/info/lfs/objects/verify"
                objects.append({"oid": oid, "size": size, "authenticated": True, "actions": {
                    "upload": {"href": self._storage_url("PUT", repo, oid, size)}, "verify": {"href": verify}}})
        response = _json({"transfer": "basic", "objects": objects, "hash_algo": "sha256"})
        return response._replace(headers={"Content-Type": "application/vnd.git-lfs+json"})

    def _storage(self, request: Request, method: str) -> Response:
        oid, size = request.match["oid"], request.query.get("size", "")
        key = (request.match["type"], request.match["id"])
        repo = self.repos.get(key)
        if repo is None or not size.isdigit() or not hmac.compare_digest(
                request.query.get("sig", ""), self._sign(method, repo, oid, int(size))):
            raise ApiError(403, "Request has expired or the signature does not match")
        if method == "GET":
            if oid not in repo.lfs_objects:
                raise ApiError(404, "No such object")
            return Response(200, repo.lfs_objects[oid], {"Content-Type": "application/octet-stream",
                                                         "ETag": f'"{oid}"'})
        if len(request.body) != int(size) or hashlib.sha256(request.body).hexdigest() != oid:
            raise ApiError(400, "the uploaded content does not match the announced sha256 and size")
        repo.lfs_objects[oid] = request.body
        return Response(200, b"", {"ETag": f'"{oid}"'})

    def _lfs_verify(self, request: Request, method: str) -> Response:
        repo, body = self._repo(request, write=True), request.json()
        data = repo.lfs_objects.get(body.get("oid"))
        if data is None or len(data) != body.get("size"):
            raise ApiError(404, f"LFS object {body.get('oid')} was not uploaded (or has another size)")
        return _json({"success": True})

    def _commit(self, request: Request, method: str) -> Response:
        repo = self._repo(request, write=True)
        if request.query.get("create_pr"):
            raise ApiError(400, "pull requests are not supported by this fake Hub")
        if unquote(request.match["rev"]) != "main":
            raise ApiError(404, f"Invalid rev id: {unquote(request.match['rev'])}", code="RevisionNotFound")
        try:
            lines = [json.loads(line) for line in request.body.splitlines() if line.strip()]
        except ValueError:
            raise ApiError(400, "the commit payload is not valid NDJSON") from None
        if not lines or lines[0].get("key") != "header" or not (lines[0].get("value") or {}).get("summary"):
            raise ApiError(400, "the commit payload must start with a header with a summary")
        header, head = lines[0]["value"], repo.head
        if header.get("parentCommit") not in (None, head.sha):
            raise ApiError(412, "A commit has happened since. Please refresh and try again.")
        files, lfs = dict(head.files), set(head.lfs)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value") or {}
            path = value.get("path")
            if not isinstance(path, str) or not path or path.startswith("/") or ".." in path.split("/"):
                raise ApiError(400, f"invalid path in {key}: {path!r}")
            if key == "file":
                raw = value.get("content") or ""
                data = base64.b64decode(raw) if value.get("encoding") == "base64" else raw.encode()
                if len(data) > LFS_THRESHOLD or b"\0" in data[:8000]:
                    raise ApiError(400, f"Your push was rejected because {path} is binary or larger than 10 MiB. "
                                        "Please use LFS.")
                files[path] = data
                lfs.discard(path)
            elif key == "lfsFile":
                data = repo.lfs_objects.get(value.get("oid"))
                if data is None or value.get("size", len(data)) != len(data):
                    raise ApiError(400, f"Your push was rejected because an LFS pointer ({path}) points to a "
                                        "file that was not uploaded.")
                files[path] = data
                lfs.add(path)
            elif key == "deletedFile":
                if files.pop(path, None) is None:
                    raise ApiError(404, f"A file with this name doesn't exist: {path}", code="EntryNotFound")
                lfs.discard(path)
            elif key == "deletedFolder":
                gone = [p for p in files if p.startswith(path.rstrip("/") + "/")]
                if not gone:
                    raise ApiError(404, f"A folder with this name doesn't exist: {path}", code="EntryNotFound")
                for p in gone:
                    del files[p]
                    lfs.discard(p)
            else:
                raise ApiError(400, f"unknown commit operation {key!r}")
        commit = repo.add_commit(header["summary"], files, lfs, header.get("description") or "")
        return _json({"success": True, "commitOid": commit.sha, "commitUrl": f"{self._url(repo)}/commit/{commit.sha}",
                      "hookOutput": "", "pullRequestUrl": None})

    def _create_tag(self, request: Request, method: str) -> Response:
        repo, tag = self._repo(request, write=True), request.json().get("tag")
        commit = repo.resolve(unquote(request.match["rev"]))
        if not isinstance(tag, str) or not re.fullmatch(r"[\w.-]+", tag):
            raise ApiError(400, f"invalid tag name {tag!r}")
        if tag in repo.tags:
            raise ApiError(409, f"Tag reference refs/tags/{tag} already exists")
        repo.tags[tag] = commit.sha
        return _json({"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": commit.sha})

    def _delete_tag(self, request: Request, method: str) -> Response:
        repo, tag = self._repo(request, write=True), unquote(request.match["tag"])
        if repo.tags.pop(tag, None) is None:
            raise ApiError(404, f"Invalid rev id: {tag}", code="RevisionNotFound")
        return _json({})

    # --- downloads ---

    def _resolve(self, request: Request, method: str) -> Response:
        commit = (repo := self._repo(request)).resolve(unquote(request.match["rev"]))
        path, headers = unquote(request.match["path"]), {"X-Repo-Commit": commit.sha}
        if path not in commit.files:
            raise ApiError(404, "Entry not found", code="EntryNotFound", headers=headers)
        data, (blob_id, lfs) = commit.files[path], commit.blob(path)
        headers.update({"ETag": f'"{blob_id}"', "Accept-Ranges": "bytes"})
        if lfs:  # like the Hub: a redirect to signed storage (its CDN), size and sha256 in X-Linked-*
            return Response(302, b"", {**headers, "Location": self._storage_url("GET", repo, lfs["oid"], len(data)),
                                       "X-Linked-Etag": f'"{lfs["oid"]}"', "X-Linked-Size": str(len(data))})
        return Response(200, data, {**headers, "Content-Type": "application/octet-stream"})


# --- HTTP plumbing ---------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    hub: FakeHub


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive; bodies are read in full (Content-Length or chunked); only method and
    path are logged."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "pii-assets-fake-hub"
    timeout = 60
    server: _HTTPServer

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        try:
            body = self._read_body()
        except ApiError as exc:
            self.close_connection = True
            self._write(exc.response(), method)
            return
        self._write(self.server.hub.handle(method, self.path, self.headers, body), method)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, total = [], 0
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                total += size
                if total > MAX_BODY_BYTES:
                    raise ApiError(413, "request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ApiError(413, "request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _write(self, response: Response, method: str) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


@contextmanager
def serve(token: str = "hf_test_token", user: str = "tester") -> Iterator[FakeHub]:
    """Run a :class:`FakeHub` on 127.0.0.1 (free port) in a background thread for the block.

    ``token`` is the one valid token; repos created without an ``organization`` go to ``user``.
    """
    hub = FakeHub(token, user)
    httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
    httpd.hub = hub
    hub.endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"fake-hub-{httpd.server_address[1]}", daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


__all__ = ["ApiError", "Commit", "FakeHub", "Repo", "serve"]
