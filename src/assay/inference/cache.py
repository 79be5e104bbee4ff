"""The response journal: every successful answer, persisted so that no request is sent twice.

One mechanism serves as both the cross-run *cache* and the *checkpoint* of a run: answers are
appended, every ``checkpoint_every`` examples (or seconds), as one JSON-lines *segment* object.
A later run (a re-run, or a resubmitted run after a crash) reads the segments first and
answers every prompt found there without a request. With a shared ``cache_prefix`` every run
of the project benefits; without it the journal lives under the run's ``checkpoint_prefix``
and is deleted once the run's predictions are written.

Layout under ``{prefix}{namespace}/``, where the namespace hashes what decides an answer
besides the prompt (provider family, model, base URL, generation settings):

- ``pending/{run_id}/{seq:06d}.jsonl``: segments a run wrote while running;
- ``runs/{run_id}.jsonl``: the same, merged into one object when the run ended well.

Why segments rather than one object per answer: S3 has no append, and 10,000 PUTs then 10,000
GETs cost minutes; a segment per checkpoint costs one PUT per N answers, and merging at the
end leaves one object per run, so loading a namespace costs one GET per past run. The price is
that a hard kill (SIGKILL, lost node) forgets the answers since the last checkpoint, at most
``checkpoint_every`` examples or ``checkpoint_interval_s`` seconds of work; a stop by SIGTERM
or SIGINT loses nothing (the runner lets the requests in flight finish, within
``stop_grace_s``, and writes what they answered).

Memory: only entries for prompts of the current dataset are loaded (the runner passes their
keys), about the size of those answers; answers produced during the run are kept only for
prompts that occur more than once in the dataset.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from assay.inference.prompts import Prompt
from assay.storage.base import ObjectStore

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
KEY_LENGTH = 32
LINE_START = b'{"k":"'  # every line is {"k":"<key>","a":{...}}: the key is read without parsing JSON


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """What a later run needs to rebuild the example's row exactly (raw text: think blocks included)."""

    text: str
    reasoning: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    latency_ms: float


def namespace_of(identity: dict[str, Any]) -> str:
    canonical = json.dumps({"v": FORMAT_VERSION, **identity}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


class ResponseJournal:
    def __init__(self, store: ObjectStore, prefix: str, namespace: str, run_id: str) -> None:
        self.store = store
        self.namespace = namespace
        self.base = f"{prefix}{namespace}/"
        self.run_id = run_id
        self._known: dict[str, bytes] = {}
        self._pending: list[bytes] = []
        self._unwritten: dict[int, list[bytes]] = {}
        self._segments = 0

    def key(self, prompt: Prompt) -> str:
        """The cache key of a prompt: namespace, system prompt and user message, hashed."""
        digest = hashlib.sha256(self.namespace.encode())
        for part in (prompt.system or "", prompt.user):
            digest.update(b"\x00" + part.encode())
        return digest.hexdigest()[:KEY_LENGTH]

    def load(self, wanted: Collection[str]) -> int:
        """Read every segment, keeping the answers whose key is in ``wanted``; returns how many."""
        for info in self.store.list(self.base):
            try:
                with self.store.open_reader(info.key) as reader:
                    for line in reader:
                        if not line.startswith(LINE_START):
                            continue  # a torn or foreign line: ignore it, the answer is simply asked again
                        key = line[len(LINE_START) : len(LINE_START) + KEY_LENGTH].decode()
                        if key in wanted:
                            self._known[key] = line
            except KeyError:
                continue  # merged and deleted by its run since we listed it
        log.info("response journal %s: %d answers for this dataset", self.base, len(self._known))
        return len(self._known)

    def get(self, key: str) -> CachedAnswer | None:
        line = self._known.get(key)
        if line is None:
            return None
        try:
            return CachedAnswer(**json.loads(line)["a"])
        except (ValueError, KeyError, TypeError):
            return None  # unreadable: ask the model again rather than fail the run

    def add(self, key: str, answer: CachedAnswer, remember: bool) -> None:
        """Queue an answer for the next segment; ``remember`` also serves it to later lookups."""
        record = {
            "text": answer.text,
            "reasoning": answer.reasoning,
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "latency_ms": answer.latency_ms,
        }  # not dataclasses.asdict: it deep-copies, a measurable cost per answer
        line = json.dumps({"k": key, "a": record}, separators=(",", ":")).encode() + b"\n"
        self._pending.append(line)
        if remember:
            self._known[key] = line

    @property
    def pending(self) -> int:
        return len(self._pending)

    def take_pending(self) -> int:
        """Seal the queued answers as the next segment and return its number, for ``write_segment``.

        Sealing (on the event loop) and writing (in a worker thread) are separate so that
        answers arriving meanwhile go to the next segment. A sealed segment stays in memory
        until written, so that ``flush`` writes it if its write never ran (a cancelled run).
        """
        number = self._segments
        self._segments += 1
        self._unwritten[number] = self._pending
        self._pending = []
        return number

    def write_segment(self, number: int) -> None:
        lines = self._unwritten[number]
        if lines:
            writer = self.store.open_writer(
                f"{self.base}pending/{self.run_id}/{number:06d}.jsonl", "application/x-ndjson"
            )
            try:
                writer.write(b"".join(lines))
                writer.commit()
            except BaseException:
                writer.abort()
                raise
        del self._unwritten[number]

    def flush(self) -> None:
        """Write every answer not yet written. Call it when no segment write is in progress."""
        if self._pending:
            self.take_pending()
        for number in sorted(self._unwritten):
            self.write_segment(number)

    def merge_run(self) -> None:
        """Replace this run's pending segments with one object (fewer GETs for later runs)."""
        self.flush()
        own = f"{self.base}pending/{self.run_id}/"
        segments = self.store.list(own)
        if not segments:
            return
        writer = self.store.open_writer(f"{self.base}runs/{self.run_id}.jsonl", "application/x-ndjson")
        try:
            for info in segments:
                for chunk in self.store.iter_chunks(info.key):
                    writer.write(chunk)
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        self.store.delete_prefix(own)

    def discard(self) -> None:
        """Delete the whole journal (a run-private checkpoint whose run has finished)."""
        self.store.delete_prefix(self.base)
