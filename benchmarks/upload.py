"""Benchmark: upload a large CSV through the API to SeaweedFS, against a plain boto3 upload.

Target: the API reaches at least 70% of the throughput of ``boto3.upload_file`` of the same
file to the same server (measured in the same run), and the API process's peak memory stays
under 300 MB.

What one run does:

1. generates a CSV of ``--size-mb`` MB with ``examples`` and ``ground_truth`` columns of varied
   text (some values quoted, with commas, quotes or newlines), or reuses it from ``.bench/``;
2. starts a SeaweedFS S3 server and times ``boto3`` ``upload_file`` (default config) of the file;
3. starts ``assay serve`` (SQLite in a temporary ``ASSAY_HOME``, storage on that SeaweedFS) and
   uploads the file to ``POST /api/v1/datasets/`` with a streaming multipart body (the client
   never holds the file in memory), sampling the API process's RSS every 50 ms;
4. prints the best of ``--runs`` measurements of each upload, the ratio and the peak RSS.

Usage::

    .venv/bin/python benchmarks/upload.py            # 500 MB, 3 runs of each
    .venv/bin/python benchmarks/upload.py --size-mb 50 --runs 2
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from pydoc_data.topics import topics as pydoc_topics

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ is not in the wheel
from tests.servers import ManagedProcess, SeaweedS3, free_port

ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = ROOT / ".bench"
MB = 1_000_000
MIN_RATIO = 0.70
MAX_RSS_MB = 300.0
SAMPLE_SECONDS = 0.05
CLIENT_CHUNK = 1024 * 1024
GENERATOR_VERSION = 3


# --- the dataset ------------------------------------------------------------------------


def _bigram_model() -> tuple[list[str], list[list[int]]]:
    """Words of the English text that ships with Python (``pydoc_data``) and, for each word,
    the words that follow it there (with repeats, so a uniform pick follows their frequency)."""
    text = " ".join(pydoc_topics.values())
    found = re.findall(r"[A-Za-z][A-Za-z'-]*[,.;:?!]?|[0-9]+[.,]?", text)
    index: dict[str, int] = {}
    sequence = [index.setdefault(word, len(index)) for word in found]
    successors: list[list[int]] = [[] for _ in index]
    for current, following in itertools.pairwise(sequence):
        successors[current].append(following)
    successors[sequence[-1]].append(sequence[0])
    return list(index), successors


def _word_stream(rng: random.Random, count: int) -> Iterator[list[str]]:
    """Endless text in batches of ``count`` words, drawn from the bigram model: new sentences,
    never copies of the source, with the word and phrase statistics of English prose."""
    words, successors = _bigram_model()
    current = 0
    draw = rng.random
    while True:
        batch = []
        for _ in range(count):
            following = successors[current]
            current = following[int(draw() * len(following))]
            batch.append(current)
        yield [words[word] for word in batch]


def _text(words: list[str]) -> str:
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def generate_csv(path: Path, size_bytes: int, seed: int = 7) -> None:
    """Write a CSV of about ``size_bytes`` with ``id``, ``examples`` and ``ground_truth``:
    texts of 15-250 and 4-60 words; some quote a word, a few span several lines."""
    rng = random.Random(seed)
    partial = path.with_suffix(".partial")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "examples", "ground_truth"])
        row_id = 0
        for pool in _word_stream(rng, 500_000):
            offset = 0
            rows = []
            while offset < len(pool) - 320:
                example_words = rng.randint(15, 250)
                truth_words = rng.randint(4, 60)
                example = _text(pool[offset : offset + example_words])
                truth = _text(pool[offset + example_words : offset + example_words + truth_words])
                offset += example_words + truth_words
                roll = rng.random()
                if roll < 0.03:
                    example = example.replace(". ", ".\n", 2)
                elif roll < 0.05:
                    truth = f"{truth}\nSee also: {example[:40]}"
                elif roll < 0.10:
                    example = example.replace(" the ", ' "the" ', 1)
                rows.append((row_id, example, truth))
                row_id += 1
            writer.writerows(rows)
            if handle.tell() >= size_bytes:
                break
    partial.replace(path)


def dataset_file(size_mb: int) -> Path:
    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / f"upload-{size_mb}mb-v{GENERATOR_VERSION}.csv"
    if not path.exists():
        print(f"generating {path.relative_to(ROOT)} ({size_mb} MB)...", flush=True)
        started = time.perf_counter()
        generate_csv(path, size_mb * MB)
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)
    return path


# --- the servers --------------------------------------------------------------------------


@dataclass
class ApiServer:
    """``assay serve`` in a subprocess, SQLite in ``home``, storage on the given S3 bucket."""

    home: Path
    seaweed: SeaweedS3
    bucket: str
    max_bytes: int
    url: str = ""
    server: ManagedProcess | None = field(default=None, repr=False)

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self.server.process if self.server else None

    def start(self) -> ApiServer:
        port = free_port()
        env = {
            **os.environ,
            "ASSAY_HOME": str(self.home),
            "ASSAY_STORAGE_URL": f"s3://{self.bucket}",
            "ASSAY_S3_ENDPOINT_URL": self.seaweed.endpoint_url,
            "ASSAY_S3_ACCESS_KEY_ID": self.seaweed.access_key,
            "ASSAY_S3_SECRET_ACCESS_KEY": self.seaweed.secret_key,
            "ASSAY_MAX_DATASET_BYTES": str(self.max_bytes),
        }
        command = [str(Path(sys.executable).parent / "assay"), "serve", "--port", str(port)]
        self.url = f"http://127.0.0.1:{port}"
        log = self.home / "api.log"
        self.server = ManagedProcess([*command, "--log-level", "warning"], log, env=env, grace_s=20)
        self.server.start(
            lambda: httpx.get(f"{self.url}/api/v1/health/", timeout=2).status_code == 200, 60, "assay serve"
        )
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


class RssSampler:
    """Samples the RSS of a process and its children in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak_bytes = 0

    def _total(self) -> int:
        total = self._process.memory_info().rss
        for child in self._process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak_bytes = max(self.peak_bytes, self._total())
            except psutil.NoSuchProcess:
                return
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._total())


# --- the two uploads ----------------------------------------------------------------------


def boto3_upload(seaweed: SeaweedS3, bucket: str, path: Path) -> float:
    """Seconds for a plain ``upload_file`` with boto3's default configuration."""
    client = seaweed.client()
    key = f"boto3/{uuid.uuid4().hex}.csv"
    started = time.perf_counter()
    client.upload_file(str(path), bucket, key)
    elapsed = time.perf_counter() - started
    client.delete_object(Bucket=bucket, Key=key)
    return elapsed


def multipart_body(path: Path, boundary: str) -> tuple[Iterator[bytes], int]:
    """A ``multipart/form-data`` body read from disk as it is sent, and its exact length."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="format"\r\n\r\njob\r\n'
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="dataset"; filename="{path.name}"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def chunks() -> Iterator[bytes]:
        yield head
        with path.open("rb") as handle:
            while chunk := handle.read(CLIENT_CHUNK):
                yield chunk
        yield tail

    return chunks(), len(head) + path.stat().st_size + len(tail)


def api_upload(api: ApiServer, path: Path) -> tuple[float, dict[str, object]]:
    """Seconds from the first byte sent to the 201 answer (validation and Parquet included)."""
    boundary = uuid.uuid4().hex
    body, length = multipart_body(path, boundary)
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)}
    with httpx.Client(timeout=httpx.Timeout(600.0)) as client:
        started = time.perf_counter()
        response = client.post(f"{api.url}/api/v1/datasets/", content=body, headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 201:
            raise RuntimeError(f"upload failed: {response.status_code} {response.text[:500]}")
        dataset_id = response.json()["id"]
        detail = client.get(f"{api.url}/api/v1/projects/default/datasets/{dataset_id}")
        detail.raise_for_status()
        client.delete(f"{api.url}/api/v1/datasets/{dataset_id}").raise_for_status()
    dataset: dict[str, object] = detail.json()
    return elapsed, dataset


# --- the report ---------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=500, help="size of the CSV in MB (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="measurements of each upload (default 3)")
    args = parser.parse_args()
    if args.runs < 1 or args.size_mb < 1:
        parser.error("--runs and --size-mb must be at least 1")

    path = dataset_file(args.size_mb)
    size_mb = path.stat().st_size / MB
    workdir = Path(tempfile.mkdtemp(prefix="upload-", dir=CACHE_DIR))
    seaweed = SeaweedS3(workdir / "seaweed")
    api: ApiServer | None = None
    try:
        seaweed.start()
        bucket = seaweed.create_bucket("bench")
        (workdir / "api").mkdir()
        api = ApiServer(workdir / "api", seaweed, bucket, max_bytes=path.stat().st_size * 2).start()
        assert api.process is not None

        boto3_seconds: list[float] = []
        api_seconds: list[float] = []
        peak_rss = 0
        # Alternate the two so that a burst of load from elsewhere hurts both alike.
        for run in range(1, args.runs + 1):
            boto3_seconds.append(boto3_upload(seaweed, bucket, path))
            with RssSampler(api.process.pid) as sampler:
                seconds, dataset = api_upload(api, path)
            api_seconds.append(seconds)
            peak_rss = max(peak_rss, sampler.peak_bytes)
            print(
                f"run {run}: boto3 {size_mb / boto3_seconds[-1]:6.1f} MB/s ({boto3_seconds[-1]:.2f} s)"
                f" | API {size_mb / seconds:6.1f} MB/s ({seconds:.2f} s; {dataset['row_count']} rows,"
                f" Parquet {int(str(dataset['parquet_size'])) / MB:.0f} MB)"
                f" | API peak RSS {sampler.peak_bytes / MB:.0f} MB",
                flush=True,
            )
    finally:
        if api is not None:
            api.stop()
        seaweed.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    boto3_rate = size_mb / min(boto3_seconds)
    api_rate = size_mb / min(api_seconds)
    ratio = api_rate / boto3_rate
    peak_mb = peak_rss / MB
    print()
    print(f"file: {path.name}, {size_mb:.0f} MB; best of {args.runs} runs of each upload")
    print(f"  (median: boto3 {size_mb / statistics.median(boto3_seconds):.1f} MB/s,", end=" ")
    print(f"API {size_mb / statistics.median(api_seconds):.1f} MB/s)")
    print(f"boto3 upload_file   {boto3_rate:8.1f} MB/s")
    print(f"API upload          {api_rate:8.1f} MB/s")
    print(f"ratio API / boto3   {ratio:8.2f}   {verdict(ratio >= MIN_RATIO)} (target >= {MIN_RATIO:.2f})")
    rss_verdict = verdict(peak_mb < MAX_RSS_MB)
    print(f"API peak RSS        {peak_mb:8.0f} MB   {rss_verdict} (target < {MAX_RSS_MB:.0f} MB)")
    return 0 if ratio >= MIN_RATIO and peak_mb < MAX_RSS_MB else 1


if __name__ == "__main__":
    sys.exit(main())
