"""ROUGE F-measures exactly as Google's rouge-score computes them, counted natively.

rouge-score-rs reimplements rouge-score (its tokenizer, its Porter stemmer, its LCS tie
breaking) in Rust and scores a batch on every core; the parity test holds it to rouge-score.
One saving is added on top: ROUGE-Lsum splits texts into sentences at newlines only, so for a
pair with no newline it has one sentence per side and equals ROUGE-L to the bit (same LCS,
same divisions); those pairs skip the second LCS.
"""

from __future__ import annotations

from collections.abc import Sequence

from assay.errors import InvalidInputError
from assay.metrics.base import ReferenceMetric
from assay.metrics.native import rouge_batch
from assay.metrics.types import PairScores

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


class Rouge(ReferenceMetric):
    """ROUGE-1/2/L/Lsum F-measures (0-1); ``use_stemmer`` applies rouge-score's Porter stemmer."""

    name = "rouge"

    def __init__(self, *, rouge_types: Sequence[str] = ROUGE_TYPES, use_stemmer: bool = False) -> None:
        unknown = [kind for kind in rouge_types if kind not in ROUGE_TYPES]
        if unknown or not rouge_types:
            raise InvalidInputError(
                f"rouge_types must be a non-empty subset of {', '.join(ROUGE_TYPES)}", field="metrics"
            )
        self.rouge_types = list(dict.fromkeys(rouge_types))
        self.use_stemmer = use_stemmer

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        lsum = "rougeLsum" in self.rouge_types
        line_based = [kind for kind in self.rouge_types if kind != "rougeLsum"]
        if lsum and "rougeL" not in line_based:
            line_based.append("rougeL")
        values = self._fmeasures(line_based, predictions, references)
        if lsum:
            multiline = [
                i
                for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True))
                if "\n" in prediction or "\n" in reference
            ]
            summary = values["rougeL"].copy()
            sentence_level = self._fmeasures(
                ["rougeLsum"], [predictions[i] for i in multiline], [references[i] for i in multiline]
            )["rougeLsum"]
            for i, score in zip(multiline, sentence_level, strict=True):
                summary[i] = score
            values["rougeLsum"] = summary
        return PairScores(values={kind: values[kind] for kind in self.rouge_types})

    def _fmeasures(
        self, rouge_types: list[str], predictions: list[str], references: list[str]
    ) -> dict[str, list[float]]:
        if not predictions:
            return {kind: [] for kind in rouge_types}
        scored = rouge_batch(tuple(rouge_types), self.use_stemmer, references, predictions)
        return {kind: [scores[kind].fmeasure for scores in scored] for kind in rouge_types}
