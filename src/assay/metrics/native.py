"""What Assay's metrics hand to rouge-score-rs's native (Rust) code, with types.

ROUGE scores in batches; the Porter stemmer; and clipped n-gram match counts.

BLEU and chrF need, per pair and per order n, the clipped match count: the sum over n-grams of
min(count in prediction, count in reference). ROUGE-N computes exactly that, in Rust, and
reports it as ``precision = matches / max(prediction n-grams, 1)``, from which the integer comes
back exactly (the quotient is within one ulp of matches / total). rouge-score's tokenizer sees
lowercase ASCII words only, so each symbol (a character for chrF, a token for BLEU) is first
renamed to a short hexadecimal id: equal symbols get equal ids within a chunk of pairs, which
is all a per-pair count needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from rouge_score_rs import RougeScorer
from rouge_score_rs.tokenizers import DefaultTokenizer

MAX_ORDER = 9  # rouge-score-rs offers rouge1 … rouge9


class _Ids(dict[str, str]):
    """Symbol → id, handing out the next id to a symbol seen for the first time."""

    def __missing__(self, symbol: str) -> str:
        ident = self[symbol] = format(len(self), "x")
        return ident


class _CharTable(dict[int, str | None]):
    """A ``str.translate`` table: each code point becomes `` <id>``; whitespace may vanish."""

    def __init__(self, keep_whitespace: bool) -> None:
        super().__init__()
        self._keep_whitespace = keep_whitespace
        self._ids = _Ids()

    def __missing__(self, code_point: int) -> str | None:
        char = chr(code_point)
        renamed = None if char.isspace() and not self._keep_whitespace else " " + self._ids[char]
        self[code_point] = renamed
        return renamed


class SymbolEncoder:
    """Renames characters or tokens to ids shared by every text it encodes.

    A text is returned as its ids separated by spaces, so the number of symbols is the number
    of spaces. Whitespace is dropped from character sequences unless ``keep_whitespace``:
    ``str.split`` and ``str.isspace`` agree on what whitespace is, as sacrebleu's chrF needs.
    """

    def __init__(self, keep_whitespace: bool = False) -> None:
        self._chars = _CharTable(keep_whitespace)
        self._tokens = _Ids()

    def characters(self, text: str) -> str:
        return text.translate(self._chars)

    def tokens(self, tokens: Iterable[str]) -> str:
        encoded = " ".join(map(self._tokens.__getitem__, tokens))
        return " " + encoded if encoded else ""


@lru_cache(maxsize=32)
def _scorer(rouge_types: tuple[str, ...], use_stemmer: bool) -> RougeScorer:
    return RougeScorer(list(rouge_types), use_stemmer=use_stemmer)  # type: ignore[no-untyped-call]


def rouge_batch(
    rouge_types: tuple[str, ...], use_stemmer: bool, references: list[str], predictions: list[str]
) -> list[dict[str, Any]]:
    """rouge-score-rs's ``score_batch``: per pair, a ``Score`` (precision, recall, fmeasure) per type.

    The scorer is built once per configuration; the batch runs on every core, without the GIL.
    """
    scored: list[dict[str, Any]] = _scorer(rouge_types, use_stemmer).score_batch(  # type: ignore[no-untyped-call]
        references, predictions
    )
    return scored


def clipped_matches(predictions: list[str], references: list[str], max_order: int) -> list[list[int]]:
    """For each pair of encoded texts, the clipped match counts of orders 1 … ``max_order``."""
    if not 1 <= max_order <= MAX_ORDER:
        raise ValueError(f"n-gram order must be between 1 and {MAX_ORDER}, not {max_order}")
    orders = range(1, max_order + 1)
    scored = rouge_batch(tuple(f"rouge{n}" for n in orders), False, references, predictions)
    matches = []
    for prediction, scores in zip(predictions, scored, strict=True):
        length = prediction.count(" ")
        matches.append([round(scores[f"rouge{n}"].precision * max(length - n + 1, 1)) for n in orders])
    return matches


_STEMMING_TOKENIZER = DefaultTokenizer(use_stemmer=True)  # type: ignore[no-untyped-call]


def porter_stems(words: list[str]) -> list[str]:
    """nltk's Porter stem of each word, for words of ASCII letters and digits longer than three
    characters (those rouge-score stems, so rouge-score-rs reproduces nltk's stemmer on them)."""
    if not all(len(word) > 3 and word.isascii() and word.isalnum() for word in words):
        raise ValueError("only ASCII letters and digits, more than three of them, are stemmed natively")
    stems: list[str] = _STEMMING_TOKENIZER.tokenize(" ".join(words).lower())  # type: ignore[no-untyped-call]
    if len(stems) != len(words):
        raise ValueError("expected one stem per word")
    return stems
