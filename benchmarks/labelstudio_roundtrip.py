"""Label Studio round trip: import N tasks with pre-annotations and read them back, local server.

Starts a throw-away Label Studio from .venv-labelstudio (make labelstudio-venv) on a loopback
port. Measures, in the same run and on the same kind of tasks (offline-generator samples with
their regions and coreference relations):
  - batched import (LabelStudioClient.sync_batch: 500 tasks per request), tasks/s;
  - one request per task (projects.import_tasks with a single task each), tasks/s, on a subset;
  - listing the tasks back with annotations and predictions (what annotated_samples reads), tasks/s;
  - an idempotent re-sync of the same batch (nothing to import).

    python benchmarks/labelstudio_roundtrip.py [--tasks 5000] [--single 200]
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # benchmarks/tokenize.py would shadow the standard library's tokenize

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from pii_assets.batches import BatchSpec  # noqa: E402
from pii_assets.catalogue import DEFAULT  # noqa: E402
from pii_assets.generator.offline import OfflineGenerator  # noqa: E402
from pii_assets.labelstudio.client import LabelStudioClient  # noqa: E402
from pii_assets.labelstudio.convert import sample_to_task  # noqa: E402
from pii_assets.labelstudio.server import local_server  # noqa: E402
from pii_assets.samples import validate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--single", type=int, default=200, help="tasks imported one request each")
    parser.add_argument("--venv", default=str(REPO / ".venv-labelstudio"))
    args = parser.parse_args()
    samples = [validate(s) for s in OfflineGenerator(BatchSpec("bench-ls", size=args.tasks + args.single,
                                                               seed=9)).generate()]
    batch_tasks = [sample_to_task(s, "bench") for s in samples[:args.tasks]]
    single_tasks = [sample_to_task(s, "single") for s in samples[args.tasks:]]
    regions = sum(len(t["predictions"][0]["result"]) for t in batch_tasks) / len(batch_tasks)
    with tempfile.TemporaryDirectory() as tmp, local_server(Path(args.venv), Path(tmp) / "ls") as server:
        client = LabelStudioClient(server.url, server.token, timeout=300)
        project = client.ensure_project("bench", DEFAULT.label_studio_config())

        start = time.perf_counter()
        report = client.sync_batch(project, "bench", batch_tasks)
        batched = time.perf_counter() - start

        start = time.perf_counter()
        for task in single_tasks:
            client.sdk.projects.import_tasks(id=project, request=[task])
        single = time.perf_counter() - start

        start = time.perf_counter()
        listed = sum(1 for _ in client.tasks(project, "bench", page_size=1000))
        listing = time.perf_counter() - start

        start = time.perf_counter()
        again = client.sync_batch(project, "bench", batch_tasks)
        resync = time.perf_counter() - start

    print(f"{args.tasks} tasks ({regions:.1f} result items each), Label Studio {server.url}\n")
    print(f"{'':<34} {'tasks':>6} {'seconds':>8} {'tasks/s':>8}")
    rows = [("import, batched (500 per request)", report.imported, batched),
            ("import, one request per task", len(single_tasks), single),
            ("list back with annotations", listed, listing),
            ("re-sync (idempotent, 0 imported)", again.already_present, resync)]
    for name, n, seconds in rows:
        print(f"{name:<34} {n:>6} {seconds:>8.1f} {n / seconds:>8.0f}")
    print(f"\nbatched / one-per-task import speed: {(report.imported / batched) / (len(single_tasks) / single):.1f}x "
          f"({report.requests} import requests for {report.imported} tasks); re-sync imported {again.imported}")


if __name__ == "__main__":
    main()
