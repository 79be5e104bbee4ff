"""METEOR against nltk's meteor_score, with the WordNet of scripts/install_wordnet.sh."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from nltk.stem.porter import PorterStemmer
from nltk.translate.meteor_score import meteor_score

from assay.errors import UnsupportedError
from assay.metrics import get_metric
from assay.metrics.meteor import _LEXICONS, Meteor, lowercase_tokens, word_tokenize
from tests.helpers import nltk_word_tokenize

HYPOTHESIS = "It is a guide to action which ensures that the military always obeys the commands of the party"
REFERENCE = "It is a guide to action that ensures that the military will forever heed Party commands"


@pytest.fixture(scope="module")
def metric() -> Meteor:
    return Meteor(processes=1)


def nltk_meteor(metric: Meteor, prediction: str, reference: str) -> float:
    score: float = meteor_score(
        [nltk_word_tokenize(reference)],
        nltk_word_tokenize(prediction),
        wordnet=_LEXICONS[metric.lexicon_key].wordnet,
    )
    return score


def test_nltk_documentation_example(metric: Meteor) -> None:
    assert metric.score([HYPOTHESIS], [REFERENCE]) == {"meteor": [0.6944444444444445]}


@pytest.mark.parametrize(
    ("prediction", "reference"),
    [
        ("the dogs were running quickly", "a dog ran fast"),  # stems and synonyms
        ("a large automobile", "a big car"),  # synonyms only
        ("the cat the cat the cat", "the cat"),  # repeated words: highest free position wins
        ("Don't stop-believing, O'Neil!", "do not stop believing o'neil"),
        ("", "a reference"),
        ("a prediction", ""),
        ("", ""),
        ("!!! ???", "..."),
        ("Café naïve İstanbul 東京 🙂", "cafe naive istanbul 東京 🙂"),
    ],
)
def test_equals_nltk(metric: Meteor, prediction: str, reference: str) -> None:
    assert metric.score([prediction], [reference]) == {"meteor": [nltk_meteor(metric, prediction, reference)]}


def test_weights_are_nltks_alpha_beta_gamma(metric: Meteor) -> None:
    tuned = get_metric("meteor", alpha=0.8, beta=2.0, gamma=0.4, processes=1)
    expected = meteor_score(
        [nltk_word_tokenize(REFERENCE)],
        nltk_word_tokenize(HYPOTHESIS),
        wordnet=_LEXICONS[metric.lexicon_key].wordnet,
        alpha=0.8,
        beta=2.0,
        gamma=0.4,
    )
    assert tuned.score([HYPOTHESIS], [REFERENCE]) == {"meteor": [expected]}


def test_tokenize_is_nltks_word_tokenize_on_fuzzed_text() -> None:
    rng = random.Random(3)
    alphabet = "aZ9_'-\u2019 .,!?\"()\tİé\x1c\u3000\u2028\n日😀"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(40))) for _ in range(3000)]
    texts += ["Mr. Smith's cat (the \"big\" one) didn't run... It can't! Done.", "e.g. this; U.S. army."]
    for text in texts:
        assert word_tokenize(text) == nltk_word_tokenize(text), text
        assert lowercase_tokens(text) == [token.lower() for token in nltk_word_tokenize(text)], text


def test_synonyms_equal_those_of_nltks_synsets(metric: Meteor) -> None:
    lexicon = _LEXICONS[metric.lexicon_key]
    wordnet = lexicon.wordnet
    names = sorted(wordnet.all_lemma_names())
    rng = random.Random(0)
    words = rng.sample(names, 1500) + [w + s for w in rng.sample(names, 300) for s in ("s", "ed", "ing")]
    words += ["geese", "ran", "better", "was", "a", "12", "well-known", "café"]
    for word in words:
        expected = {
            lemma.name()
            for synset in wordnet.synsets(word)
            for lemma in synset.lemmas()
            if "_" not in lemma.name()
        }
        assert lexicon.synonyms(word) == expected | {word}, word


def test_stems_equal_nltks_porter_stemmer(metric: Meteor) -> None:
    lexicon = _LEXICONS[metric.lexicon_key]
    words = {"running", "skies", "was", "a", "generalizations", "abc123", "café", "naïve", "o'neil", "dying"}
    lexicon.prepare_stems(words)
    stemmer = PorterStemmer()
    assert {word: lexicon.stem(word) for word in words} == {word: stemmer.stem(word) for word in words}


def test_worker_processes_score_like_one_process(metric: Meteor) -> None:
    rng = random.Random(2)
    words = [
        "the",
        "a",
        "dog",
        "dogs",
        "cat",
        "ran",
        "run",
        "running",
        "big",
        "large",
        "car",
        "automobile",
        "fast",
        "quick",
        "slow",
    ]
    predictions = [" ".join(rng.choices(words, k=rng.randrange(0, 12))) for _ in range(400)]
    references = [" ".join(rng.choices(words, k=rng.randrange(0, 12))) for _ in range(400)]
    serial = metric.score(predictions, references)
    assert Meteor(processes=2).score(predictions, references) == serial
    assert serial["meteor"][:50] == [
        nltk_meteor(metric, p, r) for p, r in zip(predictions[:50], references[:50], strict=True)
    ]


def test_missing_wordnet_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError) as caught:
        Meteor(nltk_data=tmp_path)
    assert caught.value.field == "metrics"
    assert "install_wordnet.sh" in caught.value.message
