"""The inference run's configuration: one JSON document, validated with errors that name the field.

It travels through object storage (never on a command line) and never holds a secret: the
API key is handed to ``run_inference`` separately, and ``api_key_secret`` only *names* it.
Unknown fields are rejected everywhere, so that a typo (``temprature``) is an error rather
than a silently ignored setting.
"""

from __future__ import annotations

import string
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from assay.errors import UnsupportedError
from assay.inference.pricing import ModelPrice
from assay.inference.registry import provider_spec


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SummarizationTask(_Strict):
    task: Literal["summarization"] = "summarization"


class TranslationTask(_Strict):
    task: Literal["translation"] = "translation"
    source_language: str = Field(min_length=1, description="ISO 639-1 code (en) or name (English)")
    target_language: str = Field(min_length=1)


class QuestionAnsweringTask(_Strict):
    task: Literal["question-answering"] = "question-answering"


class TextGenerationTask(_Strict):
    task: Literal["text-generation"] = "text-generation"


TaskDefinition = Annotated[
    SummarizationTask | TranslationTask | QuestionAnsweringTask | TextGenerationTask,
    Field(discriminator="task"),
]


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


class HTTPOptions(_Strict):
    """OpenAI-compatible endpoints: concurrency bound, timeouts and the retry policy."""

    concurrency: int = Field(32, ge=1, le=1024, description="most requests in flight (AIMD lowers it on 429)")
    timeout_s: float = Field(120.0, gt=0, description="whole-request timeout")
    connect_timeout_s: float = Field(10.0, gt=0)
    max_retries: int = Field(6, ge=0, le=20)
    backoff_base_s: float = Field(0.5, gt=0)
    backoff_max_s: float = Field(30.0, gt=0)
    max_retry_after_s: float = Field(120.0, ge=0, description="longest retry-after wait honoured")
    endpoint: Literal["chat", "completions"] = "chat"


class HFOptions(_Strict):
    """Local transformers models."""

    batch_size: int = Field(8, ge=1, le=1024)
    device: str | None = Field(None, description="cuda, cuda:1, mps, cpu; default: CUDA if present, else CPU")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    kind: Literal["auto", "causal", "seq2seq"] = "auto"
    gguf_file: str | None = Field(
        None, description="GGUF file inside the model folder; found alone if unique"
    )
    trust_remote_code: bool = False


class MockOptions(_Strict):
    """A deterministic stand-in model for tests: replies ``reply`` with ``{prompt}`` replaced."""

    reply: str = "{prompt}"
    latency_s: float = Field(0.0, ge=0)
    fail_when: str | None = Field(None, description="prompts containing this text fail")
    concurrency: int = Field(8, ge=1)


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


class InferenceConfig(_Strict):
    """One model run over one dataset. Object keys are relative to the object store's root."""

    provider: str = Field(description="hf, openai, openai-compatible, vllm, ollama, mistral, mock...")
    model: str = Field(min_length=1, description="model name at the endpoint, or a local path / package:NAME")
    base_url: str | None = None
    api_key_secret: str | None = Field(
        None, description="name of the secret holding the API key (not the key)"
    )

    dataset_key: str = Field(min_length=1, description="canonical Parquet of the input dataset")
    predictions_key: str = Field(min_length=1, description="where the predictions Parquet is written")
    checkpoint_prefix: str = Field(min_length=1, description="resume journal when cache_prefix is unset")
    summary_key: str | None = Field(None, description="also write the summary as JSON here")
    cache_prefix: str | None = Field(None, description="shared response cache (e.g. per project); None: off")

    task: TaskDefinition = Field(default_factory=SummarizationTask)
    system_prompt: str | None = Field(None, description="replaces the task's default system prompt, verbatim")
    prompt_template: str | None = Field(None, description="user message; {example} and other column names")
    generation: GenerationParams = Field(default_factory=GenerationParams)
    max_samples: int | None = Field(None, description="first N examples; None or -1: all")
    annotate: bool = Field(False, description="write the predictions as ground_truth")

    checkpoint_every: int = Field(100, ge=1, description="persist answers every N examples...")
    checkpoint_interval_s: float = Field(30.0, gt=0, description="...or every this many seconds")
    stop_grace_s: float = Field(2.5, ge=0, description="on SIGTERM, wait this long for requests in flight")
    max_error_rate: float = Field(0.5, ge=0.0, le=1.0, description="a run with more failed examples fails")
    fail_fast_after: int = Field(20, ge=0, description="abort after N consecutive failures; 0: never")
    price: ModelPrice | None = Field(None, description="overrides the built-in price table")

    http: HTTPOptions = Field(default_factory=HTTPOptions)
    hf: HFOptions = Field(default_factory=HFOptions)
    mock: MockOptions = Field(default_factory=MockOptions)

    @field_validator("provider")
    @classmethod
    def _known_provider(cls, value: str) -> str:
        try:
            provider_spec(value)
        except UnsupportedError as exc:
            raise ValueError(exc.message) from None  # pydantic reports ValueErrors with the field's path
        return value

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

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _fits_provider(self) -> InferenceConfig:
        spec = provider_spec(self.provider)
        if spec.needs_base_url and self.base_url is None:
            raise ValueError(f"base_url is required for provider {self.provider!r}")
        unsupported = sorted(set(self.generation.explicit()) - spec.params)
        if unsupported:
            raise ValueError(
                f"generation.{unsupported[0]} is not supported by provider {self.provider!r} "
                f"(supported: {', '.join(sorted(spec.params))}; "
                "server-specific settings go in generation.extra)"
            )
        return self

    @property
    def resolved_base_url(self) -> str | None:
        return self.base_url or provider_spec(self.provider).default_base_url

    @property
    def template_fields(self) -> list[str]:
        return _template_fields(self.prompt_template) if self.prompt_template else []

    def cache_identity(self) -> dict[str, Any]:
        """Everything besides the prompt that decides a response: the cache's namespace.

        Only settings that change what the model answers are in it (not concurrency, retries
        or batch size), so that tuning throughput keeps the cache.
        """
        spec = provider_spec(self.provider)
        identity: dict[str, Any] = {
            "family": spec.family,
            "model": self.model,
            "base_url": self.resolved_base_url,
            "generation": self.generation.explicit(),
        }
        if spec.family == "openai-compatible":
            identity["endpoint"] = self.http.endpoint
        elif spec.family == "hf":
            identity.update(self.hf.model_dump(include={"gguf_file", "kind", "dtype"}))
        elif spec.family == "mock":
            identity["reply"] = self.mock.reply
        return identity
