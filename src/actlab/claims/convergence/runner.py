"""The `convergence` claim's runner: training tasks in one worker pool with a progress line.

``_Work`` weighs the progress line's work (steps x cost per step, summed over runs); ``_Runner``
runs rounds of tasks in one pool (spawned once) while a thread redraws the line every second.
"""

from __future__ import annotations

import queue as queue_module
import threading
from collections.abc import Callable
from multiprocessing import get_context
from typing import Any

from ...training.settings import Progress
from ...training.workers import current_shared_pool, run_tasks, worker_pool

__all__ = ["_Work", "_Runner"]


class _Work:
    """The progress line's bookkeeping: work = steps x cost per step, summed over runs.

    Runs stop at the lowest target, so a run not yet finished is expected to take the
    steps given when it was submitted (a seed at a chosen rate: as many as that rate's
    search run took), else the mean share of max_steps that finished runs took (0.6
    before any has finished). A thread redraws the line every second.
    """

    def __init__(self, progress: Progress, max_steps: int) -> None:
        self.progress, self.max_steps = progress, max_steps
        self.cost: dict[int, float] = {}
        self.steps: dict[int, int] = {}
        self.finished: dict[int, int] = {}
        self.expected: dict[int, float] = {}
        self.planned: list[float] = []  # costs of runs not yet submitted
        self.message = ""
        self.lock = threading.Lock()
        self.next_id = 0

    def plan(self, costs: list[float]) -> None:
        with self.lock:
            self.planned.extend(costs)

    def submit(self, costs: list[float], message: str, expected: list[float] | None = None) -> list[int]:
        with self.lock:
            ids = list(range(self.next_id, self.next_id + len(costs)))
            self.next_id += len(costs)
            for k, (i, c) in enumerate(zip(ids, costs)):
                self.cost[i], self.steps[i] = c, 0
                if expected is not None:
                    self.expected[i] = expected[k]
                if c in self.planned:
                    self.planned.remove(c)
            self.message = message
            return ids

    def step(self, task_id: int, steps: int) -> None:
        with self.lock:
            self.steps[task_id] = max(self.steps.get(task_id, 0), steps)
            if -1 in self.cost:
                self.steps[-1] = 1  # a worker reported: the start-up is done

    def finish(self, task_id: int, steps_run: int) -> None:
        with self.lock:
            self.finished[task_id] = steps_run
            self.steps[task_id] = steps_run

    def fraction(self) -> float:
        with self.lock:
            shares = [s / self.max_steps for i, s in self.finished.items() if i >= 0]
            expect = (sum(shares) / len(shares) if shares else 0.6) * self.max_steps
            done = sum(self.cost[i] * s for i, s in self.steps.items())
            total = sum(self.cost[i] * (self.finished[i] if i in self.finished else
                                        max(self.expected.get(i, expect), s))
                        for i, s in self.steps.items())
            total += sum(c * expect for c in self.planned)
            return done / total if total > 0 else 0.0

    def startup(self, work_ms: float) -> None:
        """Count starting the worker processes (imports, data) as work, done at the first report."""
        with self.lock:
            self.cost[-1], self.steps[-1], self.finished[-1] = work_ms, 0, 1

    def draw(self) -> None:
        self.progress(1000 * self.fraction(), 1000, self.message)


#: Seconds a worker process takes to start (python, torch, torch.optim's imports, the data) on the VM.
_STARTUP_S = 6.0


class _Runner:
    """Runs rounds of training tasks in one worker pool (spawned once: each process pays its
    imports, ~5 s with torch.optim, only once), with a progress line that moves during long
    runs: workers report their steps through a queue, a thread redraws every second."""

    def __init__(self, workers: int, work: _Work, train_one: Callable[..., dict[str, Any]]) -> None:
        self.work = work
        self.train_one = train_one
        self.in_process = workers == 1
        self.pool: Any = None
        self.shared: Any = None
        self.manager: Any = None
        self.queue: Any = queue_module.Queue()
        self.workers = workers

    def __enter__(self) -> _Runner:
        if not self.in_process:
            self.manager = get_context("spawn").Manager()
            self.queue = self.manager.Queue()
            self.shared = current_shared_pool(self.workers)  # `actlab run all`: the workers may be warm already
            self.pool = self.shared or worker_pool(self.workers)
            self.work.startup(_STARTUP_S * 1000 * self.workers)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join()
        if self.pool is not None and self.pool is not self.shared:
            self.pool.shutdown()
        if self.manager is not None:
            self.manager.shutdown()

    def _drain(self) -> None:
        while True:
            try:
                while True:
                    task_id, steps = self.queue.get_nowait()
                    self.work.step(task_id, steps)
            except (queue_module.Empty, EOFError, OSError):
                pass
            self.work.draw()
            if self.stop.wait(1.0):
                return

    def run(self, tasks: list[tuple[Any, ...]], costs: list[float], message: str,
            expected: list[float] | None = None) -> list[dict[str, Any]]:
        ids = self.work.submit(costs, message, expected)
        full = [(*t, task_id, self.queue) for t, task_id in zip(tasks, ids)]
        out = run_tasks(self.train_one, full, 1 if self.in_process else self.workers, pool=self.pool)
        for task_id, r in zip(ids, out):
            self.work.finish(task_id, r["steps_run"])
        self.work.draw()
        return out
