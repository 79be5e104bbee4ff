"""The response journal: segments, their merge, filtered loading, and what survives a failure."""

from __future__ import annotations

from pathlib import Path

from assay.inference.cache import CachedAnswer, ResponseJournal, namespace_of
from assay.inference.prompts import Prompt
from assay.storage.local import LocalObjectStore

NAMESPACE = namespace_of({"model": "m"})


def journal(store: LocalObjectStore, run_id: str) -> ResponseJournal:
    return ResponseJournal(store, "cache/", NAMESPACE, run_id)


def answer(text: str) -> CachedAnswer:
    return CachedAnswer(text=text, reasoning=None, prompt_tokens=3, completion_tokens=1, latency_ms=12.5)


def test_keys_depend_on_the_system_prompt_the_user_message_and_the_namespace(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    first = journal(store, "r1")
    keys = {
        first.key(Prompt("sys", "hello")),
        first.key(Prompt(None, "hello")),
        first.key(Prompt("sys", "hello!")),
        ResponseJournal(store, "cache/", namespace_of({"model": "other"}), "r1").key(Prompt("sys", "hello")),
    }
    assert len(keys) == 4
    assert first.key(Prompt("sys", "hello")) == journal(store, "r2").key(Prompt("sys", "hello"))


def test_segments_are_merged_per_run_and_loaded_for_the_wanted_keys_only(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    writer = journal(store, "r1")
    for index in range(5):
        writer.add(f"{index:032x}", answer(f"a{index}"), remember=False)
        writer.write_segment(writer.take_pending())
    assert len(store.list(f"cache/{NAMESPACE}/pending/r1/")) == 5
    writer.merge_run()
    assert [info.key for info in store.list("cache/")] == [f"cache/{NAMESPACE}/runs/r1.jsonl"]

    reader = journal(store, "r2")
    assert reader.load({f"{1:032x}", f"{3:032x}", "f" * 32}) == 2
    assert reader.get(f"{1:032x}") == answer("a1")
    assert reader.get(f"{0:032x}") is None  # in the journal, but not wanted by this dataset


def test_a_sealed_segment_whose_write_never_ran_is_written_by_flush(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    writer = journal(store, "r1")
    writer.add("a" * 32, answer("sealed"), remember=False)
    writer.take_pending()  # its write was cancelled before it started
    writer.add("b" * 32, answer("queued"), remember=False)
    writer.flush()
    reader = journal(store, "r2")
    assert reader.load({"a" * 32, "b" * 32}) == 2


def test_unreadable_lines_are_skipped_so_their_prompts_are_asked_again(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path)
    sink = store.open_writer(f"cache/{NAMESPACE}/runs/broken.jsonl")
    sink.write(b'garbage\n{"k":"' + b"c" * 32 + b'","a":{"text":')  # a foreign line, then a torn one
    sink.commit()
    reader = journal(store, "r2")
    reader.load({"c" * 32})
    assert reader.get("c" * 32) is None
