"""The interface every provider implements: how it describes itself, and how it generates.

A provider module is self-describing, in the shape of inspect_ai's ``ModelAPI``: its class
owns its options model (``Options``, a pydantic model that forbids unknown fields), the
generation settings it honours (``params``), what it must have installed (``requires``), the
checks a request must pass before a job is created (``check``), how a Lumigator-shaped request
maps onto its options (``request_options``), what besides the prompt decides an answer
(``cache_identity``) and where its API key may go (``key_destination``). The registry
(``assay.inference.registry``) names providers and imports their modules on first use, so a
provider module must import its heavy dependencies (torch, a vendor SDK) only when it starts.

A provider answers a *batch* of prompts per call: the HTTP provider takes batches of one and
many calls in flight (``concurrency``), a local model takes large batches one call at a time.
The runner only sees ``batch_size`` and ``concurrency`` and never which kind it drives.

This module imports neither the config nor the prompts at run time (only for type checking),
so that the registry can use it and the config can use the registry without an import cycle.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from assay.inference.config import InferenceConfig, ModelChoice
    from assay.inference.prompts import Prompt

COMMON_PARAMS = frozenset({"max_new_tokens", "temperature", "top_p", "seed", "stop", "extra"})


class ProviderOptions(BaseModel):
    """Base of every provider's options: unknown fields are errors, never ignored settings."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class JobRequest:
    """What a Lumigator-shaped job request says that a provider may turn into its options."""

    provider: str
    model: str
    max_concurrency: int
    batch_size: int


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
    """One registered provider. ``family`` groups names that talk the same protocol (every
    OpenAI-compatible name), so that the response cache is shared between, say, ``vllm`` and
    ``openai-compatible`` calls to the same ``base_url``."""

    Options: ClassVar[type[ProviderOptions]] = ProviderOptions
    family: ClassVar[str]
    params: ClassVar[frozenset[str]] = COMMON_PARAMS
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""

    batch_size: int = 1
    concurrency: int = 1

    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        self.config = config

    # --- self-description: class methods, called without an instance (at the API too) --------

    @classmethod
    def default_base_url(cls, name: str) -> str | None:
        """The endpoint used when the request names none (a hosted provider's own)."""
        return None

    @classmethod
    def needs_base_url(cls, name: str) -> bool:
        return False

    @classmethod
    def missing(cls) -> list[str]:
        """The modules of ``requires`` this machine lacks (found, not imported)."""
        return [module for module in cls.requires if importlib.util.find_spec(module) is None]

    @classmethod  # noqa: B027 - most providers need no check
    def check(cls, config: ModelChoice) -> None:
        """Refuse (``InvalidInputError`` naming the config's field) a config this deployment
        cannot run (a model that is not installed here); called once, when the job or workflow
        is created. What the config alone decides (a missing ``base_url``, a generation setting
        the provider cannot honour) is checked when it is validated."""

    @classmethod
    def request_options(cls, request: JobRequest) -> dict[str, Any]:
        """This provider's options as a Lumigator job request implies them (its concurrency,
        its batch size); options the request gives explicitly override these."""
        return {}

    @classmethod
    def cache_identity(cls, config: ModelChoice) -> dict[str, Any]:
        """What besides the model, base URL, generation settings and prompt decides an answer:
        options that change what the model says (not concurrency, retries or batch size, so
        that tuning throughput keeps the cache)."""
        return {}

    @classmethod
    def key_destination(cls, name: str, base_url: str | None) -> str | None:
        """The URL a run sends its API key to; ``None`` when the key goes nowhere."""
        return base_url or cls.default_base_url(name)

    @classmethod
    def home_url(cls, name: str) -> str | None:
        """The provider's own service, where a secret that names no hosts may be sent."""
        return cls.default_base_url(name)

    # --- a run ----------------------------------------------------------------------------------

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
