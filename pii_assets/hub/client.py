"""Push a folder to a Hugging Face Hub repo as one commit, and download a repo snapshot.

A thin layer over ``huggingface_hub`` so callers get one error type, :class:`HubError`, whose
message names the repo and the reason and never the token.

Offline mode: the Makefile sets ``HF_HUB_OFFLINE=1`` for every run so that nothing is fetched
from the Hub by accident. An explicit ``endpoint`` is a deliberate choice of a Hub to talk to, so
with one these functions go online for the duration of the call, offline mode or not. Without
one, offline mode is respected: :func:`push_folder` raises :class:`HubError` and
:func:`download` serves from the local cache only. huggingface_hub keeps offline mode in its
per-thread HTTP sessions (built from ``huggingface_hub.constants.HF_HUB_OFFLINE``), so going
online means clearing that flag and resetting the sessions, and restoring both afterwards. The flag
is process-wide: other threads using huggingface_hub while a call runs are online too (Dagster's
default executor runs each step in its own process).

Xet: huggingface_hub offers the Xet transfer when hf-xet is installed; a server that does not
choose it gets the classic regular + LFS uploads, so nothing here disables Xet.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, constants, snapshot_download
from huggingface_hub.errors import (EntryNotFoundError, HfHubHTTPError, LocalEntryNotFoundError,
                                    OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError)
from huggingface_hub.hf_api import RepoSibling
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS, filter_repo_objects, reset_sessions
from huggingface_hub.utils.sha import git_hash


class HubError(RuntimeError):
    """A Hub operation failed; the message says which repo and why, without the token."""


@dataclass(frozen=True)
class PushResult:
    repo_id: str
    repo_type: str
    url: str
    commit: str
    tag: str | None
    files: list[str]
    """The paths this push wrote (in the repo), sorted."""
    deleted: list[str] = field(default_factory=list)
    """The repo's files this push deleted because the folder no longer has them, sorted."""


_online_lock = threading.Lock()
_online_calls = 0  # calls currently online although HF_HUB_OFFLINE is set


@contextmanager
def _network(endpoint: str | None) -> Iterator[bool]:
    """Whether the call may use the network; online for an explicit endpoint (see module doc)."""
    global _online_calls
    with _online_lock:
        offline = constants.HF_HUB_OFFLINE or _online_calls > 0
        if offline and endpoint is not None:
            if _online_calls == 0:
                constants.HF_HUB_OFFLINE = False
                reset_sessions()
            _online_calls += 1
    try:
        yield not offline or endpoint is not None
    finally:
        if offline and endpoint is not None:
            with _online_lock:
                _online_calls -= 1
                if _online_calls == 0:
                    constants.HF_HUB_OFFLINE = True
                    reset_sessions()


def _reason(exc: BaseException) -> str | None:
    """Why a huggingface_hub call failed, in words; None for errors that are not the Hub's."""
    if isinstance(exc, LocalEntryNotFoundError) and isinstance(exc.__cause__, requests.RequestException):
        return _reason(exc.__cause__)  # online, but the Hub could not be reached and nothing is cached
    if isinstance(exc, (OfflineModeIsEnabled, LocalEntryNotFoundError)):
        return ("not available offline: HF_HUB_OFFLINE is set and it is not in the local cache "
                "(pass an explicit endpoint to download it)")
    if isinstance(exc, RepositoryNotFoundError):
        return "repository not found, or private and the token (if any) has no access to it"
    if isinstance(exc, RevisionNotFoundError):
        return "revision not found"
    if isinstance(exc, EntryNotFoundError):
        return "file not found"
    if isinstance(exc, HfHubHTTPError):
        status = exc.response.status_code if exc.response is not None else None
        if status == 401:
            return "the token was rejected (401 Unauthorized)"
        if status == 403:
            return "the token is not allowed to do this (403 Forbidden)"
        return f"the Hub answered {status}: {exc.server_message or exc}".strip()
    if isinstance(exc, requests.RequestException):
        return f"cannot reach the Hub ({type(exc).__name__}: {exc})"
    return None


@contextmanager
def _hub_errors(repo_type: str, repo_id: str, token: str | None) -> Iterator[None]:
    try:
        yield
    except HubError:
        raise
    except Exception as exc:
        reason = _reason(exc)
        if reason is None and exc.__cause__ is not None and _reason(exc.__cause__):
            # huggingface_hub wraps some HTTP errors: a failed LFS upload in a RuntimeError,
            # README metadata the Hub rejects in a ValueError
            reason = f"{' '.join(str(exc).split())} ({_reason(exc.__cause__)})"
        if reason is None:
            raise
        message = f"{repo_type} repo {repo_id!r}: {reason}"
        raise HubError(message.replace(token, "***") if token else message) from exc


KEPT_REMOTE_FILES = {".gitattributes"}
"""Files a push never deletes: the Hub creates .gitattributes (the LFS patterns) with the repo."""


def _unchanged(operations: list[CommitOperationAdd], siblings: list[RepoSibling]) -> bool:
    """Whether the repo already holds every file as is.

    huggingface_hub skips unchanged files itself, but when nothing changed at all, 0.36 builds a
    commit URL on the endpoint and then fails to parse it on any endpoint but HF_ENDPOINT's
    (CommitInfo -> RepoUrl ignores the endpoint), so that case is decided here.
    """
    remote = {sibling.rfilename: sibling for sibling in siblings}
    for op in operations:
        sibling = remote.get(op.path_in_repo)
        if sibling is None or sibling.size != op.upload_info.size:
            return False
        if sibling.lfs is not None:
            if sibling.lfs.sha256 != op.upload_info.sha256.hex():
                return False
        else:
            with op.as_file() as file:
                if git_hash(file.read()) != sibling.blob_id:
                    return False
    return True


def push_folder(folder: Path, repo_id: str, *, repo_type: str = "dataset", token: str, endpoint: str | None = None,
                private: bool = True, commit_message: str, tag: str | None = None,
                ignore_patterns: list[str] | None = None, extra_files: dict[str, bytes] | None = None) -> PushResult:
    """Upload ``folder`` (and ``extra_files``, path in repo -> bytes) to ``repo_id`` in one commit.

    Creates the repo if missing. ``private`` applies when the repo is created; an existing public
    repo is refused when ``private`` is True, so private data never lands in a public repo. An
    ``extra_files`` entry replaces the folder's file of the same path. Files equal to the repo's
    are skipped; if nothing changed, no commit is made and ``commit`` is the head. ``tag`` is
    created on the commit, or moved there (deleted and re-created: not atomic). The push mirrors
    the folder: files the repo has and this push does not write are deleted in the same commit
    (except ``.gitattributes``), so a tag holds exactly what was pushed with it and a re-push never
    leaves a previous release's files behind.
    """
    folder, extra_files = Path(folder), extra_files or {}
    if not folder.is_dir():
        raise HubError(f"{repo_type} repo {repo_id!r}: cannot push {folder}, it is not a directory")
    if not token:
        raise HubError(f"{repo_type} repo {repo_id!r}: pushing needs a token")
    local = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    kept = filter_repo_objects(sorted(local), ignore_patterns=[*DEFAULT_IGNORE_PATTERNS, *(ignore_patterns or [])])
    operations = [CommitOperationAdd(path_in_repo=path, path_or_fileobj=local[path])
                  for path in kept if path not in extra_files]
    operations += [CommitOperationAdd(path_in_repo=path, path_or_fileobj=bytes(data))
                   for path, data in extra_files.items()]
    if not operations:
        raise HubError(f"{repo_type} repo {repo_id!r}: nothing to push in {folder}")
    api = HfApi(endpoint=endpoint, token=token)
    with _hub_errors(repo_type, repo_id, token), _network(endpoint) as online:
        if not online:
            raise HubError(f"{repo_type} repo {repo_id!r}: HF_HUB_OFFLINE is set; pass an explicit endpoint "
                           "(e.g. https://huggingface.co) to push anyway")
        url = api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        info = api.repo_info(repo_id, repo_type=repo_type, files_metadata=True)
        if private and not info.private:
            raise HubError(f"{repo_type} repo {repo_id!r} exists and is public; refusing to push with "
                           "private=True (make it private, or pass private=False)")
        siblings = info.siblings or []
        pushed = {op.path_in_repo for op in operations}
        stale = sorted(s.rfilename for s in siblings if s.rfilename not in pushed | KEPT_REMOTE_FILES)
        if not stale and _unchanged(operations, siblings):
            commit = info.sha
        else:
            deletions = [CommitOperationDelete(path_in_repo=path) for path in stale]
            commit = api.create_commit(repo_id, [*operations, *deletions], commit_message=commit_message,
                                       repo_type=repo_type).oid
        if tag is not None:
            try:
                api.create_tag(repo_id, tag=tag, revision=commit, repo_type=repo_type)
            except HfHubHTTPError as exc:
                if exc.response is None or exc.response.status_code != 409:
                    raise
                api.delete_tag(repo_id, tag=tag, repo_type=repo_type)
                api.create_tag(repo_id, tag=tag, revision=commit, repo_type=repo_type)
    return PushResult(repo_id, repo_type, str(url), commit, tag, sorted(pushed), stale)


def download(repo_id: str, *, repo_type: str = "dataset", token: str | None = None, endpoint: str | None = None,
             revision: str | None = None, allow_patterns: list[str] | None = None,
             local_dir: Path | None = None) -> Path:
    """Download a snapshot of ``repo_id`` (a branch, tag or commit) and return its directory.

    Into ``local_dir`` if given, else into the Hugging Face cache. ``token=None`` means
    huggingface_hub's saved token (HF_TOKEN or ``hf auth login``), if any.
    """
    with _hub_errors(repo_type, repo_id, token), _network(endpoint) as online:
        path = snapshot_download(repo_id, repo_type=repo_type, revision=revision, endpoint=endpoint, token=token,
                                 allow_patterns=allow_patterns, local_dir=local_dir, local_files_only=not online)
    return Path(path)
