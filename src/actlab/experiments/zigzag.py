"""Claim 2, ``zigzag``: all-positive inputs confine per-example steps and slow gradient descent.

The claim (CS231n lecture 6 and its notes): sigmoid outputs are not zero-centred. A
layer whose inputs are all positive gets, for one example, weight gradients
dL/dw_i = (dL/df) * x_i that all share the sign of dL/df: its weights can only all
increase or all decrease together, so the path to the optimum zig-zags.

Part (a), ``parts=("linear",)``: the claim stripped to one linear unit. Least squares

    L(w) = 1/(2N) sum_i (w . x_i - y_i)^2,     Hessian H = E[x x^T] = X^T X / N,

in float64, for each n in ``dims``, twice on the same draws: with all-positive inputs
(``inputs="sigmoid"``: x = sigmoid(z), z ~ N(0, I), what a sigmoid layer hands the next
one; or ``"uniform"``: U(0, 1]) and with the same inputs centred, x - mean(x). The target
weights w* alternate in sign (w*_i = +-U(0.5, 1.5)), so from w0 = 0 some weights must
grow while others shrink; y = X w* (+ ``noise`` * N(0, 1)). Both variants have the same
minimiser (w* when ``noise`` is 0). Metrics, keyed ``[variant][n]`` (n as a string):

* ``condition_number``: lambda_max / lambda_min of E[x x^T]. With mean mu and
  per-component variance s^2, E[x x^T] = Cov + mu mu^T: the mean adds an eigenvalue of
  about n mu^2 along (1, ..., 1) and leaves the others near s^2, so kappa ~ 1 + n mu^2 / s^2
  (``condition_number_population``; centred: 1). A finite sample widens both spectra.
* ``steps_to_tol``: full-batch gradient descent from w0 = 0 with lr = lr_scale / lambda_max
  (the same rule for both), steps until the relative excess loss
  (L(w_t) - L*) / (L(w0) - L*) <= tol; ``None`` if not within ``max_steps``.
  ``steps_ratio[n]`` = positive / centred. ``steps_bound``: the steps the condition number
  alone guarantees: the relative excess loss is a weighted mean of (1 - lr lambda_k)^(2t),
  at most rho^(2t) with rho = max(|1 - lr_scale / kappa|, |1 - lr_scale|), so
  steps_to_tol <= ceil(ln(tol) / (2 ln rho)).
* ``quadrant_fraction``: per-example SGD (lr = sgd_lr_scale / mean_i ||x_i||^2, one random
  order per epoch, the same orders for both variants, stopped at the end of the epoch in
  which it reaches tol): the share of steps that move every weight the same way (all > 0 or all
  < 0). A step is -lr * r_i * x_i with a scalar residual r_i, so it is 1.0 exactly for
  x_i > 0; centred it is the share of examples in the all-positive or all-negative
  orthant, 2^(1-n) for independent symmetric components (``quadrant_fraction_reference``).
  Steps that move nothing (r_i = 0 exactly, once SGD has converged to the last bit) are
  not counted; ``quadrant_fraction_steps`` says how many were.
* ``quadrant_fraction_full_batch``: the same share for the gradient-descent steps. The
  full-batch gradient sums r_i x_i over residuals of both signs, so it is not confined.
* ``sgd_steps_to_tol``: per-example SGD steps until the relative excess loss first is
  <= tol; ``None`` if not within ``sgd_epochs`` passes. ``sgd_steps_ratio[n]`` = positive /
  centred. SGD's lr is set by tr E[x x^T] (the mean adds only n mu^2 to it), not by
  lambda_max, and its rate by about lr * lambda_min, so the ratio is near
  ``sgd_steps_ratio_population`` = 1 + mu^2 / s^2 for every n (Kaczmarz-type rate).

What this shows: the sign argument is exact for one example at a time (per-example steps
lie in two orthants). The full-batch slowdown has a different cause: the non-zero input
mean makes E[x x^T] ill-conditioned (LeCun et al. 1998, "Efficient BackProp", sec. 4.3),
and gradient descent needs about kappa * ln(1/tol) / 2 steps at lr = 1 / lambda_max.

Part (b), ``"factorial"``: the 2x2 factorial that separates the two causes the course
material mixes up. sigmoid(x) = (1 + tanh(x/2)) / 2, so tanh differs from sigmoid twice:
its outputs are zero-centred, and it has more gain (slope 1 at 0, not 1/4, and twice the
range). Four activations cross the two factors:

    ================  ===========================  ===================================
                      all-positive outputs         zero-centred outputs
    sigmoid's gain    sigmoid                      sigmoid_centered = sigmoid - 1/2
    tanh's gain       tanh_shifted = tanh + 1      tanh
    ================  ===========================  ===================================

Each trains the same MLP (40 -> ``depth`` hidden layers of ``width`` -> 10, weights drawn
by ``init`` from the run's seed, so the four start from the same weights) on MNIST-1D
(4000 train / 1000 test, 40 features) with plain minibatch SGD (no momentum) for
``train_steps`` steps, at every rate of ``lr_grid``, for ``seeds`` seeds (seed, seed + 1,
...; a seed fixes the init and the batch order, the same for the four). The training error
is measured on all 4000 training examples every ``eval_every`` steps (the resolution of
``steps_to_target``; the curves are noisy, so a finer one finds a crossing a little earlier).
The layer after an activation has a bias, so shifting the activation by a constant (sigmoid
vs sigmoid_centered, tanh vs tanh_shifted) changes no function the net can represent (the
bias absorbs W c; from the same weights the two start at functions that differ by that
bias): a difference in speed between the two is a matter of optimisation, what the zig-zag
argument is about. Metrics (``v`` one of ``FACTORIAL_VARIANTS``):

* ``target_error``: the training-error target, by default 50%, which all four reach within
  the default budget at their best rates (chance is 90%; this MLP ends near 50-62% test
  accuracy after 3000 steps).
* ``lr_chosen[v]``: the rate of ``lr_grid`` that trains v fastest over the seeds: fewest
  diverged runs, then fewest seeds that miss the target, then the lowest mean log steps
  (chosen on the seeds it is reported on: an optimistic bias the four share).
  ``lr_fixed``: one rate for all four: ``fixed_lr``, or the grid rate ranked the same way
  on the four together (sum of their mean log steps). The tuned rates give each variant
  its best; the fixed rate holds the optimiser fixed, so there the gain effect also holds
  the larger steps that a steeper activation takes at the same rate.
* ``steps_to_target[v]`` (at ``lr_chosen[v]``): the first evaluation step with training
  error <= target, ``{mean, ci95_low, ci95_high, n, n_excluded, per_seed, reached, lr}``;
  ``per_seed`` holds None for a seed that never reached it within ``train_steps`` (counted
  in ``reached``), and ``mean`` is None unless every seed reached it.
* ``test_accuracy[v]``: after ``train_steps`` at ``lr_chosen[v]``, ``{mean, ci95_low,
  ci95_high, n, n_excluded, per_seed}`` (a diverged run has NaN, left out and counted);
  ``diverged[v]``: the step each seed diverged at (None: did not) at that rate.
* ``factorial_effects``: contrasts of y_v = ln steps_to_target[v], per seed (paired: a seed
  gives the four the same init and batch order), then mean and 95% CI over the seeds::

      centring    = ((y_sigmoid_centered - y_sigmoid) + (y_tanh - y_tanh_shifted)) / 2
      gain        = ((y_tanh_shifted - y_sigmoid) + (y_tanh - y_sigmoid_centered)) / 2
      interaction = ((y_tanh - y_tanh_shifted) - (y_sigmoid_centered - y_sigmoid)) / 2
      total       = y_tanh - y_sigmoid = centring + gain
      centring_at_sigmoid_gain = y_sigmoid_centered - y_sigmoid = centring - interaction

  each ``{mean, ci95_low, ci95_high, n, n_excluded, per_seed, steps_factor}``
  (``steps_factor`` = exp(mean): what the change multiplies the steps by), and
  ``centring_share`` = centring / total (the share of tanh's log-step advantage over
  sigmoid that centring explains) and ``centring_alone_share`` = centring_at_sigmoid_gain
  / total. Effects are None where some variant missed the target on some seed.
* ``steps_to_target_fixed_lr``, ``test_accuracy_fixed_lr``, ``diverged_fixed_lr``,
  ``factorial_effects_fixed_lr``: the same at ``lr_fixed``.
* ``lr_search[v][lr]``: ``{per_seed, mean_log_steps, reached, diverged}`` for every rate.

Part (b) holds when centring's main effect is a speedup of at least
``MIN_CENTRING_SPEEDUP`` with its 95% CI below 1x; it does not hold when the CI rules that
speedup out; otherwise (or when a variant misses the target) it is inconclusive.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from .base import (
    MAX_BATCH,
    Progress,
    Stopwatch,
    check_choice,
    check_float,
    check_int,
    no_progress,
    resolve_device,
)
from .fields import check_fields
from .models import build_mlp
from .parallel import run_tasks
from .result import Result, Verdict, environment
from .stats import mean_ci95
from .trainer import Tensors, TrainConfig, load_tensors, steps_to_target, train

__all__ = [
    "NAME",
    "CLAIM",
    "SOURCE",
    "COMMAND",
    "PARTS",
    "VARIANTS",
    "INPUTS",
    "MIN_STEPS_RATIO",
    "FACTORIAL_VARIANTS",
    "FACTORS",
    "EFFECTS",
    "MIN_CENTRING_SPEEDUP",
    "Config",
    "QUICK",
    "run",
    "LinearProblem",
    "linear_problem",
    "condition_number",
    "steps_bound",
    "OptimiserRun",
    "gradient_descent",
    "per_example_sgd",
    "sgd_orders",
    "same_direction_fraction",
    "population_moments",
    "factorial_model",
    "factorial_run",
    "factorial_effects",
    "choose_lr",
    "choose_fixed_lr",
]

NAME = "zigzag"
CLAIM = (
    "Sigmoid outputs are not zero-centred. A layer whose inputs are all positive gets, for one "
    "example, weight gradients dL/dw_i = (dL/df) * x_i that all share the sign of dL/df: its "
    "weights can only all increase or all decrease together, so the path to the optimum "
    "zig-zags. A batch only partly helps."
)
SOURCE = (
    "CS231n lecture 6 and notes 'Neural Networks Part 1' (sigmoid: not zero-centred); "
    "LeCun, Bottou, Orr & Mueller 1998, 'Efficient BackProp', sec. 4.3 (normalising the inputs)"
)
COMMAND = "actlab run zigzag"

PARTS = ("linear", "factorial")
VARIANTS = ("positive", "centred")
INPUTS = ("sigmoid", "uniform")
#: The claim holds when, for every n, the centred problem needs at most 1/MIN_STEPS_RATIO
#: of the gradient-descent steps of the positive one ("far fewer").
MIN_STEPS_RATIO = 2.0
#: Part (b)'s four activations, and their cell of the factorial: (zero-centred, gain).
FACTORIAL_VARIANTS = ("sigmoid", "sigmoid_centered", "tanh_shifted", "tanh")
FACTORS = MappingProxyType({
    "sigmoid": (False, "sigmoid"),
    "sigmoid_centered": (True, "sigmoid"),
    "tanh_shifted": (False, "tanh"),
    "tanh": (True, "tanh"),
})
#: The contrasts of log steps_to_target that ``factorial_effects`` returns.
EFFECTS = ("centring", "gain", "interaction", "total", "centring_at_sigmoid_gain")
#: Part (b) holds when centring divides the steps by at least this (95% CI below 1x).
MIN_CENTRING_SPEEDUP = 1.1
_MAX_DIM = 1000
_CURVE_POINTS = 600  # a loss curve longer than this is thinned for result.json


def _tuple_of_ints(name: str, value: Any) -> tuple[int, ...]:
    if isinstance(value, str):
        try:
            value = [int(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"{name}={value!r} must be comma-separated integers") from None
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"{name}={value!r} must be a tuple of integers")
    return tuple(value)


def _check_open_interval(name: str, value: Any, lo: float, hi: float) -> None:
    check_float(name, value)
    if not lo < value < hi:
        raise ValueError(f"{name}={value} must be strictly between {lo:g} and {hi:g}")


def _tuple_of_floats(name: str, value: Any) -> tuple[float, ...]:
    if isinstance(value, str):
        try:
            value = [float(v) for v in value.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"{name}={value!r} must be comma-separated numbers") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"{name}={value!r} must be a tuple of numbers")
    return tuple(value)


def _mnist1d_train_size() -> int:
    from ..data import MNIST1DConfig

    c = MNIST1DConfig()
    return int(c.num_samples * c.train_split)


@dataclass(frozen=True)
class Config:
    """Every setting of the ``zigzag`` claim.

    Part (a), ``"linear"`` (CPU, float64):

    Args:
        seed: seeds every draw: part (a)'s inputs, targets, noise and SGD orders (per n);
            part (b)'s first seed.
        parts: which parts to run: ``"linear"`` (part (a)), ``"factorial"`` (part (b)).
        dims: the input dimensions n (2 gives the contour figure); sorted, each >= 2.
        samples: examples N per problem; must exceed max(dims) so E[x x^T] is full rank.
        inputs: all-positive input distribution: ``"sigmoid"`` (sigmoid of N(0, 1)) or ``"uniform"`` (U(0, 1]).
        noise: standard deviation of Gaussian noise added to the targets.
        lr_scale: gradient descent's lr = lr_scale / lambda_max(E[x x^T]), in (0, 2).
        tol: stop once the relative excess loss (L - L*) / (L(w0) - L*) <= tol, in (0, 1).
        max_steps: gradient-descent steps at most.
        sgd_lr_scale: per-example SGD's lr = sgd_lr_scale / mean ||x_i||^2, in (0, 2).
        sgd_epochs: passes over the data for per-example SGD at most.
        trajectory_steps: per-example SGD steps kept for the 2-D figure.

    Part (b), ``"factorial"`` (MNIST-1D, plain SGD):

    Args:
        seeds: training runs per variant and rate, with seeds seed, seed + 1, ...
        width: units per hidden layer.
        depth: hidden layers (each followed by the activation).
        init: weight init, one of ``models.INITS`` (the same draw for the four variants).
        batch_size: examples per SGD step (at most the 4000 training examples).
        lr_grid: learning rates tried for every variant; sorted, each > 0.
        fixed_lr: the one rate for all four variants (one of ``lr_grid``); None: the grid
            rate that suits the four together best (see the module docstring).
        train_steps: SGD steps per run.
        target_error: the training-error target of ``steps_to_target``, in (0, 1).
        eval_every: measure the training error every this many steps.
        workers: worker processes for the training runs (0: one per core; 1: in-process).
        device: where part (b) trains (``cpu`` or ``cuda``); part (a) is float64 on the CPU.
    """

    seed: int = 0
    parts: tuple[str, ...] = ("linear", "factorial")
    dims: tuple[int, ...] = (2, 10, 50, 100)
    samples: int = 2000
    inputs: str = "sigmoid"
    noise: float = 0.0
    lr_scale: float = 1.0
    tol: float = 1e-6
    max_steps: int = 100_000
    sgd_lr_scale: float = 0.5
    sgd_epochs: int = 50
    trajectory_steps: int = 150
    seeds: int = 5
    width: int = 100
    depth: int = 2
    init: str = "default"
    batch_size: int = 64
    lr_grid: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0)
    fixed_lr: float | None = None
    train_steps: int = 3000
    target_error: float = 0.5
    eval_every: int = 20
    workers: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_fields(self, "seed")

        parts = self.parts
        if isinstance(parts, str):
            parts = [p.strip() for p in parts.split(",") if p.strip()]
        if not isinstance(parts, (tuple, list)) or not parts:
            raise ValueError(f"parts={self.parts!r} must name at least one of: {', '.join(PARTS)}")
        clean: list[str] = []
        for p in parts:
            check_choice("parts", p, PARTS)
            if p not in clean:
                clean.append(p)
        object.__setattr__(self, "parts", tuple(clean))

        dims = _tuple_of_ints("dims", self.dims)
        if not dims:
            raise ValueError("dims is empty; give at least one input dimension, e.g. dims=2,10,50")
        for n in dims:
            if isinstance(n, bool) or not isinstance(n, int):
                raise ValueError(f"dims: {n!r} must be an integer")
            if n < 2:
                raise ValueError(f"dims: n={n} must be >= 2 (the zig-zag needs at least two weights)")
            if n > _MAX_DIM:
                raise ValueError(f"dims: n={n} must be <= {_MAX_DIM}")
        object.__setattr__(self, "dims", tuple(sorted(set(dims))))

        check_int("samples", self.samples, min_value=3, max_value=MAX_BATCH)
        if self.samples <= max(self.dims):
            raise ValueError(f"samples={self.samples} must be larger than the largest dimension "
                             f"({max(self.dims)}), or E[x x^T] of the centred inputs is singular")
        check_choice("inputs", self.inputs, INPUTS)
        check_float("noise", self.noise, min_value=0.0)
        _check_open_interval("lr_scale", self.lr_scale, 0.0, 2.0)
        _check_open_interval("tol", self.tol, 0.0, 1.0)
        check_int("max_steps", self.max_steps, min_value=1)
        _check_open_interval("sgd_lr_scale", self.sgd_lr_scale, 0.0, 2.0)
        check_int("sgd_epochs", self.sgd_epochs, min_value=1)
        check_int("trajectory_steps", self.trajectory_steps, min_value=1)

        check_fields(self, "seeds", "width", "depth", "init")
        check_int("batch_size", self.batch_size, min_value=1, max_value=_mnist1d_train_size())
        grid = _tuple_of_floats("lr_grid", self.lr_grid)
        if not grid:
            raise ValueError("lr_grid is empty; give at least one learning rate, e.g. lr_grid=0.1,1,10")
        for lr in grid:
            check_float("lr_grid entry", lr, positive=True)
        object.__setattr__(self, "lr_grid", tuple(sorted(set(float(lr) for lr in grid))))
        if self.fixed_lr is not None:
            check_float("fixed_lr", self.fixed_lr, positive=True)
            if float(self.fixed_lr) not in self.lr_grid:
                raise ValueError(f"fixed_lr={self.fixed_lr} must be one of lr_grid "
                                 f"({', '.join(f'{lr:g}' for lr in self.lr_grid)}), or None to choose it")
            object.__setattr__(self, "fixed_lr", float(self.fixed_lr))
        check_int("train_steps", self.train_steps, min_value=1)
        _check_open_interval("target_error", self.target_error, 0.0, 1.0)
        check_int("eval_every", self.eval_every, min_value=1)
        check_fields(self, "workers", "device")


#: ``--quick``: part (a) without n = 100 and with fewer examples (the effect needs no large
#: N); part (b) with 3 seeds (the fewest whose 95% CI is not +-12.7 standard errors), two
#: rates a decade apart, each the best or near it for two variants (3: sigmoid and
#: sigmoid_centered; 0.3: tanh_shifted and tanh), 2200 steps (sigmoid, the slowest, needs up
#: to about 1900) and the training error every 50 steps (one pass over the 4000 training
#: examples costs about as much as 12 SGD steps).
QUICK: dict[str, Any] = {
    "dims": (2, 10, 50),
    "samples": 500,
    "seeds": 3,
    "lr_grid": (0.3, 3.0),
    "train_steps": 2200,
    "eval_every": 50,
}


# --- the linear problems ------------------------------------------------------------


@dataclass(frozen=True)
class LinearProblem:
    """One least-squares problem L(w) = 1/(2N) ||X w - y||^2, float64.

    ``inputs`` (N, n); ``targets`` (N,); ``hessian`` = X^T X / N (n, n) = E[x x^T];
    ``rhs`` = X^T y / N (n,); ``w_opt`` (n,) the minimiser; ``w_star`` (n,) the weights
    the targets were made with (equal to ``w_opt`` without noise).
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    w_star: torch.Tensor
    hessian: torch.Tensor = field(init=False)
    rhs: torch.Tensor = field(init=False)
    w_opt: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        x, y = self.inputs, self.targets
        n_samples = x.shape[0]
        hessian = x.T @ x / n_samples  # (n, n)
        rhs = x.T @ y / n_samples  # (n,)
        object.__setattr__(self, "hessian", hessian)
        object.__setattr__(self, "rhs", rhs)
        object.__setattr__(self, "w_opt", torch.linalg.solve(hessian, rhs))

    def excess_loss(self, w: torch.Tensor) -> float:
        """L(w) - L*, as 1/2 (w - w_opt)^T H (w - w_opt) (exact for a quadratic)."""
        e = w - self.w_opt
        return 0.5 * float(e @ (self.hessian @ e))


def _seed_for(seed: int, n: int) -> int:
    # Independent streams per (seed, n): a run's n = 10 problem does not depend on
    # which other dims it was run with.
    return int(np.random.SeedSequence([seed, n]).generate_state(1)[0])


def linear_problem(config: Config, n: int) -> tuple[dict[str, LinearProblem], int]:
    """The positive and centred problems for dimension ``n``, and the seed of their SGD orders.

    Returns ``({"positive": ..., "centred": ...}, order_seed)``; the centred inputs are the
    positive ones minus their mean over the N examples, with the same w* and noise.
    """
    gen = torch.Generator().manual_seed(_seed_for(config.seed, n))
    f64 = torch.float64
    if config.inputs == "sigmoid":
        x = torch.sigmoid(torch.randn(config.samples, n, generator=gen, dtype=f64))  # (N, n), in (0, 1)
    else:
        x = 1.0 - torch.rand(config.samples, n, generator=gen, dtype=f64)  # (N, n), in (0, 1]: never 0
    signs = torch.tensor([1.0 if i % 2 == 0 else -1.0 for i in range(n)], dtype=f64)
    w_star = signs * (0.5 + torch.rand(n, generator=gen, dtype=f64))  # (n,), mixed signs
    eps = torch.randn(config.samples, generator=gen, dtype=f64)  # drawn even at noise 0: same stream
    order_seed = int(torch.randint(0, 2**62, (1,), generator=gen))
    x_centred = x - x.mean(dim=0, keepdim=True)
    problems = {
        "positive": LinearProblem(x, x @ w_star + config.noise * eps, w_star),
        "centred": LinearProblem(x_centred, x_centred @ w_star + config.noise * eps, w_star),
    }
    return problems, order_seed


def population_moments(inputs: str) -> tuple[float, float]:
    """(mean, variance) of one component of the all-positive inputs, from their distribution."""
    if inputs == "uniform":
        return 0.5, 1.0 / 12.0
    if inputs == "sigmoid":
        # E[sigmoid(z)^k], z ~ N(0, 1), by Gauss-Hermite quadrature (probabilists' weights).
        z, wts = np.polynomial.hermite_e.hermegauss(80)
        wts = wts / wts.sum()
        s = 1.0 / (1.0 + np.exp(-z))
        mean = float(wts @ s)
        return mean, float(wts @ s**2) - mean**2
    raise ValueError(f"inputs={inputs!r} must be one of {', '.join(INPUTS)}")


def condition_number(hessian: torch.Tensor) -> tuple[float, torch.Tensor]:
    """(lambda_max / lambda_min, eigenvalues ascending) of a symmetric positive-definite matrix."""
    eig = torch.linalg.eigvalsh(hessian)
    return float(eig[-1] / eig[0]), eig


def steps_bound(kappa: float, lr_scale: float, tol: float) -> int:
    """Gradient-descent steps (lr = lr_scale / lambda_max) after which the relative excess
    loss is <= tol whatever the start: ceil(ln(tol) / (2 ln rho)), rho the worst contraction."""
    rho = max(abs(1.0 - lr_scale / kappa), abs(1.0 - lr_scale))
    if rho == 0.0:
        return 1
    return max(1, math.ceil(math.log(tol) / (2.0 * math.log(rho))))


# --- the optimisers -----------------------------------------------------------------


def same_direction_fraction(steps: torch.Tensor) -> tuple[float, int]:
    """Share of the rows of ``steps`` (T, n) that are all > 0 or all < 0, and how many rows
    moved at all (rows of zeros are not counted)."""
    moved = (steps != 0).any(dim=1)
    same = (steps > 0).all(dim=1) | (steps < 0).all(dim=1)
    count = int(moved.sum())
    return (int(same.sum()) / count if count else float("nan")), count


@dataclass(frozen=True)
class OptimiserRun:
    """What one optimiser run measured (see :func:`gradient_descent`, :func:`per_example_sgd`)."""

    steps_to_tol: int | None  # None: tol not reached
    relative_excess: list[float]  # (L - L*) / (L(w0) - L*) after 0, 1, 2, ... steps
    trajectory: torch.Tensor  # (T + 1, n) weights, w0 first
    quadrant_fraction: float  # share of the steps that moved every weight the same way
    moved_steps: int  # steps that moved at all: the denominator of quadrant_fraction


def gradient_descent(problem: LinearProblem, lr: float, tol: float, max_steps: int) -> OptimiserRun:
    """Full-batch GD w <- w - lr (H w - b) from w0 = 0 until the relative excess loss <= tol."""
    h, b = problem.hessian, problem.rhs
    w = torch.zeros_like(b)
    e0 = problem.excess_loss(w)
    trajectory, curve = [w], [1.0]
    reached = 0 if e0 == 0 else None
    for t in range(1, max_steps + 1):
        if reached is not None:
            break
        w = w - lr * (h @ w - b)  # the gradient of L: X^T (X w - y) / N = H w - b
        trajectory.append(w)
        curve.append(problem.excess_loss(w) / e0)  # a host sync per step: it decides when to stop
        if curve[-1] <= tol:
            reached = t
    traj = torch.stack(trajectory)  # (T + 1, n)
    fraction, moved = same_direction_fraction(traj.diff(dim=0))
    return OptimiserRun(reached, curve, traj, fraction, moved)


def sgd_orders(order_seed: int, samples: int):
    """The example order of each epoch (an endless generator of permutations)."""
    gen = torch.Generator().manual_seed(order_seed)
    while True:
        yield torch.randperm(samples, generator=gen).tolist()


def per_example_sgd(problem: LinearProblem, lr: float, tol: float, max_epochs: int,
                    order_seed: int, keep_steps: int = 0) -> OptimiserRun:
    """Per-example SGD w <- w - lr * (w . x_i - y_i) x_i from w0 = 0, in whole epochs.

    ``steps_to_tol`` is the first per-example step after which the relative excess loss is
    <= tol (``relative_excess`` is recorded after every step); SGD stops at the end of
    that epoch, so the ``quadrant_fraction`` (over every step taken) counts at least one
    full pass. ``trajectory`` holds w0 and the first ``keep_steps`` iterates.
    """
    # The per-example loop runs in numpy (float64 all the same): about 3x less overhead per
    # step than torch at these sizes, and it is the only loop here that takes time.
    x, y = problem.inputs.numpy(), problem.targets.tolist()
    h, w_opt = problem.hessian.numpy(), problem.w_opt.numpy()
    w = np.zeros(x.shape[1])
    e0 = 0.5 * float(w_opt @ h @ w_opt)  # L(0) - L*
    curve, kept = [1.0], [w.copy()]
    residuals: list[float] = []
    order: list[int] = []
    reached = 0 if e0 == 0 else None
    orders = sgd_orders(order_seed, x.shape[0])
    for _ in range(max_epochs):
        if reached is not None:
            break
        perm = next(orders)
        for i in perm:
            xi = x[i]
            r = float(xi @ w) - y[i]  # the residual: dL_i/df, one scalar per example
            w += (-lr * r) * xi
            residuals.append(r)
            e = w - w_opt
            curve.append(0.5 * float(e @ (h @ e)) / e0)
            if reached is None and curve[-1] <= tol:
                reached = len(residuals)
            if len(kept) <= keep_steps:
                kept.append(w.copy())
        order.extend(perm)
    # The steps exactly as taken: -lr * r_t * x_{i_t}, (T, n); only their signs are used.
    steps = (-lr * np.asarray(residuals))[:, None] * x[np.asarray(order, dtype=np.int64)]
    fraction, moved = same_direction_fraction(torch.from_numpy(steps))
    return OptimiserRun(reached, curve, torch.from_numpy(np.stack(kept)), fraction, moved)


# --- the claim ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Section:
    """One part's contribution to the result."""

    metrics: dict[str, Any]
    data: dict[str, Any]
    status: str
    evidence: str


def _thin(curve: Sequence[float]) -> dict[str, list]:
    """(step, value) pairs of a curve, at most about _CURVE_POINTS of them, first and last kept."""
    last = len(curve) - 1
    if last < _CURVE_POINTS:
        idx = list(range(last + 1))
    else:
        geo = np.geomspace(1, last, _CURVE_POINTS // 2)
        lin = np.linspace(0, last, _CURVE_POINTS // 2)
        idx = sorted({0, last, *np.rint(geo).astype(int).tolist(), *np.rint(lin).astype(int).tolist()})
    return {"step": idx, "value": [curve[i] for i in idx]}


def _pct(v: float) -> str:
    if v == 0:
        return "0%"
    return f"{100 * v:.3g}%"


def _join(values: Sequence[Any], fmt=str) -> str:
    return "/".join(fmt(v) for v in values)


def _run_linear(config: Config, progress: Progress, done0: int, total: int) -> _Section:
    mean, var = population_moments(config.inputs)
    keys = [str(n) for n in config.dims]
    metrics: dict[str, Any] = {name: {v: {} for v in VARIANTS} for name in (
        "condition_number", "condition_number_population", "steps_to_tol", "steps_bound",
        "quadrant_fraction", "quadrant_fraction_steps", "quadrant_fraction_full_batch", "sgd_steps_to_tol")}
    metrics["steps_ratio"] = {}
    metrics["sgd_steps_ratio"] = {}
    metrics["sgd_steps_ratio_population"] = 1.0 + mean**2 / var
    metrics["quadrant_fraction_reference"] = {v: {} for v in VARIANTS}
    data: dict[str, Any] = {"dims": list(config.dims), "input_mean": mean, "input_variance": var, "per_dim": {}}
    done = done0
    for n, key in zip(config.dims, keys, strict=True):
        problems, order_seed = linear_problem(config, n)
        per_dim: dict[str, Any] = {}
        for variant in VARIANTS:
            progress(done, total, f"n={n} {variant}")
            p = problems[variant]
            kappa, eig = condition_number(p.hessian)
            gd = gradient_descent(p, config.lr_scale / float(eig[-1]), config.tol, config.max_steps)
            sgd_lr = config.sgd_lr_scale / float((p.inputs**2).sum(dim=1).mean())
            sgd = per_example_sgd(p, sgd_lr, config.tol, config.sgd_epochs, order_seed,
                                  keep_steps=config.trajectory_steps if n == 2 else 0)
            metrics["condition_number"][variant][key] = kappa
            metrics["condition_number_population"][variant][key] = (
                1.0 + n * mean**2 / var if variant == "positive" else 1.0)
            metrics["steps_to_tol"][variant][key] = gd.steps_to_tol
            metrics["steps_bound"][variant][key] = steps_bound(kappa, config.lr_scale, config.tol)
            metrics["quadrant_fraction"][variant][key] = sgd.quadrant_fraction
            metrics["quadrant_fraction_steps"][variant][key] = sgd.moved_steps
            metrics["quadrant_fraction_full_batch"][variant][key] = gd.quadrant_fraction
            metrics["sgd_steps_to_tol"][variant][key] = sgd.steps_to_tol
            metrics["quadrant_fraction_reference"][variant][key] = 1.0 if variant == "positive" else 2.0 ** (1 - n)
            entry: dict[str, Any] = {
                "eigenvalues": eig.tolist(),
                "gd_lr": config.lr_scale / float(eig[-1]),
                "sgd_lr": sgd_lr,
                "gd_curve": _thin(gd.relative_excess),
                "sgd_curve": _thin(sgd.relative_excess),
                "samples": config.samples,
            }
            if n == 2:  # what the contour figure draws: L - L* = 1/2 (w - w_opt)^T H (w - w_opt)
                entry.update(hessian=p.hessian.tolist(), w_opt=p.w_opt.tolist(), w_star=p.w_star.tolist(),
                             gd_trajectory=gd.trajectory[: _CURVE_POINTS].tolist(),
                             sgd_trajectory=sgd.trajectory.tolist())
            per_dim[variant] = entry
            done += 1
        pos, cen = metrics["steps_to_tol"]["positive"][key], metrics["steps_to_tol"]["centred"][key]
        metrics["steps_ratio"][key] = pos / cen if pos is not None and cen else None
        pos, cen = metrics["sgd_steps_to_tol"]["positive"][key], metrics["sgd_steps_to_tol"]["centred"][key]
        metrics["sgd_steps_ratio"][key] = pos / cen if pos is not None and cen else None
        data["per_dim"][key] = per_dim
    status, evidence = _linear_verdict(config, metrics, keys)
    return _Section(metrics, data, status, evidence)


def _linear_verdict(config: Config, m: dict[str, Any], keys: list[str]) -> tuple[str, str]:
    qf, steps, ratio = m["quadrant_fraction"], m["steps_to_tol"], m["steps_ratio"]
    kappa = m["condition_number"]
    unreached = [f"{v} n={k}" for v in VARIANTS for k in keys if steps[v][k] is None]
    if unreached:
        return "inconclusive", (
            f"Gradient descent did not reach relative excess loss {config.tol:g} within "
            f"max_steps={config.max_steps} for {', '.join(unreached)}; raise max_steps.")
    confined = all(qf["positive"][k] == 1.0 for k in keys)
    centred_free = all(qf["centred"][k] < 1.0 for k in keys)
    ratios = [ratio[k] for k in keys]
    g3 = lambda v: f"{v:.3g}"  # noqa: E731
    sgd_ratios = [r for r in (m["sgd_steps_ratio"][k] for k in keys) if r is not None]
    sgd_clause = (f"; per-example SGD, whose lr is set by tr E[xx^T] rather than lambda_max, needed only "
                  f"{_join(sgd_ratios, lambda r: f'{r:.2g}x')} more steps, of the order of "
                  f"1 + mu^2/sigma^2 = {m['sgd_steps_ratio_population']:.2g} at every n"
                  if len(sgd_ratios) == len(keys) else "")
    sentence = (
        f"With all-positive inputs {_pct(min(qf['positive'][k] for k in keys))} of per-example SGD steps "
        f"moved every weight the same way (centred: {_join([qf['centred'][k] for k in keys], _pct)} "
        f"for n = {'/'.join(keys)}); full-batch gradient descent (lr = {config.lr_scale:g}/lambda_max) "
        f"needed {_join([steps['positive'][k] for k in keys])} steps to relative excess loss {config.tol:g} "
        f"versus {_join([steps['centred'][k] for k in keys])} centred ({_join(ratios, lambda r: f'{r:.3g}x')}), "
        f"as the input mean raises the condition number of E[xx^T] from {_join([kappa['centred'][k] for k in keys], g3)} "
        f"to {_join([kappa['positive'][k] for k in keys], g3)} (LeCun et al. 1998, sec. 4.3), while only "
        f"{_span([m['quadrant_fraction_full_batch']['positive'][k] for k in keys])} of its steps moved all weights "
        f"one way{sgd_clause}.")
    if not confined or any(r <= 1.0 for r in ratios):
        return "does_not_hold", sentence
    if not centred_free or any(r < MIN_STEPS_RATIO for r in ratios):
        return "inconclusive", sentence
    return "holds", sentence


def _span(values: Sequence[float]) -> str:
    lo, hi = min(values), max(values)
    return _pct(lo) if _pct(lo) == _pct(hi) else f"{_pct(lo)}-{_pct(hi)}"


# --- part (b): the factorial on MNIST-1D ----------------------------------------------


def _mnist1d() -> Tensors:
    """MNIST-1D as tensors, once per process (train (4000, 40), test (1000, 40))."""
    return load_tensors("mnist1d")


def _run_seeds(seed: int) -> tuple[int, int]:
    # Two independent streams per seed: the weights, and the batch order.
    init_seed, order_seed = np.random.SeedSequence([seed, 0xFAC]).generate_state(2)
    return int(init_seed), int(order_seed)


def factorial_model(config: Config, variant: str, seed: int) -> torch.nn.Sequential:
    """Part (b)'s MLP for ``variant`` (40 -> ``depth`` x ``width`` -> 10), on the CPU; the
    weights depend on ``seed`` only, so the four variants of one seed start from the same."""
    data = _mnist1d()
    init_seed, _ = _run_seeds(seed)
    return build_mlp(data.x_train.shape[1], config.width, config.depth, data.num_classes, variant,
                     init=config.init, seed=init_seed)


def factorial_run(config: Config, variant: str, lr: float, seed: int) -> dict[str, Any]:
    """One MNIST-1D training run of part (b): ``variant``'s MLP at rate ``lr``, seed ``seed``.

    Returns the trainer's curves (``steps``, ``train_error`` on all training examples,
    ``train_loss``), ``final_test_error``, ``diverged_at``, ``steps_run`` and
    ``steps_to_target`` (None: the target was not reached). A top-level function, so
    worker processes can run it.
    """
    device = resolve_device(config.device)
    data = _mnist1d().to(device)
    model = factorial_model(config, variant, seed).to(device)
    _, order_seed = _run_seeds(seed)
    history = train(model, data, TrainConfig(
        steps=config.train_steps, batch_size=config.batch_size, lr=lr, momentum=0.0, seed=order_seed,
        eval_every=config.eval_every, eval_examples=len(data.x_train)))
    out = history.as_dict()
    out["steps_to_target"] = steps_to_target(history.steps, history.train_error, config.target_error)
    return out


def _log_steps(steps: int | None) -> float | None:
    # None for a run that missed the target, or met it at step 0 (before any training).
    return math.log(steps) if steps else None


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.inf


def _lr_rank(runs: Sequence[Mapping[str, Any]]) -> tuple[int, int, float, float]:
    """How well one rate trains one variant over the seeds (lower is better)."""
    diverged = sum(r["diverged_at"] is not None for r in runs)
    logs = [y for y in (_log_steps(r["steps_to_target"]) for r in runs) if y is not None]
    last = [r["train_error"][-1] for r in runs if math.isfinite(r["train_error"][-1])]
    return diverged, len(runs) - len(logs), _mean(logs), _mean(last)


def choose_lr(runs_by_lr: Mapping[float, Sequence[Mapping[str, Any]]]) -> float:
    """The rate whose runs (one per seed) diverge least, miss the target on fewest seeds,
    then have the lowest mean log steps to target, then the lowest final training error."""
    return min(runs_by_lr, key=lambda lr: (_lr_rank(runs_by_lr[lr]), lr))


def choose_fixed_lr(runs: Mapping[str, Mapping[float, Sequence[Mapping[str, Any]]]]) -> float:
    """The one rate for every variant: ranked as :func:`choose_lr` does, each count and mean
    summed over the variants (``runs[variant][lr]``: one run per seed)."""
    variants = list(runs)
    lrs = list(runs[variants[0]])

    def key(lr: float) -> tuple[int, int, float, float, float]:
        ranks = [_lr_rank(runs[v][lr]) for v in variants]
        return (sum(r[0] for r in ranks), sum(r[1] for r in ranks), sum(r[2] for r in ranks),
                sum(r[3] for r in ranks), lr)

    return min(lrs, key=key)


def factorial_effects(per_seed: Mapping[str, Sequence[int | None]]) -> dict[str, Any]:
    """The 2x2 contrasts of ln(steps_to_target), per seed and over seeds (module docstring).

    ``per_seed[variant]``: steps per seed (the same seeds, in the same order, for the four
    ``FACTORIAL_VARIANTS``). A seed where some variant has None (or 0) gives None for every
    contrast; the summaries (mean_ci95) are None unless every seed gives a number.
    """
    n = len(per_seed["sigmoid"])
    if any(len(per_seed[v]) != n for v in FACTORIAL_VARIANTS):
        raise ValueError("factorial_effects needs the same number of seeds for the four variants")
    contrasts: dict[str, list[float | None]] = {e: [] for e in EFFECTS}
    for i in range(n):
        y = {v: _log_steps(per_seed[v][i]) for v in FACTORIAL_VARIANTS}
        if any(val is None for val in y.values()):
            for e in EFFECTS:
                contrasts[e].append(None)
            continue
        s, sc, ts, t = (y[v] for v in FACTORIAL_VARIANTS)
        contrasts["centring"].append(((sc - s) + (t - ts)) / 2)
        contrasts["gain"].append(((ts - s) + (t - sc)) / 2)
        contrasts["interaction"].append(((t - ts) - (sc - s)) / 2)
        contrasts["total"].append(t - s)
        contrasts["centring_at_sigmoid_gain"].append(sc - s)
    out: dict[str, Any] = {}
    complete = all(c is not None for c in contrasts["total"])
    for e in EFFECTS:
        stats = mean_ci95(contrasts[e]) if complete else {
            "mean": None, "ci95_low": None, "ci95_high": None,
            "n": sum(c is not None for c in contrasts[e]), "n_excluded": sum(c is None for c in contrasts[e])}
        out[e] = {**stats, "per_seed": contrasts[e],
                  "steps_factor": math.exp(stats["mean"]) if stats["mean"] is not None else None}
    total = out["total"]["mean"]
    for name, effect in (("centring_share", "centring"), ("centring_alone_share", "centring_at_sigmoid_gain")):
        out[name] = out[effect]["mean"] / total if total else None  # None: incomplete, or no total effect
    return out


def _steps_summary(runs: Sequence[Mapping[str, Any]], lr: float) -> dict[str, Any]:
    per_seed = [r["steps_to_target"] for r in runs]
    reached = [s for s in per_seed if s is not None]
    stats = mean_ci95(reached) if len(reached) == len(per_seed) else {
        "mean": None, "ci95_low": None, "ci95_high": None, "n": len(reached), "n_excluded": len(per_seed) - len(reached)}
    return {**stats, "per_seed": per_seed, "reached": len(reached), "lr": lr}


def _accuracy_summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    acc = [1.0 - r["final_test_error"] for r in runs]  # NaN after a divergence: left out, counted
    return {**mean_ci95(acc), "per_seed": acc}


def _at_rate(runs: Mapping[str, Mapping[float, list[dict[str, Any]]]], lrs: Mapping[str, float],
             seeds: Sequence[int]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Metrics and figure data of the four variants, each at its rate ``lrs[v]``."""
    metrics: dict[str, Any] = {"steps_to_target": {}, "test_accuracy": {}, "diverged": {}}
    curves: dict[str, Any] = {}
    for v in FACTORIAL_VARIANTS:
        chosen = runs[v][lrs[v]]
        metrics["steps_to_target"][v] = _steps_summary(chosen, lrs[v])
        metrics["test_accuracy"][v] = _accuracy_summary(chosen)
        metrics["diverged"][v] = [r["diverged_at"] for r in chosen]
        curves[v] = {"lr": lrs[v], "seeds": list(seeds), "steps": [r["steps"] for r in chosen],
                     "train_error": [r["train_error"] for r in chosen]}
    metrics["factorial_effects"] = factorial_effects(
        {v: metrics["steps_to_target"][v]["per_seed"] for v in FACTORIAL_VARIANTS})
    return metrics, curves


def _run_factorial(config: Config, progress: Progress, done0: int, total: int) -> _Section:
    _mnist1d()  # a data problem fails here, with its DataError, not in a worker
    seeds = [config.seed + i for i in range(config.seeds)]
    tasks = [(config, v, lr, s) for v in FACTORIAL_VARIANTS for lr in config.lr_grid for s in seeds]
    results = run_tasks(factorial_run, tasks, config.workers,
                        on_done=lambda d, _n: progress(done0 + d, total, "MNIST-1D factorial"))
    runs: dict[str, dict[float, list[dict[str, Any]]]] = {v: {lr: [] for lr in config.lr_grid} for v in FACTORIAL_VARIANTS}
    for (_, v, lr, _), r in zip(tasks, results, strict=True):
        runs[v][lr].append(r)

    lr_chosen = {v: choose_lr(runs[v]) for v in FACTORIAL_VARIANTS}
    lr_fixed = config.fixed_lr if config.fixed_lr is not None else choose_fixed_lr(runs)
    tuned, tuned_curves = _at_rate(runs, lr_chosen, seeds)
    fixed, fixed_curves = _at_rate(runs, dict.fromkeys(FACTORIAL_VARIANTS, lr_fixed), seeds)
    metrics: dict[str, Any] = {
        "target_error": config.target_error,
        "lr_chosen": lr_chosen,
        "lr_fixed": lr_fixed,
        **tuned,
        **{f"{name}_fixed_lr": value for name, value in fixed.items()},
        "lr_search": {v: {f"{lr:g}": {
            "per_seed": [r["steps_to_target"] for r in runs[v][lr]],
            "mean_log_steps": (_lr_rank(runs[v][lr])[2] if _lr_rank(runs[v][lr])[1] == 0 else None),
            "reached": sum(r["steps_to_target"] is not None for r in runs[v][lr]),
            "diverged": [r["diverged_at"] for r in runs[v][lr]],
        } for lr in config.lr_grid} for v in FACTORIAL_VARIANTS},
    }
    data = {"variants": list(FACTORIAL_VARIANTS), "factors": {v: list(FACTORS[v]) for v in FACTORIAL_VARIANTS},
            "tuned": tuned_curves, "fixed": fixed_curves}
    status, evidence = _factorial_verdict(config, metrics)
    return _Section(metrics, data, status, evidence)


def _factor_text(effect: Mapping[str, Any]) -> str:
    """'1.8x fewer steps (95% CI 1.5-2.1x)' for a contrast of log steps."""
    m, lo, hi = effect["mean"], effect["ci95_low"], effect["ci95_high"]
    word = "fewer" if m <= 0 else "more"
    ci = ""
    if lo is not None:
        a, b = sorted((math.exp(-lo), math.exp(-hi)) if m <= 0 else (math.exp(lo), math.exp(hi)))
        ci = f" (95% CI {a:.2f}-{b:.2f}x)"
    return f"{math.exp(abs(m)):.2f}x {word} steps{ci}"


def _missed(steps: Mapping[str, Mapping[str, Any]], seeds: int) -> list[str]:
    return [f"{v} on {s['n_excluded']} of {seeds} seeds" for v, s in steps.items() if s["mean"] is None]


def _factorial_verdict(config: Config, m: Mapping[str, Any]) -> tuple[str, str]:
    steps, effects = m["steps_to_target"], m["factorial_effects"]
    where = (f"MNIST-1D, MLP 40-{'-'.join([str(config.width)] * config.depth)}-10, plain SGD, "
             f"{config.seeds} seed{'s' if config.seeds > 1 else ''}")
    target = f"{100 * config.target_error:g}% training error"
    short = _missed(steps, config.seeds)
    if short:
        return "inconclusive", (
            f"Not every variant reached {target} within train_steps={config.train_steps} at its best rate "
            f"({'; '.join(short)}; {where}); raise train_steps or target_error.")
    if effects["centring"]["mean"] is None:  # every seed reached it, some at step 0: ln 0
        at_start = [v for v in FACTORIAL_VARIANTS if 0 in steps[v]["per_seed"]]
        return "inconclusive", (f"{', '.join(at_start)} met {target} at step 0, before any training ({where}); "
                                f"lower target_error.")
    per = ", ".join(f"{v} {steps[v]['mean']:.0f} (lr {m['lr_chosen'][v]:g})" for v in FACTORIAL_VARIANTS)
    c, g, i, t = (effects[e] for e in ("centring", "gain", "interaction", "total"))
    alone = effects["centring_at_sigmoid_gain"]
    if effects["centring_share"] is not None:
        share_text = (f"centring explains {100 * effects['centring_share']:.0f}% of tanh's advantage over sigmoid, "
                      f"{_factor_text(t)} (centring sigmoid itself: {_factor_text(alone)}, "
                      f"{100 * effects['centring_alone_share']:.0f}%)")
    else:
        share_text = "tanh and sigmoid need the same steps"
    fixed_missed = _missed(m["steps_to_target_fixed_lr"], config.seeds)
    fixed = m["factorial_effects_fixed_lr"]
    fixed_text = (f"at one rate for all (lr {m['lr_fixed']:g}) centring gives {_factor_text(fixed['centring'])} "
                  f"and gain {_factor_text(fixed['gain'])}" if fixed["centring"]["mean"] is not None else
                  f"at one rate for all (lr {m['lr_fixed']:g}) not every variant reached the target "
                  f"({'; '.join(fixed_missed) + ' missed it' if fixed_missed else 'some met it at step 0'})")
    sentence = (
        f"Steps to {target} ({where}, lr tuned per variant): {per}; on log steps centring gives "
        f"{_factor_text(c)} and gain {_factor_text(g)}, interaction {i['mean']:+.2f} in ln steps, so {share_text}; "
        f"{fixed_text}.")
    if c["ci95_low"] is None:
        return "inconclusive", sentence[:-1] + "; one seed gives no confidence interval: use seeds >= 2."
    threshold = -math.log(MIN_CENTRING_SPEEDUP)
    if c["ci95_high"] < 0 and c["mean"] <= threshold:
        return "holds", sentence
    if c["ci95_low"] > threshold:
        return "does_not_hold", sentence
    return "inconclusive", sentence


def _combine(sections: dict[str, _Section]) -> Verdict:
    statuses = [s.status for s in sections.values()]
    if all(s == "holds" for s in statuses):
        status = "holds"
    elif "does_not_hold" in statuses:
        status = "does_not_hold"
    else:
        status = "inconclusive"
    if len(sections) == 1:
        return Verdict(status, next(iter(sections.values())).evidence)
    labels = {"linear": "(a)", "factorial": "(b)"}
    return Verdict(status, "; ".join(f"{labels.get(p, p)} {s.evidence.rstrip('.')}" for p, s in sections.items()) + ".")


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the ``zigzag`` claim for ``config``; never prints, plots or writes.

    ``metrics`` holds every part's numbers under their DESIGN.md names (part (a):
    ``condition_number``, ``steps_to_tol``, ``quadrant_fraction`` and the rest, each
    ``[variant][n]``; part (b): ``steps_to_target``, ``test_accuracy``,
    ``factorial_effects`` and the rest, each ``[activation]``); ``data[part]`` holds what
    that part's figures draw.
    """
    watch = Stopwatch()
    units = {  # progress units: one per (n, variant), one per training run
        "linear": len(config.dims) * len(VARIANTS),
        "factorial": len(FACTORIAL_VARIANTS) * len(config.lr_grid) * config.seeds,
    }
    total = sum(units[p] for p in config.parts)
    sections: dict[str, _Section] = {}
    done = 0
    for part in config.parts:
        if part == "linear":
            sections[part] = _run_linear(config, progress, done, total)
        else:
            sections[part] = _run_factorial(config, progress, done, total)
        done += units[part]
    progress(total, total, "done")
    metrics: dict[str, Any] = {}
    for section in sections.values():
        clash = set(metrics) & set(section.metrics)
        if clash:  # parts must name their metrics apart
            raise RuntimeError(f"metrics {sorted(clash)} named by two parts")
        metrics.update(section.metrics)
    return Result(
        experiment=NAME,
        config=asdict(config),
        metrics=metrics,
        verdict=_combine(sections),
        env=environment(config.device if "factorial" in config.parts else "cpu"),
        elapsed_s=watch.elapsed(),
        data={part: s.data for part, s in sections.items()},
    )
