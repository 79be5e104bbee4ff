"""LLM-as-judge (G-Eval style): a rubric, a judge model behind any OpenAI-compatible endpoint,
and a structured answer ``{"score": 1-5, "reason": ...}`` per example.

It is a registered, model-backed metric (``llm_judge``, as inspect's ``model_graded_qa`` is a
scorer): built with the judge's resolved model and the job's ``ModelContext``, it scores like
any other metric, and its per-example failures, reasons and counts travel in its
``MetricResult`` (``errors``, ``details``, ``report``) for the evaluation job to store.

The judge runs through ``assay.inference`` like any model, so it shares the inference client's
bounded concurrency, retries and response cache: re-running an evaluation asks nothing twice.
An answer that is not valid JSON is repaired when the score can be read from it, asked again
once with a stricter instruction otherwise, and then recorded as an error on that example:
never as a score of 0, never as NaN.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from assay.datasets.columns import EXAMPLES, PREDICTIONS
from assay.errors import InvalidInputError
from assay.inference.config import InferenceConfig, ModelChoice
from assay.inference.resolve import REQUEST_FIELDS, resolve_model
from assay.inference.runner import run_inference
from assay.jobs.failure import describe_endpoint_error
from assay.metrics.base import Metric, ModelContext
from assay.metrics.types import MetricResult, PairScores
from assay.schemas.jobs import JUDGE_PROVIDER
from assay.storage import ObjectStore
from assay.storage.layout import judge_attempt_keys
from assay.tasks import task as task_named

MIN_SCORE, MAX_SCORE = 1, 5
SYSTEM = (
    "You are a meticulous, impartial evaluator of machine-generated text. "
    "Follow the evaluation steps, then answer with a single JSON object and nothing else: "
    '{"score": <integer from 1 to 5>, "reason": "<one short sentence>"}.'
)
STEPS = (
    "1. Read the input and the reference. 2. Read the candidate. "
    "3. Compare the candidate with the input and the reference against the criterion. "
    "4. Give a score from 1 (very poor) to 5 (excellent)."
)
UNREADABLE = "the judge gave no readable score, twice"
STRICT = "\n\nYour previous answer could not be read. Reply with the JSON object only."
SCORE_PATTERN = re.compile(r"""["']?score["']?\s*[:=]\s*["']?([1-5])\b""", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeVerdict:
    score: float | None
    reason: str | None
    error: str | None


def judge_prompt(task: str, example: str, reference: str, prediction: str) -> str:
    criterion = task_named(task).judge_criterion
    return (
        f"Criterion: {criterion}\nEvaluation steps: {STEPS}\n\n"
        f"Input:\n{example}\n\nReference:\n{reference}\n\nCandidate:\n{prediction}"
    )


def parse_verdict(answer: str | None) -> JudgeVerdict | None:
    """The verdict in a judge's answer, repaired when only the score is readable; ``None``
    when no score in range can be found."""
    if not answer:
        return None
    match = re.search(r"\{.*\}", answer, re.DOTALL)
    if match:
        try:
            parsed = json.loads(match.group(0))
            score = int(parsed["score"])
            if MIN_SCORE <= score <= MAX_SCORE:
                return JudgeVerdict(float(score), str(parsed.get("reason", "")), None)
        except (ValueError, KeyError, TypeError):
            pass
    found = SCORE_PATTERN.search(answer)
    return JudgeVerdict(float(found.group(1)), None, None) if found else None


JUDGE_CONCURRENCY = 16
JUDGE_GENERATION = {"temperature": 0.0, "max_new_tokens": 200}
# Lumigator's ``llm_as_judge`` names the model and its server so; errors name what was sent.
JUDGE_FIELDS = {**REQUEST_FIELDS, "model": "model_name", "base_url": "model_base_url"}


def judge_model(
    model: str, base_url: str, secret_key_name: str | None = None, prefix: str = ""
) -> ModelChoice:
    """The judge's model, resolved and checked as any model is: Lumigator's ``llm_as_judge``
    names a model behind an OpenAI-compatible endpoint."""
    return resolve_model(
        provider=JUDGE_PROVIDER,
        model=model,
        base_url=base_url,
        secret_key_name=secret_key_name,
        generation=JUDGE_GENERATION,
        max_concurrency=JUDGE_CONCURRENCY,
        prefix=prefix,
        names=JUDGE_FIELDS,
    )


@dataclass(frozen=True)
class JudgeSettings:
    model: ModelChoice
    task: str
    scratch_prefix: str
    cache_prefix: str
    api_key: str | None = None


def _ask(
    store: ObjectStore, settings: JudgeSettings, prompts: Sequence[str], attempt: str
) -> list[tuple[str | None, str | None]]:
    """One inference run over ``prompts``: each answer (``None`` where it failed) and its error."""
    dataset_key, predictions_key, checkpoint_prefix = judge_attempt_keys(settings.scratch_prefix, attempt)
    writer = store.open_writer(dataset_key)
    pq.write_table(pa.table({EXAMPLES: pa.array(list(prompts), pa.string())}), writer)
    writer.commit()
    config = InferenceConfig.model_validate(
        {
            **settings.model.model_dump(),
            "dataset_key": dataset_key,
            "predictions_key": predictions_key,
            "checkpoint_prefix": checkpoint_prefix,
            "cache_prefix": settings.cache_prefix,
            "task": {"task": "text-generation"},
            "system_prompt": SYSTEM,
            "max_error_rate": 1.0,
            "fail_fast_after": 0,
        }
    )
    run_inference(config, store, api_key=settings.api_key, handle_signals=False)
    with store.open_reader(config.predictions_key) as reader:
        table = pq.read_table(reader, columns=[PREDICTIONS, "error"])
    return list(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def judge(
    store: ObjectStore,
    settings: JudgeSettings,
    examples: Sequence[str],
    references: Sequence[str],
    predictions: Sequence[str],
) -> list[JudgeVerdict]:
    prompts = [
        judge_prompt(settings.task, *triple) for triple in zip(examples, references, predictions, strict=True)
    ]
    answers = _ask(store, settings, prompts, "first")
    verdicts: list[JudgeVerdict | None] = [parse_verdict(answer) for answer, _ in answers]
    unreadable = [
        index for index, verdict in enumerate(verdicts) if verdict is None and not answers[index][1]
    ]
    if unreadable:
        retried = _ask(store, settings, [prompts[index] + STRICT for index in unreadable], "retry")
        for index, (answer, _) in zip(unreadable, retried, strict=True):
            verdicts[index] = parse_verdict(answer)
    return [
        verdict if verdict is not None else JudgeVerdict(None, None, _failure(settings, answers[index][1]))
        for index, verdict in enumerate(verdicts)
    ]


def _failure(settings: JudgeSettings, error: str | None) -> str:
    """Why an example has no verdict, in words (the endpoint's failure, or unreadable answers)."""
    if not error:
        return UNREADABLE
    described = describe_endpoint_error(error, settings.model.resolved_base_url or "", "judge endpoint")
    return f"the judge failed: {described or error}"


class LLMJudge(Metric):
    """The ``llm_judge`` metric: ``model`` is the judge's resolved ``ModelChoice`` (as JSON in a
    job document), ``task`` picks the criterion. Every example is asked (the response cache
    answers repeats), so it overrides ``compute`` rather than scoring unique pairs."""

    name = "llm_judge"

    def __init__(self, model: Mapping[str, Any] | ModelChoice, task: str, context: ModelContext) -> None:
        self.settings = JudgeSettings(
            model=model if isinstance(model, ModelChoice) else ModelChoice.model_validate(model),
            task=task,
            scratch_prefix=context.scratch_prefix,
            cache_prefix=context.cache_prefix,
            api_key=context.api_key,
        )
        self.store = context.store

    def compute(
        self,
        predictions: Sequence[str],
        references: Sequence[str] | None = None,
        *,
        inputs: Sequence[str] | None = None,
        confidence: float = 0.95,
        n_resamples: int = 1000,
        seed: int = 0,
    ) -> MetricResult:
        if inputs is None:
            raise InvalidInputError("the LLM judge reads the examples, and there are none", field=EXAMPLES)
        references = references if references is not None else [""] * len(predictions)
        verdicts = judge(self.store, self.settings, inputs, references, predictions)
        # Imported here, as in ``Metric.compute``: the bootstrap needs numpy.
        from assay.metrics.aggregate import bootstrap_means

        judged = [verdict.score for verdict in verdicts if verdict.score is not None]
        errors = [verdict.error for verdict in verdicts]
        failed = [error for error in errors if error]
        aggregates = (
            bootstrap_means({self.name: judged}, confidence=confidence, n_resamples=n_resamples, seed=seed)
            if judged
            else {}
        )
        return MetricResult(
            metric=self.name,
            per_example={self.name: [math.nan if v.score is None else v.score for v in verdicts]},
            aggregates=aggregates,
            errors=errors,
            details={
                "judge_reason": [verdict.reason for verdict in verdicts],
                "judge_error": errors,
            },
            report={
                "judge": {"judged": len(judged), "failures": len(failed), "errors": sorted(set(failed))[:5]}
            },
        )

    def score_unique(self, predictions: list[str], references: list[str] | None) -> PairScores:
        raise NotImplementedError("the LLM judge scores examples with their inputs: use compute")
