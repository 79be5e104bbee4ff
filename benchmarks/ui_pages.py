"""Benchmark: the web UI's pages with volume.

Target: with 2,000 datasets, 500 experiments (two workflows each) and one experiment of 10,000
scored examples, the first page of each list and of the side by side renders in under 1 s.

What one run does: builds the app on a fresh ``ASSAY_HOME`` (SQLite, local object folder, no
Ray: nothing is run), inserts the rows directly through the records in a few transactions
(not over HTTP one by one), writes the two workflows' per-example score tables (Parquet, as an
evaluation job writes them), then times ``GET`` of each page through the app (best and median
of ``--repeat``, after one warm-up request) and prints each figure beside the goal.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/ui_pages.py
    PYTHONPATH=src .venv/bin/python benchmarks/ui_pages.py --repeat 5
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from assay.api.app import create_app
from assay.config import Settings
from assay.records import (
    DatasetRecord,
    ExperimentRecord,
    JobRecord,
    JobStatus,
    WorkflowRecord,
    WorkflowStatus,
)
from assay.runtime import Runtime

GOAL_S = 1.0
PROJECT = "default"
DATASETS = 2000
EXPERIMENTS = 500
EXAMPLES = 10_000
SCORES = ("rouge1", "bleu")


def dataset(index: int) -> DatasetRecord:
    return DatasetRecord(
        project_id=PROJECT,
        filename=f"data-{index:05d}.csv",
        source_format="csv",
        size=1000 + index,
        row_count=100,
        columns=[{"name": "examples", "type": "string"}, {"name": "ground_truth", "type": "string"}],
        ground_truth=True,
        original_key=f"projects/{PROJECT}/datasets/{index}/original/data.csv",
        parquet_key=f"projects/{PROJECT}/datasets/{index}/dataset.parquet",
        parquet_size=900,
    )


def workflow(experiment: ExperimentRecord, name: str, job: JobRecord | None) -> WorkflowRecord:
    return WorkflowRecord(
        experiment_id=experiment.id,
        project_id=PROJECT,
        name=name,
        model=name,
        provider="mock",
        generation_config={},
        metric_names=list(SCORES),
        status=WorkflowStatus.SUCCEEDED,
        evaluation_job_id=job.id if job else None,
    )


def scores_table(seed: int) -> bytes:
    """One workflow's per-example table: input, reference, prediction and a column per score."""
    rows = range(EXAMPLES)
    table = pa.table(
        {
            "examples": [f"Example {i}: the council met and approved budget {i}." for i in rows],
            "ground_truth": [f"Budget {i} approved." for i in rows],
            "predictions": [f"Model {seed} says budget {i} passed." for i in rows],
            **{
                f"score.{score}": [((i * (seed + 3) + k) % 97) / 97 for i in rows]
                for k, score in enumerate(SCORES)
            },
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def evaluation_job(runtime: Runtime, seed: int) -> JobRecord:
    job_id = uuid.uuid4()
    key = f"projects/{PROJECT}/jobs/{job_id}/results/scores.parquet"
    writer = runtime.store.open_writer(key)
    writer.write(scores_table(seed))
    writer.commit()
    summary = {
        "metrics": {score: {"mean": 0.5, "ci_low": 0.49, "ci_high": 0.51} for score in SCORES},
        "usage": {"latency_ms": {"mean": 10.0 + seed, "p50": 10.0, "p95": 12.0, "total": 1e5}},
        "scores_key": key,
    }
    return JobRecord(
        id=job_id,
        project_id=PROJECT,
        kind="evaluator",
        name=f"evaluation {seed}",
        status=JobStatus.SUCCEEDED,
        config={},
        config_key=f"projects/{PROJECT}/jobs/{job_id}/config.json",
        results_prefix=f"projects/{PROJECT}/jobs/{job_id}/results/",
        engine_name=f"assay-{job_id}",
        summary=summary,
    )


def fill(runtime: Runtime) -> str:
    """Insert the volume; returns the big experiment's page path."""
    with runtime.session_factory() as session:
        datasets = [dataset(index) for index in range(DATASETS)]
        session.add_all(datasets)
        session.flush()
        experiments = [
            ExperimentRecord(
                project_id=PROJECT,
                name=f"experiment {index}",
                dataset_id=datasets[index % DATASETS].id,
                task_definition={"task": "summarization"},
            )
            for index in range(EXPERIMENTS)
        ]
        session.add_all(experiments)
        session.flush()
        session.add_all(workflow(e, name, None) for e in experiments for name in ("a", "b"))
        jobs = [evaluation_job(runtime, seed) for seed in (1, 2)]
        session.add_all(jobs)
        big = experiments[0]
        session.flush()
        session.add_all(workflow(big, f"scored {index}", job) for index, job in enumerate(jobs))
        session.commit()
        return f"/p/{PROJECT}/experiments/{big.id}"


def timed(client: TestClient, path: str, repeat: int, shows: str) -> tuple[float, float]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.text[:300])
    assert shows in response.text, (path, shows)
    figures = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        figures.append(time.perf_counter() - started)
        assert response.status_code == 200, path
    return min(figures), statistics.median(figures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(
            home=Path(home),
            # Nothing runs: an address with no Ray behind it keeps a local head from starting.
            ray_address="http://127.0.0.1:9",
            warm_pool_at_start=False,
            allowed_hosts=["testserver"],
            cleanup_interval_seconds=3600,
        )
        with TestClient(create_app(settings)) as client:
            runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
            started = time.perf_counter()
            experiment = fill(runtime)
            print(
                f"inserted {DATASETS} datasets, {EXPERIMENTS} experiments, {EXAMPLES} examples x 2 "
                f"in {time.perf_counter() - started:.1f} s"
            )
            # Each page, and a text that shows it rendered the volume (a count, a last row).
            pages = {
                "datasets, first page": (f"/p/{PROJECT}/datasets", f">{DATASETS}<"),
                "datasets, page 80": (f"/p/{PROJECT}/datasets?p=80", "data-00000.csv"),
                "experiments, first page": (f"/p/{PROJECT}/experiments", f">{EXPERIMENTS}<"),
                "jobs, first page": (f"/p/{PROJECT}/jobs", "evaluation 1"),
                "experiment (comparison)": (experiment, "scored 1"),
                "side by side, first page": (f"{experiment}/examples", f"{EXAMPLES} examples"),
                "side by side, page 500": (
                    f"{experiment}/examples?p=500&disagreement=bleu",
                    "Page 500 of 500",
                ),
            }
            print(f"{'page':<28} {'best':>8} {'median':>8}   goal")
            for label, (path, shows) in pages.items():
                best, median = timed(client, path, args.repeat, shows)
                verdict = "ok" if median < GOAL_S else "MISSED"
                print(f"{label:<28} {best:>7.3f}s {median:>7.3f}s   < {GOAL_S:.0f} s {verdict}")


if __name__ == "__main__":
    main()
