"""Samples <-> Label Studio tasks (pure functions, no server).

A task is ``{"data": {"text", "sample_id", "batch", "language", "country"}, "predictions": [...]}``.
Its prediction (and a human's annotation) holds:

- one ``labels`` region per privacy-mask span (``from_name="label"``, the catalogue label);
- one ``labels`` region per coreference mention (``from_name="mention"``: NAME, PRONOUN,
  REFERENCE or ENTITY, the mention type upper-cased);
- ``relation`` items (label ``coreference``) chaining the mentions of a cluster.

Back from an annotation, the clusters are the connected components of the relation graph; a
relation may also join catalogue regions directly (an annotator linking "Anna" to "she"), which
then count as name mentions. Regions whose offsets do not match the text, or whose label the
catalogue does not know, make the task a reject with the task id and the reason.
"""

from __future__ import annotations

from typing import Any

from pii_assets.catalogue import DEFAULT, MENTION_LABELS, Catalogue
from pii_assets.samples import MENTION_TYPES, SampleError, validate

MODEL_VERSION = "pii-assets-review-1"
RELATION = "coreference"


class TaskError(ValueError):
    """A task or annotation that cannot become a sample; names the task and the reason."""

    def __init__(self, task_id: Any, reason: str):
        super().__init__(f"task {task_id}: {reason}")
        self.task_id = task_id
        self.reason = reason


def _region(rid: str, from_name: str, start: int, end: int, text: str, label: str) -> dict:
    return {"id": rid, "from_name": from_name, "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text[start:end], "labels": [label]}}


def sample_to_result(sample: dict) -> list[dict]:
    """The Label Studio result items (regions + relations) that describe ``sample``."""
    text = sample["text"]
    result = [_region(f"s{i}", "label", s["start"], s["end"], text, s["label"])
              for i, s in enumerate(sample["privacy_mask"])]
    for c, cluster in enumerate(sample.get("coreferences", ())):
        ids = []
        for m, mention in enumerate(cluster["mentions"]):
            rid = f"c{c}m{m}"
            result.append(_region(rid, "mention", mention["start"], mention["end"], text, mention["type"].upper()))
            ids.append(rid)
        result += [{"type": "relation", "from_id": a, "to_id": b, "direction": "right", "labels": [RELATION]}
                   for a, b in zip(ids, ids[1:])]
    return result


def sample_to_task(sample: dict, batch: str) -> dict:
    return {
        "data": {"text": sample["text"], "sample_id": sample["id"], "batch": batch,
                 "language": sample["language"], "country": sample["country"]},
        "predictions": [{"model_version": MODEL_VERSION, "score": 1.0, "result": sample_to_result(sample)}],
    }


def latest_annotation(task: dict) -> dict | None:
    """The annotation that counts: the most recently updated one that was not cancelled (skipped)."""
    valid = [a for a in task.get("annotations") or () if not a.get("was_cancelled")]
    if not valid:
        return None
    return max(valid, key=lambda a: (str(a.get("updated_at") or a.get("created_at") or ""), a.get("id") or 0))


def _components(nodes: list[str], edges: list[tuple[str, str]]) -> list[list[str]]:
    parent = {n: n for n in nodes}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for n in nodes:
        groups.setdefault(find(n), []).append(n)
    return list(groups.values())


def result_to_sample(task_id: Any, text: str, result: list[dict], base: dict,
                     catalogue: Catalogue = DEFAULT) -> dict:
    """A validated sample from annotation ``result`` items; ``base`` gives language, country and meta."""
    spans, mentions, relations = [], {}, []
    regions: dict[str, dict] = {}
    for k, item in enumerate(result):
        kind = item.get("type")
        if kind == "relation":
            relations.append((item.get("from_id"), item.get("to_id")))
            continue
        if kind != "labels":
            continue  # other controls (e.g. a comment box) carry no spans
        value = item.get("value") or {}
        start, end, labels = value.get("start"), value.get("end"), value.get("labels") or []
        where = f"region {item.get('id', k)}"
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise TaskError(task_id, f"{where} has offsets {start}..{end} outside the text ({len(text)} characters)")
        if "text" in value and value["text"] != text[start:end]:
            raise TaskError(task_id, f"{where}: its text {value['text']!r} != text[{start}:{end}] {text[start:end]!r}")
        if len(labels) != 1:
            raise TaskError(task_id, f"{where} has {len(labels)} labels {labels}; exactly one is needed")
        label = labels[0]
        if item.get("from_name") == "mention":
            if label not in MENTION_LABELS or label.lower() not in MENTION_TYPES:
                raise TaskError(task_id, f"{where} has unknown mention label {label!r}")
            mentions[item.get("id")] = (start, end, label.lower())
        else:
            if label not in catalogue:
                raise TaskError(task_id, f"{where} has unknown label {label!r}")
            spans.append({"value": text[start:end], "label": label, "start": start, "end": end})
            regions[item.get("id")] = spans[-1]
    for a, b in relations:
        for rid in (a, b):
            if rid not in mentions and rid not in regions:
                raise TaskError(task_id, f"relation refers to region {rid!r}, which the annotation does not have")
            if rid not in mentions:  # a catalogue region linked directly is a name mention
                mentions[rid] = (regions[rid]["start"], regions[rid]["end"], "name")
    spans.sort(key=lambda s: (s["start"], s["end"]))
    clusters = []
    linked = list(dict.fromkeys(rid for pair in relations for rid in pair))  # in relation order
    # clusters keep the order of their first relation (ours are written cluster by cluster)
    ordered = sorted(_components(linked, relations), key=lambda ids: min(linked.index(i) for i in ids))
    for cid, ids in enumerate(ordered):
        ms = []
        for start, end, kind in sorted({mentions[i] for i in ids}):
            inside = [s["label"] for s in spans if start <= s["start"] and s["end"] <= end]
            ms.append({"text": text[start:end], "start": start, "end": end, "type": kind,
                       "privacy_mask_labels": inside})
        clusters.append({"cluster_id": cid, "entity_type": "person", "mentions": ms})
    sample = {"text": text, "language": base["language"], "country": base["country"], "privacy_mask": spans,
              "coreferences": clusters, "meta": dict(base.get("meta") or {})}
    try:
        return validate(sample, catalogue=catalogue, where=f"task {task_id}")
    except SampleError as exc:
        raise TaskError(task_id, exc.reason) from None


def task_to_sample(task: dict, originals: dict[str, dict], catalogue: Catalogue = DEFAULT) -> dict | None:
    """The human-reviewed sample of ``task`` (None if no annotation counts: unreviewed or cancelled).

    ``originals``: reviewed samples by id, for language, country and meta of the task's sample.
    """
    data = task.get("data") or {}
    task_id = task.get("id")
    text = data.get("text")
    if not isinstance(text, str):
        raise TaskError(task_id, "data.text is missing")
    annotation = latest_annotation(task)
    if annotation is None:
        return None
    original = originals.get(data.get("sample_id"))
    base = original or {"language": data.get("language"), "country": data.get("country"), "meta": {}}
    if original is not None and original["text"] != text:
        raise TaskError(task_id, f"data.text differs from sample {data.get('sample_id')}'s text")
    sample = result_to_sample(task_id, text, annotation.get("result") or [], base, catalogue)
    sample["meta"]["review"] = {"by": "human", "task_id": task_id, "annotation_id": annotation.get("id"),
                                "completed_by": annotation.get("completed_by"),
                                "updated_at": annotation.get("updated_at")}
    sample["meta"]["source_sample_id"] = data.get("sample_id")
    return sample
