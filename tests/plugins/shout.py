"""A provider from outside Assay, registered only through the public API: one module, one
``register_provider`` call. It answers every prompt in capitals, with its own options
(``suffix``, ``repeat``), its own cache identity and no network, so that a test can check that
a plug-in's options are validated at the API and reach the worker that runs the job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from assay.inference import Generation, ModelChoice, Provider, ProviderOptions, register_provider
from assay.inference.config import InferenceConfig
from assay.inference.prompts import Prompt

NAME = "shout"


class ShoutOptions(ProviderOptions):
    suffix: str = Field("!", max_length=8)
    repeat: int = Field(1, ge=1, le=3)


class ShoutProvider(Provider):
    Options = ShoutOptions
    family = "shout"

    @classmethod
    def cache_identity(cls, config: ModelChoice) -> dict[str, Any]:
        return config.options.model_dump()

    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        super().__init__(config, api_key)
        assert isinstance(config.options, ShoutOptions)
        self.options = config.options

    async def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        return [
            Generation(text=" ".join([prompt.user.upper() + self.options.suffix] * self.options.repeat))
            for prompt in prompts
        ]


def register() -> None:
    register_provider(NAME, f"{__name__}:ShoutProvider")
