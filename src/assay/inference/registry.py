"""Providers registered by name, each one ``module:Class`` path, imported on first use.

Registering a provider is one call, ``register_provider(name, "package.module:Class")``; the
class describes itself (``providers.base.Provider``: options, checks, cache identity, client).
Modules are imported only when a config names them, and a provider module imports its heavy
dependencies only when it starts, so ``import assay`` and validating any config never import
torch or a vendor SDK. A resolved config records the path (``provider_target``), so that a
worker which never ran a plug-in's registration still imports the same class.

Names can also come from installed packages, through the ``assay.providers`` entry-point
group (``name = "package.module:Class"``), read once, on the first lookup of a name not
registered here.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from assay.errors import UnsupportedError
from assay.inference.providers.base import Provider

ENTRY_POINT_GROUP = "assay.providers"
_HTTP = "assay.inference.providers.openai:OpenAICompatibleProvider"
_REGISTRY: dict[str, str] = {
    "openai": _HTTP,
    "mistral": _HTTP,
    "deepseek": _HTTP,
    "ollama": _HTTP,
    "llamafile": _HTTP,
    "openai-compatible": _HTTP,
    "vllm": _HTTP,
    "llama.cpp": _HTTP,
    "assay-service": "assay.inference.providers.service:ServiceProvider",
    "hf": "assay.inference.providers.hf:HuggingFaceProvider",
    "mock": "assay.inference.providers.mock:MockProvider",
}


class ProviderUnavailableError(UnsupportedError):
    """The provider exists but its module or optional dependencies are not installed here."""


def register_provider(name: str, target: str) -> None:
    """Add (or replace) a provider: ``target`` is the ``module:Class`` of its ``Provider``
    subclass, imported on first use, not here."""
    module, _, attribute = target.partition(":")
    if not module or not attribute:
        raise ValueError(f"provider target {target!r} must read 'package.module:Class'")
    _REGISTRY[name] = target


@cache
def _installed() -> dict[str, str]:
    """Providers that installed packages declare as entry points."""
    return {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)}


def provider_names() -> list[str]:
    return sorted(_installed().keys() | _REGISTRY.keys())


def provider_target(name: str) -> str:
    """The ``module:Class`` registered as ``name``; an error listing the valid names."""
    target = _REGISTRY.get(name) or _installed().get(name)
    if target is None:
        raise UnsupportedError(
            f"unknown provider {name!r}; valid providers: {', '.join(provider_names())}", field="provider"
        )
    return target


def provider_class(name: str, target: str | None = None) -> type[Provider]:
    """The class of provider ``name`` (at ``target`` when a resolved config names it), imported now."""
    target = target or provider_target(name)
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProviderUnavailableError(
            f"provider {name!r} cannot be used here: {exc}", field="provider"
        ) from exc
    provider = getattr(module, class_name, None)
    if not (isinstance(provider, type) and issubclass(provider, Provider)):
        raise UnsupportedError(f"provider {name!r}: {target} is not a Provider class", field="provider")
    return provider


def require_installed(name: str, provider: type[Provider]) -> None:
    """Fail, saying what to install, when the provider's dependencies are missing here."""
    if missing := provider.missing():
        raise ProviderUnavailableError(
            f"provider {name!r} cannot run here: {', '.join(missing)} is not installed. "
            f"{provider.install_hint}".strip(),
            field="provider",
        )
