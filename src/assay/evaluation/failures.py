"""Scores that could not be computed, kept visible: an evaluation records, per score, on how
many examples it failed and why, and everything that shows results (the workflow, the
comparison, the report) says so instead of dropping the score.

``predictions`` is recorded the same way: examples whose inference failed reach the evaluation
without a prediction and are scored as empty text, which lowers every score; saying so is the
difference between "the model is worse" and "the endpoint dropped some requests"."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from assay.datasets.columns import PREDICTIONS

LABELS = {"llm_judge": "the LLM judge", PREDICTIONS: "inference"}
CONSEQUENCES = {PREDICTIONS: "; those examples are scored as empty predictions"}


def failure_summary(errors: Sequence[str | None]) -> dict[str, Any] | None:
    """``{"failed", "examples", "reason"}`` for one score's per-example errors (``None`` where
    the example was scored); the reason is the most frequent error. ``None`` when none failed."""
    failed = [error for error in errors if error]
    if not failed:
        return None
    reason, _ = Counter(failed).most_common(1)[0]
    return {"failed": len(failed), "examples": len(errors), "reason": reason}


def failures_of(summary: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The ``failures`` an evaluation summary records (empty for older summaries)."""
    found = (summary or {}).get("failures") or {}
    return {str(score): dict(stats) for score, stats in found.items() if isinstance(stats, Mapping)}


def describe_failure(score: str, stats: Mapping[str, Any]) -> str:
    label = LABELS.get(score, f"the metric {score!r}")
    failed, examples = int(stats["failed"]), int(stats["examples"])
    share = f"all {examples}" if failed == examples else f"{failed} of {examples}"
    return f"{label} failed on {share} examples: {stats['reason']}{CONSEQUENCES.get(score, '')}"


def failed_everywhere(summary: Mapping[str, Any] | None) -> list[str]:
    """Sentences for the scores that failed on every example: the evaluation did not deliver them."""
    return [
        describe_failure(score, stats)
        for score, stats in failures_of(summary).items()
        if stats["failed"] >= stats["examples"] > 0
    ]


def failed_somewhere(summary: Mapping[str, Any] | None) -> list[str]:
    """Sentences for the scores that failed on some examples but not all."""
    return [
        describe_failure(score, stats)
        for score, stats in failures_of(summary).items()
        if 0 < stats["failed"] < stats["examples"]
    ]
