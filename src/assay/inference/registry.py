"""Providers registered by name and imported only when a run needs them.

The registry holds plain data (an import path and what the provider accepts), so that
``import assay.inference`` and validating a config never import torch or transformers: a
machine without the ``hf`` extra can still run HTTP inference and validate any config. It knows
nothing of the ``Provider`` class either (``providers.base.load_provider`` imports one), so the
config can consult it without an import cycle through the providers.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from assay.errors import InvalidInputError, UnsupportedError

COMMON_PARAMS = frozenset({"max_new_tokens", "temperature", "top_p", "seed", "stop", "extra"})
HTTP_PARAMS = COMMON_PARAMS | {"frequency_penalty", "presence_penalty"}
HF_PARAMS = COMMON_PARAMS | {
    "top_k",
    "num_beams",
    "min_length",
    "no_repeat_ngram_size",
    "length_penalty",
    "early_stopping",
    "repetition_penalty",
}


class ProviderUnavailableError(UnsupportedError):
    """The provider exists but its optional dependencies are not installed here."""


@dataclass(frozen=True)
class ProviderSpec:
    """What the runner and the config validation need to know before importing a provider.

    ``family`` groups aliases that talk the same protocol (every OpenAI-compatible name), so
    that the response cache is shared between, say, ``vllm`` and ``openai-compatible`` calls
    to the same ``base_url``.
    """

    name: str
    target: str
    family: str
    params: frozenset[str]
    default_base_url: str | None = None
    needs_base_url: bool = False
    install_hint: str = ""
    requires: tuple[str, ...] = ()


_REGISTRY: dict[str, ProviderSpec] = {}


def register_provider(spec: ProviderSpec) -> None:
    """Add (or replace) a provider; its module is imported on first use, not here."""
    _REGISTRY[spec.name] = spec


def provider_names() -> list[str]:
    return sorted(_REGISTRY)


def provider_spec(name: str) -> ProviderSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnsupportedError(
            f"unknown provider {name!r}; valid providers: {', '.join(provider_names())}", field="provider"
        ) from None


PACKAGE_MODEL = "package:"


def require_usable(provider: str, model: str, base_url: str | None, prefix: str = "") -> ProviderSpec:
    """The provider, if a job with this model and base URL can run on this deployment: checked
    when the job or workflow is submitted (``prefix`` leads the field names, e.g.
    ``job_config.``), so that a misspelled provider or a missing model package is a 422 now
    rather than a failure on a worker later. Modules are found, not imported."""
    try:
        spec = provider_spec(provider)
    except UnsupportedError as exc:
        raise InvalidInputError(exc.message, field=f"{prefix}provider") from None
    missing = [module for module in spec.requires if importlib.util.find_spec(module) is None]
    if missing:
        raise InvalidInputError(
            f"provider {provider!r} cannot run here: {', '.join(missing)} is not installed. "
            f"{spec.install_hint}".strip(),
            field=f"{prefix}provider",
        )
    if spec.needs_base_url and not base_url:
        raise InvalidInputError(
            f"provider {provider!r} needs the base_url of the server to call", field=f"{prefix}base_url"
        )
    package = model[len(PACKAGE_MODEL) :].partition("/")[0] if model.startswith(PACKAGE_MODEL) else None
    if spec.family == "hf" and package is not None and importlib.util.find_spec(package) is None:
        raise InvalidInputError(
            f"model {model!r}: no installed Python package {package!r} ships it here", field=f"{prefix}model"
        )
    return spec


def _register_builtins() -> None:
    http = "assay.inference.providers.openai:OpenAICompatibleProvider"
    hosted = {
        "openai": "https://api.openai.com/v1",
        "mistral": "https://api.mistral.ai/v1",
        "deepseek": "https://api.deepseek.com/v1",
        "ollama": "http://localhost:11434/v1",
        "llamafile": "http://localhost:8080/v1",
    }
    for name, url in hosted.items():
        register_provider(ProviderSpec(name, http, "openai-compatible", HTTP_PARAMS, default_base_url=url))
    for name in ("openai-compatible", "vllm", "llama.cpp"):
        register_provider(ProviderSpec(name, http, "openai-compatible", HTTP_PARAMS, needs_base_url=True))
    register_provider(
        ProviderSpec(
            "hf",
            "assay.inference.providers.hf:HuggingFaceProvider",
            "hf",
            HF_PARAMS,
            install_hint="Install the 'hf' extra: pip install 'assay[hf]' (torch, transformers, gguf...).",
            requires=("torch", "transformers"),
        )
    )
    register_provider(
        ProviderSpec("mock", "assay.inference.providers.mock:MockProvider", "mock", COMMON_PARAMS)
    )


_register_builtins()
