"""METEOR as nltk's ``meteor_score`` computes it, with WordNet synonyms.

nltk stems every word and looks up WordNet synsets for every unmatched word on every call, and
those lookups are nearly all of its cost. Here each word is stemmed and looked up once per
process, the alignment is the same three stages in the same order (exact, then Porter stems,
then WordNet synonyms of the stems, each taking the highest free reference position), and the
score uses nltk's floating-point operations in nltk's order, so scores are identical. Pairs are
spread over forked workers, which inherit the loaded WordNet.

nltk scores token lists; texts are split with nltk's ``word_tokenize`` as Lumigator's evaluator
(the ``evaluate`` METEOR script) does, then lowercased as nltk does. Scale: 0-1.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache, partial
from itertools import pairwise
from pathlib import Path

import nltk.data  # type: ignore[import-untyped]
from nltk.corpus.reader.wordnet import WordNetCorpusReader  # type: ignore[import-untyped]
from nltk.stem.porter import PorterStemmer  # type: ignore[import-untyped]
from nltk.tokenize import NLTKWordTokenizer, punkt_model_available, sent_tokenize  # type: ignore[import-untyped]
from nltk.tokenize.punkt import PunktSentenceTokenizer  # type: ignore[import-untyped]

from assay.errors import UnsupportedError
from assay.metrics.base import ReferenceMetric
from assay.metrics.native import porter_stems
from assay.metrics.parallel import map_chunks
from assay.metrics.types import PairScores

# Where scripts/install_wordnet.sh puts WordNet by default (src/assay/metrics → repository root).
REPO_NLTK_DATA = Path(__file__).resolve().parents[3] / ".nltk_data"

_WORDS = NLTKWordTokenizer()


@lru_cache(maxsize=1)
def _sentence_splitter() -> Callable[[str], list[str]]:
    """nltk's English Punkt model where its data (``punkt_tab``) is installed, which makes
    ``word_tokenize`` below nltk's exactly; otherwise Punkt without a model, which splits at every
    sentence-final mark and so differs mainly after abbreviations the model knows (``Mr. Smith``)."""
    if punkt_model_available("english"):
        return sent_tokenize  # type: ignore[no-any-return]
    splitter: Callable[[str], list[str]] = PunktSentenceTokenizer().tokenize
    return splitter


def word_tokenize(text: str) -> list[str]:
    """nltk's ``word_tokenize``, which Lumigator's METEOR (``evaluate``'s script) uses: Punkt
    sentences, each split by nltk's improved Treebank tokenizer."""
    return [token for sentence in _sentence_splitter()(text) for token in _WORDS.tokenize(sentence)]


# nltk strips a trailing syntactic marker such as "(a)" from lemma names with this pattern.
_SYNTACTIC_MARKER = re.compile(r"(.*?)(\([^()]*\))?$")
_DATA_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}


class _Lexicon:
    """Porter stems and WordNet synonyms, each computed once per word and process.

    nltk's ``wordnet.synsets(word)`` parses every field of every synset it returns (~130 us
    each), and METEOR only needs their lemma names. Synonyms are therefore collected the way
    ``synsets`` finds synsets (its morphological forms of the word per part of speech, then the
    lemma index), but only the lemma names are read from the synset lines, from data files held
    in memory (which forked workers share). That relies on two private members of nltk's reader,
    ``_morphy`` and ``_lemma_pos_offset_map``; a test compares the result with ``synsets`` on
    thousands of words, so a change in nltk shows up as a failing test, not as wrong scores.
    """

    def __init__(self, wordnet: WordNetCorpusReader) -> None:
        self.wordnet = wordnet
        self._stemmer = PorterStemmer()
        self._stems: dict[str, str] = {}
        self._synonyms: dict[str, frozenset[str]] = {}
        self._names: dict[tuple[str, int], list[str]] = {}
        self._data: dict[str, bytes] = {}
        for name in set(_DATA_FILES.values()):
            with wordnet.abspath(f"data.{name}").open() as stream:
                self._data[name] = stream.read()

    def stem(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            stem = self._stems[word] = self._stemmer.stem(word)
        return stem

    def prepare_stems(self, words: set[str]) -> None:
        """Stems at once, natively, the words rouge-score-rs can stem: rouge-score uses the very
        Porter stemmer of nltk that METEOR uses, and rouge-score-rs reproduces it (tests check),
        far faster. The other words (short, or not ASCII) go to nltk one by one, in ``stem``."""
        native = [
            word
            for word in words
            if len(word) > 3 and word.isascii() and word.isalnum() and word not in self._stems
        ]
        if native:
            self._stems.update(zip(native, porter_stems(native), strict=True))

    def synonyms(self, word: str) -> frozenset[str]:
        """The word and the single-word lemma names of its synsets, as nltk's METEOR collects them."""
        synonyms = self._synonyms.get(word)
        if synonyms is None:
            names = {word}
            lemma = word.lower()
            index = self.wordnet._lemma_pos_offset_map
            for pos, data_file in _DATA_FILES.items():
                for form in self.wordnet._morphy(lemma, pos):
                    for offset in index[form].get(pos, ()):
                        names.update(name for name in self._lemma_names(data_file, offset) if "_" not in name)
            synonyms = self._synonyms[word] = frozenset(names)
        return synonyms

    def _lemma_names(self, data_file: str, offset: int) -> list[str]:
        """Lemma names of the synset at ``offset``: the word fields of its data line."""
        key = (data_file, offset)
        names = self._names.get(key)
        if names is None:
            data = self._data[data_file]
            line = data[offset : data.index(b"\n", offset)].decode()
            fields = line.split("|", 1)[0].split()
            count = int(fields[3], 16)
            names = self._names[key] = [
                _SYNTACTIC_MARKER.match(name).group(1)  # type: ignore[union-attr]  # always matches
                for name in fields[4 : 4 + 2 * count : 2]
            ]
        return names


# One lexicon per WordNet location, loaded once per process: reading WordNet's index takes
# seconds. Forked workers inherit this dictionary.
_LEXICONS: dict[str, _Lexicon] = {}


def _folders(nltk_data: str | Path | None) -> list[str]:
    return [str(nltk_data)] if nltk_data is not None else [*nltk.data.path, str(REPO_NLTK_DATA)]


def _wordnet(folder: str) -> str | None:
    try:
        return str(nltk.data.find("corpora/wordnet", paths=[folder]))
    except LookupError:
        return None


def _missing_wordnet(folders: list[str]) -> str:
    return f"METEOR needs WordNet, which is in none of {', '.join(folders)}; run scripts/install_wordnet.sh"


def wordnet_missing() -> str | None:
    """Why METEOR cannot run here, found without loading WordNet (the API asks at submission)."""
    folders = _folders(None)
    return None if any(_wordnet(folder) for folder in folders) else _missing_wordnet(folders)


def _lexicon(nltk_data: str | Path | None) -> tuple[str, _Lexicon]:
    """The lexicon of the WordNet under ``nltk_data``, else on nltk's search path, else the repo's."""
    folders = _folders(nltk_data)
    for folder in folders:
        root = _wordnet(folder)
        if root is None:
            continue
        key = root
        if key not in _LEXICONS:
            if folder not in nltk.data.path:
                nltk.data.path.append(folder)  # nltk's readers refuse files outside its search path
            with warnings.catch_warnings():
                # Without the Open Multilingual Wordnet nltk warns on load; METEOR is English-only.
                warnings.simplefilter("ignore", UserWarning)
                _LEXICONS[key] = _Lexicon(WordNetCorpusReader(root, None))
        return key, _LEXICONS[key]
    raise UnsupportedError(_missing_wordnet(folders), field="metrics")


def _align(
    hyp_positions: list[int],
    hyp_words: list[str],
    ref_positions: list[int],
    ref_words: list[str],
    matches: list[tuple[int, int]],
) -> tuple[list[int], list[int]]:
    """nltk's ``_match_enums``: from the last hypothesis word back, match the highest free equal
    reference word. Appends to ``matches``; returns the unmatched positions of both sides."""
    common = set(hyp_words).intersection(ref_words)
    if not common:
        return hyp_positions, ref_positions
    free: dict[str, list[int]] = {}
    for position, word in zip(ref_positions, ref_words, strict=True):
        if word in common:
            free.setdefault(word, []).append(position)
    unmatched_hyp = []
    matched_ref = set()
    for position, word in zip(reversed(hyp_positions), reversed(hyp_words), strict=True):
        candidates = free.get(word)
        if candidates:
            reference = candidates.pop()
            matches.append((position, reference))
            matched_ref.add(reference)
        else:
            unmatched_hyp.append(position)
    unmatched_hyp.reverse()
    return unmatched_hyp, [position for position in ref_positions if position not in matched_ref]


def meteor(
    hyp: list[str], ref: list[str], lexicon: _Lexicon, alpha: float, beta: float, gamma: float
) -> float:
    """nltk's ``single_meteor_score`` for one pair of lowercased token lists."""
    matches: list[tuple[int, int]] = []
    hyp_left, ref_left = _align(list(range(len(hyp))), hyp, list(range(len(ref))), ref, matches)

    hyp_stem = {i: lexicon.stem(hyp[i]) for i in hyp_left}
    ref_stem = {j: lexicon.stem(ref[j]) for j in ref_left}
    hyp_left, ref_left = _align(
        hyp_left, [hyp_stem[i] for i in hyp_left], ref_left, [ref_stem[j] for j in ref_left], matches
    )

    # nltk's _enum_wordnetsyn_match works on the stems left over by the stem stage.
    free: defaultdict[str, list[int]] = defaultdict(list)
    for j in ref_left:
        free[ref_stem[j]].append(j)
    for i in reversed(hyp_left if ref_left else []):  # nothing left to match: no lookups
        best_position, best_word = -1, None
        for synonym in lexicon.synonyms(hyp_stem[i]):
            positions = free.get(synonym)
            if positions and positions[-1] > best_position:
                best_position, best_word = positions[-1], synonym
        if best_word is not None:
            free[best_word].pop()
            matches.append((i, best_position))

    if not matches:
        return 0.0
    matches.sort()
    chunks = 1 + sum(
        1
        for (hyp_a, ref_a), (hyp_b, ref_b) in pairwise(matches)
        if not (hyp_b == hyp_a + 1 and ref_b == ref_a + 1)
    )
    matches_count = len(matches)
    precision = float(matches_count) / len(hyp)
    recall = float(matches_count) / len(ref)
    fmean = (precision * recall) / (alpha * precision + (1 - alpha) * recall)
    frag_frac = float(chunks) / matches_count
    penalty: float = gamma * frag_frac**beta
    return (1 - penalty) * fmean


def lowercase_tokens(text: str) -> list[str]:
    """``word_tokenize`` then lowercase each token, as nltk's ``preprocess=str.lower`` does."""
    return [token.lower() for token in word_tokenize(text)]


def _score_chunk(
    lexicon_key: str, alpha: float, beta: float, gamma: float, pairs: list[tuple[str, str]]
) -> list[float]:
    lexicon = _LEXICONS[lexicon_key]
    tokens = [(lowercase_tokens(prediction), lowercase_tokens(reference)) for prediction, reference in pairs]
    words: set[str] = set()
    for hyp, ref in tokens:
        words.update(hyp, ref)
    lexicon.prepare_stems(words)
    return [meteor(hyp, ref, lexicon, alpha, beta, gamma) for hyp, ref in tokens]


class Meteor(ReferenceMetric):
    """nltk METEOR (0-1); ``nltk_data`` is the folder holding ``corpora/wordnet``."""

    name = "meteor"

    def __init__(
        self,
        *,
        alpha: float = 0.9,
        beta: float = 3.0,
        gamma: float = 0.5,
        nltk_data: str | Path | None = None,
        processes: int | None = None,
    ) -> None:
        self.lexicon_key, _ = _lexicon(nltk_data)
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.processes = processes

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        scores = map_chunks(
            partial(_score_chunk, self.lexicon_key, self.alpha, self.beta, self.gamma),
            list(zip(predictions, references, strict=True)),
            processes=self.processes,
        )
        return PairScores(values={"meteor": scores})
