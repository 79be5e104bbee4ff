"""Kind ``model``: an app service whose command Assay writes (``assay.jobs.model_server``), so
that it has the lifecycle, logs, restarts, sandbox and gateway of every service.

Its provider settings are checked here, when it is created, by the provider itself (the same
``resolve_model`` as inference jobs): a misspelled option or an impossible generation setting is
a 422 naming the field, and a model from a package this deployment lacks is refused at once
rather than as a crashing service.
"""

from __future__ import annotations

import json
from typing import Any

from assay.errors import InvalidInputError
from assay.inference.resolve import resolve_model
from assay.schemas.services import ModelServiceCreate

HEALTH_PATH = "/v1/models"
FIELD_NAMES = {"options": "options", "generation": "generation"}


def model_config(request: ModelServiceCreate) -> dict[str, Any]:
    """What the record keeps: the request's settings as the provider validated them (options
    and generation as they were given, the rest left to the provider's defaults)."""
    choice = resolve_model(
        provider=request.provider,
        model=request.model,
        generation=request.generation,
        options=request.options,
        names=FIELD_NAMES,
    )
    if getattr(choice.options, "kind", None) == "seq2seq":
        raise InvalidInputError("a model service serves causal language models", field="options.kind")
    # resolve_model leaves out what the provider cannot honour (as jobs want); a service says so.
    unused = sorted(set(request.generation) - choice.provider_class.params)
    if unused:
        raise InvalidInputError(
            f"generation.{unused[0]} is not a setting provider {request.provider!r} honours "
            f"(it honours {', '.join(sorted(choice.provider_class.params))})",
            field=f"generation.{unused[0]}",
        )
    config = request.model_dump(mode="json", exclude={"name", "kind"})
    return {**config, "health_path": HEALTH_PATH}


def model_command(config: dict[str, Any], python: str) -> list[str]:
    """The service's command: the model server on the node's interpreter."""
    return [
        python,
        "-m",
        "assay.jobs.model_server",
        "--model",
        str(config["model"]),
        "--engine",
        str(config.get("engine", "auto")),
        "--options",
        json.dumps(config.get("options", {})),
        "--generation",
        json.dumps(config.get("generation", {})),
    ]
