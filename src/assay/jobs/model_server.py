"""``python -m assay.jobs.model_server``: what a ``model`` service runs. It is the command that
``assay.jobs.serve`` becomes (in the sandbox of script jobs, listening on ``$HOST:$PORT``), so a
model service is an app service whose command Assay writes.

Engine ``auto`` picks vLLM's own OpenAI-compatible server where this node has a GPU and vLLM
is installed, and the transformers app of ``assay.inference.serving`` otherwise (CPU);
``vllm`` and ``transformers`` force one. The choice is made here, on the node, because only
the node knows its GPUs and packages.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from assay.inference.config import GenerationParams
from assay.inference.providers.hf import HFOptions, resolve_model

VLLM_MODULE = "vllm"
# The generation settings vLLM takes as request defaults (``--override-generation-config``).
VLLM_DEFAULTS = ("max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty")


def vllm_command(
    python: str,
    model: str,
    options: HFOptions,
    generation: GenerationParams,
    host: str,
    port: int,
    weights: str | None = None,
) -> list[str]:
    """vLLM's server for ``model`` (loaded from ``weights`` when given), known to clients by
    the same name as the transformers app (``--served-model-name``); a GGUF model is named by
    its file."""
    path, gguf_file = resolve_model(weights or model, options.gguf_file)
    source = str(Path(path) / gguf_file) if gguf_file else path
    defaults = {key: value for key, value in generation.explicit().items() if key in VLLM_DEFAULTS}
    argv = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", source]
    argv += ["--served-model-name", model, "--host", host, "--port", str(port)]
    argv += ["--generation-config", "vllm", "--override-generation-config", json.dumps(defaults)]
    if options.dtype != "auto":
        argv += ["--dtype", options.dtype]
    if options.trust_remote_code:
        argv.append("--trust-remote-code")
    return argv


def uses_vllm(engine: str) -> bool:
    if engine == "transformers":
        return False
    installed = importlib.util.find_spec(VLLM_MODULE) is not None
    if engine == "vllm":
        if not installed:
            raise SystemExit("engine 'vllm' was asked for, and vLLM is not installed on this node")
        return True
    import torch

    return installed and torch.cuda.is_available()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", required=True, help="package:NAME, a local path or a hub id")
    parser.add_argument("--engine", choices=("auto", "transformers", "vllm"), default="auto")
    parser.add_argument("--options", default="{}", help="the hf provider's options, as JSON")
    parser.add_argument("--generation", default="{}", help="default generation settings, as JSON")
    parser.add_argument(
        "--weights", help="the local model folder to load (a project file's); --model stays the served name"
    )
    args = parser.parse_args(argv)
    host, port = os.environ["HOST"], int(os.environ["PORT"])
    options = HFOptions.model_validate_json(args.options)
    generation = GenerationParams.model_validate_json(args.generation)
    if uses_vllm(args.engine):
        command = vllm_command(sys.executable, args.model, options, generation, host, port, args.weights)
        os.execv(command[0], command)
    import uvicorn

    from assay.inference.providers.hf import load, pick_device
    from assay.inference.serving import Engine, build_app

    engine = Engine(load(args.weights or args.model, options, None, pick_device(options.device)), generation)
    uvicorn.run(build_app(engine, args.model), host=host, port=port, log_level="info", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
