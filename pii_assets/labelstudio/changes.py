"""Which batches changed in Label Studio since a cursor (pure logic for the sensor).

The cursor is ``{"since": <the newest task updated_at seen>, "export": <the newest export id seen>}``.
A batch changed when one of its tasks with an annotation (submitted or cancelled) was updated
after ``since``; a new export snapshot marks every batch with an annotated task as changed (an
export is a reviewer's "this is done" checkpoint). Run keys name the batch and what triggered
it, so the same change never runs twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Cursor:
    since: str | None = None
    export: int | None = None

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data.get("since"), data.get("export"))

    def dumps(self) -> str:
        return json.dumps({"since": self.since, "export": self.export}, sort_keys=True)


@dataclass
class Changes:
    run_keys: dict[str, str] = field(default_factory=dict)
    """batch -> run key"""
    cursor: Cursor = field(default_factory=Cursor)
    tasks_seen: int = 0


def annotated(task: dict) -> bool:
    return bool(task.get("annotations")) or bool(task.get("total_annotations")) or bool(
        task.get("cancelled_annotations"))


def changes(cursor: Cursor, updated_tasks: list[dict], latest_export: int | None,
            all_annotated_batches: list[str] | None = None) -> Changes:
    """``updated_tasks``: tasks updated after ``cursor.since``, oldest first; ``all_annotated_batches``:
    the batches with any annotated task (needed only when there is a new export)."""
    out = Changes(cursor=Cursor(cursor.since, cursor.export))
    changed: set[str] = set()
    for task in updated_tasks:
        out.tasks_seen += 1
        updated = task.get("updated_at")
        if isinstance(updated, str) and (out.cursor.since is None or updated > out.cursor.since):
            out.cursor.since = updated
        batch = (task.get("data") or {}).get("batch")
        if batch and annotated(task):
            changed.add(batch)
    out.run_keys = {batch: f"{batch}:annotations-until-{out.cursor.since}" for batch in changed}
    if latest_export is not None and (cursor.export is None or latest_export > cursor.export):
        for batch in all_annotated_batches or ():
            out.run_keys[batch] = f"{batch}:export-{latest_export}"
        out.cursor.export = latest_export
    return out
