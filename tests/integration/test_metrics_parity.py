"""Every metric against its reference implementation, example by example, within 1e-6.

The corpus is generated here from a seed: over 2,000 (prediction, reference) pairs of everyday
English with its perturbations (synonyms, inflections, dropped and moved words), accented,
CJK, right-to-left and emoji text, punctuation-only and whitespace-only texts, empty texts on
either side and both, repeated pairs, multi-line texts, and texts of thousands of words.

The references: rouge-score, sacrebleu (sentence and corpus scores), nltk's meteor_score with
WordNet on nltk's word_tokenize tokens, and bert-score on the same model. Lumigator's ``bleu``
(Hugging Face ``evaluate``'s script) is TensorFlow NMT's ``compute_bleu``, re-declared below from
its published algorithm, on sacrebleu's 13a tokens (``evaluate`` ships a copy of that tokenizer).
BERTScore runs on every eighth pair plus the long
ones (about 260 pairs, every kind of text among them), because a CPU embeds the whole corpus
too slowly for a test; bert-score 0.3.13 crashes on empty text under transformers 5, so pairs with an empty
side are checked to score 0 (bert-score's value for them) instead of compared.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import sacrebleu
from nltk.translate.meteor_score import meteor_score
from rouge_score import rouge_scorer
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from assay.metrics import get_metric
from tests.helpers import nltk_word_tokenize

pytestmark = pytest.mark.slow

TOLERANCE = 1e-6
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]

VOCABULARY = (
    "the a an of to in on at by with for from and or but not is are was were be been being have has had "
    "do does did will would can could should may might must this that these those it its they them their "
    "we our you your he she his her i me my time year people way day man woman child children world life "
    "hand part place case week company system program question work government number night point home "
    "water room mother area money story fact month lot right study book eye job word business issue side "
    "kind head house service friend father power hour game line end member law car city community name "
    "president team minute idea kid body information back parent face others level office door health "
    "person art war history party result change morning reason research girl guy moment air teacher force "
    "education run runs running ran runner say says said saying go goes went going make makes made making "
    "know knows knew known think thought take took taken see saw seen come came get got give gave good "
    "better best new first last long great little own other old big large small high different following "
    "quickly slowly happily generously quick fast automobile vehicle begin start commence purchase buy "
    "gift present assist help demonstrate show ponies skies dying studies generalizations relational"
)
WORDS = VOCABULARY.split()
SYNONYMS = {
    "big": "large", "large": "big", "car": "automobile", "automobile": "car", "fast": "quick",
    "quick": "fast", "begin": "start", "start": "commence", "buy": "purchase", "purchase": "buy",
    "help": "assist", "show": "demonstrate", "gift": "present", "kid": "child", "child": "kid",
}  # fmt: skip
UNICODE = [
    "café", "naïve", "façade", "über", "São", "Paulo", "Straße", "İstanbul", "ﬁne", "Ærøskøbing", "e\u0301",
    "東京", "日本語", "中文字符", "한국어", "東京は日本の首都です", "😀", "👍🏽", "🍕🍕",
    "👨\u200d👩\u200d👧", "مرحبا", "שלום", "Ελληνικά", "ёлка", "Ⅻ", "²", "١٢٣", "\u00a0", "ﬀ", "ǅ", "ß",
]  # fmt: skip
PUNCTUATION = [*".,;:!?-—\u2013'\"()[]{}…/&%$#@*", "...", "?!", "--", "&quot;", "&amp;"]
# Whitespace of every kind: newlines split ROUGE-Lsum sentences; the others must not.
SEPARATORS = [" ", "\n", "  ", "\t", "\r\n", "\u2028", "\u3000", "\x1f"]
NUMBERS = ["3.14", "1,000", "3-4", "2024", "0.5%", "$12.99", "10:30", "1st", "-7"]


def _token(rng: random.Random, unicode_rate: float) -> str:
    roll = rng.random()
    if roll < unicode_rate:
        return rng.choice(UNICODE)
    if roll < unicode_rate + 0.04:
        return rng.choice(NUMBERS)
    word = rng.choice(WORDS)
    if rng.random() < 0.08:
        word = word.capitalize()
    if rng.random() < 0.1:
        word += rng.choice(PUNCTUATION)
    return word


def _text(rng: random.Random, words: int, unicode_rate: float = 0.03) -> str:
    tokens = [_token(rng, unicode_rate) for _ in range(words)]
    text = ""
    for i, token in enumerate(tokens):
        separator = (
            "" if i == 0 else rng.choices(SEPARATORS, [0.9, 0.04, 0.02, 0.01, 0.01, 0.01, 0.005, 0.005])[0]
        )
        text += separator + token
    return text + rng.choice(["", ".", "!", "?", " .", "\n"])


def _perturb(rng: random.Random, text: str, rate: float = 0.25) -> str:
    out: list[str] = []
    for word in text.split(" "):
        roll = rng.random()
        if roll > rate:
            out.append(word)
        elif roll < rate * 0.2:
            continue
        elif roll < rate * 0.4:
            out.append(SYNONYMS.get(word.lower(), rng.choice(WORDS)))
        elif roll < rate * 0.6:
            out.append(word + rng.choice(["s", "ed", "ing", "ly"]))
        elif roll < rate * 0.8 and out:
            out.insert(len(out) - 1, word)
        else:
            out.append(word.upper() if rng.random() < 0.5 else word + rng.choice(PUNCTUATION))
    return " ".join(out)


def make_corpus(seed: int = 20240917) -> list[tuple[str, str]]:
    """(prediction, reference) pairs covering every kind of text the metrics must agree on."""
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for _ in range(1500):
        reference = _text(rng, rng.randrange(1, 60))
        related = rng.random() < 0.9
        pairs.append((_perturb(rng, reference) if related else _text(rng, rng.randrange(1, 60)), reference))
    for _ in range(200):
        reference = _text(rng, rng.randrange(1, 30), unicode_rate=0.6)
        pairs.append((_perturb(rng, reference), reference))
    odd = ["...", "!?", "—", "(((", " ", "\t\n", "\n\n", "&amp;", "'", "%$#", "😀", "..", ",", "-"]
    for _ in range(100):
        first, second = rng.choice(odd), rng.choice([*odd, _text(rng, rng.randrange(1, 8))])
        pairs.append((first, second) if rng.random() < 0.5 else (second, first))
    for _ in range(120):
        other = rng.choice(["", "", _text(rng, rng.randrange(1, 20)), rng.choice(odd)])
        pairs.append(("", other) if rng.random() < 0.5 else (other, ""))
    pairs += rng.sample(pairs, 80)  # repeated pairs
    long_reference = _text(rng, 2500)
    pairs += [
        (long_reference, long_reference),
        (_perturb(rng, long_reference[:6000], rate=0.05), long_reference[:6000]),
        (long_reference, "a short reference"),
        ("a short prediction", long_reference),
        (long_reference, ""),
    ]
    rng.shuffle(pairs)
    return pairs


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str]]:
    pairs = make_corpus()
    assert len(pairs) >= 2000
    assert max(len(reference.split()) for _, reference in pairs) >= 2000
    return pairs


def assert_close(name: str, ours: list[float], expected: list[float], pairs: list[tuple[str, str]]) -> None:
    assert len(ours) == len(expected) == len(pairs)
    worst = max(range(len(pairs)), key=lambda i: abs(ours[i] - expected[i]))
    diff = abs(ours[worst] - expected[worst])
    assert diff <= TOLERANCE, f"{name}: {ours[worst]} != {expected[worst]} for pair {pairs[worst]!r}"


def unzip(pairs: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [prediction for prediction, _ in pairs], [reference for _, reference in pairs]


def test_corpus_has_every_kind_of_text(corpus: list[tuple[str, str]]) -> None:
    texts = [text for pair in corpus for text in pair]
    assert ("", "") in corpus
    assert any(p == "" and r.strip() for p, r in corpus) and any(r == "" and p.strip() for p, r in corpus)
    assert any(text and all(not c.isalnum() for c in text) for text in texts)  # punctuation/space only
    assert any("東京" in text for text in texts) and any("👍🏽" in text for text in texts)
    assert any("é" in text for text in texts) and any("\n" in text.strip() for text in texts)
    assert len(set(corpus)) < len(corpus)


@pytest.mark.parametrize("use_stemmer", [False, True])
def test_rouge(corpus: list[tuple[str, str]], use_stemmer: bool) -> None:
    reference = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=use_stemmer)
    expected = [reference.score(target, prediction) for prediction, target in corpus]
    # Lumigator's rouge is the default: no stemmer.
    ours = get_metric("rouge", **({"use_stemmer": True} if use_stemmer else {})).score(*unzip(corpus))
    for kind in ROUGE_TYPES:
        assert_close(kind, ours[kind], [scores[kind].fmeasure for scores in expected], corpus)


SACREBLEU: list[tuple[str, dict[str, Any], Callable[..., Any], Callable[..., Any]]] = [
    ("sacrebleu", {}, sacrebleu.sentence_bleu, sacrebleu.corpus_bleu),
    ("chrf", {}, sacrebleu.sentence_chrf, sacrebleu.corpus_chrf),
    ("chrf", {"word_order": 2}, sacrebleu.sentence_chrf, sacrebleu.corpus_chrf),
    ("ter", {}, sacrebleu.sentence_ter, sacrebleu.corpus_ter),
]


@pytest.mark.parametrize(("name", "options", "sentence", "corpus_score"), SACREBLEU)
def test_sacrebleu_metrics(
    corpus: list[tuple[str, str]],
    name: str,
    options: dict[str, Any],
    sentence: Callable[..., Any],
    corpus_score: Callable[..., Any],
) -> None:
    predictions, references = unzip(corpus)
    result = get_metric(name, **options).compute(predictions, references)
    expected = [sentence(prediction, [reference], **options).score for prediction, reference in corpus]
    assert_close(name, result.per_example[name], expected, corpus)
    assert abs(result.corpus[name] - corpus_score(predictions, [references], **options).score) <= TOLERANCE


def _ngrams(tokens: list[str], max_order: int) -> Counter[tuple[str, ...]]:
    return Counter(
        tuple(tokens[i : i + order])
        for order in range(1, max_order + 1)
        for i in range(len(tokens) - order + 1)
    )


def tensorflow_nmt_bleu(reference: list[str], translation: list[str], max_order: int = 4) -> float:
    """TensorFlow NMT's ``compute_bleu`` for one translation and one reference, ``smooth=False``,
    as ``evaluate``'s bleu script calls it (it raises ZeroDivisionError on an empty side)."""
    overlap = _ngrams(translation, max_order) & _ngrams(reference, max_order)
    matches = [0] * max_order
    for ngram, count in overlap.items():
        matches[len(ngram) - 1] += count
    possible = [max(len(translation) - order + 1, 0) for order in range(1, max_order + 1)]
    precisions = [m / p if p > 0 else 0.0 for m, p in zip(matches, possible, strict=True)]
    geo_mean = math.exp(sum(math.log(p) / max_order for p in precisions)) if min(precisions) > 0 else 0.0
    ratio = len(translation) / len(reference)
    return geo_mean * (1.0 if ratio > 1.0 else math.exp(1 - 1.0 / ratio))


def test_bleu_is_lumigators(corpus: list[tuple[str, str]]) -> None:
    tokenizer = Tokenizer13a()  # evaluate's tokenizer_13a.py is this class, returning the split
    ours = get_metric("bleu").score(*unzip(corpus))["bleu"]
    scorable = [i for i, (p, r) in enumerate(corpus) if tokenizer(p).split() and tokenizer(r).split()]
    assert 0 < len(scorable) < len(corpus)
    expected = [
        tensorflow_nmt_bleu(tokenizer(corpus[i][1]).split(), tokenizer(corpus[i][0]).split())
        for i in scorable
    ]
    assert_close("bleu", [ours[i] for i in scorable], expected, [corpus[i] for i in scorable])
    # Where Lumigator divides by zero (a side without tokens), no n-gram matches: 0.
    assert all(ours[i] == 0.0 for i in set(range(len(corpus))) - set(scorable))
    assert max(ours) == 1.0 and 0 < sum(ours) / len(ours) < 1


def test_bleu_is_unsmoothed_sacrebleu_over_100(corpus: list[tuple[str, str]]) -> None:
    """The same number, as sacrebleu computes it unsmoothed: except where a text ends in a hyphen
    and a newline (sacrebleu strips the newline before 13a joins ``-\\n``, evaluate does not)."""
    unsmoothed = sacrebleu.BLEU(smooth_method="none", effective_order=False, tokenize="13a")
    pairs = [
        (p, r)
        for p, r in corpus
        if p.strip() and r.strip() and not p.endswith("-\n") and not r.endswith("-\n")
    ]
    ours = get_metric("bleu").score(*unzip(pairs))["bleu"]
    expected = [unsmoothed.sentence_score(p, [r]).score / 100 for p, r in pairs]
    assert_close("bleu", ours, expected, pairs)


def test_bleu_with_an_empty_side_is_zero() -> None:
    scores = get_metric("bleu").score(["", "a b c d", " ", "a b c d"], ["a b c d", "", "a b c d", "a b c d"])
    assert scores == {"bleu": [0.0, 0.0, 0.0, 1.0]}


def test_meteor(corpus: list[tuple[str, str]]) -> None:
    metric = get_metric("meteor")  # also puts the WordNet folder on nltk's search path
    from nltk.corpus import wordnet  # nltk's own reader, independent of the metric's

    expected = [
        meteor_score(
            [nltk_word_tokenize(r)], nltk_word_tokenize(p), wordnet=wordnet, alpha=0.9, beta=3, gamma=0.5
        )
        for p, r in corpus
    ]
    assert_close("meteor", metric.score(*unzip(corpus))["meteor"], expected, corpus)


def test_bertscore(corpus: list[tuple[str, str]]) -> None:
    from bert_score import BERTScorer

    from assay.metrics.bertscore import default_model

    subset = [pair for i, pair in enumerate(corpus) if i % 8 == 0 or len(pair[0]) + len(pair[1]) > 5000]
    ours = get_metric("bertscore").score(*unzip(subset))
    scorable = [i for i, (p, r) in enumerate(subset) if p.strip() and r.strip()]
    assert 0 < len(scorable) < len(subset)
    precision, recall, f1 = BERTScorer(model_type=default_model(), num_layers=6).score(
        [subset[i][0] for i in scorable], [subset[i][1] for i in scorable]
    )
    pairs = [subset[i] for i in scorable]
    for key, expected in zip(("precision", "recall", "f1"), (precision, recall, f1), strict=True):
        assert_close(key, [ours[f"bertscore_{key}"][i] for i in scorable], expected.tolist(), pairs)
    for i in set(range(len(subset))) - set(scorable):
        assert [ours[key][i] for key in ours] == [0.0, 0.0, 0.0]
