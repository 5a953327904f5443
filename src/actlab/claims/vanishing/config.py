"""The ``vanishing`` claim's name, words, settings (``Config``, ``QUICK``) and its init arms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...training.fields import check_fields
from ...training.models import INITS
from ...training.settings import (
    MAX_BATCH,
    MAX_THREADS,
    MAX_WIDTH,
    check_choice,
    check_float,
    check_int,
)

NAME = "vanishing"
CLAIM = ("Sigmoid squashes to (0, 1); its derivative is at most 0.25, so saturated units kill the "
         "gradient and deep sigmoid nets suffer vanishing gradients.")
SOURCE = "Stanford CS231n lecture 6 and notes (activation functions); Glorot & Bengio 2010"
COMMAND = "actlab run vanishing"

DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: The gradient "vanishes" when the first layer's norm is this many decades below the last's:
#: per layer, a gain below ``vanishing_threshold(depth)`` = 10^(-2 / depth). Fixed before any run.
VANISHING_DECADES = 2.0
#: Sigmoid's units count as saturated at an arm when their mean f' is below this (half its 0.25 maximum).
SATURATED_MEAN_SLOPE = 0.125
#: Prefix of a scaled-init arm: "scaled4" draws W ~ N(0, 4^2 / fan_in), biases 0.
SCALED = "scaled"
#: Weight scale s = std x sqrt(fan_in) of each standard init for a square layer: what s means.
STANDARD_SCALES = {"default": 1 / math.sqrt(3), "xavier": 1.0, "he": math.sqrt(2), "lecun": 1.0}


@dataclass(frozen=True)
class Config:
    """Settings of the ``vanishing`` measurement (every default here).

    Attributes:
        seed: first seed; seeds ``seed, seed + 1, ...`` draw the networks and batches.
        device: ``cpu`` or ``cuda``.
        activations: activations to compare (zoo names; aliases allowed).
        inits: weight init schemes, from ``default``, ``xavier``, ``he``, ``lecun``.
        depth: hidden layers (the net has ``depth + 1`` Linear layers).
        width: units per hidden layer, and input features.
        classes: outputs (logits) of the cross-entropy loss.
        batch: examples in the Gaussian batch.
        weight_scales: extra init arms ``scaled<s>``: W ~ N(0, s^2 / fan_in), biases 0. Every
            standard init has s <= sqrt(2), where sigmoid's gain per layer is at most
            0.25 x ||W||_2 ~ 0.25 x 2s < 1 and "does not hold" cannot come out; s = 10-12
            saturates the units and lets the verdict fail.
        seeds: networks (and batches) per activation x init; the verdict needs >= 5.
        dtype: ``float64`` (default; float32 underflows for deep sigmoid nets) or ``float32``.
        threads: PyTorch CPU threads during the run (set, then restored); 0 keeps the current
            setting. 1 by default: these matrices are small, and on a busy 2-core machine two
            threads spin waiting for each other (a quick run took 3x the CPU time).
        baseline: the activation every per-activation gain is compared with (measured too).
    """

    seed: int = 0
    device: str = "cpu"
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "elu", "gelu", "selu")
    inits: tuple[str, ...] = INITS
    depth: int = 50
    width: int = 256
    classes: int = 10
    batch: int = 256
    weight_scales: tuple[float, ...] = (4.0, 10.0, 12.0)
    seeds: int = 5
    dtype: str = "float64"
    threads: int = 1
    baseline: str = "relu"

    def __post_init__(self) -> None:
        check_fields(self, "seed", "device", "activations", "baseline")
        object.__setattr__(self, "inits", _check_inits(self.inits))
        check_fields(self, "depth", "width")
        check_int("classes", self.classes, min_value=2, max_value=MAX_WIDTH)
        check_int("batch", self.batch, min_value=1, max_value=MAX_BATCH)
        scales = (self.weight_scales,) if isinstance(self.weight_scales, (int, float)) else tuple(self.weight_scales)
        for v in scales:
            check_float("weight_scales entry", v, positive=True, max_value=1000.0)
        object.__setattr__(self, "weight_scales", tuple(sorted({float(v) for v in scales})))
        check_fields(self, "seeds")
        check_choice("dtype", self.dtype, DTYPES)
        check_int("threads", self.threads, min_value=0, max_value=MAX_THREADS)


def _check_inits(inits: Sequence[str] | str) -> tuple[str, ...]:
    if isinstance(inits, str):
        inits = inits.split(",")
    out: list[str] = []
    for scheme in inits:
        if not isinstance(scheme, str):
            raise ValueError(f"inits: {scheme!r} is not an init name; use {', '.join(INITS)}")
        key = scheme.strip().lower()
        if key not in INITS:
            raise ValueError(f"inits: unknown init {scheme!r}; use {', '.join(INITS)}")
        if key not in out:
            out.append(key)
    if not out:
        raise ValueError(f"inits: the list is empty; use {', '.join(INITS)}")
    return tuple(out)


#: ``--quick``: depth 20 still shows 10+ decades for sigmoid; 5 seeds, the fewest a verdict takes.
QUICK: Mapping[str, Any] = {"depth": 20, "width": 64, "batch": 64, "seeds": 5}


def arm_names(config: Config) -> list[str]:
    """The init arms of a run: the standard inits, then ``scaled<s>`` per weight scale."""
    return list(config.inits) + [f"{SCALED}{s:g}" for s in config.weight_scales]


def arm_scale(arm: str) -> float:
    """The weight scale s = std x sqrt(fan_in) of an arm (square layers for the standard inits)."""
    if arm.startswith(SCALED):
        return float(arm[len(SCALED):])
    return STANDARD_SCALES[arm]


def arm_label(arm: str) -> str:
    """How figures and text name an arm: "xavier", "s=10"."""
    return f"s={arm[len(SCALED):]}" if arm.startswith(SCALED) else arm


# --- one network --------------------------------------------------------------------


def seeds_of(config: Config) -> list[int]:
    """The seeds of a run: ``config.seed``, ``config.seed + 1``, ... (``config.seeds`` of them)."""
    return [config.seed + i for i in range(config.seeds)]


def geometric_mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """exp(mean(log v)) along ``axis``; 0 where any value is 0."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(values), axis=axis))


def standard_arms(config: Config) -> list[str]:
    """The arms the headline is decided on: the standard inits of the run (no scaled arm)."""
    return list(config.inits)


def limit_arm(config: Config) -> str | None:
    """The arm the "large weights" limit is decided on: the largest weight scale (None without one)."""
    return f"{SCALED}{max(config.weight_scales):g}" if config.weight_scales else None


def vanishing_threshold(depth: int) -> float:
    """The gain per layer below which the gradient vanishes: ``VANISHING_DECADES`` lost over ``depth`` layers."""
    return float(10.0 ** (-VANISHING_DECADES / depth))
