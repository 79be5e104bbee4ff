"""The task vocabulary, in one place: each task's request shape, its default system prompt, the
criterion an LLM judge scores it by, and the metrics an evaluation of it computes by default.

The API's request models, the inference engine's prompts, the judge, the metric defaults and
the model catalog all read this module, so adding a task is one entry here (and its request
model): nothing else keys a table by task name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from assay.errors import UnsupportedError


class _Task(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SummarizationTask(_Task):
    task: Literal["summarization"] = "summarization"


class TranslationTask(_Task):
    task: Literal["translation"] = "translation"
    source_language: str = Field(
        min_length=1, max_length=64, examples=["en", "English"], description="ISO 639-1 code (en) or name"
    )
    target_language: str = Field(min_length=1, max_length=64, examples=["de", "German"])


class TextGenerationTask(_Task):
    task: Literal["text-generation"] = "text-generation"


class QuestionAnsweringTask(_Task):
    task: Literal["question-answering"] = "question-answering"


TaskDefinition = Annotated[
    SummarizationTask | TranslationTask | TextGenerationTask | QuestionAnsweringTask,
    Field(discriminator="task"),
]


@dataclass(frozen=True)
class Task:
    """What Assay knows about one task.

    ``system_prompt`` may hold ``{source}`` and ``{target}`` (language names, for translation).
    ``metrics`` follow Lumigator's defaults where they need no API key or hub download (its
    evaluator's default list is rouge, meteor, bertscore, bleu, and its web app reads all four);
    COMET (a hub model) gives way to sacrebleu's corpus BLEU, chrF and TER for translation; free
    text generation often has no ground truth, so its default is the one reference-free metric.
    """

    name: str
    system_prompt: str
    judge_criterion: str
    metrics: tuple[str, ...]


TASKS: Mapping[str, Task] = {
    task.name: task
    for task in (
        Task(
            "summarization",
            "You are a helpful assistant, expert in text summarization. For every prompt you receive, "
            "provide a summary of its contents in at most two sentences.",
            "Does the summary capture the key information of the source, faithfully and concisely?",
            ("rouge", "meteor", "bertscore", "bleu"),
        ),
        Task(
            "translation",
            "You are a helpful assistant, expert in translation. For every prompt you receive, translate "
            "the text from {source} to {target}. Reply with the translation only.",
            "Is the translation accurate, complete and fluent in the target language?",
            ("bleu", "sacrebleu", "chrf", "ter", "meteor"),
        ),
        Task(
            "text-generation",
            "You are a helpful assistant.",
            "Is the response helpful, correct and relevant to the input?",
            ("length",),
        ),
        Task(
            "question-answering",
            "You are a helpful assistant. Answer the question you receive accurately and concisely. "
            "Reply with the answer only.",
            "Does the answer correctly and directly answer the question?",
            ("exact_match", "f1"),
        ),
    )
}
TASK_NAMES: tuple[str, ...] = tuple(TASKS)


def task(name: str) -> Task:
    """The named task; an error listing the valid ones for any other name."""
    try:
        return TASKS[name]
    except KeyError:
        raise UnsupportedError(
            f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}", field="task"
        ) from None
