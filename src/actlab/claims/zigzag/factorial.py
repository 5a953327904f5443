"""Part (b) of the ``zigzag`` claim: the centring x gain factorial on MNIST-1D (the claim's test).

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
from types import MappingProxyType
from typing import Any

import numpy as np
import torch

from ...training.models import build_mlp
from ...training.settings import Progress, resolve_device
from ...training.trainer import Tensors, TrainConfig, load_tensors, steps_to_target, train
from ...training.workers import run_tasks
from ...verdicts.result import KeyNumber, Limit, Rule, Source, Verdict
from ...verdicts.stats import Interval, decide, grid_edge, mean_ci95, positive_ci95
from .config import QUICK, SELECT_OFFSET, Config
from .linear import Section

__all__ = [
    "FACTORIAL_VARIANTS",
    "FACTORS",
    "EFFECTS",
    "MIN_CENTRING_SPEEDUP",
    "factorial_model",
    "factorial_run",
    "factorial_effects",
    "choose_lr",
    "choose_fixed_lr",
    "next_rate",
    "centring_rule",
    "factorial_verdict",
    "run_factorial",
]

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
#: Part (b) holds when centring divides the steps by at least this (95% CI below 1/this).
MIN_CENTRING_SPEEDUP = 1.1


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


def next_rate(grid: Sequence[float], edge: str) -> float:
    """The rate one step beyond ``grid``'s ``edge`` ("low" or "high"): on the 1-3-10 ladder
    (0.3 -> 0.1, 10 -> 30) when the edge is on it, else the ratio of the two outermost rates."""
    values = sorted(grid)
    v = values[0] if edge == "low" else values[-1]
    mantissa = round(v / 10 ** math.floor(math.log10(v)), 6)
    if mantissa in (1.0, 3.0):
        up = 3.0 if mantissa == 1.0 else 10 / 3
        down = 10 / 3 if mantissa == 1.0 else 3.0
        return float(f"{v * up:.3g}") if edge == "high" else float(f"{v / down:.3g}")
    if len(values) < 2:
        return v * 3 if edge == "high" else v / 3
    ratio = values[-1] / values[-2] if edge == "high" else values[1] / values[0]
    return float(f"{v * ratio:.3g}") if edge == "high" else float(f"{v / ratio:.3g}")


def _train_batch(config: Config, pending: Sequence[tuple[str, float]], seeds: Sequence[int], progress: Progress,
                 start: int, expected: int) -> list[tuple[str, float, dict[str, Any]]]:
    tasks = [(config, v, lr, s) for v, lr in pending for s in seeds]
    results = run_tasks(factorial_run, tasks, config.workers,
                        on_done=lambda d, _n: progress(start + d, expected, "MNIST-1D factorial"))
    return [(v, lr, r) for (_, v, lr, _), r in zip(tasks, results, strict=True)]


def run_factorial(config: Config, progress: Progress, done0: int, total: int) -> Section:
    """Part (b): on the selection seeds, every variant (and every extra activation) at every rate of
    ``lr_grid``; a variant whose best rate is at an edge of its grid gets the next rate beyond that edge, up to
    ``lr_grid_growth`` times. Then, on the reported seeds (never the selection's), each variant at its chosen
    rate and at the one fixed rate: the effects, the verdict and the per-activation numbers."""
    _mnist1d()  # a data problem fails here, with its DataError, not in a worker
    variants = list(config.activations)
    select = [config.seed + SELECT_OFFSET + i for i in range(config.select_seeds)]
    seeds = [config.seed + i for i in range(config.seeds)]
    grids = {v: list(config.lr_grid) for v in variants}
    search: dict[str, dict[float, list[dict[str, Any]]]] = {v: {} for v in variants}
    pending = [(v, lr) for v in variants for lr in config.lr_grid]
    grown = dict.fromkeys(variants, 0)
    done, expected = done0, total  # total counts the most runs the growth can add
    while pending:
        batch = _train_batch(config, pending, select, progress, done, expected)
        done += len(batch)
        for v, lr, r in batch:
            search[v].setdefault(lr, []).append(r)
        pending = []
        for v in variants:
            edge = _edge(grids[v], choose_lr(search[v]))
            if edge is not None and grown[v] < config.lr_grid_growth and len(grids[v]) > 1:
                lr = next_rate(grids[v], edge)
                grids[v] = sorted([*grids[v], lr])
                grown[v] += 1
                pending.append((v, lr))

    lr_chosen = {v: choose_lr(search[v]) for v in variants}
    base = {v: {lr: search[v][lr] for lr in config.lr_grid} for v in FACTORIAL_VARIANTS}
    lr_fixed = config.fixed_lr if config.fixed_lr is not None else choose_fixed_lr(base)
    wanted = list(dict.fromkeys([(v, lr_chosen[v]) for v in variants] + [(v, lr_fixed) for v in FACTORIAL_VARIANTS]))
    runs: dict[str, dict[float, list[dict[str, Any]]]] = {v: {} for v in variants}
    for v, lr, r in _train_batch(config, wanted, seeds, progress, done, expected):
        runs[v].setdefault(lr, []).append(r)
    tuned, tuned_curves = _at_rate(runs, lr_chosen, seeds)
    fixed, fixed_curves = _at_rate(runs, dict.fromkeys(FACTORIAL_VARIANTS, lr_fixed), seeds)
    metrics: dict[str, Any] = {
        "target_error": config.target_error,
        "lr_chosen": {v: lr_chosen[v] for v in FACTORIAL_VARIANTS},
        "lr_grid_used": {v: grids[v] for v in FACTORIAL_VARIANTS},
        "lr_at_grid_edge": {v: _edge(grids[v], lr_chosen[v]) for v in FACTORIAL_VARIANTS},
        "lr_fixed": lr_fixed,
        "seeds_select": select, "seeds_reported": seeds,
        **tuned,
        **{f"{name}_fixed_lr": value for name, value in fixed.items()},
        "lr_search": {v: {f"{lr:g}": {
            "per_seed": [r["steps_to_target"] for r in search[v][lr]],
            "mean_log_steps": (_lr_rank(search[v][lr])[2] if _lr_rank(search[v][lr])[1] == 0 else None),
            "reached": sum(r["steps_to_target"] is not None for r in search[v][lr]),
            "diverged": [r["diverged_at"] for r in search[v][lr]],
        } for lr in grids[v]} for v in variants},
        "activation_steps": {v: {**_steps_summary(runs[v][lr_chosen[v]], lr_chosen[v]),
                                 "lr_at_grid_edge": _edge(grids[v], lr_chosen[v])} for v in variants},
    }
    centring = metrics["factorial_effects"]["centring"]["per_seed"]
    # every seed or none: a seed where some variant missed the target leaves no paired contrast
    metrics["centring_steps_factor"] = _interval_dict(
        positive_ci95([math.exp(c) for c in centring]) if all(c is not None for c in centring)
        else Interval(None, None, None, sum(c is not None for c in centring), "log-t"))
    data = {"variants": list(FACTORIAL_VARIANTS), "factors": {v: list(FACTORS[v]) for v in FACTORIAL_VARIANTS},
            "tuned": tuned_curves, "fixed": fixed_curves}
    verdict = factorial_verdict(config, metrics)
    return Section(metrics, data, verdict.status, verdict.evidence, verdict)


def _edge(grid: Sequence[float], chosen: float) -> str | None:
    return grid_edge(grid, chosen) if len(grid) > 1 else "low"


def _interval_dict(iv: Interval) -> dict[str, Any]:
    return {"estimate": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high, "n": iv.n}


def centring_rule(config: Config) -> Rule:
    """Part (b)'s rule: centring's steps factor below 1 / MIN_CENTRING_SPEEDUP."""
    threshold = 1 / MIN_CENTRING_SPEEDUP
    return Rule(statistic="centring's steps factor (steps to the target with zero-centred outputs / without, per "
                          "seed the geometric mean over the two gain levels)", threshold=round(threshold, 4),
                holds_if="below", seeds=config.seeds, text=(
        f"holds if the 95% log-t interval over at least 5 seeds of centring's steps factor lies wholly below "
        f"{threshold:.3f} (zero-centred outputs save at least {100 * (1 - threshold):.0f}% of the SGD steps to "
        f"{100 * config.target_error:g}% training error, each variant at its own best learning rate); does not hold "
        f"if wholly above; inconclusive otherwise, or if a variant missed the target on some seed, or if a best "
        f"learning rate stayed at the edge of its grid. Each variant's rate is chosen on {config.select_seeds} "
        f"selection seeds (seed + 1000 on) that are never reported (this run: {config.seeds} reported seeds)."))


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


def _factorial_sentence(config: Config, m: Mapping[str, Any]) -> tuple[str, str]:
    steps, effects = m["steps_to_target"], m["factorial_effects"]
    where = (f"MNIST-1D, MLP 40-{'-'.join([str(config.width)] * config.depth)}-10, plain SGD, "
             f"{config.seeds} seed{'s' if config.seeds > 1 else ''}")
    target = target_words(config.target_error)
    short = _missed(steps, config.seeds)
    if short:
        return "inconclusive", (
            f"Not every variant reached {target} within train_steps={config.train_steps} at its best rate "
            f"({'; '.join(short)}; {where}); raise train_steps or target_error.")
    if effects["centring"]["mean"] is None:  # every seed reached it, some at step 0: ln 0
        at_start = [v for v in FACTORIAL_VARIANTS if 0 in steps[v]["per_seed"]]
        return "inconclusive", (f"{', '.join(at_start)} met {target} at step 0, before any training ({where}); "
                                f"lower target_error.")
    c, g = effects["centring"], effects["gain"]
    share = (f", {100 * effects['centring_share']:.0f}% of tanh's advantage over sigmoid on the log scale"
             if effects["centring_share"] is not None else "")
    sentence = (f"Steps until {target} ({where}, each variant at its own rate, chosen on {config.select_seeds} other "
                f"seeds): centring gives {_factor_text(c)}{share}, gain {_factor_text(g)}; per variant in the "
                "part (b) table.")
    if c["ci95_low"] is None:
        return "inconclusive", sentence[:-1] + "; one seed gives no confidence interval: use seeds >= 2."
    threshold = -math.log(MIN_CENTRING_SPEEDUP)
    if c["ci95_high"] < 0 and c["mean"] <= threshold:
        return "holds", sentence
    if c["ci95_low"] > threshold:
        return "does_not_hold", sentence
    return "inconclusive", sentence


SOURCE_CITATION = "CS231n lecture 6 and notes; LeCun, Bottou, Orr & Mueller 1998, 'Efficient BackProp', sec. 4.3"
SOURCE_VALUE = ("CS231n: non-zero-centred sigmoid outputs make the gradient updates zig-zag, so training is slower "
                "(no number); LeCun et al.: inputs with a non-zero mean slow gradient descent, hence zero-mean inputs and "
                "tanh-like (symmetric) activations; neither separates centring from tanh's larger gain")


def target_words(target_error: float) -> str:
    """'training error at or below 65%': the target, never readable as an accuracy."""
    return f"training error at or below {100 * target_error:g}%"


def factorial_verdict(config: Config, m: Mapping[str, Any], mechanism: Limit | None = None) -> Verdict:
    """Part (b)'s verdict: the rule of :func:`centring_rule`, after the checks the results contract asks;
    ``mechanism``: part (a)'s limit, when it ran, which "What this means" quotes beside part (b)'s answer."""
    rule = centring_rule(config)
    status, sentence = _factorial_sentence(config, m)
    iv = m["centring_steps_factor"]
    interval = Interval(iv["estimate"], iv["ci95_low"], iv["ci95_high"], iv["n"], "log-t")
    edges = {v: e for v, e in m["lr_at_grid_edge"].items() if e is not None}
    if status == "inconclusive" and interval.estimate is None:
        reason = sentence  # a variant missed the target, or met it at step 0: the sentence says which
    elif edges:
        status = "inconclusive"
        reason = "best lr at the grid edge: " + ", ".join(
            f"{v} at {m['lr_chosen'][v]:g} ({e} edge of {', '.join(f'{x:g}' for x in m['lr_grid_used'][v])})"
            for v, e in edges.items()) + "; widen lr_grid or raise lr_grid_growth"
        sentence = sentence.rstrip(".") + f"; {reason}."
    else:
        status, reason = decide(interval, rule)
        sentence = sentence.rstrip(".") + f"; centring's steps factor {interval.text('{:.2f}', 'x')}: {reason}."
    scale = _scale_words(config)
    steps = m["steps_to_target"]
    eff = m["factorial_effects"]
    if interval.estimate is not None and eff["centring_share"] is not None:
        ours = (f"centring multiplies the steps by {interval.text('{:.2f}', 'x')}; it explains "
                f"{100 * eff['centring_share']:.0f}% of tanh's advantage over sigmoid on the log scale (the rest is "
                "gain)")
    else:
        ours = "not measured: " + reason
    differences = (f"MNIST-1D (not the course's examples), MLP 40-{'-'.join([str(config.width)] * config.depth)}-10, "
                   f"plain SGD, lr tuned per variant, {config.seeds} seeds; the sources name centring and tanh together, "
                   "this run separates centring from gain with sigmoid - 1/2 and tanh + 1")
    key = KeyNumber(interval.estimate, f"{interval.estimate:.2f}x steps" if interval.estimate is not None else "n/a",
                    "centring's effect on SGD steps to the target (below 1: faster)")
    meaning = _meaning(config, scale, status, interval, steps, eff, mechanism)
    return Verdict(status, sentence, rule=rule, source=Source(SOURCE_CITATION, SOURCE_VALUE, ours, differences),
                   meaning=meaning, key_number=key)


def _scale_words(config: Config) -> str:
    Defaults = Config

    def matches(values: Mapping[str, Any]) -> bool:
        return all(getattr(config, k) == (tuple(v) if isinstance(v, list) else v) for k, v in values.items()
                   if k in ("seeds", "train_steps", "width", "depth", "target_error"))
    if matches(QUICK):
        return "quick"
    return "full-scale" if matches({k: getattr(Defaults, k) for k in QUICK}) else "custom-size"


def _meaning(config: Config, scale: str, status: str, interval: Interval, steps: Mapping[str, Any],
             eff: Mapping[str, Any], mechanism: Limit | None) -> str:
    target = target_words(config.target_error)
    out = [f"Is sigmoid slow because its outputs are all positive (not zero-centred), or because its slope is "
           f"small? This {scale} run trains four versions of one network on MNIST-1D, each at its own best "
           f"learning rate: sigmoid, sigmoid - 1/2 (centred, same slope), tanh + 1 (all positive, tanh's slope) and "
           f"tanh."]
    means = [steps[v]["mean"] for v in FACTORIAL_VARIANTS]
    if all(x is not None for x in means):
        out.append(f"SGD steps until {target} (arithmetic mean over {config.seeds} seeds): " + ", ".join(
            f"{v} {x:,.0f}" for v, x in zip(FACTORIAL_VARIANTS, means)) + ".")
    if interval.estimate is not None:
        share = eff.get("centring_share")
        raw = ""
        if share is not None and all(x is not None for x in means) and means[0] > means[3]:
            raw = (f" (a share of the log of sigmoid's steps over tanh's; in raw steps, centring sigmoid alone "
                   f"saves {means[0] - means[1]:,.0f} of the {means[0] - means[3]:,.0f} steps between them, "
                   f"{100 * (means[0] - means[1]) / (means[0] - means[3]):.0f}%)")
        out.append(f"Centring alone multiplies the steps by {interval.estimate:.2f} (95% interval "
                   f"{interval.low:.2f}-{interval.high:.2f} over {interval.n} seeds)"
                   + (f", about {100 * share:.0f}% of tanh's advantage over sigmoid on the log scale{raw}; the rest "
                      f"comes from tanh's larger slope (gain)." if share is not None else "."))
    word = {"holds": (f"So what the claim predicts holds here: centring the outputs speeds training "
                      f"({interval.estimate:.2f}x the steps)" if interval.estimate is not None else
                      "So what the claim predicts holds here: centring the outputs speeds training"),
            "does_not_hold": "So the claim does not hold here: centring saves less than 10% of the steps",
            "inconclusive": "So this run does not settle whether centring speeds training"}[status]
    out.append(word + _mechanism_words(mechanism))
    return " ".join(out)


def _mechanism_words(mechanism: Limit | None) -> str:
    """The second half of the conclusion: what part (a) finds about the course's stated mechanism."""
    if mechanism is None:
        return (". Why is part (a)'s question (one linear neuron, parts=linear), not measured in this run: the "
                "course's reason is that all-positive inputs make every step move all weights one way.")
    if mechanism.status == "holds":
        return ("; but part (a), one linear neuron, finds the slowdown's mechanism is not the course's stated one "
                "(steps that move all weights one way): with all-positive inputs every single-example step does move "
                "all weights the same way, yet full-batch gradient descent, whose steps almost never do, is the one "
                "slowed most; what slows it is conditioning, the input mean stretching the loss surface (a large "
                "condition number), as the limit beside the verdict shows.")
    if mechanism.status == "does_not_hold":
        return ("; part (a), one linear neuron, finds most full-batch steps do move all weights one way, as the "
                "course's stated mechanism says (the limit beside the verdict).")
    return ("; part (a), one linear neuron, does not settle whether the slowdown's mechanism is the course's "
            "(steps that move all weights one way) or conditioning (the limit beside the verdict).")
