"""The ``assay-service`` provider on its own: the OpenAI-compatible client, aimed at the address
the server wrote into the job's document, that never sends a key (a job naming a secret
included) and caches per service and address."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest

from assay.inference.config import InferenceConfig
from assay.inference.prompts import Prompt
from assay.inference.providers.service import ServiceProvider
from assay.security.destinations import destination
from tests.openai_server import OpenAIServer


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    running = OpenAIServer(latency_s=0.0).start()
    yield running
    running.stop()


def dispatched(base_url: str) -> InferenceConfig:
    """A job's config as the worker reads it once the reconciler bound the service's address."""
    return InferenceConfig.model_validate(
        {
            "provider": "assay-service",
            "model": "served",
            "base_url": base_url,
            "api_key_secret": "provider-key",
            "options": {"service": "llm"},
            "dataset_key": "d",
            "predictions_key": "p",
            "checkpoint_prefix": "c/",
        }
    )


def test_a_service_gets_no_key_and_answers_are_cached_per_service_and_address(server: OpenAIServer) -> None:
    config = dispatched(server.base_url)
    server.control()

    async def ask() -> str:
        async with ServiceProvider(config, api_key="sk-never-sent") as provider:
            (answer,) = await provider.generate([Prompt(system=None, user="hello")])
        return answer.text

    assert anyio.run(ask) == "echo: hello"
    assert server.stats()["authorization"] == {"": 1}
    assert destination("assay-service", server.base_url) is None, "no secret is ever checked for it"
    identity = config.cache_identity()
    assert identity["service"] == "llm" and identity["base_url"] == server.base_url
