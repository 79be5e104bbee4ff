"""Benchmark: Assay's metrics against the per-example loops of their reference libraries.

Targets, measured in the same run on the same pairs:

1. ROUGE (1/2/L/Lsum, Porter stemmer) + BLEU + chrF + METEOR through Assay, aggregates
   included, at least 10x faster than the reference loop: ``rouge_score`` ``RougeScorer.score``,
   ``sacrebleu.sentence_bleu``, ``sacrebleu.sentence_chrf`` and nltk's ``meteor_score`` called
   once per pair. Each reference loop runs once (minutes: it averages out the machine's other
   load); Assay's side runs right after it, ``--repeats`` times, and its best time counts;
2. Assay's ROUGE per-example scores at least as fast as rouge-score-rs's ``score_batch``
   (best of ``--repeats`` for each);
3. equal scores: the largest absolute difference per metric must not exceed 1e-6.

The pairs are ``--pairs`` (10,000) texts of about 100 words, cut from WordNet's glosses (real
English), each prediction a perturbed copy of its reference: words dropped, replaced by WordNet
synonyms or other words, or inflected. Every pair is distinct, so deduplication does not help.
WordNet is loaded by both sides before any timing (its load time is printed apart), each side
with empty caches, as in a new evaluation job.

Usage::

    .venv/bin/python benchmarks/metrics.py                 # 10,000 pairs
    .venv/bin/python benchmarks/metrics.py --pairs 2000 --repeats 1

Needs WordNet: ``bash scripts/install_wordnet.sh``. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import warnings
from collections.abc import Callable
from functools import partial
from itertools import islice
from typing import Any

import nltk
import rouge_score_rs
import sacrebleu
from nltk.corpus.reader.wordnet import WordNetCorpusReader
from nltk.translate.meteor_score import meteor_score
from rouge_score import rouge_scorer

from assay.metrics import get_metric
from assay.metrics.meteor import REPO_NLTK_DATA, word_tokenize

ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
TOLERANCE = 1e-6


def load_wordnet() -> Any:
    """A new nltk WordNet reader (empty caches), on the data scripts/install_wordnet.sh installs."""
    if not os.environ.get("NLTK_DATA"):
        nltk.data.path.append(str(REPO_NLTK_DATA))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no Open Multilingual Wordnet: English only
        return WordNetCorpusReader(nltk.data.find("corpora/wordnet"), None)


def make_pairs(wordnet: Any, count: int, words: int, seed: int) -> list[tuple[str, str]]:
    """(prediction, reference) pairs: reference windows of gloss text and perturbed copies."""
    stream: list[str] = []
    for synset in islice(wordnet.all_synsets(), 30_000):
        stream += synset.definition().split()
        for example in synset.examples():
            stream += example.split()
    rng = random.Random(seed)
    synonyms: dict[str, list[str]] = {}

    def synonym(word: str) -> str:
        if word not in synonyms:
            synonyms[word] = [
                name
                for synset in wordnet.synsets(word)[:2]
                for name in synset.lemma_names()
                if name.isalpha() and name != word
            ]
        return rng.choice(synonyms[word]) if synonyms[word] else word

    pairs = set()
    while len(pairs) < count:
        start = rng.randrange(len(stream) - words)
        reference = stream[start : start + words]
        prediction = []
        for word in reference:
            roll = rng.random()
            if roll < 0.08:
                prediction.append(rng.choice(stream))
            elif roll < 0.13:
                continue
            elif roll < 0.18:
                prediction.append(word + "s")
            elif roll < 0.24:
                prediction.append(synonym(word))
            else:
                prediction.append(word)
        pairs.add((" ".join(prediction), " ".join(reference)))
    return sorted(pairs)


def transpose(scores: list[dict[str, Any]]) -> dict[str, list[float]]:
    """rouge-score's per-pair dicts of Score as one F-measure list per ROUGE type."""
    return {kind: [score[kind].fmeasure for score in scores] for kind in ROUGE_TYPES}


def timed(label: str, run: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"  {label:<58} {seconds:8.2f} s", flush=True)
    return seconds, result


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--words", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="runs of Assay's side (the best counts)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores; pairs: {args.pairs} of ~{args.words} words")
    pairs = make_pairs(load_wordnet(), args.pairs, args.words, args.seed)
    # The reference gets a reader of its own: the generator's has parsed the texts' synsets.
    load_seconds, wordnet = timed("load WordNet (nltk, reference side)", load_wordnet)
    predictions = [prediction for prediction, _ in pairs]
    references = [reference for _, reference in pairs]
    mean_words = sum(len(text.split()) for text in predictions + references) / (2 * len(pairs))
    print(f"  generated {len(pairs)} distinct pairs, {mean_words:.1f} words per text on average")

    meteor_seconds, meteor_metric = timed("load WordNet (Assay METEOR)", lambda: get_metric("meteor"))
    metrics = {
        "rouge": get_metric("rouge", use_stemmer=True),
        "sacrebleu": get_metric("sacrebleu"),
        "chrf": get_metric("chrf"),
        "meteor": meteor_metric,
    }

    scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True)
    reference_loops: dict[str, tuple[str, Callable[[], dict[str, list[float]]]]] = {
        "rouge": (
            "rouge-score RougeScorer.score",
            lambda: transpose([scorer.score(r, p) for p, r in pairs]),
        ),
        "sacrebleu": (
            "sacrebleu.sentence_bleu",
            lambda: {"sacrebleu": [sacrebleu.sentence_bleu(p, [r]).score for p, r in pairs]},
        ),
        "chrf": (
            "sacrebleu.sentence_chrf",
            lambda: {"chrf": [sacrebleu.sentence_chrf(p, [r]).score for p, r in pairs]},
        ),
        "meteor": (
            "nltk meteor_score (WordNet)",
            lambda: {
                "meteor": [
                    meteor_score([word_tokenize(r)], word_tokenize(p), wordnet=wordnet) for p, r in pairs
                ]
            },
        ),
    }
    # Each metric's reference loop is followed at once by Assay's runs, so that both see the same
    # load from whatever else runs on the machine; Assay's best of --repeats discounts the bursts.
    reference_runs: dict[str, tuple[float, dict[str, list[float]]]] = {}
    ours: dict[str, tuple[float, dict[str, list[float]]]] = {}
    for name, (label, loop) in reference_loops.items():
        print(f"{name}:")
        reference_runs[name] = timed(f"reference: {label}, one call per pair", loop)
        compute = partial(metrics[name].compute, predictions, references)
        runs = [timed(f"Assay {name}.compute (with mean and CI)", compute) for _ in range(args.repeats)]
        ours[name] = (min(seconds for seconds, _ in runs), runs[0][1].per_example)

    print("scores (largest absolute difference per example):")
    all_equal = True
    for name, (_, expected) in reference_runs.items():
        for key, values in expected.items():
            diff = max(abs(a - b) for a, b in zip(values, ours[name][1][key], strict=True))
            all_equal &= diff <= TOLERANCE
            print(f"  {key:<10} max |diff| = {diff:.3g}  {verdict(diff <= TOLERANCE)}")

    print(f"times and ratios (reference / Assay's best of {args.repeats}):")
    for name in metrics:
        ref_seconds, our_seconds = reference_runs[name][0], ours[name][0]
        print(f"  {name:<8} {ref_seconds:8.2f} s / {our_seconds:6.2f} s = {ref_seconds / our_seconds:6.1f}x")
    ref_total = sum(seconds for seconds, _ in reference_runs.values())
    our_total = sum(seconds for seconds, _ in ours.values())
    combined = ref_total / our_total
    print(
        f"  together {ref_total:8.2f} s / {our_total:6.2f} s = {combined:6.1f}x"
        f"  (target >= 10x) {verdict(combined >= 10)}"
    )
    print(f"  (WordNet loads, not timed above: reference {load_seconds:.2f} s, Assay {meteor_seconds:.2f} s)")

    print(f"ROUGE alone, per-example scores, best of {args.repeats}:")
    native = rouge_score_rs.RougeScorer(ROUGE_TYPES, use_stemmer=True)
    native_best = min(
        timed("rouge-score-rs score_batch", lambda: native.score_batch(references, predictions))[0]
        for _ in range(args.repeats)
    )
    ours_best = min(
        timed("Assay rouge.score", lambda: metrics["rouge"].score(predictions, references))[0]
        for _ in range(args.repeats)
    )
    rouge_ratio = native_best / ours_best
    print(
        f"  rouge-score-rs {native_best:.3f} s / Assay {ours_best:.3f} s = {rouge_ratio:.2f}x"
        f"  (target >= 1x) {verdict(rouge_ratio >= 1)}"
    )
    return 0 if all_equal and combined >= 10 and rouge_ratio >= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
