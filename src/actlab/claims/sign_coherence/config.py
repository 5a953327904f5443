"""The ``sign-coherence`` claim's name, words and settings (``Config``, ``QUICK``), and what its parts share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ...activations import get
from ...training.fields import check_fields
from ...training.settings import MAX_BATCH, MAX_THREADS, MAX_WIDTH, check_choice, check_int

NAME = "sign-coherence"
CLAIM = (
    "Sigmoid outputs are not zero-centred. A layer whose inputs are all positive gets, for one "
    "example, weight gradients dL/dw_i = (dL/df) * x_i that all share the sign of dL/df, row by "
    "row: its weights can only all increase or all decrease together, so the path to the optimum "
    "zig-zags. A batch only partly helps."
)
SOURCE = "Stanford CS231n lecture 6 and notes (Activation functions: sigmoid, not zero-centred)"
COMMAND = "actlab run sign-coherence"

LOSSES = ("cross_entropy", "mse")
DTYPES = ("float32", "float64")

#: Coherence at or below this counts as "near 0" (rows of a layer with mixed-sign inputs
#: are one-signed only by chance, about 2**(1 - fan_in) per row).
NEAR_ZERO = 0.05
#: Sign maps kept in ``data`` are cropped to this many rows and columns (the JSON stays small).
SIGN_MAP_SIZE = 64
#: Bins of the whole-layer histograms in ``data`` (even, so that 0 is a bin edge).
HIST_BINS = 40


@dataclass(frozen=True)
class Config:
    """Every setting of the sign-coherence measurement (the defaults are the full run).

    Args:
        seed: seeds every draw (weights, inputs, targets).
        device: ``cpu`` or ``cuda[:N]``; every tensor of the run stays there.
        activations: registry names (aliases allowed; stored canonical).
        depth: hidden layers; the MLP has ``depth + 1`` Linear layers.
        width: units per hidden layer.
        in_features: input dimension; inputs are N(0, 1) (zero-mean).
        out_features: classes (cross-entropy) or target dimension (MSE).
        batches: batch sizes; each is the first B examples of one batch per trial.
        trials: independent draws of weights, inputs and targets; counts are pooled.
        init: weight init, one of ``models.INITS``.
        loss: ``cross_entropy`` (random labels) or ``mse`` (random N(0, 1) targets).
        dtype: ``float32`` or ``float64`` for weights, inputs and gradients.
        threads: PyTorch CPU threads during the run (set, then restored); 0 keeps the
            current setting. 1 is the default because these matrices are small: on a busy
            2-core machine, 2 threads measured 10-20x slower (OpenMP threads waiting on
            each other), and never faster.
        baseline: the activation every per-activation coherence is compared with (measured too).
    """

    seed: int = 0
    device: str = "cpu"
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
    depth: int = 6
    width: int = 256
    in_features: int = 256
    out_features: int = 10
    batches: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128)
    trials: int = 20
    init: str = "default"
    loss: str = "cross_entropy"
    dtype: str = "float32"
    threads: int = 1
    baseline: str = "relu"

    def __post_init__(self) -> None:
        check_int("seed", self.seed, min_value=0)
        check_fields(self, "device", "activations", "baseline", "depth", "width")
        check_int("in_features", self.in_features, min_value=1, max_value=MAX_WIDTH)
        check_choice("loss", self.loss, LOSSES)
        # one class makes cross-entropy constant (softmax = 1): no gradient at all
        check_int("out_features", self.out_features, min_value=2 if self.loss == "cross_entropy" else 1, max_value=MAX_WIDTH)
        batches = (self.batches,) if isinstance(self.batches, int) else tuple(self.batches)
        if not batches:
            raise ValueError("batches: the list is empty; give batch sizes such as 1,8,64")
        for b in batches:
            check_int("batch size", b, min_value=1, max_value=MAX_BATCH)
        if len(set(batches)) != len(batches):
            raise ValueError(f"batches={batches} lists a batch size twice")
        object.__setattr__(self, "batches", tuple(sorted(batches)))
        check_int("trials", self.trials, min_value=1)
        check_fields(self, "init")
        check_choice("dtype", self.dtype, DTYPES)
        check_int("threads", self.threads, min_value=0, max_value=MAX_THREADS)


#: ``--quick``: seconds on a 2-core CPU, still wide enough that mixed rows are never one-signed by chance.
QUICK = {"depth": 3, "width": 64, "in_features": 64, "trials": 10, "batches": (1, 8, 64)}


def expects_coherent_rows(activation: str) -> bool:
    """True if the claim predicts coherence 1.0 at batch 1 for layers this activation feeds
    (its outputs are never negative, so every input of such a layer is >= 0)."""
    return not get(activation).properties.negative_outputs


def _mean_defined(values: Sequence[float]) -> float:
    """Mean of the non-NaN values; NaN (and no warning) when there are none."""
    defined = [v for v in values if not math.isnan(v)]
    return sum(defined) / len(defined) if defined else math.nan


def _fmt_names(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]



def zero_centred(activation: str) -> bool:
    """The registry's ``zero_centred`` property: E[f(z)] = 0 for z ~ N(0, 1)."""
    return bool(get(activation).properties.zero_centred)
