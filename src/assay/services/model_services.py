"""Kind ``model``: an app service whose command Assay writes (``assay.jobs.model_server``), so
that it has the lifecycle, logs, restarts, sandbox and gateway of every service.

Its provider settings are checked here, when it is created, by the provider itself (the same
``resolve_model`` as inference jobs): a misspelled option or an impossible generation setting is
a 422 naming the field, and a model from a package this deployment lacks is refused at once
rather than as a crashing service.

A model ``file:FOLDER/NAME[@VERSION]`` is one of the project's versioned files, pinned here to
one version (the newest when none is named): a later upload of the name does not change what a
running service serves, nor what its restarts load.
"""

from __future__ import annotations

import json
import re
from typing import Any

from assay.enums import FileFolder
from assay.errors import InvalidInputError
from assay.inference.resolve import resolve_model
from assay.repositories.files import FileRepository
from assay.schemas.services import ModelServiceCreate

HEALTH_PATH = "/v1/models"
FIELD_NAMES = {"options": "options", "generation": "generation"}
FILE_SCHEME = "file:"
# A name ending in ``@digits`` is read as a version: such a name needs its version written out.
FILE_MODEL = re.compile(r"file:(?P<folder>[^/]+)/(?P<name>[^/]+?)(?:@(?P<version>[1-9][0-9]{0,8}))?")
GGUF = ".gguf"
ARCHIVES = (".tar", ".tar.gz", ".tgz", ".zip")


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


def pin_model_file(
    files: FileRepository, project_id: str, request: ModelServiceCreate
) -> dict[str, Any] | None:
    """The project file version that a ``file:`` model names, as the service's config keeps it
    (``model_file``); ``None`` for another model. 422 naming ``model`` when there is no such
    file or version, or when it is neither a GGUF file nor an archive of a model folder."""
    if not request.model.startswith(FILE_SCHEME):
        return None
    found = FILE_MODEL.fullmatch(request.model)
    if found is None or found["folder"] not in tuple(FileFolder):
        raise InvalidInputError(
            f"a model from the project's files is file:FOLDER/NAME or file:FOLDER/NAME@VERSION, "
            f"FOLDER one of {', '.join(FileFolder)}",
            field="model",
        )
    folder, name = found["folder"], found["name"]
    if not name.lower().endswith((GGUF, *ARCHIVES)):
        raise InvalidInputError(
            f"model file {name!r} is neither a {GGUF} file nor an archive ({', '.join(ARCHIVES)}) "
            "of a Hugging Face model folder",
            field="model",
        )
    gguf_file = request.options.get("gguf_file")
    if name.lower().endswith(GGUF) and gguf_file not in (None, name):
        raise InvalidInputError(f"the model is the GGUF file {name!r}", field="options.gguf_file")
    version = int(found["version"]) if found["version"] else None
    record = files.get(project_id, folder, name, version)
    if record is None:
        which = f"version {version} of " if version is not None else ""
        raise InvalidInputError(f"this project has no {which}file {folder}/{name}", field="model")
    return {
        "file_id": str(record.id),
        "folder": folder,
        "name": name,
        "version": record.version,
        "size": record.size,
        "sha256": record.sha256,
    }


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
