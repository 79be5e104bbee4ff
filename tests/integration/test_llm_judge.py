"""LLM-as-judge against a real OpenAI-compatible server on loopback: valid JSON, a repairable
answer, an unreadable one that is asked again and then recorded as an error (never as 0)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.evaluation.judge import JudgeSettings, judge, judge_model, parse_verdict
from assay.storage.local import LocalObjectStore
from tests.openai_server import OpenAIServer, Rule


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    running = OpenAIServer(latency_s=0.0).start()
    yield running
    running.stop()


def test_verdicts_are_parsed_repaired_retried_or_recorded_as_errors(
    server: OpenAIServer, tmp_path: Path
) -> None:
    server.control(  # replies are str.format templates: braces doubled
        rules=[
            Rule(match="mumbling", reply="I would say it is fine overall."),
            Rule(match="sloppy", reply="Verdict: {{score: 3, reason: ok-ish}}"),
            Rule(match="", reply='{{"score": 5, "reason": "faithful and concise"}}'),
        ]
    )
    store = LocalObjectStore(tmp_path / "objects")
    settings = JudgeSettings(
        model=judge_model("judge-model", server.base_url),
        task="summarization",
        scratch_prefix="judge/",
        cache_prefix="cache/",
    )
    verdicts = judge(
        store,
        settings,
        ["Text one.", "A sloppy text.", "A mumbling text."],
        ["One.", "Sloppy.", "Mumble."],
        ["One!", "Sloppy!", "Mumble!"],
    )
    assert verdicts[0].score == 5.0 and verdicts[0].reason == "faithful and concise"
    assert verdicts[1].score == 3.0 and verdicts[1].error is None
    assert verdicts[2].score is None and verdicts[2].error == "the judge gave no readable score, twice"
    assert server.stats()["requests"] == 4

    again = judge(store, settings, ["Text one."], ["One."], ["One!"])
    assert again[0].score == 5.0
    assert server.stats()["requests"] == 4, "the cached verdict is not asked again"


def test_parse_verdict_rejects_scores_out_of_range() -> None:
    assert parse_verdict('{"score": 9}') is None
    assert parse_verdict("") is None
    assert parse_verdict('```json\n{"score": 2, "reason": "weak"}\n```') == parse_verdict(
        '{"score": 2, "reason": "weak"}'
    )
