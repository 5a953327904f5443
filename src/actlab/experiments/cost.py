"""Claim 7, ``cost``: exp() is more expensive than max(0, x).

The claim (CS231n lecture 6, "Activation functions"): sigmoid's "exp() is a bit
compute expensive", while ReLU is "computationally efficient"; and DESIGN.md's
performance budget: ReLU-class activations within 1.2x of a same-size copy.

The measurement, per activation (each one's ``nn.Module``, as a model calls it),
per tensor size N (1-D, N elements of ``dtype``, drawn from N(0, 1)):

* ``forward``: ``y = act(x)``, out of place, no autograd graph (the module's
  parameters, PReLU's slope, are frozen for this pass);
* ``forward_backward``: ``y = act(x)`` then ``torch.autograd.grad(y, [x, *params], g)``
  with a fixed upstream gradient ``g``: everything a training step does with the
  activation (PReLU's slope gradient included).

Baseline, "a plain copy of the same bytes": the out-of-place clone (``Copy``), not
``copy_`` into a preallocated buffer. An activation's forward allocates its output
and then reads N and writes N elements; ``x.clone()`` does exactly that and no
arithmetic, so ``ratio_vs_copy`` isolates the arithmetic. ``copy_`` into an
existing buffer skips the allocation, which on the CPU can cost more than the
copy itself (on Linux, above glibc's 32 MB mmap threshold every out-of-place op
gets fresh pages from the kernel: at 10M float32 elements a clone costs ~7x a
``copy_``), so against it even relu would look slow for a reason that has nothing
to do with its arithmetic. ``copy_`` is still measured (``copy_into_ns_per_element``,
forward only) to show what the allocation costs at each size. The default sizes
stop at 4M float32 elements (16 MB): past the per-core caches, so the largest
size is memory-bound on most machines, yet below that threshold. For ``forward_backward``
the baseline clones in the forward and clones the gradient in the backward (a
custom autograd Function): N read and N written each way. An elementwise
activation's backward also reads its saved tensor, so a bandwidth-bound relu costs
about 5/4 of that baseline: the 1.2x budget applies to the forward pass only.
Both baselines are ``nn.Module`` calls like the activations, so the Python
per-call overhead (~1-4 us) is on both sides of every ratio.

And one whole training step per activation: an MLP ``784-256-256-10`` (``train_widths``),
batch 128 of synthetic Gaussian inputs and random labels, cross-entropy, SGD step
(``zero_grad``, forward, backward, ``step``). There the matrix products dominate and
the activation's share is small.

Timing (``measure``): every callable gets ``warmup`` untimed calls, then a block size
(calls per timed block) is chosen so that one block lasts about ``block_time``.
The measurement then makes ``rounds`` interleaved passes over all callables
(alternating order), each spending ``min_run_time / rounds`` seconds (at least two
blocks) on each callable, so that load from other processes on a shared machine
lands on every activation alike instead of on whichever ran at that moment. The
statistics are over blocks: median, first and third quartile (IQR) of the seconds
per call. The clock (``choose_clock``): on the CPU with one thread (the default),
the thread's CPU time, ``time.thread_time``, so that time spent descheduled while
other processes run is not counted (on a loaded 2-core machine this cuts the IQRs
several-fold; cache and memory-bandwidth contention still show); with more threads
or on CUDA, wall-clock ``time.perf_counter``. On CUDA the device is synchronised at
the start and end of every block (``torch.cuda.synchronize``), never inside one. Why not
``torch.utils.benchmark.Timer.blocked_autorange``: it measures one callable at a
time (no interleaving) and grows its blocks by 10x up to ``min_run_time``, which
leaves few blocks and a poor IQR.

Metrics (``result.metrics``; sizes are string keys, as JSON has them):

* ``ns_per_element[activation][pass][size]``: ``{"median", "q1", "q3", "iqr", "blocks"}``,
  nanoseconds per element (seconds per call / N * 1e9); pass is ``forward`` or
  ``forward_backward``;
* ``copy_ns_per_element[pass][size]``: the same for the clone baseline;
  ``copy_into_ns_per_element[size]``: ``copy_`` into a preallocated buffer (forward);
* ``ratio_vs_relu[activation][pass][size]`` and ``ratio_vs_copy[activation][pass][size]``:
  quotients of the medians, at every size (the figures and the verdict use the
  largest size, ``largest_size``);
* ``train_step_ms[activation]``: ``{"median", "q1", "q3", "iqr", "blocks"}`` in
  milliseconds; ``train_step_ratio_vs_relu[activation]``: quotient of the medians;
* ``relu_class_vs_copy``: the budget check, forward at the largest size, for the
  piecewise-linear activations measured (``RELU_CLASS``): ``budget``, ``size``,
  ``ratio[activation]``, ``within_budget[activation]``;
* ``clock``: ``thread_time`` or ``perf_counter``, as above;
* ``sizes``, ``largest_size``, ``dtype``, ``bytes_per_element``, ``devices``.

All of the above is for the CPU, always measured. With ``device="cuda"``, the same
keys are measured on the GPU too and stored under ``metrics["cuda"]``.

relu is the reference of every ratio, so it is always measured: if the
activations given do not include it, it is put first. maxout is left out: it is
not an elementwise op (it takes k inputs per output and needs a k times wider
Linear before it), so its cost is that of the wider matrix product, which this
claim does not measure; asking for it is an error that says so.

Timings are measurements of the machine, not functions of the seed: the same
config and seed give the same inputs, models and data, but not the same numbers.
This is the one exception to the results contract's "identical metrics" rule.
``env`` records the threads, the CPU, PyTorch's CPU kernel capability (AVX2,
AVX512, ...) and the load average before and after, so that a noisy run can be
recognised; on a shared machine, expect run-to-run
differences of 10-30% in individual medians.

Verdict, on the CPU, forward pass, at the largest size: the exp-based activation
measured (sigmoid if present, else the first of ``EXP_BASED``) against relu. It
``holds`` when even the conservative ratio, the exp activation's first quartile
over relu's third, exceeds ``1 + margin``; ``does_not_hold`` when even the generous
one (third quartile over first) is at most ``1 + margin``; else ``inconclusive``.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..activations import get
from .base import (
    MAX_BATCH,
    MAX_SECONDS,
    MAX_THREADS,
    Progress,
    Stopwatch,
    check_activations,
    check_choice,
    check_float,
    check_int,
    no_progress,
    resolve_device,
    torch_threads,
)
from .fields import check_fields
from .models import build_mlp
from .result import Result, Verdict, environment

__all__ = [
    "NAME",
    "CLAIM",
    "SOURCE",
    "COMMAND",
    "Config",
    "QUICK",
    "ELEMENTWISE_ZOO",
    "RELU_CLASS",
    "EXP_BASED",
    "PASSES",
    "DTYPES",
    "Timing",
    "CLOCKS",
    "choose_clock",
    "Copy",
    "CopyInto",
    "COPY",
    "COPY_INTO",
    "measure",
    "elementwise_tasks",
    "train_step_task",
    "run",
]

NAME = "cost"
CLAIM = "exp() is more expensive than max(0, x)"
SOURCE = ("CS231n lecture 6 (2017), 'Activation functions': sigmoid's exp() is a bit compute "
          "expensive, ReLU is computationally efficient; DESIGN.md budget: ReLU-class "
          "activations within 1.2x of a same-size copy")
COMMAND = "actlab run cost"

#: Every elementwise entry of the built-in zoo (maxout, a layer, is left out: see above).
ELEMENTWISE_ZOO: tuple[str, ...] = (
    "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "selu", "gelu", "gelu_tanh",
    "silu", "mish", "softplus", "softsign", "hard_sigmoid", "hard_tanh", "lecun_tanh",
    "sigmoid_centered", "tanh_shifted",
)
#: Piecewise-linear activations: a compare and a multiply-add per element at most.
RELU_CLASS: tuple[str, ...] = ("relu", "leaky_relu", "prelu", "hard_tanh", "hard_sigmoid")
#: Activations that compute an exponential (or tanh) per element; sigmoid first.
EXP_BASED: tuple[str, ...] = (
    "sigmoid", "tanh", "elu", "selu", "silu", "mish", "softplus", "gelu_tanh", "lecun_tanh",
    "sigmoid_centered", "tanh_shifted",
)
PASSES: tuple[str, ...] = ("forward", "forward_backward")
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}

_MAX_SIZE = 1 << 30  # elements; a forward+backward holds ~5 tensors of this size
_MIN_BLOCKS_PER_ROUND = 2


@dataclass(frozen=True)
class Config:
    """Settings of the ``cost`` claim (see the module docstring for what each measures).

    Args:
        seed: seeds the inputs, the MLP weights and its synthetic batch.
        device: ``cpu``, or ``cuda``/``cuda:N`` to measure the GPU as well as the CPU.
        activations: elementwise activations; relu is added first if missing.
        sizes: tensor sizes in elements (sorted, duplicates dropped).
        dtype: ``float32`` or ``float64``.
        threads: ``torch.set_num_threads`` during the run (restored after). One
            thread by default: the per-element cost of the function itself, less
            disturbed by other processes, and no kink where PyTorch's intra-op
            parallelism starts (32768 elements).
        min_run_time: seconds of timed blocks per (activation, pass, size), over all rounds.
        rounds: interleaved passes over all measurements.
        block_time: target seconds per timed block (the clock is read once per block).
        warmup: untimed calls of each callable before its timing.
        train_widths: hidden widths of the training-step MLP (784 inputs, 10 outputs).
        train_batch: its batch size.
        train_lr: its SGD learning rate.
        train_min_run_time: seconds of timed training steps per activation.
        margin: the verdict's threshold: "more expensive" means > 1 + margin times relu.
        copy_budget: DESIGN.md's budget for ReLU-class forward vs a copy.
    """

    seed: int = 0
    device: str = "cpu"
    activations: tuple[str, ...] = ELEMENTWISE_ZOO
    sizes: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000, 4_000_000)
    dtype: str = "float32"
    threads: int = 1
    min_run_time: float = 0.2
    rounds: int = 3
    block_time: float = 0.002
    warmup: int = 3
    train_widths: tuple[int, ...] = (256, 256)
    train_batch: int = 128
    train_lr: float = 0.01
    train_min_run_time: float = 0.5
    margin: float = 0.1
    copy_budget: float = 1.2

    def __post_init__(self) -> None:
        check_fields(self, "seed", "device")
        acts = check_activations(self.activations)
        for name in acts:
            if get(name).kind != "elementwise":
                raise ValueError(
                    f"activations: {name} is a layer (k inputs per output unit), not an elementwise op; "
                    "its cost is that of the k times wider Linear before it, which this claim does not "
                    "measure. Leave it out.")
        if "relu" not in acts:
            acts = ("relu", *acts)  # the reference of every ratio
        object.__setattr__(self, "activations", acts)
        object.__setattr__(self, "sizes", _positive_ints("sizes", self.sizes, max_value=_MAX_SIZE, sort=True))
        check_choice("dtype", self.dtype, DTYPES)
        check_int("threads", self.threads, min_value=1, max_value=MAX_THREADS)
        check_float("min_run_time", self.min_run_time, positive=True, max_value=MAX_SECONDS)
        check_int("rounds", self.rounds, min_value=1)
        check_float("block_time", self.block_time, positive=True, max_value=MAX_SECONDS)
        check_int("warmup", self.warmup, min_value=0)
        object.__setattr__(self, "train_widths", _positive_ints("train_widths", self.train_widths, max_value=1 << 16))
        check_int("train_batch", self.train_batch, min_value=1, max_value=MAX_BATCH)
        check_float("train_lr", self.train_lr, positive=True)
        check_float("train_min_run_time", self.train_min_run_time, positive=True, max_value=MAX_SECONDS)
        check_float("margin", self.margin, min_value=0.0)
        check_float("copy_budget", self.copy_budget, min_value=1.0)


def _positive_ints(name: str, values: Any, *, max_value: int, sort: bool = False) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name}={values!r} must be a list of positive integers, e.g. 1000,10000")
    if not values:
        raise ValueError(f"{name}: the list is empty")
    for v in values:
        check_int(f"{name} entry", v, min_value=1, max_value=max_value)
    return tuple(sorted(set(values))) if sort else tuple(values)


QUICK: dict[str, Any] = {
    "sizes": (10_000, 1_000_000),
    "min_run_time": 0.03,
    "rounds": 2,
    "warmup": 2,
    "train_min_run_time": 0.06,
}


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

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @classmethod
    def from_samples(cls, seconds_per_call: Sequence[float], calls: int) -> Timing:
        """From per-block seconds per call (at least two); quartiles by the inclusive method."""
        if len(seconds_per_call) < 2:
            raise ValueError("a Timing needs at least two timed blocks")
        q1, median, q3 = statistics.quantiles(seconds_per_call, n=4, method="inclusive")
        return cls(median=median, q1=q1, q3=q3, blocks=len(seconds_per_call), calls=calls)


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
                spent += seconds
                blocks += 1
            calls[key] += blocks * number
            done += 1
            progress(done, total, f"round {r + 1}/{rounds} {_label(key)}")
    return {k: Timing.from_samples(samples[k], calls[k]) for k in keys}


def _label(key: Hashable) -> str:
    if isinstance(key, tuple):
        return " ".join(f"{p:,}" if isinstance(p, int) else str(p) for p in key)
    return str(key)


# --- what is timed -----------------------------------------------------------------

# Task keys: (subject, pass, size); subject is an activation name, or one of these.
COPY, COPY_INTO = "<copy>", "<copy_into>"


def elementwise_tasks(
    activations: Sequence[str],
    sizes: Sequence[int],
    *,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    passes: Sequence[str] = PASSES,
    baselines: bool = True,
) -> dict[tuple[str, str, int], Callable[[], object]]:
    """Callables to time: ``(subject, pass, size) -> fn``, per activation, pass and size.

    Subjects are the activation names, plus (with ``baselines``) ``COPY`` for every
    pass and ``COPY_INTO`` for the forward. Each size has one input ``x`` ~ N(0, 1)
    (and a fixed upstream gradient ``g``), shared by every subject, drawn from
    ``seed``. Forward callables run without an autograd graph; forward-backward ones
    return the gradients of ``x`` and of the module's parameters.
    """
    for p in passes:
        check_choice("pass", p, PASSES)
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    tasks: dict[tuple[str, str, int], Callable[[], object]] = {}
    inputs = {}
    for n in sizes:
        x = torch.randn(n, generator=gen, dtype=dtype).to(dev)  # (N,)
        g = torch.randn(n, generator=gen, dtype=dtype).to(dev)  # (N,) dL/dy
        inputs[n] = (x, x.detach().clone().requires_grad_(True), g)
    modules: dict[str, tuple[nn.Module, nn.Module]] = {}
    subjects = list(activations) + ([COPY] if baselines else [])
    for name in subjects:
        if name == COPY:
            modules[name] = (Copy(), Copy())
        else:
            act = get(name)
            if act.kind != "elementwise":
                raise ValueError(f"{name} is not an elementwise activation")
            frozen = act.module().to(device=dev, dtype=dtype).requires_grad_(False)
            modules[name] = (frozen, act.module().to(device=dev, dtype=dtype))
    for name in subjects:
        forward_module, trained_module = modules[name]
        params = [p for p in trained_module.parameters() if p.requires_grad]
        for p in passes:
            for n in sizes:
                x, x_grad, g = inputs[n]
                if p == "forward":
                    tasks[(name, p, n)] = _forward(forward_module, x)
                else:
                    tasks[(name, p, n)] = _forward_backward(trained_module, x_grad, g, params)
    if baselines and "forward" in passes:
        for n in sizes:
            x = inputs[n][0]
            tasks[(COPY_INTO, "forward", n)] = _forward(CopyInto(torch.empty_like(x)), x)
    return tasks


def _forward(module: nn.Module, x: Tensor) -> Callable[[], object]:
    def forward() -> object:
        return module(x)

    return forward


def _forward_backward(module: nn.Module, x: Tensor, g: Tensor, params: list[Tensor]) -> Callable[[], object]:
    wrt = [x, *params]

    def forward_backward() -> object:
        return torch.autograd.grad(module(x), wrt, g)

    return forward_backward


def train_step_task(
    activation: str,
    *,
    widths: Sequence[int] = (256, 256),
    batch: int = 128,
    lr: float = 0.01,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> Callable[[], object]:
    """One SGD training step of an MLP ``784-widths-10`` on a fixed synthetic batch.

    The batch (``batch`` x 784, N(0, 1), uniform labels) and the weights are drawn
    from ``seed``. Each call trains the model one more step (zero_grad, forward,
    cross-entropy, backward, step); it returns the loss tensor, without a host sync.
    """
    dev = torch.device(device)
    model = build_mlp(784, tuple(widths), len(widths), 10, activation, seed=seed).to(device=dev, dtype=dtype)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 784, generator=gen, dtype=dtype).to(dev)  # (B, 784)
    y = torch.randint(0, 10, (batch,), generator=gen).to(dev)  # (B,)
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def step() -> Tensor:
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


# --- the claim -----------------------------------------------------------------------


def _stats(t: Timing, scale: float) -> dict[str, float | int]:
    """A Timing in other units: seconds per call x scale."""
    return {"median": t.median * scale, "q1": t.q1 * scale, "q3": t.q3 * scale,
            "iqr": t.iqr * scale, "blocks": t.blocks}


def _measure_device(config: Config, device: torch.device, progress: Progress) -> dict[str, Any]:
    """Every metric of one device (see the module docstring); progress goes from 0 to 1."""
    dtype = DTYPES[config.dtype]
    acts, sizes = config.activations, config.sizes
    tasks = elementwise_tasks(acts, sizes, device=device, dtype=dtype, seed=config.seed)
    # Progress: each phase weighted by the timed seconds it asks for.
    share = len(tasks) * config.min_run_time / (len(tasks) * config.min_run_time + len(acts) * config.train_min_run_time)
    timings = measure(tasks, device=device, min_run_time=config.min_run_time, rounds=config.rounds,
                      block_time=config.block_time, warmup=config.warmup,
                      progress=lambda d, t, m="": progress(share * d / t, 1, f"{device.type} {m}"))
    del tasks  # frees the inputs of every size before the training steps
    steps = {a: train_step_task(a, widths=config.train_widths, batch=config.train_batch, lr=config.train_lr,
                                device=device, dtype=dtype, seed=config.seed) for a in acts}
    step_timings = measure(steps, device=device, min_run_time=config.train_min_run_time, rounds=config.rounds,
                           block_time=config.block_time, warmup=config.warmup,
                           progress=lambda d, t, m="": progress(share + (1 - share) * d / t, 1,
                                                                f"{device.type} train step {m}"))

    def ns(subject: str, p: str, n: int) -> dict[str, float | int]:
        return _stats(timings[(subject, p, n)], 1e9 / n)

    ns_per_element = {a: {p: {str(n): ns(a, p, n) for n in sizes} for p in PASSES} for a in acts}
    copy_ns = {p: {str(n): ns(COPY, p, n) for n in sizes} for p in PASSES}
    copy_into_ns = {str(n): ns(COPY_INTO, "forward", n) for n in sizes}
    ratio_vs_relu = {a: {p: {str(n): ns_per_element[a][p][str(n)]["median"] / ns_per_element["relu"][p][str(n)]["median"]
                             for n in sizes} for p in PASSES} for a in acts}
    ratio_vs_copy = {a: {p: {str(n): ns_per_element[a][p][str(n)]["median"] / copy_ns[p][str(n)]["median"]
                             for n in sizes} for p in PASSES} for a in acts}
    train_ms = {a: _stats(step_timings[a], 1e3) for a in acts}
    train_ratio = {a: train_ms[a]["median"] / train_ms["relu"]["median"] for a in acts}
    largest = str(sizes[-1])
    relu_class = [a for a in acts if a in RELU_CLASS]
    budget_ratio = {a: ratio_vs_copy[a]["forward"][largest] for a in relu_class}
    return {
        "clock": choose_clock(device),
        "ns_per_element": ns_per_element,
        "copy_ns_per_element": copy_ns,
        "copy_into_ns_per_element": copy_into_ns,
        "ratio_vs_relu": ratio_vs_relu,
        "ratio_vs_copy": ratio_vs_copy,
        "train_step_ms": train_ms,
        "train_step_ratio_vs_relu": train_ratio,
        "relu_class_vs_copy": {
            "budget": config.copy_budget, "size": sizes[-1], "pass": "forward",
            "ratio": budget_ratio,
            "within_budget": {a: r <= config.copy_budget for a, r in budget_ratio.items()},
        },
    }


def _verdict(config: Config, m: Mapping[str, Any]) -> Verdict:
    acts = config.activations
    n = config.sizes[-1]
    size = str(n)
    exp_act = next((a for a in EXP_BASED if a in acts), None)
    relu_fwd = m["ns_per_element"]["relu"]["forward"][size]
    copy_note = f"relu's forward is {m['ratio_vs_copy']['relu']['forward'][size]:.2f}x a same-size copy"
    if exp_act is None:
        return Verdict("inconclusive", f"No exp-based activation was measured ({', '.join(acts)}), so the claim "
                       f"cannot be tested; at {n:,} elements {copy_note}.")
    e = m["ns_per_element"][exp_act]["forward"][size]
    ratio = m["ratio_vs_relu"][exp_act]["forward"][size]
    low, high = e["q1"] / relu_fwd["q3"], e["q3"] / relu_fwd["q1"]
    threshold = 1 + config.margin
    if low > threshold:
        status = "holds"
    elif high <= threshold:
        status = "does_not_hold"
    else:
        status = "inconclusive"
    step = m["train_step_ratio_vs_relu"][exp_act]
    shape = "-".join(str(w) for w in (784, *config.train_widths, 10))
    threads = f"{config.threads} thread{'s' if config.threads > 1 else ''}"
    return Verdict(status, (
        f"On the CPU ({threads}), {exp_act}'s forward pass costs {ratio:.2f}x relu's at {n:,} {config.dtype} elements "
        f"({e['median']:.3g} vs {relu_fwd['median']:.3g} ns/element; quartile range of the ratio {low:.2f}-{high:.2f}, "
        f"threshold {threshold:.2f}) and its forward+backward {m['ratio_vs_relu'][exp_act]['forward_backward'][size]:.2f}x, "
        f"but a whole {shape} MLP training step (batch {config.train_batch}) costs only {step:.2f}x; {copy_note}."))


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim (see the module docstring); never prints, plots or writes.

    Sets ``torch.set_num_threads(config.threads)`` for the run and restores the
    previous value afterwards.
    """
    watch = Stopwatch()
    device = resolve_device(config.device)
    devices = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])
    load_before = _load_average()
    with torch_threads(config.threads):
        per_device = {}
        for i, dev in enumerate(devices):
            per_device[dev.type] = _measure_device(
                config, dev, lambda d, t, m="", i=i: progress(i + d / t, len(devices), m))
        env = environment(device)
    env["threads"] = config.threads
    env["cpu_model"] = _cpu_model()
    env["cpu_capability"] = torch.backends.cpu.get_cpu_capability()  # which vectorised kernels ran
    env["load_average_1_5_15min"] = {"before": load_before, "after": _load_average()}
    env["devices_measured"] = [str(d) for d in devices]
    metrics: dict[str, Any] = {
        "sizes": list(config.sizes),
        "largest_size": config.sizes[-1],
        "dtype": config.dtype,
        "bytes_per_element": DTYPES[config.dtype].itemsize,
        "devices": [str(d) for d in devices],
        **per_device["cpu"],
    }
    if "cuda" in per_device:
        metrics["cuda"] = per_device["cuda"]
    return Result(experiment=NAME, config=asdict(config), metrics=metrics, verdict=_verdict(config, metrics),
                  env=env, elapsed_s=watch.elapsed())

