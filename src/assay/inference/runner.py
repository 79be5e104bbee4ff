"""``run_inference``: one model over one dataset, from the input Parquet to the predictions Parquet.

The pipeline, all on one event loop:

- a *producer* reads the dataset a batch of rows at a time, builds each prompt, and answers it
  from the response journal when it can; otherwise it groups prompts into batches of the
  provider's ``batch_size`` for the workers (an identical prompt already on its way waits for
  that answer instead of being sent again);
- ``provider.concurrency`` *workers* send the batches;
- a *writer* puts the rows back in dataset order, streams them to Parquet, and checkpoints the
  new answers to the journal every ``checkpoint_every`` answers or ``checkpoint_interval_s``.

Memory stays flat: the producer may run at most ``window`` examples ahead of the writer.
Storage writes (Parquet row groups, journal segments) run in order on one I/O thread, so the
event loop, and the requests in flight, never wait for the object store.

SIGTERM (how Ray stops a job) and SIGINT stop the run gracefully: no new request is sent, the
ones in flight get ``stop_grace_s`` to finish, their answers are checkpointed, and
``InferenceStopped`` is raised; the predictions object is not written. Resubmitting the same
config resumes: every answer checkpointed is replayed from the journal, none is asked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from assay.datasets.columns import EXAMPLES, GROUND_TRUTH
from assay.errors import AssayError, InvalidInputError, NotFoundError
from assay.inference.cache import CachedAnswer, ResponseJournal, namespace_of
from assay.inference.config import InferenceConfig
from assay.inference.pricing import price_for
from assay.inference.prompts import Prompt, PromptBuilder
from assay.inference.providers.base import Generation, ProviderError
from assay.inference.reasoning import merge_reasoning, split_reasoning
from assay.inference.registry import require_installed
from assay.inference.results import InferenceSummary, PredictionsWriter, ResultRow, Tally
from assay.storage.base import ObjectStore

log = logging.getLogger(__name__)
READ_BATCH_ROWS = 1024
WRITE_BATCH_ROWS = 1000
MIN_WINDOW = 256
PROGRESS_EVERY_S = 1.0
_T = TypeVar("_T")


class InferenceError(AssayError):
    """The run as a whole failed (provider refused, too many failed examples...)."""


class InferenceStopped(InferenceError):
    """Stopped by a signal; the answers received so far are checkpointed for a resubmitted run."""


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    failed: int
    from_cache: int


ProgressCallback = Callable[[Progress], None]


class DatasetReader:
    """The first ``total`` rows of the input dataset's Parquet, a batch of dicts at a time."""

    def __init__(self, store: ObjectStore, key: str, max_samples: int | None) -> None:
        try:
            self._file = store.open_reader(key)
        except KeyError:
            raise NotFoundError(
                f"the dataset {key!r} is not in the object store", field="dataset_key"
            ) from None
        try:
            self._parquet = pq.ParquetFile(self._file)
        except (pa.ArrowInvalid, OSError) as exc:
            self._file.close()
            raise InvalidInputError(
                f"the dataset {key!r} is not readable Parquet: {exc}", field="dataset_key"
            ) from exc
        self.columns: list[str] = list(self._parquet.schema_arrow.names)
        if EXAMPLES not in self.columns:
            self._file.close()
            raise InvalidInputError(
                f"the dataset has no {EXAMPLES!r} column (columns: {', '.join(self.columns)})",
                field="dataset_key",
            )
        rows = self._parquet.metadata.num_rows
        self.total = min(rows, max_samples) if max_samples is not None else rows

    def rows(self, columns: list[str]) -> Iterator[list[dict[str, Any]]]:
        remaining = self.total
        for batch in self._parquet.iter_batches(batch_size=READ_BATCH_ROWS, columns=columns):
            if remaining <= 0:
                return
            rows = batch.slice(0, remaining).to_pylist()
            remaining -= len(rows)
            yield rows

    def close(self) -> None:
        self._file.close()


@dataclass(slots=True)
class _Item:
    """One example on its way through the pipeline."""

    index: int
    example: str | None
    ground_truth: str | None
    prompt: Prompt
    key: str


def run_inference(
    config: InferenceConfig,
    store: ObjectStore,
    progress: ProgressCallback | None = None,
    *,
    api_key: str | None = None,
    handle_signals: bool = True,
) -> InferenceSummary:
    """Run ``config`` to the end on a fresh event loop (uvloop when installed); see the module doc.

    The objects that exist before the run (imported libraries: hundreds of thousands with
    torch and transformers) are frozen out of the garbage collector for its duration: a full
    collection scanning them stalled the event loop for ~80 ms, and every request in flight
    with it, measured on the benchmark.
    """
    gc.freeze()
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(
                run_inference_async(config, store, progress, api_key=api_key, handle_signals=handle_signals)
            )
    finally:
        gc.unfreeze()


async def run_inference_async(
    config: InferenceConfig,
    store: ObjectStore,
    progress: ProgressCallback | None = None,
    *,
    api_key: str | None = None,
    handle_signals: bool = True,
) -> InferenceSummary:
    """The same as ``run_inference`` from inside a running event loop."""
    return await _Run(config, store, progress, api_key).execute(handle_signals)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class _Run:
    def __init__(
        self,
        config: InferenceConfig,
        store: ObjectStore,
        progress: ProgressCallback | None,
        api_key: str | None,
    ) -> None:
        self.config = config
        self.store = store
        self.progress = progress
        self.run_id = uuid.uuid4().hex[:12]
        # Imported now: a missing optional dependency fails before any work is done.
        provider = config.provider_class
        require_installed(config.provider, provider)
        self.provider = provider(config, api_key)
        self.price = price_for(config.provider, config.model, config.price)
        self.journal = ResponseJournal(
            store,
            config.cache_prefix or config.checkpoint_prefix,
            namespace_of(config.cache_identity()),
            self.run_id,
        )
        self.tally = Tally()
        self.total = 0
        self.produced = 0
        self.producer_done = False
        self.next_to_write = 0
        self.results: dict[int, ResultRow] = {}
        self.waiting: dict[str, list[_Item]] = {}  # key -> examples awaiting that answer (first one sent)
        self.repeated: set[str] = set()
        self.consecutive_failures = 0
        self.provider_started = False
        workers = self.provider.concurrency * self.provider.batch_size
        self.window = asyncio.Semaphore(max(MIN_WINDOW, 2 * workers + self.provider.batch_size))
        self.row_ready = asyncio.Event()
        self.stopping = asyncio.Event()
        self.deadline: asyncio.Timeout | None = None
        self.io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference-io")

    async def execute(self, handle_signals: bool) -> InferenceSummary:
        started = time.monotonic()
        reader = await asyncio.to_thread(
            DatasetReader, self.store, self.config.dataset_key, self.config.max_samples
        )
        try:
            self.total = reader.total
            builder = PromptBuilder(self.config, reader.columns)
            has_truth = GROUND_TRUTH in reader.columns
            columns = sorted({EXAMPLES, *builder.columns, *([GROUND_TRUTH] if has_truth else [])})
            await asyncio.to_thread(self._prepare_journal, reader, builder, columns)
            writer = await asyncio.to_thread(
                PredictionsWriter, self.store, self.config.predictions_key, has_truth or self.config.annotate
            )
            await self._run_to_commit(reader, builder, columns, writer, handle_signals)
            return await self._in_io(self._finish, time.monotonic() - started)
        finally:
            reader.close()
            self.io.shutdown()

    async def _in_io(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run a storage write on the run's single I/O thread: writes happen in order, and a run
        that fails can wait for every one already started (``_save_after_failure``)."""
        return await asyncio.wrap_future(self.io.submit(function, *args))

    def _prepare_journal(self, reader: DatasetReader, builder: PromptBuilder, columns: list[str]) -> None:
        """Find the prompts that occur twice, and load the journal's answers for this dataset's prompts."""
        seen: set[str] = set()
        for rows in reader.rows(columns):
            for row in rows:
                key = self.journal.key(builder.build(row))
                if key in seen:
                    self.repeated.add(key)
                seen.add(key)
        self.journal.load(seen)

    async def _run_to_commit(
        self,
        reader: DatasetReader,
        builder: PromptBuilder,
        columns: list[str],
        writer: PredictionsWriter,
        handle_signals: bool,
    ) -> None:
        committed = False
        try:
            try:
                await self._pipeline(reader, builder, columns, writer, handle_signals)
            except TimeoutError:
                if not self.stopping.is_set():
                    raise
            except ProviderError as exc:
                raise InferenceError(str(exc), field="model") from exc
            if self.stopping.is_set():
                raise InferenceStopped(
                    f"stopped after {self.tally.done} of {self.total} examples; the answers received are "
                    "checkpointed and a resubmitted run resumes from them"
                )
            await self._in_io(writer.commit)
            committed = True
        finally:
            if not committed:
                self._save_after_failure(writer)

    def _save_after_failure(self, writer: PredictionsWriter) -> None:
        """Keep every answer received (so none is asked again) and leave no predictions behind.

        Synchronous on purpose: it may run while the task is being cancelled. Writes that the
        I/O thread had started are waited for; those it had not are done by ``flush``.
        """
        self.io.shutdown(wait=True)
        try:
            writer.abort()
        except Exception:
            log.exception("could not abort the predictions upload")
        self.journal.flush()

    async def _pipeline(
        self,
        reader: DatasetReader,
        builder: PromptBuilder,
        columns: list[str],
        writer: PredictionsWriter,
        handle_signals: bool,
    ) -> None:
        queue: asyncio.Queue[list[_Item] | None] = asyncio.Queue(maxsize=self.provider.concurrency)
        try:
            async with asyncio.timeout(None) as self.deadline:
                with self._signal_handlers(handle_signals):
                    async with asyncio.TaskGroup() as group:
                        group.create_task(self._produce(reader, builder, columns, queue))
                        for _ in range(self.provider.concurrency):
                            group.create_task(self._work(queue))
                        group.create_task(self._write(writer))
        except BaseExceptionGroup as failure:
            raise failure.exceptions[0] from None
        finally:
            if self.provider_started:
                await self.provider.close()

    async def _produce(
        self,
        reader: DatasetReader,
        builder: PromptBuilder,
        columns: list[str],
        queue: asyncio.Queue[list[_Item] | None],
    ) -> None:
        batch: list[_Item] = []
        rows_iterator = reader.rows(columns)
        while not self.stopping.is_set():
            rows = await asyncio.to_thread(next, rows_iterator, None)
            if rows is None:
                break
            for row in rows:
                if batch and self.window.locked():
                    await self._dispatch(queue, batch)  # never wait for room while holding prompts back
                    batch = []
                await self.window.acquire()
                if self.stopping.is_set():
                    break
                prompt = builder.build(row)
                key = self.journal.key(prompt)
                item = _Item(self.produced, row.get(EXAMPLES), row.get(GROUND_TRUTH), prompt, key)
                self.produced += 1
                if (answer := self.journal.get(item.key)) is not None:
                    self._complete(item, self._answer_row(item, answer, from_cache=True))
                elif (waiting := self.waiting.get(item.key)) is not None:
                    waiting.append(item)
                else:
                    self.waiting[item.key] = [item]
                    batch.append(item)
                    if len(batch) >= self.provider.batch_size:
                        await self._dispatch(queue, batch)
                        batch = []
        if batch:
            await self._dispatch(queue, batch)
        self.producer_done = True
        self.row_ready.set()
        for _ in range(self.provider.concurrency):
            await queue.put(None)

    async def _dispatch(self, queue: asyncio.Queue[list[_Item] | None], batch: list[_Item]) -> None:
        if self.stopping.is_set():
            self._abandon(batch)
            return
        if not self.provider_started:
            await self.provider.start()  # only now: a fully cached run never loads the model
            self.provider_started = True
        await queue.put(batch)

    async def _work(self, queue: asyncio.Queue[list[_Item] | None]) -> None:
        while (batch := await queue.get()) is not None:
            if self.stopping.is_set():
                self._abandon(batch)
                continue
            generations = await self.provider.generate([item.prompt for item in batch])
            for item, generation in zip(batch, generations, strict=True):
                self._settle(item.key, generation)

    def _abandon(self, batch: list[_Item]) -> None:
        """Close unsent examples with a placeholder row (never written: a stopped run commits nothing)."""
        for leader in batch:
            for item in self.waiting.pop(leader.key):
                self._complete(item, self._error_row(item, "not sent: the run was stopped"))

    def _settle(self, key: str, generation: Generation) -> None:
        """Record one answer for every example waiting on ``key``."""
        waiting = self.waiting.pop(key)
        if generation.error is not None:
            for item in waiting:
                self._complete(item, self._error_row(item, generation.error))
            self.consecutive_failures += 1
            limit = self.config.fail_fast_after
            if limit and self.consecutive_failures >= limit:
                raise InferenceError(
                    f"stopped after {self.consecutive_failures} consecutive failed examples; "
                    f"last error: {generation.error}",
                    field="model",
                )
            return
        self.consecutive_failures = 0
        answer = CachedAnswer(
            generation.text,
            generation.reasoning,
            generation.prompt_tokens,
            generation.completion_tokens,
            generation.latency_ms,
        )
        self.journal.add(key, answer, remember=key in self.repeated)
        for position, item in enumerate(waiting):
            self._complete(item, self._answer_row(item, answer, from_cache=position > 0))

    def _answer_row(self, item: _Item, answer: CachedAnswer, from_cache: bool) -> ResultRow:
        prediction, found_reasoning = split_reasoning(answer.text)
        price = self.price
        return ResultRow(
            examples=item.example,
            ground_truth=prediction if self.config.annotate else item.ground_truth,
            predictions=prediction,
            reasoning=merge_reasoning(answer.reasoning, found_reasoning),
            latency_ms=answer.latency_ms,
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            cost=price.cost(answer.prompt_tokens, answer.completion_tokens) if price else None,
            error=None,
            from_cache=from_cache,
        )

    def _error_row(self, item: _Item, error: str) -> ResultRow:
        return ResultRow(
            examples=item.example,
            ground_truth=None if self.config.annotate else item.ground_truth,
            predictions=None,
            reasoning=None,
            latency_ms=None,
            prompt_tokens=None,
            completion_tokens=None,
            cost=None,
            error=error,
        )

    def _complete(self, item: _Item, row: ResultRow) -> None:
        self.results[item.index] = row
        self.row_ready.set()

    async def _write(self, writer: PredictionsWriter) -> None:
        rows: list[ResultRow] = []
        last_checkpoint = last_progress = time.monotonic()
        while not (self.producer_done and self.next_to_write == self.produced):
            await self.row_ready.wait()
            self.row_ready.clear()
            while (row := self.results.pop(self.next_to_write, None)) is not None:
                self.next_to_write += 1
                self.window.release()
                self.tally.add(row)
                rows.append(row)
            if len(rows) >= WRITE_BATCH_ROWS:
                await self._in_io(writer.write, rows)
                rows = []
            now = time.monotonic()
            due = now - last_checkpoint >= self.config.checkpoint_interval_s
            if self.journal.pending >= self.config.checkpoint_every or (self.journal.pending and due):
                await self._in_io(self.journal.write_segment, self.journal.take_pending())
                last_checkpoint = now
            if now - last_progress >= PROGRESS_EVERY_S:
                self._report_progress()
                last_progress = now
        if rows:
            await self._in_io(writer.write, rows)
        self._report_progress()

    def _report_progress(self) -> None:
        if self.progress is not None:
            tally = self.tally
            self.progress(Progress(tally.done, self.total, tally.failed, tally.from_cache))

    @contextlib.contextmanager
    def _signal_handlers(self, enabled: bool) -> Iterator[None]:
        """Route SIGTERM and SIGINT to a graceful stop for the run's duration, then restore the
        handlers the process had (the job entrypoint's, Python's KeyboardInterrupt)."""
        loop = asyncio.get_running_loop()
        previous = {}
        if enabled and threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.getsignal(signum)
                loop.add_signal_handler(signum, self._request_stop, signum)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                loop.remove_signal_handler(signum)
                if handler is not None:  # None: set outside Python, nothing we can put back
                    signal.signal(signum, handler)

    def _request_stop(self, signum: int) -> None:
        """First signal: drain for ``stop_grace_s``; a second one: stop now."""
        assert self.deadline is not None
        loop = asyncio.get_running_loop()
        if self.stopping.is_set():
            self.deadline.reschedule(loop.time())
            return
        log.warning(
            "%s: sending no new request; waiting up to %.1fs for those in flight, then checkpointing",
            signal.Signals(signum).name,
            self.config.stop_grace_s,
        )
        self.stopping.set()
        self.row_ready.set()
        self.deadline.reschedule(loop.time() + self.config.stop_grace_s)

    def _finish(self, duration_s: float) -> InferenceSummary:
        config, tally = self.config, self.tally
        failed_too_often = tally.done > 0 and tally.failed / tally.done > config.max_error_rate
        if config.cache_prefix:
            self.journal.merge_run()
        elif failed_too_often:
            self.journal.flush()  # keep the checkpoint: a resubmitted run only asks the failed ones again
        else:
            self.journal.discard()
        summary = InferenceSummary(
            run_id=self.run_id,
            provider=config.provider,
            model=config.model,
            task=config.task.task,
            annotate=config.annotate,
            predictions_key=config.predictions_key,
            examples=self.total,
            generated=tally.succeeded - tally.from_cache,
            duration_s=duration_s,
            throughput_per_s=tally.done / max(duration_s, 1e-9),
            provider_stats=self.provider.stats(),
            **tally.summary_fields(),
        )
        if config.summary_key:
            sink = self.store.open_writer(config.summary_key, "application/json")
            sink.write(json.dumps(summary.model_dump(mode="json"), indent=2).encode())
            sink.commit()
        log.info("inference finished: %s", summary.model_dump_json(exclude={"errors"}))
        if failed_too_often:
            raise InferenceError(
                f"{tally.failed} of {tally.done} examples failed (max_error_rate {config.max_error_rate}); "
                f"first errors: {'; '.join(tally.errors)}",
                field="model",
            )
        return summary
