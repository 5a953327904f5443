"""Independent runs (seeds, settings) in parallel worker processes.

Each task is a picklable top-level function and its arguments; results come back
in task order. Workers are started with ``spawn`` (safe with PyTorch's thread
pools) and each runs with one torch thread, so a run's numbers do not depend on
how many workers there are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any, TypeVar

__all__ = ["run_tasks", "default_workers", "worker_pool", "stop_pool", "shared_pool", "current_shared_pool",
           "submit_watched"]

T = TypeVar("T")


def default_workers(n_tasks: int) -> int:
    """One worker per core, no more than there are tasks."""
    return max(1, min(os.cpu_count() or 1, n_tasks))


def _init_worker(plugins: tuple[str, ...] = ()) -> None:
    import signal

    import torch

    from ..activations import REGISTRY
    from ..activations.plugins import load_plugin_files

    # Ctrl-C is the parent's to handle: it cancels the queue and stops the workers at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    REGISTRY.load_plugins(report=False)  # a broken plugin: the parent has said so once
    load_plugin_files(plugins)  # --plugin files the parent loaded (spawned workers start bare)


def submit_watched(pool: Executor, fn: Callable[..., Any], *args: Any):
    """``pool.submit(fn, *args)``, with a worker that dies on this task noticed at once.

    ``ProcessPoolExecutor.submit`` wakes the pool's manager thread *before* it spawns the
    worker the task may need (CPython 3.11-3.13, every start method but fork). The manager then
    waits without that worker's sentinel, and a death there is seen only when some other task
    ends, minutes later in a long run. Waking the manager again once the worker exists closes
    that gap (private attributes, stable since 3.11; without them this is plain ``submit``).
    """
    future = pool.submit(fn, *args)
    # only where workers are spawned on demand (3.11+, not fork): elsewhere there is no gap
    spawns_late = getattr(pool, "_safe_to_dynamically_spawn_children", False)
    wakeup = getattr(pool, "_executor_manager_thread_wakeup", None) if spawns_late else None
    if wakeup is not None:
        try:
            wakeup.wakeup()
        except (OSError, ValueError):  # the pool is shutting down: nothing left to watch
            pass
    return future


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel every queued task and kill the workers now (Ctrl-C, an error): no waiting for the queue.

    ``shutdown(wait=True)`` (what ``with ProcessPoolExecutor()`` does on the way out) would
    run every task already queued first.
    """
    # No public way to stop a running task: kill the workers (private but stable attribute;
    # Python 3.14 adds ProcessPoolExecutor.kill_workers()).
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for proc in processes:
        try:
            proc.kill()
        except (OSError, ValueError):  # already gone
            pass
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in processes:
        proc.join(timeout=0.5)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes with one torch thread each, to pass to
    :func:`run_tasks` as ``pool`` across several rounds of tasks (each new process pays
    its imports once, seconds with torch). Use it as a context manager."""
    from ..activations.plugins import loaded_plugin_files

    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker,
                               initargs=(loaded_plugin_files(),))


class _Shared:
    """The pool :func:`shared_pool` lends out: made at its first use, dropped when stopped."""

    active = False
    size = 0
    pool: ProcessPoolExecutor | None = None


@contextmanager
def shared_pool() -> Iterator[None]:
    """Within this block, :func:`run_tasks` calls that would start a pool of their own borrow one
    pool of spawned workers instead, kept from one call (and one claim) to the next.

    Each new worker process pays its imports (2-3 s with torch), so ``actlab run all`` used to
    pay them six times over. Results do not change: every task seeds its own generators and runs
    on one torch thread, whichever worker runs it and whatever that worker ran before (the same
    holds inside one pool today). The pool has one worker per core, is made when first needed,
    and is shut down when the block ends (killed at once if it ends with an exception or Ctrl-C).
    A task that raises kills the shared workers as it would kill a pool of its own; the next call
    makes a fresh pool. Nested blocks use the outer block's pool.
    """
    if _Shared.active:
        yield
        return
    _Shared.active, _Shared.size, _Shared.pool = True, os.cpu_count() or 1, None
    ok = False
    try:
        yield
        ok = True
    finally:
        pool, _Shared.active, _Shared.pool = _Shared.pool, False, None
        if pool is not None:
            if ok:
                pool.shutdown(wait=True)
            else:
                stop_pool(pool)


def current_shared_pool(workers: int) -> ProcessPoolExecutor | None:
    """The shared pool (made now if need be) when a :func:`shared_pool` block is active and it has
    at least ``workers`` workers; else None (the caller makes its own)."""
    if not _Shared.active or workers > _Shared.size:
        return None
    if _Shared.pool is None:
        _Shared.pool = worker_pool(_Shared.size)
    return _Shared.pool


def run_tasks(
    fn: Callable[..., T],
    tasks: Sequence[tuple[Any, ...]],
    workers: int = 0,
    on_done: Callable[[int, int], None] | None = None,
    pool: Executor | None = None,
) -> list[T]:
    """``[fn(*t) for t in tasks]``, in ``workers`` processes (0: one per core; 1: in this process).

    ``on_done(done, total)`` is called as each task finishes (in the parent). ``pool``: an
    executor from :func:`worker_pool` to run the tasks in (``workers`` is then not used).
    If a task raises, or Ctrl-C arrives, the tasks not yet started are cancelled and the
    workers (the given pool's too) are stopped at once (within a second), then the
    exception goes on.
    """
    from .settings import torch_threads

    auto = workers == 0
    workers = default_workers(len(tasks)) if auto else workers
    results: list[Any] = [None] * len(tasks)
    if pool is None and (workers <= 1 or len(tasks) <= 1):
        # With workers=0 a task's numbers must not depend on how many tasks there are (how many
        # activations were asked for): in this process it runs on one thread, as a pool worker
        # does (float sums split over threads round differently). workers=1 keeps this process's.
        with torch_threads(1 if auto else None):
            for i, t in enumerate(tasks):
                results[i] = fn(*t)
                if on_done:
                    on_done(i + 1, len(tasks))
        return results
    if pool is None:
        pool = current_shared_pool(min(workers, len(tasks)))
    own = pool is None
    if own:
        pool = worker_pool(min(workers, len(tasks)))
    try:
        futures = {submit_watched(pool, fn, *t): i for i, t in enumerate(tasks)}
        for done, fut in enumerate(as_completed(futures), 1):
            results[futures[fut]] = fut.result()
            if on_done:
                on_done(done, len(tasks))
    except BaseException:
        stop_pool(pool)
        if pool is _Shared.pool:
            _Shared.pool = None  # its workers are gone: the next call makes a fresh pool
        raise
    if own:
        pool.shutdown(wait=True)
    return results
