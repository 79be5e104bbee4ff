"""The inference run's configuration: one JSON document, validated with errors that name the field.

It travels through object storage (never on a command line) and never holds a secret: the
API key is handed to ``run_inference`` separately, and ``api_key_secret`` only *names* it.
Unknown fields are rejected everywhere, so that a typo (``temprature``) is an error rather
than a silently ignored setting.
"""

from __future__ import annotations

import contextlib
import string
from typing import Any, Self

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializeAsAny,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from assay.errors import UnsupportedError
from assay.inference.pricing import ModelPrice
from assay.inference.providers.base import Provider, ProviderOptions
from assay.inference.registry import provider_class, provider_target, require_installed
from assay.tasks import SummarizationTask, TaskDefinition


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class GenerationParams(_Strict):
    """Sampling settings; each provider accepts the subset it can honour (checked at load).

    ``max_tokens`` is accepted as another name of ``max_new_tokens`` (the OpenAI spelling).
    ``extra`` goes verbatim into the request body (HTTP) or ``generate()`` (hf), for
    server-specific settings this model does not know.
    """

    max_new_tokens: int = Field(256, ge=1, validation_alias=AliasChoices("max_new_tokens", "max_tokens"))
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    top_k: int | None = Field(None, ge=1)
    seed: int | None = None
    stop: list[str] | None = None
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    repetition_penalty: float | None = Field(None, gt=0.0)
    num_beams: int | None = Field(None, ge=1)
    min_length: int | None = Field(None, ge=0)
    no_repeat_ngram_size: int | None = Field(None, ge=0)
    length_penalty: float | None = None
    early_stopping: bool | None = None
    extra: dict[str, JsonValue] = Field(default_factory=dict)

    def explicit(self) -> dict[str, Any]:
        """The settings that differ from "not set", as a provider maps them (and the cache keys them)."""
        return self.model_dump(exclude_none=True, exclude_defaults=False, exclude={"extra"}) | (
            {"extra": self.extra} if self.extra else {}
        )


def _template_fields(template: str) -> list[str]:
    """Placeholder names of a ``str.format`` template; only plain names are allowed.

    Attribute and index access (``{example.__class__}``) and format specs are refused: the
    template is user input and must not reach into Python objects.
    """
    fields = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must be a plain column name such as {{example}}")
        fields.append(name)
    return fields


class ModelChoice(_Strict):
    """Which model, called how: the part of a run the API resolves and checks when a job or
    workflow is created, so that a misspelled provider or a bad option is a 422 then.

    ``options`` are validated by the provider's own ``Options`` model; ``provider_target``
    records the provider's ``module:Class`` (filled from the registry when absent), so that the
    worker imports the class the API resolved even if only the API registered it.
    """

    provider_target: str | None = Field(None, description="module:Class of the provider; set on resolution")
    provider: str = Field(description="hf, openai, openai-compatible, vllm, ollama, mistral, mock...")
    model: str = Field(min_length=1, description="model name at the endpoint, or a local path / package:NAME")
    base_url: str | None = None
    api_key_secret: str | None = Field(
        None, description="name of the secret holding the API key (not the key)"
    )
    generation: GenerationParams = Field(default_factory=GenerationParams)
    options: SerializeAsAny[ProviderOptions] = Field(
        default_factory=ProviderOptions, validate_default=True, description="the provider's own options"
    )

    @model_validator(mode="before")
    @classmethod
    def _record_target(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and not data.get("provider_target")
            and isinstance(data.get("provider"), str)
        ):
            with contextlib.suppress(UnsupportedError):  # an unknown name is reported on its field
                data = {**data, "provider_target": provider_target(data["provider"])}
        return data

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str, info: ValidationInfo) -> str:
        try:
            provider_class(value, info.data.get("provider_target"))
        except UnsupportedError as exc:
            raise ValueError(exc.message) from None  # pydantic reports ValueErrors with the field's path
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _provider_options(cls, value: Any, info: ValidationInfo) -> ProviderOptions:
        if "provider" not in info.data:  # the provider's own error says why
            return ProviderOptions()
        options = provider_class(info.data["provider"], info.data.get("provider_target")).Options
        if isinstance(value, options):
            return value
        return options.model_validate(value.model_dump() if isinstance(value, BaseModel) else value)

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _fits_provider(self) -> Self:
        provider = self.provider_class
        if provider.needs_base_url(self.provider) and self.base_url is None:
            raise _field_error(
                "base_url",
                f"base_url is required for provider {self.provider!r}: "
                "it needs the base_url of the server to call",
            )
        unsupported = sorted(set(self.generation.explicit()) - provider.params)
        if unsupported:
            raise _field_error(
                f"generation.{unsupported[0]}",
                f"generation.{unsupported[0]} is not supported by provider {self.provider!r} "
                f"(supported: {', '.join(sorted(provider.params))}; "
                "server-specific settings go in generation.extra)",
            )
        return self

    @property
    def provider_class(self) -> type[Provider]:
        return provider_class(self.provider, self.provider_target)

    @property
    def resolved_base_url(self) -> str | None:
        return self.base_url or self.provider_class.default_base_url(self.provider)

    def cache_identity(self) -> dict[str, Any]:
        """Everything besides the prompt that decides a response: the cache's namespace.

        Only settings that change what the model answers are in it (the provider adds its
        own), not concurrency, retries or batch size, so that tuning throughput keeps the cache.
        """
        provider = self.provider_class
        return {
            "family": provider.family,
            "model": self.model,
            "base_url": self.resolved_base_url,
            "generation": self.generation.explicit(),
            **provider.cache_identity(self),
        }

    def check_usable(self) -> None:
        """Refuse (naming the field) a choice this deployment cannot run: the provider's
        dependencies are installed and its own checks pass. Called when a job is created."""
        provider = self.provider_class
        require_installed(self.provider, provider)
        provider.check(self)


def _field_error(location: str, message: str) -> ValidationError:
    """A validation error located at ``location`` (dotted), raised from a model validator."""
    return ValidationError.from_exception_data(
        "InferenceConfig",
        [
            {
                "type": "value_error",
                "loc": tuple(location.split(".")),
                "input": None,
                "ctx": {"error": ValueError(message)},
            }
        ],
    )


class InferenceConfig(ModelChoice):
    """One model run over one dataset. Object keys are relative to the object store's root."""

    dataset_key: str = Field(min_length=1, description="canonical Parquet of the input dataset")
    predictions_key: str = Field(min_length=1, description="where the predictions Parquet is written")
    checkpoint_prefix: str = Field(min_length=1, description="resume journal when cache_prefix is unset")
    summary_key: str | None = Field(None, description="also write the summary as JSON here")
    cache_prefix: str | None = Field(None, description="shared response cache (e.g. per project); None: off")

    task: TaskDefinition = Field(default_factory=SummarizationTask)
    system_prompt: str | None = Field(None, description="replaces the task's default system prompt, verbatim")
    prompt_template: str | None = Field(None, description="user message; {example} and other column names")
    max_samples: int | None = Field(None, description="first N examples; None or -1: all")
    annotate: bool = Field(False, description="write the predictions as ground_truth")

    checkpoint_every: int = Field(100, ge=1, description="persist answers every N examples...")
    checkpoint_interval_s: float = Field(30.0, gt=0, description="...or every this many seconds")
    stop_grace_s: float = Field(2.5, ge=0, description="on SIGTERM, wait this long for requests in flight")
    max_error_rate: float = Field(0.5, ge=0.0, le=1.0, description="a run with more failed examples fails")
    fail_fast_after: int = Field(20, ge=0, description="abort after N consecutive failures; 0: never")
    price: ModelPrice | None = Field(None, description="overrides the built-in price table")

    @field_validator("max_samples")
    @classmethod
    def _samples(cls, value: int | None) -> int | None:
        if value == -1:
            return None
        if value is not None and value < 1:
            raise ValueError("must be a positive number of examples, or -1 for all")
        return value

    @field_validator("checkpoint_prefix", "cache_prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        return value if value is None or value.endswith("/") else value + "/"

    @field_validator("prompt_template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            _template_fields(value)
        return value

    @property
    def template_fields(self) -> list[str]:
        return _template_fields(self.prompt_template) if self.prompt_template else []
