"""What every metric shares: input checks, deduplication, corpus totals and bootstrap intervals."""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from assay.errors import InvalidInputError
from assay.metrics import Aggregate, PairScores, ReferenceMetric
from assay.metrics.aggregate import bootstrap_means


class CountingMetric(ReferenceMetric):
    """Scores the prediction's length and records the pairs it was asked to score."""

    name = "counting"

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        self.seen += list(zip(predictions, references, strict=True))
        return PairScores(
            values={"length": [float(len(p)) for p in predictions]},
            stats=[(len(p), 1) for p in predictions],
        )

    def corpus_scores(self, totals: list[float]) -> dict[str, float]:
        return {"chars_per_example": totals[0] / totals[1]}


def test_each_distinct_pair_is_scored_once_and_scores_follow_input_order() -> None:
    metric = CountingMetric()
    scores = metric.score(["aa", "b", "aa", "aa", "b"], ["x", "y", "x", "z", "y"])
    assert metric.seen == [("aa", "x"), ("b", "y"), ("aa", "z")]
    assert scores == {"length": [2.0, 1.0, 2.0, 2.0, 1.0]}


def test_corpus_statistics_count_duplicates_as_often_as_they_occur() -> None:
    result = CountingMetric().compute(["aaaa", "b", "aaaa"], ["x", "y", "x"])
    assert result.corpus == {"chars_per_example": 3.0}  # (4 + 1 + 4) / 3, not (4 + 1) / 2
    assert result.metric == "counting"


@pytest.mark.parametrize(
    ("predictions", "references", "field"),
    [
        ([], [], "predictions"),
        (["a", None], ["a", "b"], "predictions"),
        (["a", "b"], ["a", float("nan")], "references"),
        (["a", "b"], ["a"], "references"),
    ],
)
def test_unusable_input_names_the_field(
    predictions: list[object], references: list[object], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        CountingMetric().compute(predictions, references)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_reference_metric_without_references_is_refused() -> None:
    with pytest.raises(InvalidInputError) as caught:
        CountingMetric().compute(["a"])
    assert caught.value.field == "references"


def test_to_dict_is_plain_data() -> None:
    result = CountingMetric().compute(["ab", "abcd"], ["x", "y"], n_resamples=50)
    data = result.to_dict()
    assert data["per_example"] == {"length": [2.0, 4.0]}
    assert data["aggregates"]["length"]["mean"] == 3.0
    assert data["corpus"] == {"chars_per_example": 3.0}


def test_bootstrap_is_deterministic_for_a_seed_and_varies_with_it() -> None:
    values = {"score": [float(v) for v in np.random.default_rng(7).random(500)]}
    first = bootstrap_means(values, seed=3)
    assert bootstrap_means(values, seed=3) == first
    assert bootstrap_means(values, seed=4)["score"] != first["score"]


def test_bootstrap_interval_brackets_the_mean_with_the_expected_width() -> None:
    rng = np.random.default_rng(11)
    values = [float(v) for v in rng.normal(loc=5.0, scale=2.0, size=2000)]
    aggregate = bootstrap_means({"x": values}, n_resamples=2000)["x"]
    assert aggregate.mean == pytest.approx(statistics.fmean(values), abs=1e-12)
    assert aggregate.ci_low < aggregate.mean < aggregate.ci_high
    # A 95% interval of a mean spans about 2 x 1.96 standard errors.
    standard_error = statistics.stdev(values) / len(values) ** 0.5
    assert aggregate.ci_high - aggregate.ci_low == pytest.approx(2 * 1.96 * standard_error, rel=0.1)


def test_bootstrap_of_a_constant_is_that_constant() -> None:
    assert bootstrap_means({"x": [0.5] * 40}) == {"x": Aggregate(mean=0.5, ci_low=0.5, ci_high=0.5)}


def test_bootstrap_of_one_example_collapses_to_it() -> None:
    assert bootstrap_means({"x": [3.0]}) == {"x": Aggregate(mean=3.0, ci_low=3.0, ci_high=3.0)}


def test_bootstrap_resamples_in_blocks_like_in_one_go(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"a": [float(v) for v in range(30)], "b": [float(v % 7) for v in range(30)]}
    whole = bootstrap_means(values, n_resamples=100, seed=5)
    monkeypatch.setattr("assay.metrics.aggregate._BLOCK_CELLS", 30 * 7)  # blocks of 7 resamples
    assert bootstrap_means(values, n_resamples=100, seed=5) == whole


@pytest.mark.parametrize(("confidence", "n_resamples"), [(0.0, 10), (1.0, 10), (0.9, 0)])
def test_bootstrap_rejects_meaningless_settings(confidence: float, n_resamples: int) -> None:
    with pytest.raises(ValueError):
        bootstrap_means({"x": [1.0, 2.0]}, confidence=confidence, n_resamples=n_resamples)
