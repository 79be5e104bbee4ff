"""Means of per-example scores with percentile-bootstrap confidence intervals.

One resampling plan (which examples each bootstrap sample draws) serves every score of a
metric, so intervals of related scores (ROUGE-1 and ROUGE-L) come from the same samples, and a
seed makes the whole result reproducible. Resamples are drawn as multiplicity counts, in
blocks, so that 10,000 examples x 1,000 resamples never hold more than a few million numbers.
"""

from __future__ import annotations

import numpy as np

from assay.metrics.types import Aggregate

_BLOCK_CELLS = 1 << 22  # examples x resamples materialised at once: bounds memory to ~32 MiB


def bootstrap_means(
    scores: dict[str, list[float]], *, confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0
) -> dict[str, Aggregate]:
    """Mean and two-sided ``confidence`` interval of each score list (all of equal length)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be at least 1, not {n_resamples}")
    if not scores:
        return {}
    names = list(scores)
    table = np.array([scores[name] for name in names], dtype=np.float64).T  # examples x scores
    n_examples = table.shape[0]
    means = table.mean(axis=0)

    rng = np.random.default_rng(seed)
    samples = np.empty((n_resamples, len(names)))
    block = max(1, _BLOCK_CELLS // n_examples)
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        draws = rng.integers(0, n_examples, size=(size, n_examples))
        flat = (draws + n_examples * np.arange(size)[:, None]).ravel()
        counts = np.bincount(flat, minlength=size * n_examples).reshape(size, n_examples)
        samples[start : start + size] = counts @ table / n_examples

    tail = (1 - confidence) / 2
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return {
        name: Aggregate(mean=float(means[i]), ci_low=float(low[i]), ci_high=float(high[i]))
        for i, name in enumerate(names)
    }
