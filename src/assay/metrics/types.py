"""What metrics produce: plain result types, apart from the code that computes them.

``base`` (the metric contract) and ``aggregate`` (the bootstrap) both build these; keeping them
here lets each import the types without importing the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Aggregate:
    """Mean of one per-example score and its bootstrap confidence interval."""

    mean: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, float]:
        """The JSON form stored with results and read by comparisons and reports."""
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high}


@dataclass(frozen=True)
class PairScores:
    """What a metric computes for unique pairs.

    ``values`` maps each score name to one value per unique pair. ``stats`` holds, for metrics
    with a corpus-level score (BLEU, chrF, TER), the sufficient statistics of each unique pair;
    the corpus score is a function of their sum over all examples, duplicates included.
    """

    values: dict[str, list[float]]
    stats: list[tuple[float, ...]] | None = None


@dataclass(frozen=True)
class MetricResult:
    """Scores of one metric over a dataset.

    ``per_example`` maps each score name (``rouge1``, ``bleu``, ``bertscore_f1``…) to one value
    per example, in input order; ``aggregates`` gives each score's mean with a confidence
    interval; ``corpus`` holds corpus-level scores, which are not means of per-example scores.
    """

    metric: str
    per_example: dict[str, list[float]]
    aggregates: dict[str, Aggregate]
    corpus: dict[str, float] = field(default_factory=dict)
    # A model-backed metric can fail on an example: ``errors`` says why, per example (``None``
    # where it scored; the score there is NaN and is stored as missing, never as a value).
    errors: list[str | None] = field(default_factory=list)
    # Per-example text beside the scores (a judge's reasons), stored as columns of that name.
    details: dict[str, list[str | None]] = field(default_factory=dict)
    # Entries the metric adds to the evaluation's summary (the judge's counts).
    report: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, as stored with evaluation results."""
        return {
            "metric": self.metric,
            "per_example": self.per_example,
            "aggregates": {key: aggregate.to_dict() for key, aggregate in self.aggregates.items()},
            "corpus": self.corpus,
            **({"errors": self.errors} if self.errors else {}),
        }
