"""Turn a dataset row into a prompt: a system message and a user message, per task.

Defaults follow Lumigator's: a task-specific system prompt and the example itself as the user
message. ``system_prompt`` replaces the system message verbatim (quotes, braces, newlines
untouched); ``prompt_template`` shapes the user message from ``{example}`` and any other
column of the dataset.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assay.datasets.columns import EXAMPLES
from assay.errors import InvalidInputError
from assay.inference.config import InferenceConfig
from assay.tasks import TASKS, TranslationTask

LANGUAGES = {
    "ar": "Arabic",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "es": "Spanish",
    "fi": "Finnish",
    "fr": "French",
    "hi": "Hindi",
    "it": "Italian",
    "ja": "Japanese",
    "ko": "Korean",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ro": "Romanian",
    "ru": "Russian",
    "sv": "Swedish",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "zh": "Chinese",
}

EXAMPLE_FIELD = "example"


def language_name(language: str) -> str:
    return LANGUAGES.get(language.lower(), language)


def language_code(language: str) -> str:
    """The ISO 639-1 code of a language given by code or English name (``German`` -> ``de``)."""
    lowered = language.lower()
    for code, name in LANGUAGES.items():
        if lowered in (code, name.lower()):
            return code
    return lowered


@dataclass(frozen=True, slots=True)
class Prompt:
    system: str | None
    user: str


def default_system_prompt(config: InferenceConfig) -> str:
    task = config.task
    template = TASKS[task.task].system_prompt
    if isinstance(task, TranslationTask):
        return template.format(
            source=language_name(task.source_language), target=language_name(task.target_language)
        )
    return template


class PromptBuilder:
    """Renders prompts for one run; the template is parsed once, not per row."""

    def __init__(self, config: InferenceConfig, columns: list[str]) -> None:
        self.system = (
            config.system_prompt if config.system_prompt is not None else default_system_prompt(config)
        )
        template = config.prompt_template or "{example}"
        self._pieces: list[tuple[str, str | None]] = [
            (literal, self._column(name, columns)) if name is not None else (literal, None)
            for literal, name, _, _ in string.Formatter().parse(template)
        ]
        self.columns = sorted({column for _, column in self._pieces if column is not None})

    @staticmethod
    def _column(name: str, columns: list[str]) -> str:
        column = EXAMPLES if name == EXAMPLE_FIELD else name
        if column not in columns:
            raise InvalidInputError(
                f"prompt_template uses {{{name}}} but the dataset has no column {column!r} "
                f"(columns: {', '.join(columns)})",
                field="prompt_template",
            )
        return column

    def build(self, row: Mapping[str, Any]) -> Prompt:
        parts = []
        for literal, column in self._pieces:
            parts.append(literal)
            if column is not None:
                value = row.get(column)
                parts.append("" if value is None else str(value))
        return Prompt(self.system, "".join(parts))
