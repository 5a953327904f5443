"""A worker process that dies is noticed at once, not when the task beside it ends.

CPython's ``ProcessPoolExecutor.submit`` wakes the pool's manager thread before it spawns
the worker a task needs, so the manager can wait without that worker's sentinel; its death
was then seen only when another task ended (``training.workers.submit_watched`` closes the
gap). Here the second task kills its worker (most often the one spawned last) once the first
has started; the first would sleep 30 s and leave a mark. A pool that notices the death at
once kills the sleeper before it can leave its mark. Each spawn is slowed by 0.2 s, so that
the manager surely waits before the last worker exists, as it does now and then unaided.
"""

from __future__ import annotations

import os
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from actlab.training.workers import run_tasks, stop_pool, worker_pool


def _sleep_or_die(i: int, folder: str) -> int:
    meet = Path(folder)
    (meet / f"started-{i}").touch()
    if i == 1:
        deadline = time.monotonic() + 60
        while not (meet / "started-0").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os._exit(3)
    time.sleep(30)
    (meet / "finished-0").touch()
    return i


def test_a_dead_worker_stops_the_tasks_beside_it_at_once(tmp_path):
    pool = worker_pool(2)
    spawn = getattr(pool, "_spawn_process", None)  # private: the one place to widen CPython's window
    if spawn is None:  # before 3.11 every worker is spawned at the first submit: no window
        stop_pool(pool)
        pytest.skip("this Python spawns all workers at once")

    def slow_spawn():
        time.sleep(0.2)  # the manager thread, just woken by submit(), waits again meanwhile
        spawn()

    pool._spawn_process = slow_spawn
    try:
        with pytest.raises(BrokenProcessPool):
            run_tasks(_sleep_or_die, [(0, str(tmp_path)), (1, str(tmp_path))], pool=pool)
    finally:
        stop_pool(pool)
    assert (tmp_path / "started-1").exists()  # the death really came from task 1
    assert not (tmp_path / "finished-0").exists()  # seen before the sleeper ended, and the sleeper stopped
