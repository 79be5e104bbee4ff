"""The predictions dataset (one row per example, streamed to Parquet) and the run's summary.

Rows reach the writer in dataset order, a few hundred at a time, and go out as Parquet row
groups on a streaming object upload: memory holds one batch, whatever the dataset's size.
Nothing is visible under the key until the run commits it.
"""

from __future__ import annotations

import statistics
from array import array
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from assay.datasets.columns import EXAMPLES, GROUND_TRUTH, PREDICTIONS
from assay.storage.base import ObjectStore

MAX_ERRORS_REPORTED = 5


def predictions_schema(with_ground_truth: bool) -> pa.Schema:
    columns = [(EXAMPLES, pa.string())]
    if with_ground_truth:
        columns.append((GROUND_TRUTH, pa.string()))
    columns += [
        (PREDICTIONS, pa.string()),
        ("reasoning", pa.string()),
        ("latency_ms", pa.float64()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("cost", pa.float64()),
        ("error", pa.string()),
    ]
    return pa.schema(columns)


@dataclass(slots=True)
class ResultRow:
    """One example's outcome; ``prediction`` is ``None`` exactly when ``error`` is set."""

    examples: str | None
    ground_truth: str | None
    predictions: str | None
    reasoning: str | None
    latency_ms: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost: float | None
    error: str | None
    from_cache: bool = False


class PredictionsWriter:
    def __init__(self, store: ObjectStore, key: str, with_ground_truth: bool) -> None:
        self.key = key
        self.schema = predictions_schema(with_ground_truth)
        self._sink = store.open_writer(key, "application/vnd.apache.parquet")
        self._parquet = pq.ParquetWriter(self._sink, self.schema, compression="zstd")

    def write(self, rows: list[ResultRow]) -> None:
        columns = {name: [getattr(row, name) for row in rows] for name in self.schema.names}
        self._parquet.write_table(pa.Table.from_pydict(columns, schema=self.schema))

    def commit(self) -> None:
        self._parquet.close()
        self._sink.commit()

    def abort(self) -> None:
        self._parquet.close()
        self._sink.abort()


class LatencyStats(BaseModel):
    mean: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float


class InferenceSummary(BaseModel):
    """What a run did. Token, cost and latency figures describe the predictions (an answer replayed
    from the cache keeps the latency and tokens it had when the model produced it); duration,
    throughput and ``provider_stats`` describe this run."""

    run_id: str
    provider: str
    model: str
    task: str
    annotate: bool
    predictions_key: str
    examples: int = Field(description="rows processed: the dataset's, or its first max_samples")
    succeeded: int
    failed: int
    from_cache: int = Field(
        description="answered without a request of their own (cache, checkpoint, duplicate)"
    )
    generated: int = Field(description="answered by the model during this run")
    prompt_tokens: int
    completion_tokens: int
    cost: float | None = Field(description="USD; None when the model has no known price")
    duration_s: float
    throughput_per_s: float = Field(description="examples per second of this run, cache hits included")
    latency_ms: LatencyStats | None = Field(description="over the succeeded examples")
    provider_stats: dict[str, int] = Field(description="requests, retries, statuses... (HTTP); batches (hf)")
    errors: list[str] = Field(description=f"the first {MAX_ERRORS_REPORTED} distinct error messages")


@dataclass
class Tally:
    """Running totals over the written rows; latencies kept compactly (8 bytes each) for percentiles."""

    succeeded: int = 0
    failed: int = 0
    from_cache: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    priced: bool = False

    def __post_init__(self) -> None:
        self.latencies = array("d")
        self.errors: list[str] = []

    def add(self, row: ResultRow) -> None:
        if row.error is not None:
            self.failed += 1
            if len(self.errors) < MAX_ERRORS_REPORTED and row.error not in self.errors:
                self.errors.append(row.error)
            return
        self.succeeded += 1
        self.from_cache += row.from_cache
        self.prompt_tokens += row.prompt_tokens or 0
        self.completion_tokens += row.completion_tokens or 0
        if row.cost is not None:
            self.cost += row.cost
            self.priced = True
        if row.latency_ms is not None:
            self.latencies.append(row.latency_ms)

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    def latency_stats(self) -> LatencyStats | None:
        values = sorted(self.latencies)
        if not values:
            return None
        if len(values) == 1:
            cuts = [values[0]] * 99
        else:
            cuts = statistics.quantiles(values, n=100, method="inclusive")
        return LatencyStats(
            mean=statistics.fmean(values),
            p50=cuts[49],
            p90=cuts[89],
            p95=cuts[94],
            p99=cuts[98],
            max=values[-1],
        )

    def summary_fields(self) -> dict[str, Any]:
        """The part of ``InferenceSummary`` that comes from the rows."""
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "from_cache": self.from_cache,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost if self.priced else None,
            "latency_ms": self.latency_stats(),
            "errors": self.errors,
        }
