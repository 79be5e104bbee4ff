"""The model catalog: suggested models per task, shipped as YAML inside the package."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from assay.errors import UnsupportedError
from assay.schemas.models import ModelsResponse
from assay.tasks import TASK_NAMES


class ModelCatalog:
    def __init__(self, entries: list[ModelsResponse]) -> None:
        self.entries = entries

    @classmethod
    def load_default(cls) -> ModelCatalog:
        text = resources.files("assay.catalog").joinpath("models.yaml").read_text(encoding="utf-8")
        raw: list[dict[str, Any]] = yaml.safe_load(text)
        return cls([ModelsResponse.model_validate(_normalize(entry)) for entry in raw])

    def for_tasks(self, tasks: list[str] | None) -> list[ModelsResponse]:
        if not tasks:
            return list(self.entries)
        unknown = sorted(set(tasks) - set(TASK_NAMES))
        if unknown:
            raise UnsupportedError(
                f"unknown task(s) {', '.join(unknown)}; valid tasks: {', '.join(TASK_NAMES)}", field="tasks"
            )
        wanted = set(tasks)
        return [entry for entry in self.entries if wanted & {name for task in entry.tasks for name in task}]


def _normalize(entry: dict[str, Any]) -> dict[str, Any]:
    """YAML may write a task without parameters as a bare name; the API always has a dict."""
    tasks: list[dict[str, dict[str, Any]]] = []
    for task in entry.get("tasks", []):
        if isinstance(task, str):
            tasks.append({task: {}})
        else:
            tasks.append({name: params or {} for name, params in task.items()})
    return {**entry, "tasks": tasks}
