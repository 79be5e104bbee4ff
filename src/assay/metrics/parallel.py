"""Spreads pure-Python scoring over the machine's cores.

METEOR, TER and the tokenisation behind BLEU and chrF run Python code per pair, so threads
would queue on the GIL. Worker processes are forked rather than spawned: a fork starts in
milliseconds and inherits what the parent already loaded (WordNet's index takes seconds to
read), where a spawned worker would load it again. Work goes out in contiguous chunks, a few
per worker so that a slow chunk does not leave a core idle, and comes back in input order.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

_CHUNKS_PER_PROCESS = 4


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, which containers narrow)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _single_threaded_native_code() -> None:
    """Keeps each worker's Rust code (rouge-score-rs) on one thread: the workers already fill the
    cores, and more threads than cores only make them wait for each other."""
    os.environ["RAYON_NUM_THREADS"] = "1"


def map_chunks(
    score_chunk: Callable[[list[Item]], list[Result]],
    items: Sequence[Item],
    *,
    processes: int | None = None,
    min_chunk: int = 64,
) -> list[Result]:
    """``score_chunk`` applied to consecutive slices of ``items``, results concatenated in order.

    ``score_chunk`` must be picklable by reference (a module-level function or a
    ``functools.partial`` of one). Runs in this process when there are fewer than two chunks'
    work of at least ``min_chunk`` items, when one process is asked for, or when the platform
    cannot fork.
    """
    workers = min(processes or available_cores(), len(items) // min_chunk)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return score_chunk(list(items))
    chunk = -(-len(items) // (workers * _CHUNKS_PER_PROCESS))
    slices = [list(items[start : start + chunk]) for start in range(0, len(items), chunk)]
    with multiprocessing.get_context("fork").Pool(workers, initializer=_single_threaded_native_code) as pool:
        scored = pool.map(score_chunk, slices, chunksize=1)
    return [result for part in scored for result in part]
