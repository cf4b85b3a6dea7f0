"""A small Label Studio client on label-studio-sdk 2.x: the project, a batch's tasks, imports.

Tasks are keyed by ``data.sample_id`` within ``data.batch``, which makes imports idempotent:
a sample already in the project is never imported again, and a task whose sample left the
batch is deleted unless a human annotated it (human work is never thrown away).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from dataclasses import dataclass, field
from typing import Any

IMPORT_CHUNK = 500


class LabelStudioError(RuntimeError):
    """Label Studio is unreachable or refused a request (the message says which and why)."""


@dataclass
class SyncReport:
    project_id: int
    imported: int = 0
    already_present: int = 0
    deleted_stale: int = 0
    kept_annotated_stale: list[int] = field(default_factory=list)
    requests: int = 0


LS_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"
"""How Label Studio's task filters want timestamps (UTC)."""


def _plain(obj: Any) -> dict:
    task = obj.model_dump() if hasattr(obj, "model_dump") else dict(obj)
    for key in ("updated_at", "created_at"):
        if isinstance(task.get(key), datetime):
            task[key] = task[key].astimezone(timezone.utc).strftime(LS_TIME)
    return task


class LabelStudioClient:
    def __init__(self, url: str, api_key: str, timeout: float = 60.0):
        from label_studio_sdk import LabelStudio

        self.url = url.rstrip("/")
        self.sdk = LabelStudio(base_url=self.url, api_key=api_key, timeout=timeout)

    def _call(self, what: str, fn, *args, **kwargs):
        import httpx
        from label_studio_sdk.core.api_error import ApiError

        try:
            return fn(*args, **kwargs)
        except ApiError as exc:
            body = str(exc.body)[:300]
            raise LabelStudioError(f"Label Studio at {self.url} refused to {what}: HTTP {exc.status_code} {body}") from None
        except httpx.HTTPError as exc:
            raise LabelStudioError(f"Label Studio at {self.url} is unreachable ({what}): {exc}") from None

    def find_project(self, title: str, project_id: int | None = None):
        """The project with ``project_id`` if given, else the one called ``title``; None if absent."""
        if project_id is not None:
            from label_studio_sdk.core.api_error import ApiError

            try:
                return self.sdk.projects.get(id=project_id)
            except ApiError as exc:
                if exc.status_code == 404:
                    return None
                raise LabelStudioError(f"Label Studio at {self.url} refused to read project {project_id}: "
                                       f"HTTP {exc.status_code}") from None
        projects = self._call("list projects", lambda: list(self.sdk.projects.list(title=title)))
        return next((p for p in projects if p.title == title), None)

    def ensure_project(self, title: str, label_config: str, project_id: int | None = None) -> int:
        """The id of the project (``project_id``, or the one called ``title``, created if missing),
        with its labeling config updated to ``label_config``."""
        project = self.find_project(title, project_id)
        if project is None and project_id is not None:
            raise LabelStudioError(f"Label Studio at {self.url} has no project {project_id}")
        if project is None:
            return self._call("create the project", self.sdk.projects.create, title=title,
                              label_config=label_config).id
        if (project.label_config or "").strip() != label_config.strip():
            self._call("update the labeling config", self.sdk.projects.update, id=project.id,
                       label_config=label_config)
        return project.id

    def _list_tasks(self, what: str, **params) -> Iterator[dict]:
        """Tasks as plain dicts, every page (the pager fetches later pages lazily)."""
        pager = self._call(what, self.sdk.tasks.list, fields="all", **params)
        try:
            for task in pager:
                yield _plain(task)
        except Exception as exc:
            raise LabelStudioError(f"Label Studio at {self.url} failed while listing tasks: {exc}") from None

    def tasks(self, project_id: int, batch: str | None = None, page_size: int = 500) -> Iterator[dict]:
        """Every task of the project (of one batch if given), with annotations and predictions."""
        for task in self._list_tasks("list tasks", project=project_id, page_size=page_size):
            if batch is None or (task.get("data") or {}).get("batch") == batch:
                yield task

    def tasks_updated_since(self, project_id: int, since: str | None, page_size: int = 100) -> Iterator[dict]:
        """Tasks updated after ``since`` (Label Studio's ``%Y-%m-%dT%H:%M:%S.%fZ`` format; None: all),
        oldest first, filtered and ordered by the server so each page is small."""
        query = {"ordering": ["tasks:updated_at"]}
        if since:
            query["filters"] = {"conjunction": "and", "items": [
                {"filter": "filter:tasks:updated_at", "operator": "greater", "type": "Datetime", "value": since}]}
        yield from self._list_tasks("list updated tasks", project=project_id, page_size=page_size,
                                    query=json.dumps(query))

    def latest_export(self, project_id: int) -> int | None:
        """The id of the project's newest export snapshot, None if it has none."""
        exports = self._call("list export snapshots", lambda: list(self.sdk.projects.exports.list(id=project_id)))
        return max((e.id for e in exports), default=None)

    def sync_batch(self, project_id: int, batch: str, tasks: list[dict]) -> SyncReport:
        """Make the project's tasks of ``batch`` exactly ``tasks`` (by sample id), in few requests."""
        report = SyncReport(project_id)
        existing = {}
        for task in self.tasks(project_id, batch):
            existing.setdefault(task["data"].get("sample_id"), []).append(task)
        wanted = {t["data"]["sample_id"] for t in tasks}
        new = [t for t in tasks if t["data"]["sample_id"] not in existing]
        report.already_present = len(tasks) - len(new)
        for i in range(0, len(new), IMPORT_CHUNK):
            self._call("import tasks", self.sdk.projects.import_tasks, id=project_id, request=new[i:i + IMPORT_CHUNK])
            report.requests += 1
            report.imported += len(new[i:i + IMPORT_CHUNK])
        for sample_id, found in existing.items():
            duplicates = found[1:] if sample_id in wanted else found
            for task in duplicates:
                if task.get("annotations"):
                    report.kept_annotated_stale.append(task["id"])
                else:
                    self._call(f"delete task {task['id']}", self.sdk.tasks.delete, id=str(task["id"]))
                    report.deleted_stale += 1
        return report
