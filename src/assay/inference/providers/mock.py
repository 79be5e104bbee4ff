"""A deterministic provider for tests and demos that need no model: the same prompt always gets
the same reply (``mock.reply`` with ``{prompt}`` and ``{system}`` filled in), tokens are
counted in words, and prompts containing ``mock.fail_when`` fail, so that every runner path
(cache, checkpoint, errors, think-splitting) can be exercised through the real interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pydantic import Field

from assay.inference.config import InferenceConfig, ModelChoice
from assay.inference.prompts import Prompt
from assay.inference.providers.base import Generation, JobRequest, Provider, ProviderOptions


class MockOptions(ProviderOptions):
    """A deterministic stand-in model for tests: replies ``reply`` with ``{prompt}`` replaced."""

    reply: str = "{prompt}"
    latency_s: float = Field(0.0, ge=0)
    fail_when: str | None = Field(None, description="prompts containing this text fail")
    concurrency: int = Field(8, ge=1)


class MockProvider(Provider):
    Options = MockOptions
    family = "mock"

    @classmethod
    def request_options(cls, request: JobRequest) -> dict[str, Any]:
        """A job's ``model`` is the reply template (``{prompt}`` echoes)."""
        return {"reply": request.model}

    @classmethod
    def cache_identity(cls, config: ModelChoice) -> dict[str, Any]:
        assert isinstance(config.options, MockOptions)
        return {"reply": config.options.reply}

    @classmethod
    def key_destination(cls, name: str, base_url: str | None) -> str | None:
        return None

    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        super().__init__(config, api_key)
        assert isinstance(config.options, MockOptions), "validated by InferenceConfig"
        self.options = config.options
        self.concurrency = self.options.concurrency
        self.prompts_seen = 0

    def stats(self) -> dict[str, int]:
        return {"requests": self.prompts_seen}

    async def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        self.prompts_seen += len(prompts)
        if self.options.latency_s:
            await asyncio.sleep(self.options.latency_s)
        return [self._answer(prompt) for prompt in prompts]

    def _answer(self, prompt: Prompt) -> Generation:
        latency_ms = self.options.latency_s * 1000
        if self.options.fail_when is not None and self.options.fail_when in prompt.user:
            return Generation(
                error=f"mock failure: prompt contains {self.options.fail_when!r}", latency_ms=latency_ms
            )
        text = self.options.reply.replace("{prompt}", prompt.user).replace("{system}", prompt.system or "")
        prompt_words = len(prompt.user.split()) + len((prompt.system or "").split())
        return Generation(
            text=text, prompt_tokens=prompt_words, completion_tokens=len(text.split()), latency_ms=latency_ms
        )
