"""The interface every provider implements, and what one generation returns.

A provider answers a *batch* of prompts per call: the HTTP provider takes batches of one and
many calls in flight (``concurrency``), a local model takes large batches one call at a time.
The runner only sees ``batch_size`` and ``concurrency`` and never which kind it drives.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from assay.inference.config import InferenceConfig
from assay.inference.prompts import Prompt
from assay.inference.registry import ProviderUnavailableError, provider_spec


@dataclass(slots=True)
class Generation:
    """One answer (raw text, ``<think>`` blocks included) or the reason there is none."""

    text: str = ""
    reasoning: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_ms: float = 0.0
    error: str | None = None


class ProviderError(Exception):
    """Every further request would fail too (bad credentials, unknown model): stop the run.

    Messages never contain the API key.
    """


class Provider(ABC):
    batch_size: int = 1
    concurrency: int = 1

    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        self.config = config

    async def start(self) -> None:  # noqa: B027 - most providers have nothing to set up
        """Load the model or open connections; called once, before the first ``generate``."""

    @abstractmethod
    async def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        """One ``Generation`` per prompt, in order; per-prompt failures go in ``error``."""

    async def close(self) -> None:  # noqa: B027 - most providers hold nothing
        """Release what ``start`` took."""

    def stats(self) -> dict[str, int]:
        """Counters for the summary (requests sent, retries...)."""
        return {}

    async def __aenter__(self) -> Provider:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.close()


def load_provider(name: str) -> type[Provider]:
    """The class registered as ``name``, imported now: a missing optional dependency
    (torch for ``hf``) fails here, before a run does any work, with what to install."""
    spec = provider_spec(name)
    module_name, _, class_name = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProviderUnavailableError(
            f"provider {name!r} cannot be used here: {exc}. {spec.install_hint}".strip(), field="provider"
        ) from exc
    provider: type[Provider] = getattr(module, class_name)
    return provider
