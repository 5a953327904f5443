"""Claim 3, ``vanishing``: deep sigmoid nets suffer vanishing gradients.

The claim (CS231n lecture 6 and notes): sigmoid squashes to (0, 1); its derivative
is at most 0.25, so saturated units kill the gradient and deep sigmoid nets suffer
vanishing gradients.

The measurement, at initialisation (no training): an MLP of ``depth`` hidden layers
of ``width`` units (``depth + 1`` Linear layers), per activation x init scheme
(``models.INITS``: PyTorch default, xavier, he, lecun), fed a zero-mean unit-variance
Gaussian batch (whitened inputs) with a cross-entropy loss on uniformly random labels.
For every Linear layer l (input side first) it records the Frobenius norm of
dL/dW_l; ``seeds`` networks and batches are drawn and the norms averaged (geometric
mean, the natural mean on a log scale).

Why the 0.25 matters. With z_l the pre-activation of hidden layer l and
delta_l = dL/dz_l, backpropagation through one layer is

    delta_l = f'(z_l) * (W_{l+1}^T delta_{l+1})         (per example, elementwise *)

so the layer's backward gain ||delta_l|| / ||delta_{l+1}|| (Frobenius norms over the
batch) is at most max|f'| x ||W_{l+1}||_2 (the spectral norm). For sigmoid,
max|f'| = 0.25: whatever the init, a layer can pass on at most a quarter of what
the weights' largest stretch would give, and at init f'(z) ~ 0.22-0.245. The module
records, per hidden layer, the measured gain, that bound, and the mean f'(z_l)
over units and examples, so the bound and the measured decay can be read side by side.

Metrics (``result.metrics``), each keyed ``[activation][init]``:

* ``grad_norm``: list over the ``depth + 1`` Linear layers, input side first;
* ``decay_per_layer``: geometric mean of the successive ratios
  ``grad_norm[l] / grad_norm[l + 1]`` (below 1: the gradient shrinks towards the input);
* ``orders_of_magnitude``: log10(grad_norm[last] / grad_norm[first]), decades lost
  from the last layer to the first (negative: the gradient grows towards the input);
* ``mean_derivative``: list over the ``depth`` hidden layers of the mean f'(z_l)
  (for maxout, the slope of each unit with respect to its pieces, always 1);
* ``backward_gain``: list over hidden layers of ||delta_l|| / ||delta_{l+1}||;
* ``gain_bound``: list over hidden layers of max|f'| x ||W_{l+1}||_2;

and ``max_abs_derivative[activation]``, the declared sup |f'| used in the bound.
Gains and bounds are geometric means over seeds (each seed's gain is below its
bound, so the means keep the order); ``mean_derivative`` is an arithmetic mean.

What ``decay_per_layer`` does not show: a weight gradient is dL/dz_l times the
layer's input, so where the forward signal shrinks as fast as the backward one grows
(relu or gelu under xavier or lecun) the norm is flat across layers but uniformly
tiny (about 1e-8 for relu, 1e-15 for gelu at depth 50); ``grad_norm`` and
``backward_gain`` show it. Sigmoid's outputs stay near 1/2, so its weight gradient
follows dL/dz_l.

The default is float64: at depth 50, sigmoid's first-layer gradient is ~1e-30 of
the last layer's and its squares underflow float32 (``dtype="float32"`` shows it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..activations import Activation, get
from .base import (
    MAX_BATCH,
    MAX_WIDTH,
    Progress,
    Stopwatch,
    check_choice,
    check_int,
    no_progress,
    resolve_device,
)
from .fields import check_fields
from .models import INITS, build_mlp
from .result import Result, Verdict, environment

__all__ = [
    "NAME",
    "CLAIM",
    "SOURCE",
    "COMMAND",
    "Config",
    "QUICK",
    "DTYPES",
    "VANISHING_DECADES",
    "run",
    "seeds_of",
    "draw_network",
    "draw_batch",
    "spectral_norms",
    "measure_network",
    "geometric_mean",
    "decay_per_layer",
]

NAME = "vanishing"
CLAIM = ("Sigmoid squashes to (0, 1); its derivative is at most 0.25, so saturated units kill the "
         "gradient and deep sigmoid nets suffer vanishing gradients.")
SOURCE = "Stanford CS231n lecture 6 and notes (activation functions); Glorot & Bengio 2010"
COMMAND = "actlab run vanishing"

DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: The gradient "vanishes" when the first layer's norm is this many decades below the last's.
VANISHING_DECADES = 2.0


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
        seeds: networks (and batches) per activation x init, averaged.
        dtype: ``float64`` (default; float32 underflows for deep sigmoid nets) or ``float32``.
    """

    seed: int = 0
    device: str = "cpu"
    activations: tuple[str, ...] = ("sigmoid", "tanh", "relu", "elu", "gelu", "selu")
    inits: tuple[str, ...] = INITS
    depth: int = 50
    width: int = 256
    classes: int = 10
    batch: int = 256
    seeds: int = 3
    dtype: str = "float64"

    def __post_init__(self) -> None:
        check_fields(self, "seed", "device", "activations")
        object.__setattr__(self, "inits", _check_inits(self.inits))
        check_fields(self, "depth", "width")
        check_int("classes", self.classes, min_value=2, max_value=MAX_WIDTH)
        check_int("batch", self.batch, min_value=1, max_value=MAX_BATCH)
        check_fields(self, "seeds")
        check_choice("dtype", self.dtype, DTYPES)


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


#: ``--quick``: depth 20 still shows 10+ decades for sigmoid, in about a second.
QUICK: Mapping[str, Any] = {"depth": 20, "width": 64, "batch": 64, "seeds": 2}


# --- one network --------------------------------------------------------------------


def seeds_of(config: Config) -> list[int]:
    """The seeds of a run: ``config.seed``, ``config.seed + 1``, ... (``config.seeds`` of them)."""
    return [config.seed + i for i in range(config.seeds)]


def draw_network(config: Config, activation: str, init: str, seed: int) -> nn.Sequential:
    """The MLP for one seed, on ``config.device`` in ``config.dtype``.

    The weights depend on (init, seed) only, so every activation sees the same matrices.
    """
    model = build_mlp(config.width, config.width, config.depth, config.classes, activation,
                      init=init, seed=seed)
    return model.to(device=resolve_device(config.device), dtype=DTYPES[config.dtype])


def draw_batch(config: Config, seed: int) -> tuple[Tensor, Tensor]:
    """(x, labels): x ~ N(0, 1) of shape (batch, width), labels uniform in [0, classes)."""
    # A stream of its own: the weights are drawn from torch.Generator().manual_seed(seed).
    data_seed = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    g = torch.Generator().manual_seed(data_seed)
    x = torch.randn(config.batch, config.width, generator=g, dtype=torch.float64)  # (B, width)
    labels = torch.randint(0, config.classes, (config.batch,), generator=g)  # (B,)
    device = resolve_device(config.device)
    return x.to(device=device, dtype=DTYPES[config.dtype]), labels.to(device)


def _mean_slope(act: Activation, z: Tensor) -> Tensor:
    d = act.derivative(z)  # (B, units * k)
    if act.kind == "layer":  # maxout: each unit's slope with respect to its k pieces
        k = act.width_multiplier
        return d.reshape(*d.shape[:-1], -1, k).sum(-1).mean()
    return d.mean()


def spectral_norms(model: nn.Sequential) -> Tensor:
    """(depth,) ||W_{l+1}||_2, the largest singular value of each Linear after a hidden layer."""
    with torch.no_grad():
        return torch.stack([torch.linalg.matrix_norm(m.weight, ord=2)
                            for m in model if isinstance(m, nn.Linear)][1:])


def measure_network(model: nn.Sequential, act: Activation, x: Tensor, labels: Tensor,
                    spectral: Tensor | None = None) -> dict[str, Tensor]:
    """Per-layer gradient statistics of one network at one batch (autograd, on the model's device).

    ``spectral``: ``spectral_norms(model)`` if already known (the SVDs are most of the
    cost, and networks of one init and seed share their weights across activations).

    Returns CPU float64 tensors:
        grad_norm: (depth + 1,) ||dL/dW_l||_F per Linear layer, input side first;
        backward_gain: (depth,) ||dL/dz_l|| / ||dL/dz_{l+1}|| per hidden layer;
        gain_bound: (depth,) max|f'| x ||W_{l+1}||_2 per hidden layer;
        mean_derivative: (depth,) mean f'(z_l) over examples and units.
    """
    linears: list[nn.Linear] = []
    pre: list[Tensor] = []  # z_0 ... z_{depth-1}, then the logits
    h = x
    for module in model:
        h = module(h)
        if isinstance(module, nn.Linear):
            linears.append(module)
            pre.append(h)
    loss = F.cross_entropy(h, labels)
    weights = [m.weight for m in linears]
    grads = torch.autograd.grad(loss, weights + pre)
    weight_grads, pre_grads = grads[: len(weights)], grads[len(weights):]
    with torch.no_grad():
        grad_norm = torch.stack([torch.linalg.vector_norm(g) for g in weight_grads])
        delta_norm = torch.stack([torch.linalg.vector_norm(g) for g in pre_grads])
        gain = delta_norm[:-1] / delta_norm[1:]
        max_abs = act.properties.max_abs_derivative
        if spectral is None:
            spectral = spectral_norms(model)
        mean_derivative = torch.stack([_mean_slope(act, z) for z in pre[:-1]])
        # (4 * depth + 1,): the one device -> host transfer per network
        flat = torch.cat([grad_norm, gain, max_abs * spectral, mean_derivative]).to("cpu", torch.float64)
    depth = len(gain)
    grad_norm, gain, bound, mean_derivative = flat.split([depth + 1, depth, depth, depth])
    return {"grad_norm": grad_norm, "backward_gain": gain, "gain_bound": bound, "mean_derivative": mean_derivative}


# --- summaries ----------------------------------------------------------------------


def geometric_mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """exp(mean(log v)) along ``axis``; 0 where any value is 0."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.exp(np.mean(np.log(values), axis=axis))


def decay_per_layer(grad_norm: Sequence[float]) -> float:
    """Geometric mean of ``grad_norm[l] / grad_norm[l + 1]``: the factor per layer towards the input."""
    norms = np.asarray(grad_norm, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(geometric_mean(norms[:-1] / norms[1:]))


def _orders_of_magnitude(grad_norm: Sequence[float]) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.log10(grad_norm[-1]) - np.log10(grad_norm[0]))


def _spread_decades(grad_norm: Sequence[float]) -> float:
    logs = np.log10(np.asarray(grad_norm, dtype=np.float64))
    return float(logs.max() - logs.min())


# --- the run ------------------------------------------------------------------------


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure weight-gradient norms per layer at init; never prints, plots or writes."""
    clock = Stopwatch()
    device = resolve_device(config.device)
    seeds = seeds_of(config)
    total = len(config.activations) * len(config.inits) * len(seeds)
    done = 0
    per_seed: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    spectral: dict[tuple[str, int, int], Tensor] = {}  # (init, seed, k) -> (depth,)
    for name in config.activations:
        act = get(name)
        per_seed[name] = {}
        for init in config.inits:
            rows: dict[str, list[np.ndarray]] = {}
            for seed in seeds:
                progress(done, total, f"{name}, {init} init, seed {seed}")
                model = draw_network(config, name, init, seed)
                x, labels = draw_batch(config, seed)
                shared = (init, seed, act.width_multiplier)  # same weights for every activation
                if shared not in spectral:
                    spectral[shared] = spectral_norms(model)
                stats = measure_network(model, act, x, labels, spectral[shared])
                for key, value in stats.items():
                    rows.setdefault(key, []).append(value.numpy())
                done += 1
            per_seed[name][init] = {key: np.stack(v) for key, v in rows.items()}  # (seeds, layers)
    progress(total, total, "done")

    grad_norm: dict[str, dict[str, list[float]]] = {}
    decay: dict[str, dict[str, float]] = {}
    orders: dict[str, dict[str, float]] = {}
    mean_derivative: dict[str, dict[str, list[float]]] = {}
    backward_gain: dict[str, dict[str, list[float]]] = {}
    gain_bound: dict[str, dict[str, list[float]]] = {}
    for name, by_init in per_seed.items():
        for metric in (grad_norm, decay, orders, mean_derivative, backward_gain, gain_bound):
            metric[name] = {}
        for init, s in by_init.items():
            norms = geometric_mean(s["grad_norm"]).tolist()
            grad_norm[name][init] = norms
            decay[name][init] = decay_per_layer(norms)
            orders[name][init] = _orders_of_magnitude(norms)
            mean_derivative[name][init] = s["mean_derivative"].mean(axis=0).tolist()
            backward_gain[name][init] = geometric_mean(s["backward_gain"]).tolist()
            gain_bound[name][init] = geometric_mean(s["gain_bound"]).tolist()
    metrics = {
        "grad_norm": grad_norm,
        "decay_per_layer": decay,
        "orders_of_magnitude": orders,
        "mean_derivative": mean_derivative,
        "backward_gain": backward_gain,
        "gain_bound": gain_bound,
        "max_abs_derivative": {n: get(n).properties.max_abs_derivative for n in config.activations},
    }
    data = {
        "seeds": seeds,
        "grad_norm_per_seed": {n: {i: s["grad_norm"].tolist() for i, s in by_init.items()}
                               for n, by_init in per_seed.items()},
    }
    return Result(
        experiment=NAME,
        config=asdict(config),
        metrics=metrics,
        verdict=_verdict(config, metrics),
        env=environment(device),
        elapsed_s=clock.elapsed(),
        data=data,
    )


def _verdict(config: Config, m: Mapping[str, Any]) -> Verdict:
    layers = config.depth + 1
    if "sigmoid" not in config.activations:
        return Verdict("inconclusive", "sigmoid was not among the activations measured, so the claim "
                       f"about it was not tested ({', '.join(config.activations)} only).")
    decay, orders = m["decay_per_layer"]["sigmoid"], m["orders_of_magnitude"]["sigmoid"]
    if not all(math.isfinite(v) for v in orders.values()):
        return Verdict("inconclusive", f"sigmoid's gradient norm reached 0 or overflowed in {config.dtype} "
                       f"at depth {config.depth}, so no decay could be measured; use dtype=float64.")
    shown = "xavier" if "xavier" in config.inits else config.inits[0]
    slopes = [v for per_layer in m["mean_derivative"]["sigmoid"].values() for v in per_layer]
    gain = geometric_mean(m["backward_gain"]["sigmoid"][shown])
    bound = geometric_mean(m["gain_bound"]["sigmoid"][shown])
    # f' near its 0.25 peak means the units sit at the centre of the sigmoid, not in its tails
    unsaturated = "; units at the centre, not saturated: the ceiling alone does it" if min(slopes) > 0.15 else ""
    others = [f"{n}+{i}" for n in config.activations if n != "sigmoid" for i in config.inits
              if m["orders_of_magnitude"][n][i] >= VANISHING_DECADES]
    n_others = (len(config.activations) - 1) * len(config.inits)
    if "relu" in config.activations and "he" in config.inits:
        contrast = (f"relu+he stays within {_spread_decades(m['grad_norm']['relu']['he']):.2g} orders of "
                    "magnitude over all layers")
    else:
        contrast = "relu+he was not measured"
    if n_others:
        contrast += f", and {len(others)} of the {n_others} other activation x init pairs also lose "
        contrast += f">= {VANISHING_DECADES:g} orders" + (f" ({', '.join(others)})" if others else "")
    span = min(decay.values()), max(decay.values())
    evidence = (
        f"Sigmoid's weight-gradient norm shrinks by a factor {decay[shown]:.3g} per layer under {shown} init "
        f"({span[0]:.3g} to {span[1]:.3g} over {len(decay)} init(s)), {orders[shown]:.3g} orders of magnitude "
        f"from the last to the first of {layers} layers: its mean f' never exceeds {max(slopes):.3g} "
        f"(<= 0.25{unsaturated}) and each layer passes on {gain:.3g} of the gradient, under the bound "
        f"0.25 x ||W||_2 = {bound:.3g}; {contrast}."
    )
    if max(slopes) <= 0.25 and all(v >= VANISHING_DECADES and decay[i] < 1 for i, v in orders.items()):
        return Verdict("holds", evidence)
    if any(decay[i] >= 1 for i in orders):
        return Verdict("does_not_hold", evidence)
    return Verdict("inconclusive", evidence)  # shrinking, but by less than VANISHING_DECADES (shallow net)
