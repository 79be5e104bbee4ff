"""From a request's words to a checked ``ModelChoice``: done once, when a job or workflow is
created, so that a misspelled provider, a bad option or a provider this deployment cannot run
is a 422 naming the request's field, and the worker receives the resolved choice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from assay.errors import InvalidInputError, UnsupportedError
from assay.inference.config import ModelChoice
from assay.inference.providers.base import JobRequest
from assay.inference.registry import provider_class, provider_target

# The request's names for the config's fields (Lumigator's spelling).
REQUEST_FIELDS = {
    "options": "provider_options",
    "generation": "generation_config",
    "api_key_secret": "secret_key_name",
}


def _request_field(location: tuple[int | str, ...], prefix: str, names: Mapping[str, str]) -> str:
    head, *rest = [str(part) for part in location if part != ""] or ["provider"]
    return prefix + ".".join([names.get(head, head), *rest])


def resolve_model(
    *,
    provider: str,
    model: str,
    base_url: str | None = None,
    secret_key_name: str | None = None,
    generation: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    max_concurrency: int = 16,
    batch_size: int = 1,
    prefix: str = "",
    names: Mapping[str, str] = REQUEST_FIELDS,
) -> ModelChoice:
    """The checked choice for a request; ``prefix`` leads the field names (``job_config.``)
    and ``names`` gives the request's name of a config field, so an error names what the
    caller sent.

    ``generation`` holds the settings the caller set; those the provider cannot honour are
    left out (Lumigator sends ``frequency_penalty`` to every provider). ``options`` override
    what the provider derives from the request (its concurrency, its batch size).
    """
    try:
        target = provider_target(provider)
        provider_type = provider_class(provider, target)
    except UnsupportedError as exc:
        raise InvalidInputError(exc.message, field=f"{prefix}provider") from None
    implied = provider_type.request_options(JobRequest(provider, model, max_concurrency, batch_size))
    values = {
        "provider": provider,
        "provider_target": target,
        "model": model,
        "base_url": base_url,
        "api_key_secret": secret_key_name,
        "generation": {
            key: value for key, value in (generation or {}).items() if key in provider_type.params
        },
        "options": implied | dict(options or {}),
    }
    try:
        choice = ModelChoice.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        cause = (error.get("ctx") or {}).get("error")
        message = str(cause) if isinstance(cause, Exception) else error["msg"]
        raise InvalidInputError(message, field=_request_field(error["loc"], prefix, names)) from None
    try:
        choice.check_usable()
    except InvalidInputError as exc:
        raise InvalidInputError(
            exc.message, field=_request_field(tuple((exc.field or "").split(".")), prefix, names)
        ) from None
    except UnsupportedError as exc:
        raise InvalidInputError(exc.message, field=f"{prefix}provider") from None
    return choice
