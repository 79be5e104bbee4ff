"""TER as sacrebleu computes it, per example and over the corpus.

TER's cost is the shift search of sacrebleu's ``translation_edit_rate``, which is kept as is
(it is the reference); what is gained is that identical pairs are scored once and that the
pairs are spread over worker processes. Scale: 0-100 (lower is better).
"""

from __future__ import annotations

from functools import lru_cache, partial

from sacrebleu.metrics.lib_ter import translation_edit_rate
from sacrebleu.tokenizers.tokenizer_ter import TercomTokenizer

from assay.metrics.base import ReferenceMetric
from assay.metrics.parallel import map_chunks
from assay.metrics.types import PairScores


@lru_cache
def _tokenizer(
    normalized: bool, no_punct: bool, asian_support: bool, case_sensitive: bool
) -> TercomTokenizer:
    return TercomTokenizer(
        normalized=normalized, no_punct=no_punct, asian_support=asian_support, case_sensitive=case_sensitive
    )


def _pair_stats(
    options: tuple[bool, bool, bool, bool], pairs: list[tuple[str, str]]
) -> list[tuple[float, ...]]:
    """(edits, reference length) per pair, as sacrebleu's ``TER._compute_segment_statistics``."""
    tokenizer = _tokenizer(*options)
    stats: list[tuple[float, ...]] = []
    for prediction, reference in pairs:
        edits, ref_len = translation_edit_rate(
            tokenizer(prediction.rstrip()).split(), tokenizer(reference.rstrip()).split()
        )
        stats.append((edits, ref_len))
    return stats


def _ter(edits: float, ref_len: float) -> float:
    """sacrebleu's ``TER._compute_score_from_stats``."""
    if ref_len > 0:
        return 100 * (edits / ref_len)
    return 100 * (1.0 if edits > 0 else 0.0)


class Ter(ReferenceMetric):
    """sacrebleu TER; options as in ``sacrebleu.TER``."""

    name = "ter"

    def __init__(
        self,
        *,
        normalized: bool = False,
        no_punct: bool = False,
        asian_support: bool = False,
        case_sensitive: bool = False,
        processes: int | None = None,
    ) -> None:
        self.options = (normalized, no_punct, asian_support, case_sensitive)
        self.processes = processes

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        stats = map_chunks(
            partial(_pair_stats, self.options),
            list(zip(predictions, references, strict=True)),
            processes=self.processes,
            min_chunk=16,
        )
        return PairScores(values={"ter": [_ter(*pair) for pair in stats]}, stats=stats)

    def corpus_scores(self, totals: list[float]) -> dict[str, float]:
        return {"ter": _ter(totals[0], totals[1])}
