"""Benchmark: keep an OpenAI-compatible endpoint saturated, and re-run from the cache for free.

Target: against a local server that answers every request after a fixed 50 ms, 2,000 prompts
at concurrency 64 reach at least 85% of the ideal throughput (64 / 0.05 s = 1,280 requests/s)
through Assay's client (one ``aiohttp`` session, see ``providers/openai.py``); a second run of the
same config, with the response cache, sends zero requests.

What one run does:

1. starts ``tests.openai_server`` (real HTTP on 127.0.0.1, in its own process) and
   writes a dataset of ``--prompts`` distinct prompts to a local object store;
2. runs ``run_inference`` ``--runs`` times, each with an empty cache, and reports the best
   wall-clock throughput (the whole call: reading the dataset, requests, Parquet and cache
   writes) against the ideal, with the requests the server counted;
3. times bare loops of the same requests (no dataset, cache or Parquet), in the same run: one
   through Assay's provider, one through the official ``openai`` async client (the ``dev``
   extra), so the client's share of the gap to the ideal, and how the official client does on
   the same machine at the same moment, are stated beside the pipeline's figure;
4. runs the same config again over the cache of the last run and prints the requests the
   server received (must be 0) and whether the predictions are identical.

Usage::

    .venv/bin/python benchmarks/inference.py
    .venv/bin/python benchmarks/inference.py --prompts 5000 --concurrency 128 --runs 1
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import uvloop
from openai import AsyncOpenAI

from assay.inference import InferenceConfig, InferenceSummary, run_inference
from assay.inference.prompts import Prompt
from assay.inference.providers.openai import OpenAICompatibleProvider
from assay.storage.base import ObjectStore
from assay.storage.local import LocalObjectStore

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not in the wheel
from tests.openai_server import OpenAIServer

MIN_RATIO = 0.85
DATASET_KEY = "bench/dataset.parquet"


def write_dataset(store: ObjectStore, count: int) -> None:
    rows = [
        {"examples": f"Example {i}: the quick brown fox jumps over the lazy dog.", "ground_truth": f"fox {i}"}
        for i in range(count)
    ]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    writer = store.open_writer(DATASET_KEY)
    writer.write(buffer.getvalue())
    writer.commit()


def config_for(server: OpenAIServer, concurrency: int, run: str) -> InferenceConfig:
    return InferenceConfig.model_validate(
        {
            "provider": "openai-compatible",
            "model": "bench-model",
            "base_url": server.base_url,
            "dataset_key": DATASET_KEY,
            "predictions_key": f"bench/{run}/predictions.parquet",
            "checkpoint_prefix": f"bench/{run}/checkpoint/",
            "cache_prefix": f"bench/cache-{run}/",
            "generation": {"max_new_tokens": 64},
            "options": {"concurrency": concurrency},
        }
    )


def latency_text(summary: InferenceSummary) -> str:
    """Client-side request latencies: what the 50 ms became, end to end."""
    stats = summary.latency_ms
    return f"latency p50 {stats.p50:.1f} ms, p99 {stats.p99:.1f} ms, max {stats.max:.1f} ms" if stats else ""


async def _bare_loop(prompts: int, concurrency: int, ask: Callable[[str], Awaitable[str]]) -> float:
    """Seconds for ``concurrency`` workers to send ``prompts`` requests through ``ask``."""
    texts = iter(f"bare {i}" for i in range(prompts))

    async def worker() -> None:
        for text in texts:
            if not await ask(text):
                raise RuntimeError(f"no answer to {text!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def assay_client_seconds(server: OpenAIServer, prompts: int, concurrency: int) -> float:
    """The same requests through Assay's provider (its client, retries and flow control), bare."""

    async def everything() -> float:
        config = config_for(server, concurrency, "bare")
        async with OpenAICompatibleProvider(config, "bench-key") as provider:

            async def ask(text: str) -> str:
                [generation] = await provider.generate([Prompt(None, text)])
                return generation.text

            return await _bare_loop(prompts, concurrency, ask)

    return uvloop.run(everything())  # the event loop run_inference uses


def openai_client_seconds(server: OpenAIServer, prompts: int, concurrency: int) -> float:
    """The same requests through the official ``openai`` async client (httpx underneath)."""

    async def everything() -> float:
        async with AsyncOpenAI(base_url=server.base_url, api_key="bench-key", max_retries=0) as client:

            async def ask(text: str) -> str:
                completion = await client.chat.completions.create(
                    model="bench-model", messages=[{"role": "user", "content": text}], max_tokens=64
                )
                return completion.choices[0].message.content or ""

            return await _bare_loop(prompts, concurrency, ask)

    return uvloop.run(everything())


def timed(config: InferenceConfig, store: ObjectStore) -> tuple[float, InferenceSummary]:
    started = time.perf_counter()
    summary = run_inference(config, store, handle_signals=False)
    return time.perf_counter() - started, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.05, help="server latency per request, seconds")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs; the best one counts")
    args = parser.parse_args()

    ideal = args.concurrency / args.latency
    server = OpenAIServer(latency_s=args.latency).start()
    try:
        with tempfile.TemporaryDirectory(prefix="assay-bench-") as folder:
            store = LocalObjectStore(Path(folder))
            write_dataset(store, args.prompts)
            print(
                f"{args.prompts} prompts, concurrency {args.concurrency}, "
                f"server latency {args.latency * 1000:.0f} ms"
            )
            print(f"ideal throughput: {ideal:.0f} requests/s ({args.prompts / ideal:.2f} s)")

            best = 0.0
            for attempt in range(args.runs):
                server.control(reset=True)
                config = config_for(server, args.concurrency, f"run{attempt}")
                seconds, summary = timed(config, store)
                stats = server.stats()
                throughput = args.prompts / seconds
                best = max(best, throughput)
                print(
                    f"run {attempt + 1}: {seconds:.2f} s, {throughput:.0f} requests/s "
                    f"({throughput / ideal:.1%} of ideal); server received {stats['requests']} requests, "
                    f"peak {stats['peak_in_flight']} in flight; {summary.succeeded} succeeded, "
                    f"{summary.failed} failed; {latency_text(summary)}"
                )
            ratio = best / ideal
            throughput_ok = ratio >= MIN_RATIO
            print(f"best: {best:.0f} requests/s = {ratio:.1%} of ideal (target {MIN_RATIO:.0%})")
            for name, seconds_of in (
                ("assay client (aiohttp)", assay_client_seconds),
                ("official openai client", openai_client_seconds),
            ):
                bare = args.prompts / seconds_of(server, args.prompts, args.concurrency)
                print(f"bare loop, {name}: {bare:.0f} requests/s = {bare / ideal:.1%} of ideal")
            load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
            print(f"machine: load average {load} on {os.cpu_count()} cores")

            predictions = Path(folder) / config.predictions_key
            before = pq.read_table(predictions)
            server.control(reset=True)
            seconds, summary = timed(config, store)
            cached_requests = server.stats()["requests"]
            identical = before.equals(pq.read_table(predictions))
            print(
                f"re-run with the cache: {seconds:.2f} s, server received {cached_requests} requests, "
                f"{summary.from_cache} of {summary.examples} answered from the cache, "
                f"predictions identical: {identical}"
            )
            cache_ok = cached_requests == 0 and summary.from_cache == args.prompts and identical
    finally:
        server.stop()
    print(f"throughput: {'PASS' if throughput_ok else 'FAIL'}")
    print(f"cache re-run sends zero requests: {'PASS' if cache_ok else 'FAIL'}")
    return 0 if throughput_ok and cache_ok else 1


if __name__ == "__main__":
    sys.exit(main())
