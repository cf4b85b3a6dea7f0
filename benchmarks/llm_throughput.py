"""LLM provider throughput against the OpenAI-compatible test server with a fixed latency.

Same server (pii_assets.llm.testserver in its own process, 200 ms per chat completion by default),
same requests:
  - the openai provider (asyncio, at most --concurrency requests in flight);
  - a thread pool of --threads workers making the same calls with the synchronous client
    (the seed system's design);
ideal = concurrency / latency samples/s. Bar: the provider reaches >= 85% of the ideal.

    python benchmarks/llm_throughput.py [--samples 800] [--concurrency 32] [--latency 0.2] [--threads 12]
"""

from __future__ import annotations

import os
import sys

if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    sys.path.pop(0)  # benchmarks/tokenize.py would shadow the standard library's tokenize

import argparse  # noqa: E402
import multiprocessing as mp  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ThreadPoolExecutor  # noqa: E402
from contextlib import contextmanager  # noqa: E402

from pii_assets.batches import BatchSpec  # noqa: E402
from pii_assets.llm.openai_provider import ANSWER_SCHEMA, LLMConfig, generate, messages, sample_requests  # noqa: E402
from pii_assets.llm.testserver import serve  # noqa: E402


def _run_server(latency: float, urls, stop) -> None:
    with serve(latency=latency) as server:
        urls.put(server.base_url)
        stop.wait()


@contextmanager
def server_process(latency: float):
    """The test server in its own process, so its Python work does not share the clients' GIL
    (a real endpoint is another machine)."""
    ctx = mp.get_context("spawn")
    urls, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_run_server, args=(latency, urls, stop), daemon=True)
    proc.start()
    try:
        yield urls.get(timeout=60)
    finally:
        stop.set()
        proc.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=800)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=12)
    args = parser.parse_args()
    spec = BatchSpec("bench-llm", size=args.samples, seed=1, languages=("en", "de", "fr"))
    ideal = args.concurrency / args.latency
    with server_process(args.latency) as base_url:
        # warm-up with the same requests: the server caches its answers, so both timed runs measure
        # the clients, not the offline generator behind the server
        generate(spec, LLMConfig(base_url, "m", max_concurrency=32), "k")
        start = time.perf_counter()
        result = generate(spec, LLMConfig(base_url, "bench-model", max_concurrency=args.concurrency), "key")
        provider = time.perf_counter() - start

        import openai

        client = openai.OpenAI(base_url=base_url, api_key="key", max_retries=3, timeout=30)
        fmt = {"type": "json_schema", "json_schema": {"name": "pii_sample", "schema": ANSWER_SCHEMA, "strict": True}}

        def call(request: dict) -> str:
            return client.chat.completions.create(model="bench-model", messages=messages(request),
                                                  response_format=fmt).choices[0].message.content

        start = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            answers = list(pool.map(call, sample_requests(spec)))
        threads = time.perf_counter() - start

    rate, thread_rate = len(result.records) / provider, len(answers) / threads
    print(f"{args.samples} samples, server latency {args.latency * 1000:.0f} ms per request\n")
    print(f"{'':<34} {'seconds':>8} {'samples/s':>10} {'of ideal':>9}")
    print(f"{f'provider, asyncio, {args.concurrency} in flight':<34} {provider:>8.1f} {rate:>10.1f} {rate / ideal:>8.0%}")
    print(f"{f'thread pool, {args.threads} workers':<34} {threads:>8.1f} {thread_rate:>10.1f} "
          f"{thread_rate / ideal:>8.0%}")
    print(f"\nideal at concurrency {args.concurrency}: {ideal:.0f} samples/s; provider / thread pool: "
          f"{rate / thread_rate:.2f}x; provider rejects: {len(result.rejects)}")


if __name__ == "__main__":
    main()
