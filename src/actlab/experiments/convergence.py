"""Claim 6, `convergence`: ReLU reaches a training-error target ~6x faster than tanh.

Krizhevsky, Sutskever & Hinton (2012), Fig. 1: a four-layer CNN with ReLUs reached
25% training error on CIFAR-10 six times faster than the same network with tanh,
each with its learning rate chosen to make training as fast as possible. CS231n
lecture 6 repeats it: ReLU "converges much faster than sigmoid/tanh in practice
(e.g. 6x)". Glorot, Bordes & Bengio (2011) and Glorot & Bengio (2010, Table 1) add
softsign/tanh/sigmoid comparisons.

What is measured: the same network (an MLP, or a small CNN on images) per
activation, trained with SGD + momentum on MNIST, Fashion-MNIST or MNIST-1D. The
learning rate is picked per activation from a small grid, on the first seed, as the
one that reaches the target first among those whose run ends (after ``max_steps``)
still at or below the target and did not diverge. Then every other seed trains for
``max_steps`` at that rate. Training error is measured on a fixed
subset of the training set every ``eval_every`` steps.

Metrics:
    steps_to_target[act]: {mean, ci95_low, ci95_high, n, per_seed, reached}
    speedup_vs_tanh[act]: mean steps of tanh / mean steps of act
    test_error[act]: {mean, ci95_low, ci95_high, per_seed} after max_steps
    lr_chosen[act], lr_at_grid_edge[act], lr_search[act][lr] (steps to target on the first
    seed), lr_search_final_error[act][lr] (its training error after max_steps),
    diverged[act] (step of divergence per seed, or None)

    actlab run convergence --dataset fashion-mnist --activations relu,tanh,elu,gelu --seeds 5
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .base import (
    Progress,
    Stopwatch,
    check_choice,
    check_float,
    check_int,
    no_progress,
)
from .fields import check_fields
from .models import build_cnn, build_mlp
from .parallel import run_tasks
from .result import Result, Verdict, environment
from .stats import mean_ci95
from .trainer import DATASETS, Tensors, TrainConfig, load_tensors, steps_to_target, train

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "run", "DATASETS"]

NAME = "convergence"
CLAIM = ("ReLU does not saturate for x > 0, is cheap, and converges about 6x faster than tanh "
         "(25% training error on CIFAR-10).")
SOURCE = "Krizhevsky, Sutskever & Hinton 2012, Fig. 1; CS231n lecture 6; Glorot & Bengio 2010, Table 1"
COMMAND = "actlab run convergence --dataset fashion-mnist --activations relu,tanh,elu,gelu --seeds 5"

MODELS = ("mlp", "cnn")


@dataclass(frozen=True)
class Config:
    """Every setting of the convergence claim (defaults: paper scale on MNIST)."""

    dataset: str = "mnist"
    model: str = "mlp"
    activations: tuple[str, ...] = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu")
    seeds: int = 5
    seed: int = 0
    lr_grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3)
    momentum: float = 0.9
    batch_size: int = 64
    max_steps: int = 2000
    target: float = 0.25
    eval_every: int = 10
    eval_examples: int = 2000
    train_examples: int = 0
    test_examples: int = 0
    width: int = 256
    depth: int = 2
    init: str = "default"
    workers: int = 0
    device: str = "cpu"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, "dataset")
        check_choice("model", self.model, MODELS)
        if self.model == "cnn" and self.dataset == "mnist1d":
            raise ValueError("model=cnn needs an image dataset (mnist or fashion-mnist); mnist1d takes model=mlp")
        check_fields(self, "activations")
        if self.model == "cnn" and "maxout" in self.activations:
            raise ValueError("maxout is a layer activation; use model=mlp for it")
        check_fields(self, "seeds", "seed")
        if not self.lr_grid:
            raise ValueError("lr_grid is empty")
        for lr in self.lr_grid:
            check_float("lr_grid entry", lr, positive=True)
        check_fields(self, "momentum", "batch_size")
        check_int("max_steps", self.max_steps, min_value=1)
        check_float("target", self.target, min_value=0.0, max_value=1.0)
        check_int("eval_every", self.eval_every, min_value=1)
        check_int("eval_examples", self.eval_examples, min_value=1)
        check_fields(self, "train_examples", "test_examples", "width", "depth", "init", "workers", "device")


QUICK: dict[str, Any] = {
    "activations": ("relu", "tanh", "sigmoid"),
    "seeds": 2,
    "lr_grid": (0.03, 0.1, 0.3),
    "max_steps": 300,
    "eval_every": 5,
    "eval_examples": 1000,
    "train_examples": 10_000,
    "test_examples": 2_000,
    "width": 128,
}


def _load(config: Config) -> Tensors:
    return load_tensors(config.dataset, config.data_dir, config.train_examples, config.test_examples,
                        image=config.model == "cnn")


def _train_one(config: Config, activation: str, lr: float, seed: int) -> dict[str, Any]:
    """One training run; a top-level function so worker processes can run it."""
    device = torch.device(config.device)
    data = _load(config).to(device)
    n_in, n_classes = data.x_train[0].numel(), data.num_classes
    if config.model == "cnn":
        model = build_cnn(1, 28, n_classes, activation, init=config.init, seed=seed)
    else:
        model = build_mlp(n_in, config.width, config.depth, n_classes, activation, init=config.init, seed=seed)
    model.to(device)
    tc = TrainConfig(steps=config.max_steps, batch_size=config.batch_size, lr=lr, momentum=config.momentum,
                     seed=seed, eval_every=config.eval_every, eval_examples=config.eval_examples)
    hist = train(model, data, tc)
    out = hist.as_dict()
    out["steps_to_target"] = steps_to_target(hist.steps, hist.train_error, config.target)
    return out


def _pick_lr(results: dict[float, dict[str, Any]], target: float) -> float:
    """The rate that trains fastest *and stays trained*: runs that end (after max_steps)
    at or below the target and did not diverge come first, ranked by steps to the
    target; then the others, by the same steps, then by their last training error.

    A rate that reaches the target first and then blows up (common with momentum at
    the top of the grid) is not "as fast as possible" training.
    """

    def key(lr: float) -> tuple[bool, float, float]:
        r = results[lr]
        last = r["train_error"][-1] if r["train_error"] and math.isfinite(r["train_error"][-1]) else math.inf
        stable = r["diverged_at"] is None and last <= target
        reached = r["steps_to_target"]
        return (not stable, reached if reached is not None else math.inf, last)

    return min(results, key=key)


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim; see the module docstring."""
    clock = Stopwatch()
    acts = config.activations
    # load once here: a missing or damaged data file fails now, with its DataError, not in a worker
    _load(config)
    # Phase 1: the learning rate of each activation, on the first seed, each run for max_steps.
    search_tasks = [(config, a, lr, config.seed) for a in acts for lr in config.lr_grid]
    # Phase 2 tasks are known only after phase 1; count both for the progress bar.
    total = len(search_tasks) + len(acts) * (config.seeds - 1)
    searched = run_tasks(_train_one, search_tasks, config.workers,
                         on_done=lambda d, _n: progress(d, total, "choosing learning rates"))
    lr_search: dict[str, dict[float, dict[str, Any]]] = {a: {} for a in acts}
    for (_, a, lr, _), r in zip(search_tasks, searched):
        lr_search[a][lr] = r
    lr_chosen = {a: _pick_lr(lr_search[a], config.target) for a in acts}
    # Phase 2: the other seeds at the chosen rate (the first seed's run is the search's own).
    tasks = [(config, a, lr_chosen[a], config.seed + i) for a in acts for i in range(1, config.seeds)]
    done0 = len(search_tasks)
    runs = run_tasks(_train_one, tasks, config.workers,
                     on_done=lambda d, _n: progress(done0 + d, total, "training every seed"))
    per_act: dict[str, list[dict[str, Any]]] = {a: [lr_search[a][lr_chosen[a]]] for a in acts}
    for (_, a, _, _), r in zip(tasks, runs):
        per_act[a].append(r)

    steps_metric, test_metric, diverged, curves = {}, {}, {}, {}
    for a in acts:
        per_seed = [r["steps_to_target"] for r in per_act[a]]
        reached = [s for s in per_seed if s is not None]
        stats = mean_ci95(reached) if len(reached) == len(per_seed) else {
            "mean": None, "ci95_low": None, "ci95_high": None, "n": len(reached), "n_excluded": len(per_seed) - len(reached)}
        steps_metric[a] = {**stats, "per_seed": per_seed, "reached": len(reached)}
        tests = [r["final_test_error"] for r in per_act[a]]
        test_metric[a] = {**mean_ci95(tests), "per_seed": tests}
        diverged[a] = [r["diverged_at"] for r in per_act[a]]
        curves[a] = {"steps": per_act[a][0]["steps"], "train_error": [r["train_error"] for r in per_act[a]]}
    speedup = {}
    tanh_mean = steps_metric.get("tanh", {}).get("mean")
    for a in acts:
        m = steps_metric[a]["mean"]
        speedup[a] = (tanh_mean / m) if (tanh_mean and m) else None

    metrics = {
        "target": config.target,
        "steps_to_target": steps_metric,
        "speedup_vs_tanh": speedup,
        "test_error": test_metric,
        "lr_chosen": lr_chosen,
        # a rate at the edge of the grid may mean a better one lies outside it
        "lr_at_grid_edge": {a: lr_chosen[a] in (min(config.lr_grid), max(config.lr_grid)) and len(config.lr_grid) > 1
                            for a in acts},
        "lr_search": {a: {str(lr): r["steps_to_target"] for lr, r in lr_search[a].items()} for a in acts},
        "lr_search_final_error": {a: {str(lr): r["train_error"][-1] for lr, r in lr_search[a].items()} for a in acts},
        "diverged": diverged,
    }
    return Result(
        experiment=NAME,
        config=asdict(config),
        metrics=metrics,
        verdict=_verdict(config, steps_metric, speedup),
        env=environment(config.device),
        elapsed_s=clock.elapsed(),
        data={"curves": curves, "eval_every": config.eval_every},
    )


def _verdict(config: Config, steps: dict[str, dict[str, Any]], speedup: dict[str, float | None]) -> Verdict:
    where = f"{config.model.upper()} on {config.dataset}, {config.seeds} seed(s)"
    target = f"{100 * config.target:g}% training error"
    if "relu" not in steps or "tanh" not in steps:
        return Verdict("inconclusive", f"the claim compares relu with tanh; this run trained {', '.join(steps)} ({where}).")
    r, t = steps["relu"], steps["tanh"]
    if r["mean"] is None or t["mean"] is None:
        missing = [a for a, s in (("relu", r), ("tanh", t)) if s["mean"] is None]
        return Verdict("inconclusive", f"{' and '.join(missing)} did not reach {target} on every seed within "
                       f"{config.max_steps} steps ({where}); raise max_steps.")
    s = speedup["relu"]
    text = (f"relu reached {target} in {r['mean']:.0f} steps vs tanh's {t['mean']:.0f} (mean of {config.seeds}; "
            f"{s:.2f}x faster, the claim says about 6x) on the {where}.")
    if s >= 4:
        return Verdict("holds", text)
    if s < 2:
        return Verdict("does_not_hold", text)
    return Verdict("inconclusive", text)
