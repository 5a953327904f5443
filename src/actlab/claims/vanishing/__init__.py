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

and ``max_abs_derivative[activation]``, the declared sup |f'| used in the bound;
``weight_scale[init]``, s = std x sqrt(fan_in) of each init arm; ``grad_norm_geomean
[activation][init]``, the typical absolute weight-gradient size (geometric mean over
layers); ``sigmoid_gain[init]``: ``{estimate, ci95_low, ci95_high, n, per_seed}``,
sigmoid's backward gain per layer (per seed the geometric mean over hidden layers; the
log-t interval over seeds, ``stats.positive_ci95``).

Init arms: the standard inits, every one with s <= sqrt(2) (so sigmoid's gain is at most
0.25 x ||W||_2 ~ 0.5 s < 1 and the claim could not fail), plus ``scaled<s>`` arms
(``weight_scales``, default 4, 10, 12): LeCun's N(0, 1/fan_in) times s, biases 0. Large
weights saturate the units (mean f' ~0.05 at s = 12) and multiply the gradient back up.

Verdict (:func:`gain_rule`): at each arm the gradient vanishes if the 95% interval of
sigmoid's gain lies wholly below 1, grows if wholly above; the claim holds if it vanishes
at every arm, does not hold if it grows at some arm, else inconclusive; >= 5 seeds.
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
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...activations import Activation, get
from ...training.models import build_mlp
from ...training.settings import Progress, Stopwatch, no_progress, resolve_device, torch_threads
from ...verdicts.result import Result, environment
from ...verdicts.stats import positive_ci95
from .config import (
    CLAIM,
    COMMAND,
    DTYPES,
    NAME,
    QUICK,
    SCALED,
    SOURCE,
    STANDARD_SCALES,
    VANISHING_DECADES,
    Config,
    arm_label,
    arm_names,
    arm_scale,
    geometric_mean,
    seeds_of,
    standard_arms,
    vanishing_threshold,
)
from .verdict import gain_rule, gain_verdict, per_activation, verdict

__all__ = [
    "STANDARD_SCALES",
    "standard_arms",
    "vanishing_threshold",
    "per_activation",
    "arm_label",
    "NAME",
    "CLAIM",
    "SOURCE",
    "COMMAND",
    "Config",
    "QUICK",
    "DTYPES",
    "VANISHING_DECADES",
    "SCALED",
    "arm_names",
    "arm_scale",
    "gain_rule",
    "gain_verdict",
    "run",
    "seeds_of",
    "draw_network",
    "draw_batch",
    "spectral_norms",
    "measure_network",
    "geometric_mean",
    "decay_per_layer",
]


def draw_network(config: Config, activation: str, init: str, seed: int) -> nn.Sequential:
    """The MLP for one seed, on ``config.device`` in ``config.dtype``.

    The weights depend on (init, seed) only, so every activation sees the same matrices.
    ``init`` may be a scaled arm (``scaled10``): LeCun's N(0, 1/fan_in) times s.
    """
    scaled = init.startswith(SCALED)
    model = build_mlp(config.width, config.width, config.depth, config.classes, activation,
                      init="lecun" if scaled else init, seed=seed)
    if scaled:
        with torch.no_grad():
            for m in model:
                if isinstance(m, nn.Linear):
                    m.weight.mul_(arm_scale(init))
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


def _with_activation(linears: Sequence[nn.Linear], act: Activation, config: Config) -> nn.Sequential:
    """Linear -> act -> ... -> Linear from already drawn layers (what build_mlp would draw)."""
    layers: list[nn.Module] = []
    for lin in linears[:-1]:
        layers += [lin, act.module().to(device=lin.weight.device, dtype=lin.weight.dtype)]
    return nn.Sequential(*layers, linears[-1])


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
    with torch_threads(config.threads):
        return _run(config, progress)


def _run(config: Config, progress: Progress) -> Result:
    clock = Stopwatch()
    device = resolve_device(config.device)
    seeds = seeds_of(config)
    arms = arm_names(config)
    total = len(config.activations) * len(arms) * len(seeds)
    done = 0
    _warm_up(config)  # first-call costs (linalg, autograd) would skew the time-left estimate
    per_seed: dict[str, dict[str, dict[str, np.ndarray]]] = {}
    spectral: dict[tuple[str, int, int], Tensor] = {}  # (init, seed, k) -> (depth,)
    linears: dict[tuple[str, int, int], list[nn.Linear]] = {}  # building and drawing cost more than measuring
    batches: dict[int, tuple[Tensor, Tensor]] = {}
    acts = {name: get(name) for name in config.activations}
    rows: dict[tuple[str, str], dict[str, list[np.ndarray]]] = {(n, a): {} for n in acts for a in arms}
    # init x seed outer, activation inner: each network is drawn once and every progress unit costs alike
    for init in arms:
        for seed in seeds:
            batches[seed] = batches.get(seed) or draw_batch(config, seed)
            x, labels = batches[seed]
            for name, act in acts.items():
                progress(done, total, f"{arm_label(init)} init, seed {seed}, {name}")
                shared = (init, seed, act.width_multiplier)  # same weights for every activation
                if shared not in spectral:
                    model = draw_network(config, name, init, seed)
                    linears[shared] = [m for m in model if isinstance(m, nn.Linear)]
                    spectral[shared] = spectral_norms(model)
                else:  # the drawn Linear layers again (autograd.grad leaves them untouched), new activations
                    model = _with_activation(linears[shared], act, config)
                stats = measure_network(model, act, x, labels, spectral[shared])
                for key, value in stats.items():
                    rows[(name, init)].setdefault(key, []).append(value.numpy())  # in seed order
                done += 1
    for name in acts:
        per_seed[name] = {init: {key: np.stack(v) for key, v in rows[(name, init)].items()} for init in arms}
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
    # per seed: the geometric mean over hidden layers of the backward gain, at every arm and activation;
    # a gain of 0 or NaN (the gradient underflowed to 0, e.g. in float32) is no measurement (None)
    seed_gain: dict[str, dict[str, list[float | None]]] = {}
    for name, by_init in per_seed.items():
        seed_gain[name] = {}
        for init, st in by_init.items():
            with np.errstate(invalid="ignore", divide="ignore"):
                per = geometric_mean(st["backward_gain"], axis=1).tolist()
            seed_gain[name][init] = [v if math.isfinite(v) and v > 0 else None for v in per]
    sigmoid_gain = {init: _interval_dict(per) for init, per in seed_gain.get("sigmoid", {}).items()}
    standard = standard_arms(config)
    # per activation: the gain per layer at the standard inits, per seed the geometric mean over them
    standard_gain = {name: _over_arms([by[a] for a in standard]) for name, by in seed_gain.items()}
    metrics = {
        "weight_scale": {a: arm_scale(a) for a in arms},
        "vanishing_threshold": vanishing_threshold(config.depth),
        "standard_arms": standard,
        "sigmoid_gain": sigmoid_gain,
        "standard_gain": {name: _interval_dict(per) for name, per in standard_gain.items()},
        "grad_norm_geomean": {n: {i: float(geometric_mean(np.asarray(v))) for i, v in by.items()}
                              for n, by in grad_norm.items()},
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
        verdict=verdict(config, metrics),
        per_activation=per_activation(config, standard_gain),
        env=environment(device),
        elapsed_s=clock.elapsed(),
        data=data,
    )


def _interval_dict(per: Sequence[float | None]) -> dict[str, Any]:
    iv = positive_ci95(per)
    return {"estimate": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high, "n": iv.n, "per_seed": list(per)}


def _over_arms(per_arm: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per seed, the geometric mean over arms of the per-seed gains (None where an arm has none)."""
    out: list[float | None] = []
    for values in zip(*per_arm, strict=True):
        out.append(None if any(v is None for v in values) else float(geometric_mean(np.asarray(values))))
    return out


def _warm_up(config: Config) -> None:
    dev, dtype = resolve_device(config.device), DTYPES[config.dtype]
    w = torch.eye(4, device=dev, dtype=dtype, requires_grad=True)
    torch.linalg.matrix_norm(w.detach(), ord=2)
    torch.autograd.grad(torch.sigmoid(w @ w).sum(), [w])

