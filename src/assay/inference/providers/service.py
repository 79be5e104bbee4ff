"""``assay-service``: a project's own service as the model under evaluation.

The service speaks the OpenAI-compatible protocol, so this is the ``openai`` provider's client
with two differences that make it safe to aim at a private address of the cluster:

- the address is never the caller's word: a request that gives ``base_url`` is refused, and
  the server fills it in when it hands the job to the engine (``services/service_endpoints``),
  from the running generation of the named service of the job's own project. A service's
  address changes with every start, so it is never written when the job is created;
- no key is ever sent: the service is reached inside the cluster, behind Assay's own access
  control, so the job's ``Authorization`` header stays empty whatever secret it names (a
  workflow's secret goes to its judge only).

Answers are cached per address as for any OpenAI-compatible server, with the service's name
besides: a new generation (a restart, which may run new code) starts a fresh cache.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from assay.errors import InvalidInputError
from assay.inference.config import InferenceConfig, ModelChoice
from assay.inference.providers.openai import HTTPOptions, OpenAICompatibleProvider
from assay.schemas.services import SERVICE_NAME


class ServiceOptions(HTTPOptions):
    """The OpenAI-compatible client's options, plus which service of the project to call."""

    service: str = Field(pattern=SERVICE_NAME, description="name of a service of the job's project")


class ServiceProvider(OpenAICompatibleProvider):
    Options: ClassVar[type[HTTPOptions]] = ServiceOptions

    @classmethod
    def needs_base_url(cls, name: str) -> bool:
        return False  # filled in by the server when the job is dispatched

    @classmethod
    def check(cls, config: ModelChoice) -> None:
        if config.base_url is not None:
            raise InvalidInputError(
                f"provider {config.provider!r} calls the service named in provider_options.service "
                "at the address Assay finds when the job starts: leave base_url out",
                field="base_url",
            )

    @classmethod
    def cache_identity(cls, config: ModelChoice) -> dict[str, Any]:
        assert isinstance(config.options, ServiceOptions)
        return super().cache_identity(config) | {"service": config.options.service}

    @classmethod
    def key_destination(cls, name: str, base_url: str | None) -> str | None:
        return None

    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        super().__init__(config, None)
