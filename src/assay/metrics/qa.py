"""Exact match and token F1 of extractive question answering, as SQuAD v2's official script.

Both compare answers after SQuAD's normalisation (lowercase, punctuation and the articles
a/an/the removed, whitespace collapsed), so "The Eiffel Tower." matches "eiffel tower". An
empty answer matches only an empty answer (SQuAD v2's rule for unanswerable questions).
Scale: 0-1 per example.
"""

from __future__ import annotations

import re
import string
from collections import Counter

from assay.metrics.base import ReferenceMetric
from assay.metrics.types import PairScores

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_NO_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's ``normalize_answer``."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_NO_PUNCTUATION)).split())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD v2's ``compute_f1``: harmonic mean of token precision and recall."""
    pred_tokens = normalize_answer(prediction).split()
    ref_tokens = normalize_answer(reference).split()
    if not pred_tokens or not ref_tokens:
        return float(pred_tokens == ref_tokens)
    same = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(ref_tokens)
    return (2 * precision * recall) / (precision + recall)


class ExactMatch(ReferenceMetric):
    """1 when the normalised prediction equals the normalised reference, else 0."""

    name = "exact_match"

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        return PairScores(
            values={
                "exact_match": [
                    float(normalize_answer(prediction) == normalize_answer(reference))
                    for prediction, reference in zip(predictions, references, strict=True)
                ]
            }
        )


class TokenF1(ReferenceMetric):
    """SQuAD token-level F1 between prediction and reference."""

    name = "f1"

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        return PairScores(
            values={"f1": [token_f1(p, r) for p, r in zip(predictions, references, strict=True)]}
        )
