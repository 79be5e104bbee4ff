"""SQuAD exact match and token F1, and the length summary, on values worked out by hand."""

from __future__ import annotations

import pytest

from assay.metrics import get_metric
from assay.metrics.qa import normalize_answer, token_f1


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Eiffel Tower.", "eiffel tower"),
        ("  an   apple, a pear & THE plum!  ", "apple pear plum"),
        ("theatre another", "theatre another"),
        ("", ""),
        ("¿Qué?", "¿qué"),
    ],
)
def test_squad_normalisation(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


def test_exact_match_after_normalisation() -> None:
    scores = get_metric("exact_match").score(
        ["The Eiffel Tower.", "Paris", "", ""], ["eiffel tower", "paris, france", "", "x"]
    )
    assert scores == {"exact_match": [1.0, 0.0, 1.0, 0.0]}


@pytest.mark.parametrize(
    ("prediction", "reference", "f1"),
    [
        ("the cat sat on the mat", "a cat on a mat", 2 * (3 / 4) * (3 / 3) / (3 / 4 + 3 / 3)),
        ("cat cat cat", "cat", 2 * (1 / 3) * 1 / (1 / 3 + 1)),
        ("red blue", "green", 0.0),
        ("", "", 1.0),
        ("the", "", 1.0),  # both normalise to no tokens: SQuAD v2 counts that as agreement
        ("something", "", 0.0),
        ("", "something", 0.0),
    ],
)
def test_token_f1(prediction: str, reference: str, f1: float) -> None:
    assert token_f1(prediction, reference) == pytest.approx(f1, abs=1e-15)
    assert get_metric("f1").score([prediction], [reference]) == {"f1": [pytest.approx(f1, abs=1e-15)]}


def test_length_without_references() -> None:
    result = get_metric("length").compute(["two words", "", "três palavras aqui 🙂"])
    assert result.per_example == {
        "prediction_words": [2.0, 0.0, 4.0],
        "prediction_chars": [9.0, 0.0, 20.0],
    }
    assert result.aggregates["prediction_words"].mean == 2.0


def test_length_with_references() -> None:
    scores = get_metric("length").score(["a b c"], ["a\tb"])
    assert scores == {
        "prediction_words": [3.0],
        "prediction_chars": [5.0],
        "reference_words": [2.0],
        "reference_chars": [3.0],
    }
