"""Benchmark: the gateway's cost beside calling a service directly, in one run.

Goal (issue 14): for 5,000 small requests at concurrency 32 to an ``app`` service, the gateway
reaches at least 80% of the direct throughput and adds at most 2 ms to the p50 latency; the
first byte of a streamed response comes within 5 ms of direct.

What one run does:

1. starts ``assay serve`` in its own process (embedded mode under a temporary ASSAY_HOME: its
   own local Ray head), and creates an ``app`` service running ``tests/apps/echo_app.py``;
2. once it runs, sends the same load (``--requests`` GETs of its page at ``--concurrency``,
   one ``aiohttp`` session) to the service's private address and through the gateway, twice
   each, alternating, and prints the best throughput and the p50/p99 of each side;
3. times the first byte of a streamed response (``/events``), ``--streams`` times each way
   one after another, and prints the medians.

Usage::

    .venv/bin/python benchmarks/gateway.py
    .venv/bin/python benchmarks/gateway.py --requests 20000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import httpx

from assay.services.service_reconciler import read_address

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "tests" / "apps" / "echo_app.py"
SERVICE = "/api/v1/projects/default/services"
MIN_RATIO = 0.80
MAX_ADDED_P50_MS = 2.0
MAX_ADDED_FIRST_BYTE_MS = 5.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(home: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "ASSAY_HOME": home, "ASSAY_WARM_POOL": "false"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "assay.cli.main", "serve", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(command, env=env)


def wait_running(api: httpx.Client, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = api.get(f"{SERVICE}/bench/status").json()
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        if status.get("status") == "running":
            return
        if status.get("status") == "failed":
            raise RuntimeError(f"the service failed: {status}")
        time.sleep(0.5)
    raise RuntimeError("the service did not start in time")


async def load(url: str, requests: int, concurrency: int) -> tuple[float, list[float], int]:
    """Requests per second, every latency (ms) and the answers other than 200, with
    ``concurrency`` requests in flight."""
    latencies: list[float] = []
    failures = 0
    remaining = iter(range(requests))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            for _ in remaining:
                began = time.perf_counter()
                async with session.get(url) as response:
                    await response.read()
                    failures += response.status != 200
                latencies.append((time.perf_counter() - began) * 1000)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return requests / elapsed, latencies, failures


async def first_bytes(url: str, count: int) -> list[float]:
    times = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            began = time.perf_counter()
            async with session.get(url) as response:
                await response.content.readany()
                times.append((time.perf_counter() - began) * 1000)
                await response.read()
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--streams", type=int, default=200)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as home:
        server = start_server(home, port)
        api = httpx.Client(base_url=base, timeout=30)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if api.get("/api/v1/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("assay serve did not start")
                time.sleep(0.3)
            body = {"name": "bench", "kind": "app", "command": [sys.executable, str(APP)]}
            created = api.post(SERVICE, json=body)
            assert created.status_code == 201, created.text
            wait_running(api)
            direct = read_address(api.get(f"{SERVICE}/bench/logs").json()["logs"])
            assert direct is not None
            gateway = f"{base}{SERVICE}/bench/proxy"
            results: dict[str, tuple[float, list[float], int]] = {}
            asyncio.run(load(f"{gateway}/", 200, args.concurrency))  # warm both paths
            asyncio.run(load(f"{direct}/", 200, args.concurrency))
            for _ in range(2):
                for name, url in (("direct", direct), ("gateway", gateway)):
                    outcome = asyncio.run(load(f"{url}/", args.requests, args.concurrency))
                    if name not in results or outcome[0] > results[name][0]:
                        results[name] = outcome
            print(f"{args.requests} GETs at concurrency {args.concurrency} (best of 2 each):")
            for name, (rate, latencies, failures) in results.items():
                p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
                print(
                    f"  {name:8} {rate:8.0f} req/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
                    f"not 200: {failures}"
                )
            ratio = results["gateway"][0] / results["direct"][0]
            added = percentile(results["gateway"][1], 0.5) - percentile(results["direct"][1], 0.5)
            print(
                f"  gateway/direct throughput {ratio:.0%} (goal >= {MIN_RATIO:.0%}); "
                f"added p50 {added:.2f} ms (goal <= {MAX_ADDED_P50_MS} ms)"
            )
            stream = "/events?n=2&delay=0.2"
            direct_first = statistics.median(asyncio.run(first_bytes(f"{direct}{stream}", args.streams)))
            gateway_first = statistics.median(asyncio.run(first_bytes(f"{gateway}{stream}", args.streams)))
            print(
                f"first byte of a stream (median of {args.streams}): direct {direct_first:.2f} ms, "
                f"gateway {gateway_first:.2f} ms, added {gateway_first - direct_first:.2f} ms "
                f"(goal <= {MAX_ADDED_FIRST_BYTE_MS} ms)"
            )
            api.delete(f"{SERVICE}/bench")
        finally:
            server.terminate()
            server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
