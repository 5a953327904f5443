"""Claim 2, ``zigzag``: all-positive inputs confine per-example steps and slow gradient descent.

The claim (CS231n lecture 6 and its notes): sigmoid outputs are not zero-centred. A
layer whose inputs are all positive gets, for one example, weight gradients
dL/dw_i = (dL/df) * x_i that all share the sign of dL/df: its weights can only all
increase or all decrease together, so the path to the optimum zig-zags.

Two parts (``parts``; ``a`` and ``b`` are accepted for ``linear`` and ``factorial``):

* (a) ``linear`` (``zigzag_a``): least squares on one linear unit, all-positive inputs
  against the same inputs centred: condition number, gradient-descent steps, the share
  of per-example SGD steps that move every weight the same way. An algebra check: the
  quadrant fraction is 1 by algebra and the condition number ~1 + 5.8 n for these inputs.
  Cheap and deterministic: ``actlab run zigzag --quick --set parts=a``.
* (b) ``factorial`` (``zigzag_b``): centring x gain on MNIST-1D: sigmoid,
  sigmoid_centered, tanh_shifted, tanh trained with SGD at a learning rate tuned per
  variant on a grid that grows until the best rate is interior. The claim's test.

Verdict: part (b)'s. Rule (``zigzag_b.centring_rule``): centring's steps factor (steps
to the target with zero-centred outputs / without, per seed the geometric mean over the
two gain levels) holds if its 95% log-t interval over >= 5 seeds lies wholly below
1 / MIN_CENTRING_SPEEDUP (centring saves at least 10% of the steps), does not hold if
wholly above; inconclusive otherwise, or if a variant missed the target, or a best rate
stayed at the edge of its grid. Part (a) alone gives ``inconclusive`` (an algebra check
does not test the claim) unless its check fails.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ...training.fields import check_fields
from ...training.settings import (
    MAX_BATCH,
    Progress,
    Stopwatch,
    check_choice,
    check_float,
    check_int,
    no_progress,
    torch_threads,
)
from ...verdicts.result import KeyNumber, Result, Source, Verdict, environment
from .factorial import (
    EFFECTS,
    FACTORIAL_VARIANTS,
    FACTORS,
    MIN_CENTRING_SPEEDUP,
    centring_rule,
    choose_fixed_lr,
    choose_lr,
    factorial_effects,
    factorial_model,
    factorial_run,
    next_rate,
    run_factorial,
)
from .linear import (
    INPUTS,
    MIN_STEPS_RATIO,
    VARIANTS,
    LinearProblem,
    OptimiserRun,
    Section,
    condition_number,
    gradient_descent,
    linear_problem,
    per_example_sgd,
    population_moments,
    run_linear,
    same_direction_fraction,
    sgd_orders,
    steps_bound,
)

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
    "next_rate",
    "centring_rule",
    "PART_ALIASES",
]

NAME = "zigzag"
CLAIM = (
    "Because sigmoid outputs are not zero-centred, the path to the optimum zig-zags and training "
    "is slower. A layer whose inputs are all positive gets, for one example, weight gradients "
    "dL/dw_i = (dL/df) * x_i that all share the sign of dL/df: its weights can only all increase "
    "or all decrease together. A batch only partly helps."
)
SOURCE = (
    "CS231n lecture 6 and notes 'Neural Networks Part 1' (sigmoid: not zero-centred); "
    "LeCun, Bottou, Orr & Mueller 1998, 'Efficient BackProp', sec. 4.3 (normalising the inputs)"
)
COMMAND = "actlab run zigzag"

PARTS = ("linear", "factorial")
#: ``--set parts=a`` / ``b``: the parts by their letters.
PART_ALIASES = {"a": "linear", "b": "factorial"}
_MAX_DIM = 1000


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
    from ...data import MNIST1DConfig

    c = MNIST1DConfig()
    return int(c.num_samples * c.train_split)


@dataclass(frozen=True)
class Config:
    """Every setting of the ``zigzag`` claim.

    Part (a), ``"linear"`` (CPU, float64):

    Args:
        seed: seeds every draw: part (a)'s inputs, targets, noise and SGD orders (per n);
            part (b)'s first seed.
        parts: which parts to run: ``"linear"`` or ``"a"`` (part (a)), ``"factorial"`` or ``"b"`` (part (b)).
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
        lr_grid_growth: how many times a variant's grid may grow by one rate beyond an edge
            when its best rate sits there (0: never); still at the edge after that, the
            verdict is inconclusive ("best lr at the grid edge").
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
    lr_grid_growth: int = 2
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
            p = PART_ALIASES.get(p, p) if isinstance(p, str) else p
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
        check_int("lr_grid_growth", self.lr_grid_growth, min_value=0, max_value=20)
        check_int("train_steps", self.train_steps, min_value=1)
        _check_open_interval("target_error", self.target_error, 0.0, 1.0)
        check_int("eval_every", self.eval_every, min_value=1)
        check_fields(self, "workers", "device")


#: ``--quick``: part (a) without n = 100 and with fewer examples (the effect needs no large
#: N); part (b) with 5 seeds (the fewest a verdict takes), a 65% training-error target
#: (chance is 90%: every run that reaches it has learnt something) that sigmoid, the
#: slowest, reaches in 850-1000 steps at its best rate (lr 3), 1200 steps, the training error
#: every 50 steps, and the rates 0.3, 1, 3, each grown beyond an edge when a variant's best
#: rate sits there (tanh + 1 trains best below 0.3, sigmoid - 1/2 near 3-10).
QUICK: dict[str, Any] = {
    "dims": (2, 10, 50),
    "samples": 500,
    "seeds": 5,
    "lr_grid": (0.3, 1.0, 3.0),
    "train_steps": 1200,
    "target_error": 0.65,
    "eval_every": 50,
}




def _linear_only_verdict(config: Config, section: Section) -> Verdict:
    """Part (a) alone: an algebra check, not a test of the claim."""
    failed = section.status == "does_not_hold"
    status = "does_not_hold" if failed else "inconclusive"
    m = section.metrics
    keys = [str(n) for n in config.dims]
    kappa = m["condition_number"]["positive"]
    evidence = (("Part (a)'s algebra check FAILED (positive inputs gave per-example steps of mixed sign, or no "
                 "slow-down): " if failed else "Part (a) only: an algebra check, not a test of the claim (run "
                 "parts=factorial for the test). ") + section.evidence)
    rule = centring_rule(config)
    return Verdict(status, evidence, rule=rule, source=Source(
        "CS231n lecture 6 and notes; LeCun et al. 1998, 'Efficient BackProp', sec. 4.3",
        "per-example weight updates all of one sign for positive inputs; a non-zero input mean slows gradient descent",
        f"quadrant fraction {min(m['quadrant_fraction']['positive'][k] for k in keys):.3f} (1 by algebra); condition "
        f"number {'/'.join(f'{kappa[k]:.3g}' for k in keys)} for n = {'/'.join(keys)} (about 1 + "
        f"{m['sgd_steps_ratio_population'] - 1:.1f} n)",
        "one linear neuron on synthetic least squares: the mechanism, not a network"),
        meaning=(f"This run measured only part (a), one linear neuron with all-positive inputs. Every single-example "
                 f"step moved all its weights the same way, as algebra says it must, and the input mean stretched the "
                 f"loss surface (condition number: how much steeper it is in one direction than another) to "
                 f"{kappa[keys[-1]]:.3g} at n = {keys[-1]}. That is the mechanism, not a test of the claim: part (b) "
                 f"tests it on a trained network."),
        key_number=KeyNumber(kappa[keys[-1]], f"{kappa[keys[-1]]:.3g}",
                             f"condition number of E[xx^T] with positive inputs, n = {keys[-1]}"))


def _combine(config: Config, sections: dict[str, Section]) -> Verdict:
    """Part (b)'s verdict decides the claim; part (a) joins the evidence as an algebra check."""
    if "factorial" not in sections:
        return _linear_only_verdict(config, sections["linear"])
    b = sections["factorial"].verdict
    if "linear" not in sections:
        return b
    a = sections["linear"]
    status = b.status
    note = "passed" if a.status != "does_not_hold" else "FAILED"
    if a.status == "does_not_hold":
        status = "inconclusive"  # the harness's algebra is broken: no number can be trusted
    evidence = (f"(b), the test: {b.evidence.rstrip('.')}. (a), an algebra check ({note}): the quadrant fraction is "
                f"1 by algebra and the condition number about 1 + {a.metrics['sgd_steps_ratio_population'] - 1:.1f} n "
                f"for these inputs; {a.evidence[:1].lower() + a.evidence[1:]}")
    return Verdict(status, evidence, rule=b.rule, source=b.source, meaning=b.meaning, key_number=b.key_number)


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
        # the grid may grow: count the most runs it can take, so the estimate never runs backwards
        "factorial": len(FACTORIAL_VARIANTS) * (len(config.lr_grid) + config.lr_grid_growth) * config.seeds,
    }
    total = sum(units[p] for p in config.parts)
    sections: dict[str, Section] = {}
    done = 0
    for part in config.parts:
        if part == "linear":
            # one thread: the same bits whatever the caller's thread setting (the lead's rerun test)
            with torch_threads(1):
                sections[part] = run_linear(config, progress, done, total)
        else:
            sections[part] = run_factorial(config, progress, done, total)
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
        verdict=_combine(config, sections),
        env=environment(config.device if "factorial" in config.parts else "cpu"),
        elapsed_s=watch.elapsed(),
        data={part: s.data for part, s in sections.items()},
    )

