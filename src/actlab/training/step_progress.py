"""Progress measured in training steps, across worker processes.

``run_tasks`` reports a task only when it finishes, so a claim made of a few long runs
(saturation: 15 runs of about a minute each at full scale) would show nothing for a
long time and then jump. :class:`StepProgress` lets each run report the steps it has
done: a task's :class:`Reporter` writes its count into a small file of a temporary
folder (atomically, at most twice a second; no extra process, nothing to set up in the
workers), and a thread in the parent adds the counts up and calls the claim's
``progress`` at least every ``interval`` seconds, so the line moves and its time-left
estimate follows the work actually done (the start-up before the first step is not
mistaken for training: see :meth:`StepProgress.fraction`).

    with StepProgress(progress, [steps_of_task_0, steps_of_task_1, ...]) as ticks:
        results = run_tasks(fn, [(..., ticks.reporter(i)) for i ...], workers, on_done=ticks.done)

In the task, ``report(step)`` after each step, and ``report(math.inf, force=True)`` when it
ends (a run that diverged and stopped early still counts as all of its work).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from .settings import Progress

__all__ = ["StepProgress", "Reporter"]


class Reporter:
    """``reporter(steps_done)`` from inside a task (picklable: a folder and a task number)."""

    def __init__(self, folder: str | None, task: int, every_s: float = 0.5) -> None:
        self.folder, self.task, self.every_s = folder, task, every_s
        self._last = 0.0

    def __getstate__(self) -> dict:
        return {"folder": self.folder, "task": self.task, "every_s": self.every_s}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._last = 0.0

    def __call__(self, steps_done: float, force: bool = False) -> None:
        """Report ``steps_done``; ``force`` writes now (a task's last report: ``inf`` = all its work)."""
        if self.folder is None:
            return
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        path = os.path.join(self.folder, str(self.task))
        try:
            with open(path + ".tmp", "w", encoding="ascii") as fh:
                fh.write(repr(float(steps_done)))
            os.replace(path + ".tmp", path)
        except OSError:  # the run ended and its folder is gone: nothing to report to
            self.folder = None


class StepProgress:
    """Sums the steps reported by every task and calls ``progress(done, total, message)``.

    ``work`` is the expected steps of each task.
    """

    def __init__(self, progress: Progress, work: Sequence[float], message: str = "training",
                 interval: float = 1.0) -> None:
        self.progress, self.work, self.message, self.interval = progress, [float(w) for w in work], message, interval
        self.total = sum(self.work) or 1.0
        self.folder: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._start = time.monotonic()
        self._first: float | None = None  # when the first step was reported

    def __enter__(self) -> StepProgress:
        self._start = time.monotonic()
        self.folder = tempfile.mkdtemp(prefix="actlab-progress-")
        self._thread = threading.Thread(target=self._loop, name="actlab-step-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def reporter(self, task: int) -> Reporter:
        """What task ``task`` calls with its steps done."""
        return Reporter(self.folder, task)

    def done(self, _done: int = 0, _total: int = 0) -> None:
        """``run_tasks``' ``on_done``: redraw now."""
        self._draw()

    def steps_done(self) -> float:
        """The steps reported so far, each task capped at its expected work."""
        folder = self.folder
        if folder is None:
            return self.total
        done = 0.0
        for i, work in enumerate(self.work):
            try:
                done += min(float(Path(folder, str(i)).read_text(encoding="ascii")), work)
            except (OSError, ValueError):  # not written yet
                pass
        return done

    def fraction(self, now: float | None = None) -> float:
        """The share of the run's *time* that is done, from the steps done since the first report.

        The progress line estimates the time left as elapsed x (1 - f) / f. Fed the share of
        steps, it would count the workers' start-up (seconds of imports, before any step) as
        if it were training and overestimate the rest several times over early on; so f is
        elapsed / (elapsed + left), with left = (time since the first step) x (steps left) /
        (steps done).
        """
        now = time.monotonic() if now is None else now
        done = min(self.steps_done(), self.total)
        if done <= 0:
            return 0.0
        if self._first is None:
            self._first = now
        if done >= self.total:
            return 1.0
        elapsed, training = now - self._start, now - self._first
        if training < 2.0:  # too soon to know the rate: the share of steps (it errs on the slow side)
            return done / self.total
        left = training * (self.total - done) / done
        return elapsed / (elapsed + left) if elapsed + left > 0 else done / self.total

    def _draw(self) -> None:
        with self._lock:
            self.progress(self.total * self.fraction(), self.total, self.message)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._draw()
