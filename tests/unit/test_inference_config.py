"""The inference config, prompt building per task, think-splitting and cost: pure functions."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from assay.errors import InvalidInputError
from assay.evaluation.judge import judge_model
from assay.inference import InferenceConfig, ModelPrice
from assay.inference.pricing import price_for
from assay.inference.prompts import PromptBuilder
from assay.inference.reasoning import merge_reasoning, split_reasoning
from assay.inference.resolve import resolve_model

BASE: dict[str, Any] = {
    "provider": "mock",
    "model": "m",
    "dataset_key": "d/data.parquet",
    "predictions_key": "out/predictions.parquet",
    "checkpoint_prefix": "out/checkpoint",
}


def config(**overrides: Any) -> InferenceConfig:
    return InferenceConfig.model_validate(BASE | overrides)


def error_of(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        config(**overrides)
    return str(caught.value)


# --- config validation -------------------------------------------------------------------------


def test_json_round_trip_keeps_every_setting() -> None:
    original = config(
        provider="vllm",
        base_url="http://127.0.0.1:8000/v1/",
        task={"task": "translation", "source_language": "en", "target_language": "German"},
        system_prompt='Say "it\'s {fine}"\nand newlines',
        generation={"max_tokens": 12, "temperature": 0.3, "stop": ["\n"], "extra": {"top_k": 5}},
        price={"input_per_million": 1, "output_per_million": 2},
        max_samples=10,
    )
    restored = InferenceConfig.model_validate_json(original.model_dump_json())
    assert restored == original
    assert restored.base_url == "http://127.0.0.1:8000/v1"
    assert restored.generation.max_new_tokens == 12
    assert restored.checkpoint_prefix == "out/checkpoint/"


def test_unknown_provider_lists_the_valid_ones() -> None:
    message = error_of(provider="gpt")
    assert "unknown provider 'gpt'" in message
    assert "hf" in message and "openai-compatible" in message and "mock" in message


def test_self_hosted_providers_need_a_base_url_and_hosted_ones_have_a_default() -> None:
    assert "base_url is required for provider 'vllm'" in error_of(provider="vllm")
    assert config(provider="mistral").resolved_base_url == "https://api.mistral.ai/v1"
    assert "must start with http" in error_of(provider="openai", base_url="api.openai.com")


def field_refused(**request: Any) -> str | None:
    with pytest.raises(InvalidInputError) as caught:
        resolve_model(**request)
    return caught.value.field


def test_resolution_errors_name_the_request_fields_the_caller_sent() -> None:
    """A job's and a workflow's names (``provider_options``), and Lumigator's ``llm_as_judge``
    ones (``model_name``, ``model_base_url``), not the config's."""
    assert (
        field_refused(provider="mock", model="m", options={"latency_s": -1}) == "provider_options.latency_s"
    )
    assert field_refused(provider="vllm", model="m", prefix="job_config.") == "job_config.base_url"
    judged = "llm_as_judge."
    with pytest.raises(InvalidInputError) as caught:
        judge_model("", "http://127.0.0.1:9/v1", prefix=judged)
    assert caught.value.field == "llm_as_judge.model_name"
    with pytest.raises(InvalidInputError) as caught:
        judge_model("judge", "judge.example/v1", prefix=judged)
    assert caught.value.field == "llm_as_judge.model_base_url"
    assert "must start with http" in caught.value.message


def test_generation_settings_a_provider_cannot_honour_are_rejected_by_name() -> None:
    message = error_of(provider="openai", generation={"num_beams": 4})
    assert "generation.num_beams is not supported by provider 'openai'" in message
    assert config(provider="hf", generation={"num_beams": 4}).generation.num_beams == 4


def test_typos_and_out_of_range_values_are_errors() -> None:
    assert "temprature" in error_of(generation={"temprature": 0.5})
    assert "max_new_tokens" in error_of(generation={"max_new_tokens": 0})
    assert "source_language" in error_of(task={"task": "translation", "target_language": "de"})
    assert "max_samples" in error_of(max_samples=0)
    assert config(max_samples=-1).max_samples is None


def test_template_placeholders_must_be_plain_names() -> None:
    assert "plain column name" in error_of(prompt_template="{example.__class__}")
    assert "plain column name" in error_of(prompt_template="{example!r}")
    assert config(prompt_template="Q: {example} {{literal}}").template_fields == ["example"]


def test_the_cache_identity_ignores_throughput_settings_but_not_sampling() -> None:
    base = config(provider="vllm", base_url="http://h/v1")
    faster = config(provider="vllm", base_url="http://h/v1", options={"concurrency": 500, "max_retries": 1})
    hotter = config(provider="vllm", base_url="http://h/v1", generation={"temperature": 0.9})
    alias = config(provider="openai-compatible", base_url="http://h/v1")
    assert base.cache_identity() == faster.cache_identity() == alias.cache_identity()
    assert base.cache_identity() != hotter.cache_identity()


def test_importing_the_package_does_not_import_optional_dependencies() -> None:
    code = (
        "import sys, assay.inference\n"
        "assay.inference.InferenceConfig.model_validate({'provider': 'hf', 'model': 'x', 'dataset_key': 'd',"
        " 'predictions_key': 'p', 'checkpoint_prefix': 'c/'})\n"
        "print(sorted(m for m in ('torch', 'transformers', 'aiohttp') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# --- prompts -----------------------------------------------------------------------------------

ROW = {"examples": "The text.", "ground_truth": "g", "context": "Paris is in France."}


def build(**overrides: Any) -> tuple[str | None, str]:
    prompt = PromptBuilder(config(**overrides), list(ROW)).build(ROW)
    return prompt.system, prompt.user


def test_each_task_has_its_default_system_prompt_and_the_example_as_user_message() -> None:
    system, user = build()
    assert system is not None and "summar" in system and user == "The text."
    system, _ = build(task={"task": "translation", "source_language": "en", "target_language": "German"})
    assert system is not None and "from English to German" in system
    system, _ = build(task={"task": "question-answering"})
    assert system is not None and "Answer the question" in system
    system, _ = build(task={"task": "text-generation"})
    assert system == "You are a helpful assistant."


def test_a_system_prompt_is_used_verbatim() -> None:
    verbatim = "Reply \"yes\" or 'no'; {braces} stay\nas written"
    system, user = build(task={"task": "text-generation"}, system_prompt=verbatim)
    assert (system, user) == (verbatim, "The text.")


def test_a_template_reads_other_columns() -> None:
    _, user = build(task={"task": "question-answering"}, prompt_template="{context}\nQ: {example} {{x}}")
    assert user == "Paris is in France.\nQ: The text. {x}"


def test_a_template_naming_a_missing_column_is_a_clear_error() -> None:
    with pytest.raises(InvalidInputError) as caught:
        PromptBuilder(config(prompt_template="{question}"), ["examples"])
    assert caught.value.field == "prompt_template"
    assert "no column 'question'" in caught.value.message


# --- reasoning ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer", "reasoning"),
    [
        ("Plain answer. ", "Plain answer.", None),
        ("<think>step 1\nstep 2</think>\n\nParis", "Paris", "step 1\nstep 2"),
        ("<think>a</think>Par<think>b</think>is", "Paris", "a\n\nb"),
        ("opened by the template</think> Answer", "Answer", "opened by the template"),
        ("<think>cut off by the token limit", "", "cut off by the token limit"),
        ("<think></think>Empty thoughts", "Empty thoughts", None),
    ],
)
def test_think_blocks_are_split_from_the_answer(text: str, answer: str, reasoning: str | None) -> None:
    assert split_reasoning(text) == (answer, reasoning)


def test_server_reasoning_and_inline_reasoning_are_merged() -> None:
    assert merge_reasoning("from server", "inline") == "from server\n\ninline"
    assert merge_reasoning(None, None) is None


# --- cost --------------------------------------------------------------------------------------


def test_cost_uses_the_table_per_million_tokens() -> None:
    price = price_for("openai", "gpt-4o-mini")
    assert price is not None
    assert price.cost(1_000_000, 1_000_000) == pytest.approx(0.15 + 0.60)
    assert price.cost(2_000, 500) == pytest.approx((2_000 * 0.15 + 500 * 0.60) / 1e6)


def test_cost_is_unknown_without_a_price_or_a_token_count() -> None:
    assert price_for("vllm", "gpt-4o-mini") is None  # same name, self-hosted: no list price
    price = ModelPrice(input_per_million=1.0, output_per_million=3.0)
    assert price.cost(None, 10) is None
    override = price_for("openai", "gpt-4o-mini", price)
    assert override is price and override.cost(10, 10) == pytest.approx(40 / 1e6)
