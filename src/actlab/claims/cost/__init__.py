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
reach 16M float32 elements (64 MB), on both sides of that threshold
(``ALLOC_THRESHOLD_BYTES``): below it the arithmetic shows; above it every op pays for
fresh pages and the ratios shrink towards 1 (``regime[size]`` says which side). For ``forward_backward``
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

Also: ``ratio_vs_relu_rounds[activation][pass][size]``, one ratio per interleaved round
(the activation's median in that round over relu's median in the same round), and
``ratio_vs_relu_ci`` (``{estimate, ci95_low, ci95_high, n}``, log-t over rounds,
``stats.positive_ci95``); ``train_step_ratio_rounds`` / ``train_step_ratio_ci`` the same
for the training step; ``regime[size]``: ``cached_heap`` below ``ALLOC_THRESHOLD_BYTES``,
``fresh_pages`` at or above it.

Verdict (:func:`cost_rule`), on the CPU, forward+backward (what training does with an
activation), at the largest size on each side of the allocation threshold: the
exp-based activation measured (sigmoid if present, else the first of ``EXP_BASED``)
against relu, rounds as replicates (>= 5). In a regime it is "more expensive" if the
95% interval lies wholly above ``1 + margin``, not if wholly below. The claim holds if
it holds in every regime measured, does not hold if it fails in one, else inconclusive.
The whole training step's ratio is the practical answer, reported beside it.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from multiprocessing import get_context
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...activations import get
from ...training.models import build_mlp
from ...training.settings import (
    Progress,
    Stopwatch,
    check_choice,
    no_progress,
    resolve_device,
    torch_threads,
)
from ...training.workers import _init_worker, stop_pool
from ...verdicts.result import Result, environment
from ...verdicts.stats import positive_ci95
from .config import (
    ALLOC_THRESHOLD_BYTES,
    CLAIM,
    COMMAND,
    COPY,
    COPY_INTO,
    DTYPES,
    ELEMENTWISE_ZOO,
    EXP_BASED,
    NAME,
    PASSES,
    QUICK,
    RELU_CLASS,
    SOURCE,
    Config,
)
from .processes import aggregate, cache_level, cache_sizes, load_average
from .timing import CLOCKS, Copy, CopyInto, Timing, choose_clock, measure
from .verdict import _interval_dict, cost_rule, cost_verdict, per_activation, regime_of, verdict

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
    "ALLOC_THRESHOLD_BYTES",
    "regime_of",
    "cost_rule",
    "cost_verdict",
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
    # Progress: each phase weighted by the seconds it will take: the timed seconds it asks for, or
    # at large sizes the two blocks per round that each call needs at least (~5 ns per element
    # and pass on a CPU: a rough guess, good to a factor of 2).
    per_call = {key: 5e-9 * key[2] * (2 if key[1] == "forward_backward" else 1) for key in tasks}
    elementwise_s = sum(max(config.min_run_time, config.rounds * 2 * c) for c in per_call.values())
    share = elementwise_s / (elementwise_s + len(acts) * config.train_min_run_time)
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
    def round_ratios(a: Timing, b: Timing) -> list[float]:
        # one ratio per interleaved round: both sides measured side by side in that round
        return [x / y for x, y in zip(a.round_medians, b.round_medians, strict=True)]

    rounds_vs_relu = {a: {p: {str(n): round_ratios(timings[(a, p, n)], timings[("relu", p, n)]) for n in sizes}
                          for p in PASSES} for a in acts}
    ci_vs_relu = {a: {p: {n: _interval_dict(positive_ci95(r)) for n, r in by_size.items()}
                      for p, by_size in by_pass.items()} for a, by_pass in rounds_vs_relu.items()}
    train_rounds = {a: round_ratios(step_timings[a], step_timings["relu"]) for a in acts}
    train_ci = {a: _interval_dict(positive_ci95(r)) for a, r in train_rounds.items()}
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
        "ratio_vs_relu_rounds": rounds_vs_relu,
        "ratio_vs_relu_ci": ci_vs_relu,
        "train_step_ms": train_ms,
        "train_step_ratio_vs_relu": train_ratio,
        "train_step_ratio_rounds": train_rounds,
        "train_step_ratio_ci": train_ci,
        "regime": {str(n): regime_of(n, dtype.itemsize) for n in sizes},
        "relu_class_vs_copy": {
            "budget": config.copy_budget, "size": sizes[-1], "pass": "forward",
            "ratio": budget_ratio,
            "within_budget": {a: r <= config.copy_budget for a, r in budget_ratio.items()},
        },
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _replicate(config: Config, replicate: int) -> dict[str, Any]:
    """One replicate, in its own process: every CPU median of ``_measure_device`` (ns per element, ms per step).

    A top-level function so that a spawned worker can run it; the inputs are drawn from
    ``config.seed + replicate``.
    """
    config = replace(config, seed=config.seed + replicate)
    with torch_threads(config.threads):
        m = _measure_device(config, torch.device("cpu"), no_progress)
    med = lambda d: float(d["median"])  # noqa: E731
    return {
        "ns": {a: {p: {k: med(v) for k, v in by.items()} for p, by in bp.items()}
               for a, bp in m["ns_per_element"].items()},
        "copy_ns": {p: {k: med(v) for k, v in by.items()} for p, by in m["copy_ns_per_element"].items()},
        "copy_into_ns": {k: med(v) for k, v in m["copy_into_ns_per_element"].items()},
        "train_ms": {a: med(v) for a, v in m["train_step_ms"].items()},
        "load_average": load_average(),
        "clock": m["clock"],
    }


def _replicates(config: Config, progress: Progress) -> list[dict[str, Any]]:
    """``config.processes`` replicates, each in a fresh spawned process, one after another."""
    out = []
    pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), max_tasks_per_child=1,
                               initializer=_init_worker)
    try:
        for i in range(config.processes):
            progress(i, config.processes, f"cpu process {i + 1}/{config.processes}")
            out.append(pool.submit(_replicate, config, i).result())
    except BaseException:
        stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    progress(config.processes, config.processes, "cpu processes done")
    return out


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim (see the module docstring); never prints, plots or writes.

    The CPU numbers come from ``config.processes`` independent processes (the replicates); a
    CUDA device, when asked for, is measured in this process, rounds as replicates.
    """
    watch = Stopwatch()
    device = resolve_device(config.device)
    devices = [torch.device("cpu")] + ([device] if device.type == "cuda" else [])
    load_before = load_average()
    replicates = _replicates(config, lambda d, t, m="": progress(d / t, len(devices), m))
    load_after = load_average()
    dtype = DTYPES[config.dtype]
    caches = cache_sizes()
    cpu = {
        "clock": replicates[0]["clock"],
        **aggregate(replicates, config.activations, config.sizes),
        "regime": {str(n): regime_of(n, dtype.itemsize) for n in config.sizes},
        "cache_level": {str(n): cache_level(n, dtype.itemsize, caches) for n in config.sizes},
        "caches_bytes": caches,
    }
    largest = str(config.sizes[-1])
    relu_class = [a for a in config.activations if a in RELU_CLASS]
    budget_ratio = {a: cpu["ratio_vs_copy"][a]["forward"][largest] for a in relu_class}
    cpu["relu_class_vs_copy"] = {"budget": config.copy_budget, "size": config.sizes[-1], "pass": "forward",
                                 "ratio": budget_ratio,
                                 "within_budget": {a: r <= config.copy_budget for a, r in budget_ratio.items()}}
    per_device: dict[str, Any] = {"cpu": cpu}
    with torch_threads(config.threads):
        if device.type == "cuda":
            per_device["cuda"] = _measure_device(config, device, lambda d, t, m="": progress(1 + d / t, 2, m))
        env = environment(device)
    loads = [load_before, *[r["load_average"] for r in replicates], load_after]
    one_minute = [v[0] for v in loads if v]
    env["threads"] = config.threads
    env["cpu_model"] = _cpu_model()
    env["cpu_capability"] = torch.backends.cpu.get_cpu_capability()  # which vectorised kernels ran
    env["cpu_count"] = os.cpu_count()
    env["load_average_1_5_15min"] = {"before": load_before, "after": load_after}
    env["devices_measured"] = [str(d) for d in devices]
    metrics: dict[str, Any] = {
        "sizes": list(config.sizes),
        "largest_size": config.sizes[-1],
        "dtype": config.dtype,
        "bytes_per_element": dtype.itemsize,
        "devices": [str(d) for d in devices],
        "cpu_capability": env["cpu_capability"],
        "load_average_1min": {"per_process": [r["load_average"][0] if r["load_average"] else None
                                              for r in replicates],
                              "max": max(one_minute) if one_minute else None, "cpu_count": os.cpu_count()},
        **per_device["cpu"],
    }
    if "cuda" in per_device:
        metrics["cuda"] = per_device["cuda"]
    return Result(experiment=NAME, config=asdict(config), metrics=metrics, verdict=verdict(config, metrics),
                  env=env, elapsed_s=watch.elapsed(), per_activation=per_activation(config, metrics))
