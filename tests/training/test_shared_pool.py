"""``shared_pool``: inside ``actlab run`` and ``actlab compare`` the claims borrow one set of
worker processes instead of spawning (and importing torch in) new ones for every round of
tasks. What must hold: the workers really are reused, a task's numbers do not depend on
what its worker ran before, a failing task does not poison the next call, and nothing is
left running when the block ends."""

from __future__ import annotations

import os

import pytest
import torch

from actlab.training.workers import current_shared_pool, run_tasks, shared_pool


def _pid(_: int) -> int:
    return os.getpid()


def _disturb(_: int) -> float:
    # what a careless earlier task could leave behind in a reused worker
    torch.manual_seed(12345)
    return float(torch.rand(()).item())


def _train(seed: int) -> list[float]:
    """A small seeded training run through actlab's own trainer, as the claims do."""
    from actlab.training.models import build_mlp
    from actlab.training.trainer import Tensors, TrainConfig, train

    gen = torch.Generator().manual_seed(7)
    x = torch.randn(256, 10, generator=gen)
    y = (x[:, 0] > 0).long()
    data = Tensors(x, y, x[:64], y[:64])
    model = build_mlp(10, 16, 2, 2, "relu", seed=seed)
    hist = train(model, data, TrainConfig(steps=30, batch_size=32, lr=0.1, seed=seed, eval_every=10, eval_examples=64))
    return [float(p.detach().double().sum()) for p in model.parameters()] + list(hist.train_error)


def _boom(i: int) -> int:
    if i == 1:
        raise RuntimeError("task 1 failed")
    return i


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        try:  # a zombie (exited, not yet reaped) is not running
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().split(")")[-1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        alive.add(pid)
    return alive


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for a pool of 2 workers")
def test_calls_in_a_block_share_workers_and_leave_none_behind():
    with shared_pool():
        first = set(run_tasks(_pid, [(i,) for i in range(4)], workers=2))
        second = set(run_tasks(_pid, [(i,) for i in range(4)], workers=2))
        assert os.getpid() not in first and second <= first  # the same processes, not new ones
        assert current_shared_pool(2) is not None
        assert current_shared_pool((os.cpu_count() or 1) + 1) is None  # more than it has: the caller's own
    assert current_shared_pool(2) is None  # no block, no shared pool
    assert not _alive(first), "workers left running after the block"
    outside = set(run_tasks(_pid, [(i,) for i in range(4)], workers=2))
    assert not outside & first


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for a pool of 2 workers")
def test_a_tasks_numbers_do_not_depend_on_what_its_worker_ran_before():
    from actlab.training.settings import torch_threads

    with torch_threads(1):  # in this process, on one torch thread as a worker is
        alone = run_tasks(_train, [(0,), (1,)], workers=1)
    with shared_pool():
        run_tasks(_disturb, [(i,) for i in range(4)], workers=2)
        reused = run_tasks(_train, [(0,), (1,)], workers=2)
    assert reused == alone  # bit-identical on one machine: same seeds, one thread each


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 cores for a pool of 2 workers")
def test_a_failed_call_stops_the_shared_workers_and_the_next_call_gets_fresh_ones():
    with shared_pool():
        before = set(run_tasks(_pid, [(i,) for i in range(4)], workers=2))
        with pytest.raises(RuntimeError, match="task 1 failed"):
            run_tasks(_boom, [(i,) for i in range(6)], workers=2)
        assert not _alive(before)  # killed at once, as a pool of its own would be
        after = set(run_tasks(_pid, [(i,) for i in range(4)], workers=2))
        assert after and not after & before
    assert not _alive(after)
