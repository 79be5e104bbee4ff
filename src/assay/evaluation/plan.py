"""Which metrics an evaluation job computes, each with its options: resolved when the job is
created (so that a judge whose model cannot run is a 422 then), read by the job as it is.

Lumigator's ``llm_as_judge`` request field becomes the registered ``llm_judge`` metric with
the judge's resolved model as its option; nothing downstream treats the judge specially.
"""

from __future__ import annotations

from typing import Any

from assay.errors import InvalidInputError
from assay.evaluation.judge import LLMJudge, judge_model
from assay.metrics import METRICS, default_metrics
from assay.schemas.jobs import JobEvalConfig


def metric_plan(config: JobEvalConfig, prefix: str = "job_config.") -> dict[str, dict[str, Any]]:
    """Metric name -> keyword options of its class, in the order the scores are reported."""
    task = config.task_definition.task
    plan: dict[str, dict[str, Any]] = {name: {} for name in config.metrics or default_metrics(task)}
    judge = config.llm_as_judge
    backed = [name for name in plan if name in METRICS and METRICS[name].model_backed]
    if backed and judge is None:
        raise InvalidInputError(
            f"metric(s) {', '.join(map(repr, backed))} ask a model to judge: add {prefix}llm_as_judge "
            '{"model_name": ..., "model_base_url": ...} (an OpenAI-compatible server), '
            "or leave the metric out",
            field=f"{prefix}metrics",
        )
    if judge is not None:
        model = judge_model(
            judge.model_name, judge.model_base_url, config.secret_key_name, prefix=f"{prefix}llm_as_judge."
        )
        plan[LLMJudge.name] = {"model": model.model_dump(mode="json"), "task": task}
    return plan
