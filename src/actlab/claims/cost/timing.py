"""Timing for the ``cost`` claim: interleaved, block-wise timing of callables, and the copy baselines.

Split from ``cost.py`` (the claim). See ``cost``'s docstring for why the timing is done
this way: warm-up, a block size chosen per callable, ``rounds`` interleaved passes in
alternating order, statistics over blocks, and the thread's CPU time as the clock on a
one-thread CPU run. Each :class:`Timing` also keeps the median of every round, so that a
claim can form one ratio per round (both sides measured side by side in that round) and
put an interval on it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from ...training.settings import Progress, check_choice, check_float, check_int, no_progress

__all__ = ["Timing", "CLOCKS", "choose_clock", "measure", "Copy", "CopyInto"]

_MIN_BLOCKS_PER_ROUND = 2


# --- baselines ---------------------------------------------------------------------


class _CloneBothWays(torch.autograd.Function):
    """Forward: a clone of x. Backward: a clone of the gradient (N read, N written each way)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        return grad.clone()


class Copy(nn.Module):
    """The baseline: an identity that copies, out of place, like an activation would.

    Forward returns ``x.clone()`` (a new tensor: allocate, read N, write N); when ``x``
    requires grad, the backward also clones the incoming gradient, where
    ``torch.clone``'s own backward would pass it through without touching memory.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape, new storage.

    Examples::

        >>> x = torch.ones(3)
        >>> y = Copy()(x)
        >>> bool((y == x).all()), y.data_ptr() != x.data_ptr()
        (True, True)
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.requires_grad and torch.is_grad_enabled():
            return _CloneBothWays.apply(x)
        return x.clone()


class CopyInto(nn.Module):
    """``out.copy_(x)`` into a buffer allocated once: a copy without the allocation.

    Args:
        out: the preallocated buffer (shape and device of the inputs to come).
    """

    def __init__(self, out: Tensor) -> None:
        super().__init__()
        self.register_buffer("out", out, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.out.copy_(x)


# --- timing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one callable: statistics over timed blocks.

    Attributes:
        median, q1, q3: median and quartiles of the per-block seconds per call.
        blocks: timed blocks; calls: timed calls in all (``blocks x calls per block``).
    """

    median: float
    q1: float
    q3: float
    blocks: int
    calls: int
    round_medians: tuple[float, ...] = field(default=())  # median seconds per call of each round

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @classmethod
    def from_samples(cls, seconds_per_call: Sequence[float], calls: int,
                     rounds: Sequence[int] | None = None) -> Timing:
        """From per-block seconds per call (at least two); quartiles by the inclusive method.

        ``rounds``: the round of each block, for :attr:`round_medians`.
        """
        if len(seconds_per_call) < 2:
            raise ValueError("a Timing needs at least two timed blocks")
        q1, median, q3 = statistics.quantiles(seconds_per_call, n=4, method="inclusive")
        per_round: tuple[float, ...] = ()
        if rounds is not None:
            if len(rounds) != len(seconds_per_call):
                raise ValueError("rounds must give the round of every block")
            per_round = tuple(statistics.median([v for v, r in zip(seconds_per_call, rounds, strict=True) if r == k])
                              for k in sorted(set(rounds)))
        return cls(median=median, q1=q1, q3=q3, blocks=len(seconds_per_call), calls=calls, round_medians=per_round)


CLOCKS = ("auto", "thread_time", "perf_counter")


def choose_clock(device: str | torch.device = "cpu") -> str:
    """The clock ``measure(clock="auto")`` uses on ``device`` with the current thread count.

    ``thread_time`` (this thread's CPU time) on the CPU with one torch thread: time
    spent descheduled while other processes run is not counted, so the measurement
    stands up to load on a shared machine (cache and memory-bandwidth contention
    still show). ``perf_counter`` (wall clock) otherwise: with several threads CPU
    time would add up across them, and a GPU's time is not the CPU's.
    """
    if torch.device(device).type == "cpu" and torch.get_num_threads() == 1:
        return "thread_time"
    return "perf_counter"


def _clock(device: torch.device, clock: str) -> Callable[[], float]:
    """The clock function; on CUDA it first waits for the GPU's queued work."""
    read = time.thread_time if clock == "thread_time" else time.perf_counter
    if device.type != "cuda":
        return read

    def synchronized() -> float:
        torch.cuda.synchronize(device)  # a CPU-GPU sync point: once per block, never inside one
        return read()

    return synchronized


def _calls_per_block(fn: Callable[[], object], clock: Callable[[], float], block_time: float) -> int:
    """Double the calls until a block lasts half of ``block_time``, then scale to it."""
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            fn()
        spent = clock() - start
        if spent >= block_time / 2 or number >= 1 << 20:
            break
        number *= 2
    return max(1, round(number * block_time / spent)) if spent > 0 else number


def measure(
    tasks: Mapping[Hashable, Callable[[], object]],
    *,
    device: str | torch.device = "cpu",
    min_run_time: float = 0.2,
    rounds: int = 3,
    block_time: float = 0.002,
    warmup: int = 3,
    clock: str = "auto",
    progress: Progress = no_progress,
) -> dict[Hashable, Timing]:
    """Seconds per call of each callable in ``tasks``, interleaved (see the module docstring).

    Args:
        tasks: key -> callable with no arguments; its return value is dropped.
        device: where the callables run; on CUDA the clock waits for the device.
        min_run_time: timed seconds per callable, over all rounds.
        rounds: passes over all callables, in alternating order.
        block_time: target seconds per timed block.
        warmup: untimed calls per callable before its block size is chosen.
        clock: ``thread_time``, ``perf_counter``, or ``auto`` (:func:`choose_clock`).
            ``thread_time`` on CUDA, or with several torch threads, would miss
            work done elsewhere: an error.
        progress: ``progress(done, total, message)``, one unit per callable and round
            (and one for its warm-up).

    Returns:
        key -> :class:`Timing`, in the order of ``tasks``.

    Examples::

        >>> x = torch.randn(1000)
        >>> t = measure({"relu": lambda: torch.relu(x)}, min_run_time=0.01, rounds=1, block_time=0.001)
        >>> 0 < t["relu"].q1 <= t["relu"].median <= t["relu"].q3
        True
    """
    check_float("min_run_time", min_run_time, positive=True)
    check_int("rounds", rounds, min_value=1)
    check_float("block_time", block_time, positive=True)
    check_int("warmup", warmup, min_value=0)
    check_choice("clock", clock, CLOCKS)
    dev = torch.device(device)
    if clock == "auto":
        clock = choose_clock(dev)
    if clock == "thread_time" and dev.type == "cuda":
        raise ValueError("clock='thread_time' cannot time CUDA work (the GPU's time is not this thread's); use perf_counter")
    if clock == "thread_time" and torch.get_num_threads() > 1:
        raise ValueError(f"clock='thread_time' counts this thread only, but torch runs {torch.get_num_threads()} "
                         "threads; use perf_counter, or torch.set_num_threads(1)")
    read_clock = _clock(dev, clock)
    keys = list(tasks)
    total, done = len(keys) * (rounds + 1), 0
    numbers: dict[Hashable, int] = {}
    for key in keys:
        fn = tasks[key]
        for _ in range(warmup):
            fn()
        numbers[key] = _calls_per_block(fn, read_clock, block_time)
        done += 1
        progress(done, total, f"warm-up {_label(key)}")
    samples: dict[Hashable, list[float]] = {k: [] for k in keys}
    block_round: dict[Hashable, list[int]] = {k: [] for k in keys}
    calls: dict[Hashable, int] = dict.fromkeys(keys, 0)
    per_round = min_run_time / rounds
    for r in range(rounds):
        for key in keys if r % 2 == 0 else reversed(keys):  # alternate: slow drifts hit both ends alike
            fn, number = tasks[key], numbers[key]
            spent, blocks = 0.0, 0
            while spent < per_round or blocks < _MIN_BLOCKS_PER_ROUND:
                start = read_clock()
                for _ in range(number):
                    fn()
                seconds = read_clock() - start
                samples[key].append(seconds / number)
                block_round[key].append(r)
                spent += seconds
                blocks += 1
            calls[key] += blocks * number
            done += 1
            progress(done, total, f"round {r + 1}/{rounds} {_label(key)}")
    return {k: Timing.from_samples(samples[k], calls[k], block_round[k]) for k in keys}


def _label(key: Hashable) -> str:
    if isinstance(key, tuple):
        return " ".join(f"{p:,}" if isinstance(p, int) else str(p) for p in key)
    return str(key)
