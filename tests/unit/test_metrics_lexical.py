"""ROUGE, BLEU, chrF and TER against rouge-score and sacrebleu, on small hand-picked pairs.

The large randomized comparison is tests/integration/test_metrics_parity.py; these pin known
values and the tricky corners (empty texts, newlines, repeated n-grams, options).
"""

from __future__ import annotations

import random

import pytest
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

from assay.metrics import get_metric
from assay.metrics.bleu import PADDED_SYMBOLS, tokenize_13a
from assay.metrics.native import SymbolEncoder, clipped_matches, porter_stems

PAIRS = [
    ("the cat sat on the mat", "the cat is on the mat"),
    ("The quick brown fox jumps over the lazy dog.", "A quick brown dog jumps over the lazy fox!"),
    ("the the the the", "the cat the"),
    ("Running runners ran; they run.", "The runner runs\nand ran."),
    ("first line\nsecond line", "first line\nthird line\n"),
    ("", "not empty"),
    ("not empty", ""),
    ("", ""),
    ("!!! ... ???", "?!"),
    ("Café déjà vu, naïve façade", "cafe deja vu naive facade"),
    ("東京は日本の首都です。", "日本の首都は東京です。"),
    ("I ❤️ pizza 🍕🍕", "I love pizza 🍕"),
    ("1,000.50 dollars - 3-4 items", "1,000.5 dollars -- 3 - 4 items"),
]
PREDICTIONS = [p for p, _ in PAIRS]
REFERENCES = [r for _, r in PAIRS]


def test_rouge_on_the_classic_example() -> None:
    scores = get_metric("rouge").score(
        ["The quick brown dog jumps on the log."], ["The quick brown fox jumps over the lazy dog"]
    )
    assert scores["rouge1"] == [pytest.approx(2 * 6 / 8 * 6 / 9 / (6 / 8 + 6 / 9), abs=1e-12)]
    assert scores["rouge2"] == [pytest.approx(2 * 2 / 7 * 2 / 8 / (2 / 7 + 2 / 8), abs=1e-12)]


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge_equals_rouge_score(use_stemmer: bool) -> None:
    types = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
    reference = rouge_scorer.RougeScorer(types, use_stemmer=use_stemmer)
    ours = get_metric("rouge", use_stemmer=use_stemmer).score(PREDICTIONS, REFERENCES)
    for i, (prediction, target) in enumerate(PAIRS):
        expected = reference.score(target, prediction)
        assert {kind: ours[kind][i] for kind in types} == {kind: expected[kind].fmeasure for kind in types}


def test_rouge_lsum_differs_from_rouge_l_only_across_newlines() -> None:
    scores = get_metric("rouge", rouge_types=["rougeLsum", "rougeL"]).score(
        ["a b c\nd e", "a b c d e"], ["d e\na b c", "d e a b c"]
    )
    assert scores["rougeLsum"][0] == 1.0 and scores["rougeL"][0] == 0.6
    assert scores["rougeLsum"][1] == scores["rougeL"][1] == 0.6
    assert list(scores) == ["rougeLsum", "rougeL"]


def test_bleu_equals_sacrebleu_per_sentence_and_over_the_corpus() -> None:
    result = get_metric("sacrebleu").compute(PREDICTIONS, REFERENCES)
    assert result.per_example["sacrebleu"] == [sacrebleu.sentence_bleu(p, [r]).score for p, r in PAIRS]
    assert result.corpus["sacrebleu"] == sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES]).score


def test_bleu_known_value() -> None:
    score = get_metric("sacrebleu").score(["the cat sat on the mat"], ["the cat is on the mat"])["sacrebleu"][
        0
    ]
    # 5/6 unigrams, 3/5 bigrams, 1/4 trigrams, 0/3 4-grams (exp smoothing: 1/(2*3)); no brevity penalty.
    assert score == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25, rel=1e-12)


@pytest.mark.parametrize(
    "options",
    [
        {"lowercase": True},
        {"tokenize": "intl"},
        {"tokenize": "char"},
        {"tokenize": "none", "smooth_method": "floor", "smooth_value": 0.2},
        {"smooth_method": "add-k"},
        {"smooth_method": "none"},
    ],
)
def test_bleu_options_match_sacrebleu(options: dict[str, object]) -> None:
    result = get_metric("sacrebleu", **options).compute(PREDICTIONS, REFERENCES)
    expected = [sacrebleu.sentence_bleu(p, [r], **options).score for p, r in PAIRS]  # type: ignore[arg-type]
    assert result.per_example["sacrebleu"] == expected
    corpus = sacrebleu.corpus_bleu(PREDICTIONS, [REFERENCES], **options).score  # type: ignore[arg-type]
    assert result.corpus["sacrebleu"] == corpus


def test_fast_13a_tokenizer_equals_sacrebleus_on_fuzzed_text() -> None:
    tokenizer = Tokenizer13a()
    rng = random.Random(0)
    alphabet = "ab1 2.,-\n&;<>()x9é日\"'/:"
    lines = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(40))) for _ in range(30_000)]
    lines += ["&quot;a&amp;b&lt;c&gt;", "x-\ny <skipped> z", "e.g., U.S.A. 3.14, 1,000", *PREDICTIONS]
    assert [tokenize_13a(line) for line in lines] == [tokenizer(line) for line in lines]


def test_padded_symbols_are_those_of_sacrebleus_first_rule() -> None:
    first_rule = TokenizerRegexp()._re[0][0]
    assert "".join(chr(c) for c in range(0x110000) if first_rule.fullmatch(chr(c))) == PADDED_SYMBOLS


def test_chrf_equals_sacrebleu() -> None:
    result = get_metric("chrf").compute(PREDICTIONS, REFERENCES)
    assert result.per_example["chrf"] == [sacrebleu.sentence_chrf(p, [r]).score for p, r in PAIRS]
    assert result.corpus["chrf"] == sacrebleu.corpus_chrf(PREDICTIONS, [REFERENCES]).score


@pytest.mark.parametrize(
    "options",
    [
        {"word_order": 2},
        {"char_order": 4, "beta": 1},
        {"eps_smoothing": True},
        {"lowercase": True, "whitespace": True},
    ],
)
def test_chrf_options_match_sacrebleu(options: dict[str, object]) -> None:
    reference = sacrebleu.CHRF(**options)  # type: ignore[arg-type]
    result = get_metric("chrf", **options).compute(PREDICTIONS, REFERENCES)
    assert result.per_example["chrf"] == [reference.sentence_score(p, [r]).score for p, r in PAIRS]
    assert result.corpus["chrf"] == reference.corpus_score(PREDICTIONS, [REFERENCES]).score


def test_ter_equals_sacrebleu() -> None:
    result = get_metric("ter").compute(PREDICTIONS, REFERENCES)
    assert result.per_example["ter"] == [sacrebleu.sentence_ter(p, [r]).score for p, r in PAIRS]
    assert result.corpus["ter"] == sacrebleu.corpus_ter(PREDICTIONS, [REFERENCES]).score


def test_ter_options_match_sacrebleu() -> None:
    options = {"normalized": True, "no_punct": True, "asian_support": True, "case_sensitive": True}
    reference = sacrebleu.TER(**options)
    result = get_metric("ter", **options).compute(PREDICTIONS, REFERENCES)
    assert result.per_example["ter"] == [reference.sentence_score(p, [r]).score for p, r in PAIRS]


def test_scoring_in_worker_processes_equals_scoring_in_process() -> None:
    rng = random.Random(1)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
    predictions = [" ".join(rng.choices(words, k=rng.randrange(1, 15))) for _ in range(600)]
    references = [" ".join(rng.choices(words, k=rng.randrange(1, 15))) for _ in range(600)]
    for name in ("sacrebleu", "chrf"):
        serial = get_metric(name, processes=1).compute(predictions, references)
        parallel = get_metric(name, processes=2).compute(predictions, references)
        assert parallel.per_example == serial.per_example and parallel.corpus == serial.corpus


def test_clipped_matches_count_repeated_ngrams_once_per_occurrence() -> None:
    encoder = SymbolEncoder()
    prediction = encoder.tokens(["a", "a", "a", "b"])
    reference = encoder.tokens(["a", "a", "b", "b"])
    # unigrams: a min(3, 2) + b min(1, 2) = 3; bigrams: "a a" min(2, 1) + "a b" min(1, 1) = 2;
    # trigrams: "a a b" min(1, 1) = 1; 4-grams: "a a a b" vs "a a b b" = 0
    assert clipped_matches([prediction], [reference], 4) == [[3, 2, 1, 0]]


def test_character_encoding_drops_whitespace_unless_kept() -> None:
    assert SymbolEncoder().characters("ab a\tb\u00a0") == " 0 1 0 1"
    assert SymbolEncoder(keep_whitespace=True).characters("ab a") == " 0 1 2 0"


def test_native_porter_stems_equal_nltks() -> None:
    from nltk.stem.porter import PorterStemmer

    words = ["running", "generously", "skies", "dying", "conditional", "abc123s", "relational", "ponies"]
    assert porter_stems(words) == [PorterStemmer().stem(word) for word in words]
    with pytest.raises(ValueError):
        porter_stems(["café"])
