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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..activations import Activation, get
from ..training.fields import check_fields
from ..training.models import INITS, build_mlp
from ..training.settings import (
    MAX_BATCH,
    MAX_THREADS,
    MAX_WIDTH,
    Progress,
    Stopwatch,
    check_choice,
    check_float,
    check_int,
    no_progress,
    resolve_device,
    torch_threads,
)
from ..verdicts.result import KeyNumber, Result, Rule, Source, Verdict, environment
from ..verdicts.stats import Interval, decide_each, positive_ci95

__all__ = [
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

NAME = "vanishing"
CLAIM = ("Sigmoid squashes to (0, 1); its derivative is at most 0.25, so saturated units kill the "
         "gradient and deep sigmoid nets suffer vanishing gradients.")
SOURCE = "Stanford CS231n lecture 6 and notes (activation functions); Glorot & Bengio 2010"
COMMAND = "actlab run vanishing"

DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: The gradient "vanishes" when the first layer's norm is this many decades below the last's.
VANISHING_DECADES = 2.0
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

    def __post_init__(self) -> None:
        check_fields(self, "seed", "device", "activations")
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
    sigmoid_gain: dict[str, dict[str, Any]] = {}
    if "sigmoid" in per_seed:
        for init, st in per_seed["sigmoid"].items():
            # per seed: the geometric mean over hidden layers of the backward gain
            with np.errstate(invalid="ignore", divide="ignore"):
                per = geometric_mean(st["backward_gain"], axis=1).tolist()
            # a gain of 0 or NaN (the gradient underflowed to 0, e.g. in float32) is no measurement
            per = [v if math.isfinite(v) and v > 0 else None for v in per]
            iv = positive_ci95(per)
            sigmoid_gain[init] = {"estimate": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high, "n": iv.n,
                                  "per_seed": per}
    metrics = {
        "weight_scale": {a: arm_scale(a) for a in arms},
        "sigmoid_gain": sigmoid_gain,
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
        verdict=_verdict(config, metrics),
        env=environment(device),
        elapsed_s=clock.elapsed(),
        data=data,
    )


def _warm_up(config: Config) -> None:
    dev, dtype = resolve_device(config.device), DTYPES[config.dtype]
    w = torch.eye(4, device=dev, dtype=dtype, requires_grad=True)
    torch.linalg.matrix_norm(w.detach(), ord=2)
    torch.autograd.grad(torch.sigmoid(w @ w).sum(), [w])


SOURCE_CITATION = "CS231n lecture 6 and notes (sigmoid: 'saturated neurons kill the gradients'); Glorot & Bengio 2010"
SOURCE_VALUE = ("sigmoid's derivative is at most 0.25, so each layer can pass back at most a quarter of the gradient "
                "times the weights' stretch; CS231n warns that saturated neurons kill the gradient (no number); "
                "Glorot & Bengio 2010 (sec. 4.2, Fig. 7, tanh nets with the standard init) report back-propagated "
                "gradients getting smaller from the output layer towards the input just after initialisation")


def gain_rule(config: Config) -> Rule:
    """The claim as a falsifiable rule on sigmoid's backward gain per layer, at every init arm."""
    return Rule(statistic="sigmoid's backward gain per layer ||dL/dz_l|| / ||dL/dz_l+1|| (geometric mean over hidden "
                          "layers, log-t interval over seeds), at each init", threshold=1.0, holds_if="below",
                seeds=config.seeds, text=(
        f"At each init (standard, and weights scaled to s = {', '.join(f'{v:g}' for v in config.weight_scales) or 'none'}), "
        f"the gradient vanishes if the 95% interval of sigmoid's per-layer backward gain lies wholly below 1 and grows "
        f"if wholly above 1, from at least 5 seeds (this run: {config.seeds}). The claim (deep sigmoid nets suffer "
        f"vanishing gradients) holds if it vanishes at every init measured; does not hold if at some init it grows; "
        f"otherwise inconclusive."))


# One verdict per init arm, combined: the claim must hold in every init arm measured.
gain_verdict = decide_each


def _scale_words(config: Config) -> str:
    def matches(values: Mapping[str, Any]) -> bool:
        return all(getattr(config, k) == v for k, v in values.items())
    if matches(QUICK):
        return "quick"
    return "full-scale" if matches({k: getattr(Config, k) for k in QUICK}) else "custom-size"


def _verdict(config: Config, m: Mapping[str, Any]) -> Verdict:
    rule = gain_rule(config)
    scale = _scale_words(config)
    arms = arm_names(config)
    if "sigmoid" not in config.activations:
        return Verdict("inconclusive", "sigmoid was not among the activations measured, so the claim "
                       f"about it was not tested ({', '.join(config.activations)} only).", rule=rule,
                       source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured", "sigmoid not measured"),
                       meaning=f"This {scale} run did not include sigmoid, so it says nothing about the claim; "
                               "rerun with --activations sigmoid,tanh,relu.",
                       key_number=KeyNumber(None, "n/a", "sigmoid's gradient gain per layer (not measured)"))
    orders = m["orders_of_magnitude"]["sigmoid"]
    if not all(math.isfinite(v) for v in orders.values()):
        bad = [arm_label(a) for a, v in orders.items() if not math.isfinite(v)]
        return Verdict("inconclusive", f"sigmoid's gradient norm reached 0 or overflowed in {config.dtype} at depth "
                       f"{config.depth} ({', '.join(bad)} init), so no gain could be measured there; use dtype=float64.",
                       rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, "not measured (underflow)",
                                                f"{config.dtype} cannot hold the gradients"),
                       meaning=f"This {scale} run lost sigmoid's gradient to rounding ({config.dtype} underflows to "
                               "0), so it cannot say how fast the gradient vanishes; rerun with --set dtype=float64.",
                       key_number=KeyNumber(None, "n/a", "sigmoid's gradient gain per layer (underflowed)"))
    g = m["sigmoid_gain"]
    intervals = {a: Interval(g[a]["estimate"], g[a]["ci95_low"], g[a]["ci95_high"], g[a]["n"], "log-t") for a in arms}
    status, per = gain_verdict(intervals, rule)
    standard = [a for a in arms if not a.startswith(SCALED)]
    scaled = [a for a in arms if a.startswith(SCALED)]
    slopes = m["mean_derivative"]["sigmoid"]
    mean_slope = {a: float(np.mean(slopes[a])) for a in arms}
    worst = max(arms, key=lambda a: g[a]["estimate"])
    part = lambda a: (f"{arm_label(a)} {intervals[a].text('{:.3g}', 'x')} (mean f' {mean_slope[a]:.3f})")  # noqa: E731
    std_text = "; ".join(part(a) for a in standard)
    sc_text = "; ".join(part(a) for a in scaled)
    grows = [arm_label(a) for a in arms if per[a][0] == "does_not_hold"]
    unsettled = [arm_label(a) for a in arms if per[a][0] == "inconclusive"]
    absolute = ""
    gm = m["grad_norm_geomean"]
    tiny = [(n, i) for n in config.activations for i in standard
            if gm[n][i] < 1e-4 and 0.8 < m["decay_per_layer"][n][i] < 1.25]
    if tiny:
        n, i = min(tiny, key=lambda t: gm[t[0]][t[1]])
        absolute = (f" A flat decay can hide absolute collapse: {n} with {i} init changes by "
                    f"x{m['decay_per_layer'][n][i]:.3g} per layer, yet its weight gradients are ~{gm[n][i]:.1e} "
                    f"in every layer.")
    evidence = (
        f"Sigmoid's backward gain per layer at depth {config.depth}: {std_text}"
        + (f"; with weights scaled up, {sc_text}" if scaled else "")
        + f". The gradient shrinks at {', '.join(arm_label(a) for a in arms if per[a][0] == 'holds') or 'no init'}"
        + (f" and grows at {', '.join(grows)}" if grows else "")
        + (f" (interval spans 1 at {', '.join(unsettled)})" if unsettled else "")
        + f"; the largest gain is {g[worst]['estimate']:.3g}x at {arm_label(worst)} ({per[worst][1]})." + absolute)
    first = standard[0] if standard else arms[0]
    ours = (f"gain per layer {g[first]['estimate']:.3g}x at {arm_label(first)} init ({orders[first]:.1f} decades lost "
            f"over {config.depth + 1} layers)"
            + (f"; {g[worst]['estimate']:.3g}x at {arm_label(worst)} with mean f' {mean_slope[worst]:.3f}" if scaled else ""))
    differences = (f"at initialisation, not during training; Gaussian inputs and random labels; MLP width "
                   f"{config.width}, depth {config.depth}; float64; weights scaled beyond the standard inits to "
                   f"test the 'saturation kills the gradient' mechanism")
    key = KeyNumber(g[worst]["estimate"], f"{g[worst]['estimate']:.3g}x per layer",
                    f"sigmoid's largest backward gain over the inits ({arm_label(worst)})")
    meaning = _meaning(config, scale, g, standard, scaled, mean_slope, orders, status, per, gm)
    return Verdict(status, evidence, rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, ours, differences),
                   meaning=meaning, key_number=key)


def _meaning(config: Config, scale: str, g: Mapping[str, Any], standard: list[str], scaled: list[str],
             mean_slope: Mapping[str, float], orders: Mapping[str, float], status: str,
             per: Mapping[str, tuple[str, str]], gm: Mapping[str, Any]) -> str:
    parts = []
    if standard:
        lo = min(standard, key=lambda a: g[a]["estimate"])
        hi = max(standard, key=lambda a: g[a]["estimate"])
        parts.append(
            f"In this {scale} run each layer of a {config.depth}-layer sigmoid net passes back only "
            f"{g[lo]['estimate']:.2f}-{g[hi]['estimate']:.2f} of the gradient it receives under the usual inits, "
            f"because a neuron's slope f' is at most 0.25 and these weights are too small to make up for it; over "
            f"all layers that loses {min(orders[a] for a in standard):.0f}-{max(orders[a] for a in standard):.0f} "
            f"decades (factors of ten).")
    if scaled:
        big = max(scaled, key=lambda a: g[a]["estimate"])
        parts.append(
            f"With weights {big[len(SCALED):]} times larger the neurons saturate (average f' {mean_slope[big]:.3f}, "
            f"far below 0.25), yet each layer passes back {g[big]['estimate']:.2f} of the gradient: large weights "
            f"multiply it back up, so saturation alone does not make the gradient vanish.")
    parts.append("The gain is measured at initialisation, before any training, from the actual backward pass.")
    word = {"holds": "holds at every init measured",
            "does_not_hold": "does not hold in general: it holds for the usual inits, not for every weight scale",
            "inconclusive": "is not settled by this run (some interval spans 1)"}[status]
    parts.append(f"So 'deep sigmoid nets suffer vanishing gradients' {word}.")
    return " ".join(parts)
