"""A batch's Label Studio tasks -> the batch's annotated samples (the input of training data).

For each reviewed sample of the batch:
- its task has a non-cancelled annotation: the latest one becomes the sample (human-reviewed);
- its task has only cancelled annotations (skipped): excluded;
- no task or no annotation yet: the unreviewed policy decides (``include`` keeps the
  machine-reviewed sample as it is, ``exclude`` drops it);
- the annotation cannot become a sample (offsets off the text, unknown label, ...): rejected
  with the task id and the reason, and the sample is left out (never silently replaced).
Without Label Studio (``tasks is None``) every sample is unreviewed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pii_assets.labelstudio.convert import TaskError, task_to_sample

POLICIES = ("include", "exclude")


class PolicyError(ValueError):
    pass


@dataclass
class Annotated:
    samples: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    human: int = 0
    machine_included: int = 0
    unreviewed_excluded: int = 0
    cancelled: int = 0


def collect(reviewed: dict[str, dict], tasks: list[dict] | None, unreviewed: str = "include") -> Annotated:
    """``reviewed``: the batch's reviewed samples by id, in file order; ``tasks``: its LS tasks."""
    if unreviewed not in POLICIES:
        raise PolicyError(f"unreviewed policy {unreviewed!r} is not one of {POLICIES}")
    out = Annotated()
    by_sample: dict[str, dict] = {}
    for task in tasks or ():
        sample_id = (task.get("data") or {}).get("sample_id")
        # with several tasks for one sample (should not happen; sync prevents it) the newest wins
        if sample_id not in by_sample or task.get("id", 0) > by_sample[sample_id].get("id", 0):
            by_sample[sample_id] = task
    seen: set[str] = set()
    for sample_id, sample in reviewed.items():
        task = by_sample.get(sample_id)
        annotations = (task or {}).get("annotations") or []
        if task is not None and annotations:
            try:
                human = task_to_sample(task, reviewed)
            except TaskError as exc:
                out.rejects.append({"task_id": exc.task_id, "sample_id": sample_id, "reason": exc.reason,
                                    "record": {"data": task.get("data"), "annotations": annotations}})
                continue
            if human is None:  # every annotation was cancelled
                out.cancelled += 1
                continue
            if human["id"] in seen:
                out.rejects.append({"task_id": task.get("id"), "sample_id": sample_id,
                                    "reason": f"the annotation makes it identical to sample {human['id']}, "
                                              "already in the batch", "record": {"data": task.get("data")}})
                continue
            seen.add(human["id"])
            out.samples.append(human)
            out.human += 1
            continue
        if unreviewed == "include":
            if sample_id not in seen:
                seen.add(sample_id)
                out.samples.append(sample)
                out.machine_included += 1
        else:
            out.unreviewed_excluded += 1
    return out
