"""Jobs over worker processes, with any start method (fork, forkserver, spawn).

    with Workers(2) as workers:             # owned by a build, or by a preview's context
        run_jobs(job, items, state, setup=..., payload=..., workers=workers)
        run_jobs(other_job, ...)             # the same processes, another step

A job is a module-level function ``job(state, item)``. Run here (few items, one core), it gets
the caller's ``state``; run in workers, each worker builds its own state once per step with
``setup(payload)``: a small picklable payload (the config, the pages' front matter, paths),
never the parent's memory, so spawn (Windows, macOS) and forkserver work as fork does. The
worker keeps that state in a function's frame for the step, and drops it when the step ends:
there is no module-level state, and nothing of one step reaches the next.

The processes of a :class:`Workers` start at its first step with enough items and serve
every later step until it is closed: with spawn and forkserver a start is a fresh interpreter
importing launchkit, Markdown, Jinja and Pygments (their imports alone about 0.3 CPU s),
which a cold build of three steps over workers would otherwise pay three times, and a
preview at every rebuild over workers.
With fork, each step forks its own: that costs milliseconds, and they inherit its payload.

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
    workers: Workers,
    bar: Progress | None = None,
    keep: Callable[[Any, Any], Any] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> list[Any]:
    """``[job(state, item) for item in items]``, over the ``workers`` processes when worth it.

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
    if workers.size < 2 or len(items) <= PARALLEL_THRESHOLD:
        outcome = _run_here(job, items, state, bar, keep, meanwhile)
    else:
        outcome = workers.run(_Step(job, setup, payload()), items, bar, keep, meanwhile)
    raise_all(outcome.failures)
    if outcome.error is not None:
        raise outcome.error
    return outcome.results


def _whole(item: Any, result: Any) -> Any:
    return result


@dataclass
class _Outcome:
    """What a step gave: the kept results, the jobs' SiteErrors, and the error of the other
    work done ``meanwhile`` (raised only when the jobs had none)."""

    results: list[Any]
    failures: list[SiteError]
    error: BaseException | None = None


def _run_here(
    job: Callable[[Any, Any], Any],
    items: Sequence[Any],
    state: Any,
    bar: Progress,
    keep: Callable[[Any, Any], Any],
    meanwhile: Callable[[], object] | None,
) -> _Outcome:
    """The jobs in this process, one after another, then the other work if they all worked."""
    outcome = _Outcome([], [])
    for item in items:
        try:
            outcome.results.append(keep(item, job(state, item)))
        except SiteError as exc:
            outcome.failures.append(exc)
        bar.update()
    if meanwhile is not None and not outcome.failures:
        meanwhile()
    return outcome


@dataclass(frozen=True)
class _Step:
    """What every worker is sent once for a step: how to build its state, and its job."""

    job: Callable[[Any, Any], Any]
    setup: Callable[[Any], Any]
    payload: Any


@dataclass(frozen=True)
class _Failure:
    """A job's SiteError, sent back rather than raised so that the other jobs go on."""

    error: SiteError


@dataclass(frozen=True)
class _Crash:
    """Any other exception in a worker: a bug, reported with its traceback."""

    traceback: str


class Workers:
    """At most ``size`` worker processes, kept for every step until :meth:`close`.

    Its owner makes it and closes it, even on error (``with``): a build for its own steps, or
    a preview's :class:`~.context.BuildContext` for all its builds. The processes start at
    the first step given enough items (as many as it has items, at most ``size``); forked
    ones end with their step (see :meth:`run`). A step
    whose machinery broke (a worker died, a bug in a job, an interrupt) ends them, as they
    may be halfway through its chunks; the next step starts new ones. A step whose jobs
    only raised SiteErrors ends as any other, and leaves them ready.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._pool: _Pool | None = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, step: _Step, items: Sequence[Any], bar: Progress, keep, meanwhile) -> _Outcome:
        """One step's jobs over the processes, started now (with the step) if none are."""
        method = self._pool.method if self._pool is not None else start_method()
        # Frozen, the parent's objects are left out of forked children's collections, which
        # would otherwise walk them and copy the memory pages they touch; and out of this
        # process's own while the step runs.
        if method == "fork":
            gc.freeze()
        try:
            if self._pool is None:
                self._pool = _Pool(min(self.size, len(items)), method, step)
            else:
                self._pool.send(step)
            return self._pool.run(items, bar, keep, meanwhile)
        except BaseException:
            self.close()
            raise
        finally:
            if method == "fork":
                gc.unfreeze()
                # Forked anew for each step: a fork costs milliseconds, and a new process
                # inherits the step's payload that a kept one must unpickle (the documents'
                # pages, media and links: kept, a cold build of 2000 pages took 0.7 CPU s more).
                self.close()

    def close(self) -> None:
        """End the processes (a no-op when none run)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


class _Pool:
    """Running worker processes, started with a first step: each runs chunks of its step's
    jobs from the shared inbox until a stop, then takes the next step from its own pipe."""

    def __init__(self, size: int, method: str, step: _Step) -> None:
        import multiprocessing  # see start_method

        self.method = method
        self.size = size
        context = multiprocessing.get_context(method)
        self.inbox, self.outbox = context.SimpleQueue(), context.Queue()
        self.steps = []  # this end of each worker's pipe of steps
        self.processes = []
        try:
            for _ in range(size):
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_worker, args=(step, receive, self.inbox, self.outbox), daemon=True
                )
                self.steps.append(send)
                self.processes.append(process)
                process.start()
                receive.close()  # the worker's end: a dead worker's pipe is then broken
        except BaseException:
            self.close()
            raise

    def send(self, step: _Step) -> None:
        """Give every worker its next step (they all wait for one: see :meth:`run`)."""
        from multiprocessing.reduction import ForkingPickler  # see start_method

        sent = ForkingPickler.dumps(step)  # pickled once, however many workers (recv() reads it)
        try:
            for pipe in self.steps:
                pipe.send_bytes(sent)
        except OSError:  # a broken pipe: that worker has ended
            raise _died() from None

    def run(self, items: Sequence[Any], bar: Progress, keep, meanwhile) -> _Outcome:
        """Hand out the current step's chunks and collect their results; return once every
        worker has dropped the step's state and waits for the next."""
        chunks = [(start, items[start:end]) for start, end in _chunks(len(items), self.size)]
        outcome = self._collect(items, chunks, bar, keep, meanwhile)
        self._end_step()
        return outcome

    def _collect(self, items, chunks, bar, keep, meanwhile) -> _Outcome:
        """Hand the chunks out a few ahead of their results, and keep each result as it comes.

        Not all chunks at once: a pipe holds 64 KiB, so putting them all would block here
        until the last were taken, while the workers' results piled up in their memory
        and then all at once in this process's (at 20000 pages, every rendered body).
        Except with other work to do ``meanwhile``: the workers are then given every chunk
        first, to be busy while this process does it, and their results wait in their
        queues (the jobs with such work return small ones: documents' stats and links).
        """
        outcome = _Outcome([None] * len(items), [])
        waiting = iter(chunks)
        ahead = self.size * _CHUNKS_AHEAD if meanwhile is None else len(chunks)
        for numbered in itertools.islice(waiting, ahead):
            self.inbox.put(numbered)
        if meanwhile is not None:
            try:
                meanwhile()
            except Exception as exc:  # raised after the jobs' own failures, if any
                outcome.error = exc
        for _ in range(len(chunks)):
            start, chunk_results = self._next_result()
            following = next(waiting, None)
            if following is not None:
                self.inbox.put(following)
            for offset, result in enumerate(chunk_results):
                if isinstance(result, _Crash):
                    raise RuntimeError(f"in a worker process: {result.traceback}")
                if isinstance(result, _Failure):
                    outcome.failures.append(result.error)
                elif not outcome.failures:  # after a failure, nothing more is kept
                    outcome.results[start + offset] = keep(items[start + offset], result)
            bar.update(len(chunk_results))
        return outcome

    def _end_step(self) -> None:
        """Stop every worker's step and wait until each has: one that took its stop goes
        back to its pipe, and must not take another's from the inbox at the next step."""
        for _ in self.processes:
            self.inbox.put(None)
        for _ in self.processes:
            self._next_result()

    def _next_result(self) -> Any:
        """The next message of a worker; an error if a worker died without sending it."""
        import queue  # with multiprocessing (see start_method)

        while True:
            try:
                return self.outbox.get(timeout=0.5)
            except queue.Empty:
                # A worker that ended: what is missing never comes (they end only when
                # told, after their last message).
                if any(process.exitcode is not None for process in self.processes):
                    try:
                        return self.outbox.get(timeout=1)  # sent just before it ended
                    except queue.Empty:
                        raise _died() from None

    def close(self) -> None:
        """End every worker now, idle or not, and release the pipes and queues."""
        for pipe in self.steps:
            pipe.close()
        for process in self.processes:
            if process.is_alive():
                process.terminate()
            if process.pid is not None:
                process.join()
        self.inbox.close()
        self.outbox.close()


def _died() -> SiteError:
    return SiteError("a worker process of the build died (out of memory?)")


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


def _worker(step: _Step | None, steps, inbox, outbox) -> None:
    """A worker's whole life: for its first step and each one sent on its pipe, build the
    step's state and run chunks from the inbox until told to stop; end when the pipe closes."""
    while step is not None:
        _run_step(step.job, step.setup(step.payload), inbox, outbox)
        outbox.put(None)  # done with the step: back to the pipe (Pool._end_step)
        step = _next_step(steps)


def _next_step(steps) -> _Step | None:
    """The next step sent on the pipe, None once its Workers closed it."""
    try:
        return steps.recv()  # as _Pool.send pickled it: send() would pickle it for each
    except EOFError:
        return None


def _run_step(job, state, inbox, outbox) -> None:
    """Chunks of one step until told to stop; the state goes with this frame."""
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
    "Workers",
    "run_jobs",
    "start_method",
]
