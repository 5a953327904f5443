"""The ``cost`` claim's name, words, activation classes and settings (``Config``, ``QUICK``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ...activations import get
from ...training.fields import check_fields
from ...training.settings import (
    MAX_BATCH,
    MAX_SECONDS,
    MAX_THREADS,
    check_activations,
    check_choice,
    check_float,
    check_int,
)

NAME = "cost"
CLAIM = "exp() is more expensive than max(0, x)"
# The source's words only; actlab's own 1.2x-of-a-copy budget for the ReLU class is a separate
# check (relu_class_vs_copy), not part of the claim.
SOURCE = ("CS231n lecture 6 (2017), 'Activation functions': sigmoid's exp() is a bit compute "
          "expensive, ReLU is computationally efficient")
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

#: glibc's largest mmap threshold (DEFAULT_MMAP_THRESHOLD_MAX on 64-bit Linux): an allocation
#: this large or larger always gets fresh pages from the kernel, which every out-of-place op
#: then pays for (page faults, zeroing), whatever its arithmetic.
ALLOC_THRESHOLD_BYTES = 32 * 1024 * 1024
_MAX_SIZE = 1 << 30  # elements; a forward+backward holds ~5 tensors of this size


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
        processes: independent processes, the replicates of every interval (>= 5 for a verdict);
            each is spawned fresh and they run one after another.
        disturbance_bound: the run refuses to decide (inconclusive) when relu's own forward time
            per element varies more than this factor (max / min over processes) at some size.
    """

    seed: int = 0
    device: str = "cpu"
    activations: tuple[str, ...] = ELEMENTWISE_ZOO
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000, 4_000_000, 16_000_000)
    dtype: str = "float32"
    threads: int = 1
    min_run_time: float = 0.2
    rounds: int = 7
    block_time: float = 0.002
    warmup: int = 3
    train_widths: tuple[int, ...] = (256, 256)
    train_batch: int = 128
    train_lr: float = 0.01
    train_min_run_time: float = 0.5
    margin: float = 0.1
    copy_budget: float = 1.2
    processes: int = 5
    disturbance_bound: float = 1.5

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
        check_int("processes", self.processes, min_value=1, max_value=100)
        check_float("disturbance_bound", self.disturbance_bound, min_value=1.0)


def _positive_ints(name: str, values: Any, *, max_value: int, sort: bool = False) -> tuple[int, ...]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ValueError(f"{name}={values!r} must be a list of positive integers, e.g. 1000,10000")
    if not values:
        raise ValueError(f"{name}: the list is empty")
    for v in values:
        check_int(f"{name} entry", v, min_value=1, max_value=max_value)
    return tuple(sorted(set(values))) if sort else tuple(values)


#: ``--quick``: the activations the figures and the verdict need (relu and sigmoid for the claim,
#: leaky_relu for the ReLU-class copy budget, tanh the other exponential; gelu, ~1 s of CPU in
#: each of the 5 processes, is left to the full run), and a size sweep that spans the
#: cache regimes like the full run's (80 KB of input and output: in L2; 8 MB: in the last-level
#: cache or just past it; 80 MB: beyond every cache and above the allocation threshold), with 5
#: processes (the fewest a verdict takes) and shorter timings inside each. Quick and full differ
#: only in sizes, timings per process and activations, never in the rule.
QUICK: dict[str, Any] = {
    "activations": ("relu", "leaky_relu", "sigmoid", "tanh"),
    "sizes": (10_000, 1_000_000, 10_000_000),
    "min_run_time": 0.03,
    "rounds": 2,
    "warmup": 1,
    "train_min_run_time": 0.03,
    "processes": 5,
}


# --- what is timed -----------------------------------------------------------------

# Task keys: (subject, pass, size); subject is an activation name, or one of these.
COPY, COPY_INTO = "<copy>", "<copy_into>"
