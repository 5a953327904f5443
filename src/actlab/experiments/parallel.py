"""Independent runs (seeds, settings) in parallel worker processes.

Each task is a picklable top-level function and its arguments; results come back
in task order. Workers are started with ``spawn`` (safe with PyTorch's thread
pools) and each runs with one torch thread, so a run's numbers do not depend on
how many workers there are.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Any, TypeVar

__all__ = ["run_tasks", "default_workers", "worker_pool"]

T = TypeVar("T")


def default_workers(n_tasks: int) -> int:
    """One worker per core, no more than there are tasks."""
    return max(1, min(os.cpu_count() or 1, n_tasks))


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes with one torch thread each, to pass to
    :func:`run_tasks` as ``pool`` across several rounds of tasks (each new process pays
    its imports once, seconds with torch). Use it as a context manager."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_init_worker)


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
    """
    workers = default_workers(len(tasks)) if workers == 0 else workers
    results: list[Any] = [None] * len(tasks)
    if pool is None and (workers <= 1 or len(tasks) <= 1):
        for i, t in enumerate(tasks):
            results[i] = fn(*t)
            if on_done:
                on_done(i + 1, len(tasks))
        return results
    if pool is None:
        with worker_pool(workers) as own:
            return run_tasks(fn, tasks, workers, on_done, pool=own)
    futures = {pool.submit(fn, *t): i for i, t in enumerate(tasks)}
    for done, fut in enumerate(as_completed(futures), 1):
        results[futures[fut]] = fut.result()
        if on_done:
            on_done(done, len(tasks))
    return results
