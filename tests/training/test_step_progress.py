"""StepProgress: steps reported by tasks (in this process or in workers) add up, the line is redrawn
on a timer, and a task's last report counts all of its work."""

from __future__ import annotations

import math
import pickle
import time

import pytest

from actlab.training.step_progress import Reporter, StepProgress
from actlab.training.workers import run_tasks


def _task(n: int, report: Reporter) -> int:
    for step in range(1, n + 1):
        report(step)
    report(math.inf, force=True)
    return n


def test_reports_add_up_and_a_finished_task_counts_whole():
    calls = []
    with StepProgress(lambda d, t, m="": calls.append((d, t)), [10, 30], interval=0.05) as ticks:
        r0, r1 = ticks.reporter(0), ticks.reporter(1)
        r0(4, force=True)
        r1(12, force=True)
        assert ticks.steps_done() == 16
        r0(math.inf, force=True)  # task 0 ended (say, diverged early): all 10 of its steps count
        assert ticks.steps_done() == 22
        time.sleep(0.2)
    assert calls and all(t == 40 for _, t in calls) and all(0 < d <= 40 for d, _ in calls)
    folder = ticks.folder
    assert folder is None  # cleaned up


def test_reporter_is_rate_limited_and_picklable():
    with StepProgress(lambda *a: None, [100]) as ticks:
        rep = ticks.reporter(0)
        rep(1)
        rep(50)  # within every_s of the first: not written
        assert ticks.steps_done() == 1
        again = pickle.loads(pickle.dumps(rep))
        again(60)
        assert ticks.steps_done() == 60
    rep(70, force=True)  # after the run the folder is gone: a report is a no-op, not an error


def test_worker_processes_report_through_the_folder():
    seen = []
    with StepProgress(lambda d, t, m="": seen.append(d), [5, 7]) as ticks:
        out = run_tasks(_task, [(5, ticks.reporter(0)), (7, ticks.reporter(1))], workers=2, on_done=ticks.done)
        assert ticks.steps_done() == 12
    assert out == [5, 7] and seen[-1] == 12


def test_time_left_is_not_inflated_by_start_up():
    """10 s of start-up, then 10% of the steps in 2 s: the line's estimate elapsed x (1 - f) / f must be
    the 18 s the steps still need, not the 108 s that the share of steps would give."""
    ticks = StepProgress(lambda *a: None, [100])
    with ticks:
        t0 = ticks._start
        ticks.reporter(0)(1, force=True)
        ticks._first = t0 + 10.0  # the first step came after 10 s of start-up
        ticks.reporter(0)(10, force=True)
        f = ticks.fraction(now=t0 + 12.0)
        elapsed = 12.0
        assert elapsed * (1 - f) / f == pytest.approx(18.0, rel=1e-6)
        ticks.reporter(0)(math.inf, force=True)
        assert ticks.fraction(now=t0 + 30.0) == 1.0
