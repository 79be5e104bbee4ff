"""The contract every metric fulfils, and the work they all share.

A metric scores unique (prediction, reference) pairs only: evaluation sets repeat pairs (the
same short answer, a model that copies its input), and the expensive metrics (BERTScore,
METEOR, TER) should not pay twice. ``Metric.compute`` deduplicates, lets the subclass score
the unique pairs, spreads the scores back over the examples, and adds the aggregates, so no
subclass repeats that bookkeeping.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

from assay.errors import InvalidInputError
from assay.metrics.types import MetricResult, PairScores

if TYPE_CHECKING:
    from assay.storage import ObjectStore

K = TypeVar("K", str, tuple[str, str])


def _check_texts(texts: Sequence[object], field_name: str) -> list[str]:
    """Rejects non-text entries (a missing cell read as None or NaN) naming the first bad row."""
    checked: list[str] = []
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"{field_name}[{index}] is {type(text).__name__}, expected a string", field=field_name
            )
        checked.append(text)
    return checked


def _deduplicate(keys: list[K]) -> tuple[list[K], list[int]]:
    """The distinct keys in first-seen order, and for each input the index of its key among them."""
    slot_of: dict[K, int] = {}
    slots = [slot_of.setdefault(key, len(slot_of)) for key in keys]
    return list(slot_of), slots


def _weighted_totals(stats: list[tuple[float, ...]], slots: list[int]) -> list[float]:
    """Sums per-pair statistics over all examples: a pair seen k times counts k times."""
    totals: list[float] = [0] * len(stats[0])
    for slot, times in Counter(slots).items():
        for position, value in enumerate(stats[slot]):
            totals[position] += times * value
    return totals


@dataclass(frozen=True)
class ModelContext:
    """What a model-backed metric (an LLM judge) needs of the job that runs it: where to keep
    its scratch data and its response cache, and the model's API key, which the job fetches
    through the job API at run time (never stored with the job)."""

    store: ObjectStore
    scratch_prefix: str
    cache_prefix: str
    api_key: str | None = None


class Metric(ABC):
    """A metric that scores predictions, with or without references.

    Subclasses set ``name`` (the registry name) and implement ``score_unique``; those with a
    corpus-level score also implement ``corpus_scores``.
    """

    name: ClassVar[str]

    def compute(
        self,
        predictions: Sequence[str],
        references: Sequence[str] | None = None,
        *,
        inputs: Sequence[str] | None = None,
        confidence: float = 0.95,
        n_resamples: int = 1000,
        seed: int = 0,
    ) -> MetricResult:
        """Scores every example and aggregates the scores (mean, bootstrap CI, corpus score).

        ``inputs`` (the examples the predictions answer) are read by metrics that ask a model
        about them; text metrics ignore them. The CI is deterministic for a given ``seed``.
        """
        per_example, corpus = self._score_examples(predictions, references)
        # Imported here so that the registry and the metric contract stay importable without numpy.
        from assay.metrics.aggregate import bootstrap_means

        aggregates = bootstrap_means(per_example, confidence=confidence, n_resamples=n_resamples, seed=seed)
        return MetricResult(metric=self.name, per_example=per_example, aggregates=aggregates, corpus=corpus)

    def score(
        self, predictions: Sequence[str], references: Sequence[str] | None = None
    ) -> dict[str, list[float]]:
        """Per-example scores only, for callers that aggregate themselves."""
        return self._score_examples(predictions, references)[0]

    def _score_examples(
        self, predictions: Sequence[str], references: Sequence[str] | None
    ) -> tuple[dict[str, list[float]], dict[str, float]]:
        """Per-example scores in input order, and corpus scores, with each distinct pair scored once."""
        preds = _check_texts(predictions, "predictions")
        if not preds:
            raise InvalidInputError("there are no predictions to score", field="predictions")
        refs = None if references is None else _check_texts(references, "references")
        if refs is not None and len(refs) != len(preds):
            raise InvalidInputError(
                f"{len(refs)} references for {len(preds)} predictions", field="references"
            )

        if refs is None:
            unique_preds, slots = _deduplicate(preds)
            scored = self.score_unique(unique_preds, None)
        else:
            unique_pairs, slots = _deduplicate(list(zip(preds, refs, strict=True)))
            scored = self.score_unique([p for p, _ in unique_pairs], [r for _, r in unique_pairs])

        per_example = {name: [values[slot] for slot in slots] for name, values in scored.values.items()}
        corpus = {} if scored.stats is None else self.corpus_scores(_weighted_totals(scored.stats, slots))
        return per_example, corpus

    @abstractmethod
    def score_unique(self, predictions: list[str], references: list[str] | None) -> PairScores:
        """Scores pairs that are all distinct; ``references`` is None when the dataset has none."""

    def corpus_scores(self, totals: list[float]) -> dict[str, float]:
        """Corpus-level scores from the summed ``PairScores.stats``; only called when stats exist."""
        raise NotImplementedError(f"{type(self).__name__} returns stats but has no corpus score")


class ReferenceMetric(Metric):
    """A metric that compares each prediction with its reference."""

    def score_unique(self, predictions: list[str], references: list[str] | None) -> PairScores:
        if references is None:
            raise InvalidInputError(
                f"metric {self.name!r} compares predictions with references, and there are none",
                field="references",
            )
        return self.score_pairs(predictions, references)

    @abstractmethod
    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        """Scores distinct (prediction, reference) pairs."""
