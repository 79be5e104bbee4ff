"""Length of predictions (and references, when there are any), in words and characters.

The one metric that needs no reference: for free text generation it is what can be compared
across models without ground truth (verbosity, truncation, empty outputs). Words are
whitespace-separated; characters are code points.
"""

from __future__ import annotations

from assay.metrics.base import Metric
from assay.metrics.types import PairScores


def _lengths(side: str, texts: list[str]) -> dict[str, list[float]]:
    return {
        f"{side}_words": [float(len(text.split())) for text in texts],
        f"{side}_chars": [float(len(text)) for text in texts],
    }


class Length(Metric):
    """Words and characters of each prediction, and of each reference when given."""

    name = "length"

    def score_unique(self, predictions: list[str], references: list[str] | None) -> PairScores:
        values = _lengths("prediction", predictions)
        if references is not None:
            values |= _lengths("reference", references)
        return PairScores(values=values)
