"""Separate a reasoning model's ``<think>…</think>`` blocks from its answer.

Metrics must score the answer only. Three shapes occur in practice: complete blocks; a
completion that starts *inside* a block because the chat template already opened it
(Qwen3, DeepSeek-R1: only ``</think>`` appears); and a block cut off by the token limit (only
``<think>``), whose answer is then empty.
"""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
_BLOCK = re.compile(r"<think>(.*?)</think>", re.DOTALL)


def split_reasoning(text: str) -> tuple[str, str | None]:
    """``(answer, reasoning)``; reasoning is ``None`` when the text has none."""
    if OPEN not in text and CLOSE not in text:
        return text.strip(), None
    thoughts: list[str] = []
    close, first_open = text.find(CLOSE), text.find(OPEN)
    if close != -1 and (first_open == -1 or close < first_open):
        thoughts.append(text[:close])
        text = text[close + len(CLOSE) :]

    def keep(match: re.Match[str]) -> str:
        thoughts.append(match.group(1))
        return ""

    text = _BLOCK.sub(keep, text)
    if OPEN in text:
        text, _, unfinished = text.partition(OPEN)
        thoughts.append(unfinished)
    reasoning = "\n\n".join(part.strip() for part in thoughts if part.strip())
    return text.strip(), reasoning or None


def merge_reasoning(*parts: str | None) -> str | None:
    """Reasoning reported by the server (``reasoning_content``) and found in the text, together."""
    joined = "\n\n".join(part for part in parts if part)
    return joined or None
