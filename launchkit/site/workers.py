"""Jobs over worker processes, with any start method (fork, forkserver, spawn).

    run_jobs(job, items, state, setup=..., payload=..., workers=2)

A job is a module-level function ``job(state, item)``. Run here (few items, one core), it gets
the caller's ``state``; run in workers, each worker builds its own state once with
``setup(payload)``: a small picklable payload (the config, the pages' front matter, paths),
never the parent's memory, so spawn (Windows, macOS) and forkserver work as fork does. The
worker keeps that state in its main function's frame: there is no module-level state.

The start method is fork only where that is safe and quicker: on Linux, from a process
running no other thread (the preview runs watchdog and server threads: forking it could
copy a lock some thread holds). Elsewhere it is the platform's own safe choice.
``LAUNCHKIT_START_METHOD=spawn`` (or ``fork``, ``forkserver``) forces one.
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import SiteError, raise_all

START_METHOD_ENV = "LAUNCHKIT_START_METHOD"
# Below this many items, starting worker processes costs more than it saves.
PARALLEL_THRESHOLD = 100
# Items are sent in chunks: fewer messages, and still an even share for each worker.
_MAX_CHUNK = 32
# Chunks shrink towards the end so that every worker is busy until about this close to it:
# a chunk is at most 1/(workers * _TAIL_SHARES) of the items still to be handed out.
_TAIL_SHARES = 4
# Chunks handed out per worker ahead of the results that come back: enough that no worker
# waits for its next chunk, few enough that the results flow back as they are made.
_CHUNKS_AHEAD = 2


class Progress(Protocol):
    """The part of a tqdm bar that :func:`run_jobs` uses."""

    total: int

    def update(self, n: int = 1) -> object: ...
    def refresh(self) -> None: ...


class NoProgress:
    """A bar that shows nothing: most builds, and every build off a terminal."""

    total = 0

    def update(self, n: int = 1) -> None:
        pass

    def refresh(self) -> None:
        pass


def start_method() -> str:
    """The start method for worker processes: :data:`START_METHOD_ENV`, else the safe one."""
    # Imported where workers start (here and in _Pool): a build of a few pages starts none,
    # and importing multiprocessing was 2 % of a one-page rebuild.
    import multiprocessing

    available = multiprocessing.get_all_start_methods()
    forced = os.environ.get(START_METHOD_ENV, "").strip()
    if forced:
        if forced not in available:
            raise SiteError(
                f"{START_METHOD_ENV}={forced} is not a start method of this system",
                hint=f"use one of: {', '.join(available)}",
            )
        return forced
    if sys.platform == "linux" and "fork" in available and threading.active_count() == 1:
        return "fork"
    return "forkserver" if sys.platform == "linux" else "spawn"


def run_jobs(
    job: Callable[[Any, Any], Any],
    items: Sequence[Any],
    state: Any,
    *,
    setup: Callable[[Any], Any],
    payload: Callable[[], Any],
    workers: int,
    bar: Progress | None = None,
    keep: Callable[[Any, Any], Any] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> list[Any]:
    """``[job(state, item) for item in items]``, over ``workers`` processes when worth it.

    In workers, the state is ``setup(payload())``. Every item is done: the SiteErrors of
    all that failed are raised together at the end. ``keep(item, result)``, if given, is
    what is kept of each result as it comes (a big result need not wait in memory for all
    the others). ``meanwhile()``, if given, is other work of the caller that needs none of
    the results: with workers, this process does it while they work instead of waiting;
    without, it comes after the jobs. Either way the jobs' failures are raised first, and
    its own error only if the jobs had none (as if it had run after them).
    """
    keep = keep or _whole
    bar = bar or NoProgress()
    bar.total += len(items)
    bar.refresh()
    if workers < 2 or len(items) <= PARALLEL_THRESHOLD:
        results, failures = [], []
        for item in items:
            try:
                results.append(keep(item, job(state, item)))
            except SiteError as exc:
                failures.append(exc)
            bar.update()
        raise_all(failures)
        if meanwhile is not None:
            meanwhile()
        return results
    pool = _Pool(min(workers, len(items)), setup, payload())
    return pool.run(job, items, bar, keep, meanwhile)


def _whole(item: Any, result: Any) -> Any:
    return result


@dataclass(frozen=True)
class _Failure:
    """A job's SiteError, sent back rather than raised so that the other jobs go on."""

    error: SiteError


class _Pool:
    """Worker processes that each build their state once and then run chunks of jobs."""

    def __init__(self, size: int, setup: Callable[[Any], Any], payload: Any) -> None:
        self.size = size
        self.setup = setup
        self.payload = payload

    def run(
        self,
        job: Callable[[Any, Any], Any],
        items: Sequence[Any],
        bar: Progress,
        keep: Callable[[Any, Any], Any],
        meanwhile: Callable[[], object] | None,
    ) -> list:
        import multiprocessing  # see start_method

        method = start_method()
        context = multiprocessing.get_context(method)
        chunks = [(start, items[start:end]) for start, end in _chunks(len(items), self.size)]
        inbox, outbox = context.SimpleQueue(), context.Queue()
        if method == "fork":
            # Frozen, the parent's objects are left out of the children's collections,
            # which would otherwise walk them and copy the memory pages they touch.
            gc.freeze()
        processes = [
            context.Process(
                target=_worker, args=(self.setup, self.payload, job, inbox, outbox), daemon=True
            )
            for _ in range(self.size)
        ]
        try:
            for process in processes:
                process.start()
            return self._collect(items, chunks, inbox, outbox, processes, bar, keep, meanwhile)
        finally:
            if method == "fork":
                gc.unfreeze()
            for process in processes:
                if process.is_alive():
                    process.terminate()
                process.join()

    def _collect(self, items, chunks, inbox, outbox, processes, bar, keep, meanwhile) -> list:
        """Hand the chunks out a few ahead of their results, and keep each result as it comes.

        Not all chunks at once: a pipe holds 64 KiB, so putting them all would block here
        until the last were taken, while the workers' results piled up in their memory
        and then all at once in this process's (at 20000 pages, every rendered body).
        Except with other work to do ``meanwhile``: the workers are then given every chunk
        first, to be busy while this process does it, and their results wait in their
        queues (the jobs with such work return small ones: documents' stats and links).
        """
        results: list[Any] = [None] * len(items)
        failures: list[SiteError] = []
        waiting = iter(chunks)
        ahead = self.size * _CHUNKS_AHEAD if meanwhile is None else len(chunks)
        for numbered in itertools.islice(waiting, ahead):
            inbox.put(numbered)
        error = None
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception as exc:  # raised after the jobs' own failures, if any
                error = exc
        for _ in range(len(chunks)):
            start, chunk_results = _next_result(outbox, processes)
            following = next(waiting, None)
            if following is not None:
                inbox.put(following)
            for offset, result in enumerate(chunk_results):
                if isinstance(result, _Crash):
                    raise RuntimeError(f"in a worker process: {result.traceback}")
                if isinstance(result, _Failure):
                    failures.append(result.error)
                elif not failures:  # after a failure, nothing more is kept
                    results[start + offset] = keep(items[start + offset], result)
            bar.update(len(chunk_results))
        for _ in range(self.size):
            inbox.put(None)  # each worker's signal to stop
        raise_all(failures)
        if error is not None:
            raise error
        return results


def _chunks(count: int, workers: int) -> list[tuple[int, int]]:
    """(start, end) of each chunk of ``count`` items, smaller as fewer remain (guided
    scheduling): with equal chunks, one worker could still be busy with a whole chunk
    while the others have nothing left to do."""
    bounds = []
    start = 0
    while start < count:
        size = max(1, min(_MAX_CHUNK, (count - start) // (workers * _TAIL_SHARES)))
        bounds.append((start, start + size))
        start += size
    return bounds


def _next_result(outbox, processes) -> tuple[int, list]:
    """The next chunk's results; an error if a worker died without sending them."""
    import queue  # with multiprocessing (see start_method)

    while True:
        try:
            return outbox.get(timeout=0.5)
        except queue.Empty:
            # A worker that ended with an error, or all ended: what is missing never comes.
            ended = [process.exitcode for process in processes]
            if any(code not in (None, 0) for code in ended) or None not in ended:
                try:
                    return outbox.get(timeout=1)  # sent just before it ended
                except queue.Empty:
                    raise SiteError("a worker process of the build died (out of memory?)") from None


@dataclass(frozen=True)
class _Crash:
    """Any other exception in a worker: a bug, reported with its traceback."""

    traceback: str


def _worker(setup, payload, job, inbox, outbox) -> None:
    """A worker's whole life: build the state, run chunks until told to stop."""
    state = setup(payload)
    for start, items in iter(inbox.get, None):
        results = []
        for item in items:
            try:
                results.append(job(state, item))
            except SiteError as exc:
                results.append(_Failure(exc))  # and on: every item's errors are reported
            except Exception:
                results.append(_Crash(traceback.format_exc()))
                break
        outbox.put((start, results))


__all__ = [
    "PARALLEL_THRESHOLD",
    "START_METHOD_ENV",
    "NoProgress",
    "Progress",
    "run_jobs",
    "start_method",
]
