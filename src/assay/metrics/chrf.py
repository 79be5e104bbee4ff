"""chrF and chrF++ as sacrebleu computes them, per example and over the corpus.

sacrebleu builds a Counter of every character n-gram of every text (six per character by
default), in Python. Here the clipped match counts come from ``native.clipped_matches`` and the
totals from the text lengths, so a pair costs a few native passes; the F-score below follows
sacrebleu's ``CHRF._compute_f_score`` operation for operation, so the floats are identical.
Scale: 0-100.
"""

from __future__ import annotations

from functools import partial

from assay.errors import InvalidInputError
from assay.metrics.base import ReferenceMetric
from assay.metrics.native import MAX_ORDER, SymbolEncoder, clipped_matches
from assay.metrics.parallel import map_chunks
from assay.metrics.types import PairScores

_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def _words(text: str) -> list[str]:
    """chrF++'s words: split on whitespace, one leading or trailing punctuation mark split off."""
    words: list[str] = []
    for word in text.split():
        if len(word) == 1:
            words.append(word)
        elif word[-1] in _PUNCTUATION:
            words += [word[:-1], word[-1]]
        elif word[0] in _PUNCTUATION:
            words += [word[0], word[1:]]
        else:
            words.append(word)
    return words


def _order_stats(
    predictions: list[str], references: list[str], order: int
) -> list[list[tuple[int, int, int]]]:
    """Per pair and per n-gram order: sacrebleu's (hypothesis count, reference count, matches)."""
    matches = clipped_matches(predictions, references, order)
    stats = []
    for prediction, reference, matched in zip(predictions, references, matches, strict=True):
        hyp_len, ref_len = prediction.count(" "), reference.count(" ")
        per_order = []
        for n, match in enumerate(matched, start=1):
            ref_total = max(ref_len - n + 1, 0)
            # sacrebleu does not count hypothesis n-grams of an order the reference lacks.
            per_order.append((max(hyp_len - n + 1, 0) if ref_total else 0, ref_total, match))
        stats.append(per_order)
    return stats


def _pair_stats(
    char_order: int, word_order: int, lowercase: bool, whitespace: bool, pairs: list[tuple[str, str]]
) -> list[tuple[int, ...]]:
    """Flattened chrF statistics per pair: character orders first, then word orders."""
    if lowercase:
        pairs = [(prediction.lower(), reference.lower()) for prediction, reference in pairs]
    encoder = SymbolEncoder(keep_whitespace=whitespace)
    char_stats = _order_stats(
        [encoder.characters(prediction) for prediction, _ in pairs],
        [encoder.characters(reference) for _, reference in pairs],
        char_order,
    )
    word_stats = (
        _order_stats(
            [encoder.tokens(_words(prediction)) for prediction, _ in pairs],
            [encoder.tokens(_words(reference)) for _, reference in pairs],
            word_order,
        )
        if word_order
        else [[] for _ in pairs]
    )
    return [
        tuple(value for triple in chars + words for value in triple)
        for chars, words in zip(char_stats, word_stats, strict=True)
    ]


class Chrf(ReferenceMetric):
    """sacrebleu chrF (``word_order=2`` gives chrF++); options as in ``sacrebleu.CHRF``."""

    name = "chrf"

    def __init__(
        self,
        *,
        char_order: int = 6,
        word_order: int = 0,
        beta: int = 2,
        lowercase: bool = False,
        whitespace: bool = False,
        eps_smoothing: bool = False,
        processes: int | None = None,
    ) -> None:
        if not 1 <= char_order <= MAX_ORDER or not 0 <= word_order <= MAX_ORDER:
            raise InvalidInputError(
                f"chrF orders must lie in 1-{MAX_ORDER} (characters) and 0-{MAX_ORDER} (words)",
                field="metrics",
            )
        self.char_order = char_order
        self.word_order = word_order
        self.beta = beta
        self.lowercase = lowercase
        self.whitespace = whitespace
        self.eps_smoothing = eps_smoothing
        self.processes = processes

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        stats = map_chunks(
            partial(_pair_stats, self.char_order, self.word_order, self.lowercase, self.whitespace),
            list(zip(predictions, references, strict=True)),
            processes=self.processes,
            min_chunk=256,
        )
        return PairScores(values={"chrf": [self._f_score(pair) for pair in stats]}, stats=list(stats))

    def corpus_scores(self, totals: list[float]) -> dict[str, float]:
        return {"chrf": self._f_score(totals)}

    def _f_score(self, statistics: tuple[float, ...] | list[float]) -> float:
        """sacrebleu's ``CHRF._compute_f_score``, same operations in the same order."""
        eps = 1e-16
        score = 0.0
        effective_order = 0
        factor = self.beta**2
        avg_prec, avg_rec = 0.0, 0.0
        order = self.char_order + self.word_order
        for i in range(order):
            n_hyp, n_ref, n_match = statistics[3 * i : 3 * i + 3]
            prec = n_match / n_hyp if n_hyp > 0 else eps
            rec = n_match / n_ref if n_ref > 0 else eps
            denom = factor * prec + rec
            score += ((1 + factor) * prec * rec / denom) if denom > 0 else eps
            if n_hyp > 0 and n_ref > 0:
                avg_prec += prec
                avg_rec += rec
                effective_order += 1
        if self.eps_smoothing:
            return 100 * score / order
        if effective_order == 0:
            avg_prec = avg_rec = 0.0
        else:
            avg_prec /= effective_order
            avg_rec /= effective_order
        if avg_prec + avg_rec:
            score = (1 + factor) * avg_prec * avg_rec
            score /= (factor * avg_prec) + avg_rec
            return 100 * score
        return 0.0
