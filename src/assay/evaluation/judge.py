"""LLM-as-judge (G-Eval style): a rubric, a judge model behind any OpenAI-compatible endpoint,
and a structured answer ``{"score": 1-5, "reason": ...}`` per example.

The judge runs through ``assay.inference`` like any model, so it shares the inference client's
bounded concurrency, retries and response cache: re-running an evaluation asks nothing twice.
An answer that is not valid JSON is repaired when the score can be read from it, asked again
once with a stricter instruction otherwise, and then recorded as an error on that example:
never as a score of 0, never as NaN.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from assay.datasets.columns import EXAMPLES, PREDICTIONS
from assay.inference.config import InferenceConfig
from assay.inference.runner import run_inference
from assay.jobs.failure import describe_endpoint_error
from assay.schemas.jobs import JUDGE_PROVIDER
from assay.storage import ObjectStore
from assay.storage.layout import judge_attempt_keys

MIN_SCORE, MAX_SCORE = 1, 5
SYSTEM = (
    "You are a meticulous, impartial evaluator of machine-generated text. "
    "Follow the evaluation steps, then answer with a single JSON object and nothing else: "
    '{"score": <integer from 1 to 5>, "reason": "<one short sentence>"}.'
)
CRITERIA = {
    "summarization": "Does the summary capture the key information of the source, faithfully and concisely?",
    "translation": "Is the translation accurate, complete and fluent in the target language?",
    "question-answering": "Does the answer correctly and directly answer the question?",
    "text-generation": "Is the response helpful, correct and relevant to the input?",
}
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
    criterion = CRITERIA.get(task, CRITERIA["text-generation"])
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


@dataclass(frozen=True)
class JudgeSettings:
    model: str
    base_url: str
    task: str
    scratch_prefix: str
    cache_prefix: str
    api_key: str | None = None
    concurrency: int = 16


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
            "provider": JUDGE_PROVIDER,
            "model": settings.model,
            "base_url": settings.base_url,
            "dataset_key": dataset_key,
            "predictions_key": predictions_key,
            "checkpoint_prefix": checkpoint_prefix,
            "cache_prefix": settings.cache_prefix,
            "task": {"task": "text-generation"},
            "system_prompt": SYSTEM,
            "generation": {"temperature": 0.0, "max_new_tokens": 200},
            "max_error_rate": 1.0,
            "fail_fast_after": 0,
            "http": {"concurrency": settings.concurrency},
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
    described = describe_endpoint_error(error, settings.base_url, "judge endpoint")
    return f"the judge failed: {described or error}"
