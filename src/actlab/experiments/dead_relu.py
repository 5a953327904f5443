"""Claim 5, `dead-relu`: ReLU units die when the learning rate is too high.

CS231n notes ("Commonly used activation functions"): "Unfortunately, ReLU units can
be fragile during training and can 'die'. [...] you may find that as much as 40% of
your network can be dead (i.e. neurons that never activate across the entire
training dataset) if the learning rate is set too high." Some initialise biases to
a small positive constant such as 0.01 so that units start active.

What is measured: a ReLU MLP trained with plain SGD on MNIST (or Fashion-MNIST,
MNIST-1D) at learning rates from 1e-3 to 1, with biases initialised to 0 and to
0.01, and leaky_relu and elu beside relu. After training, the dead fraction is
measured through :class:`actlab.probes.Monitor` over the *whole* training set: a
unit is dead when f'(x) = 0 for every training example (for ReLU: its output is
exactly 0 for every example). Leaky ReLU and ELU have f' > 0 everywhere in exact
arithmetic; in float32, ELU's f'(x) = exp(x) underflows to exactly 0 below x ~ -104,
so an ELU unit driven that far negative on every example is dead too, and is
counted (it happens at the largest learning rates). The same is
measured at initialisation, so death caused by training is told apart from units
that were never alive. A run whose loss becomes NaN/Inf is recorded as diverged
at step k and left out of the dead fractions (a NaN network would look all dead).

Metrics:
    dead_fraction[act][bias_init][lr]: {overall, per_layer, per_seed_overall, at_init_overall}
        (None where every seed diverged)
    diverged[act][bias_init][lr]: the divergence step per seed (None: did not diverge)
    train_error[act][bias_init][lr], test_error[...]: final errors, mean over seeds
    max_relu_dead: {fraction, lr, bias_init}

    actlab run dead-relu --set lrs=0.001,0.01,0.1,1 --seeds 3
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..probes import Monitor
from .base import (
    Progress,
    Stopwatch,
    check_float,
    no_progress,
)
from .fields import check_fields
from .models import build_mlp
from .parallel import run_tasks
from .result import Result, Verdict, environment
from .trainer import Tensors, TrainConfig, load_tensors, train

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "run", "dead_fractions"]

NAME = "dead-relu"
CLAIM = ('ReLU units can "die": "as much as 40% of your network can be dead if the learning rate is set too high". '
         "Some initialise biases to 0.01 so that units start active; Leaky ReLU and ELU cannot die.")
SOURCE = "CS231n notes, 'Commonly used activation functions' (ReLU cons); CS231n lecture 6"
COMMAND = "actlab run dead-relu --set lrs=0.001,0.01,0.1,0.3,1 --seeds 3"


@dataclass(frozen=True)
class Config:
    """Every setting of the dead-relu claim (defaults: the full run)."""

    activations: tuple[str, ...] = ("relu", "leaky_relu", "elu")
    lrs: tuple[float, ...] = (0.001, 0.01, 0.1, 0.3, 1.0)
    bias_inits: tuple[float, ...] = (0.0, 0.01)
    dataset: str = "mnist"
    depth: int = 3
    width: int = 256
    init: str = "he"
    steps: int = 2000
    batch_size: int = 64
    momentum: float = 0.0
    seeds: int = 2
    seed: int = 0
    train_examples: int = 0
    test_examples: int = 0
    workers: int = 0
    device: str = "cpu"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, "activations")
        for a in self.activations:
            if a == "maxout":
                raise ValueError("maxout has no dead units to count (some piece is always active); leave it out")
        if not self.lrs:
            raise ValueError("lrs is empty")
        for lr in self.lrs:
            check_float("lrs entry", lr, positive=True)
        if not self.bias_inits:
            raise ValueError("bias_inits is empty")
        for b in self.bias_inits:
            check_float("bias_inits entry", b)
        check_fields(self, "dataset", "depth", "width", "init", "steps", "batch_size", "momentum", "seeds", "seed",
                     "train_examples", "test_examples", "workers", "device")


QUICK: dict[str, Any] = {
    "lrs": (0.01, 0.1, 0.5, 1.0),
    "steps": 400,
    "seeds": 1,
    "width": 128,
    "train_examples": 10_000,
    "test_examples": 2_000,
}


def _load(config: Config) -> Tensors:
    return load_tensors(config.dataset, config.data_dir, config.train_examples, config.test_examples)


@torch.no_grad()
def dead_fractions(model: nn.Module, x: Tensor, batch_size: int = 4096) -> list[float]:
    """Per activation site, in forward order: the share of units with f'(x) = 0 for every row of ``x``.

    Measured by :class:`~actlab.probes.Monitor`: one monitored step whose forward
    passes cover all of ``x`` (window 1), so "dead" means dead on the whole set.
    """
    was_training = model.training
    model.eval()
    with Monitor(model, every=1, stats=("dead_fraction",), window=1, training_only=False) as monitor:
        for i in range(0, len(x), batch_size):
            model(x[i : i + batch_size])
        monitor.step()
        record = monitor.latest
    model.train(was_training)
    return [float(record["activations"][site]["dead_fraction"]) for site in monitor.sites]


def _train_one(config: Config, activation: str, lr: float, bias_init: float, seed: int) -> dict[str, Any]:
    """One run: dead fractions at init, training, dead fractions after; a top-level function for workers."""
    device = torch.device(config.device)
    data = _load(config).to(device)
    model = build_mlp(data.x_train.shape[1], config.width, config.depth, data.num_classes, activation,
                      init=config.init, bias_init=bias_init, seed=seed).to(device)
    at_init = dead_fractions(model, data.x_train)
    tc = TrainConfig(steps=config.steps, batch_size=config.batch_size, lr=lr, momentum=config.momentum, seed=seed,
                     eval_every=max(1, config.steps // 20), eval_examples=2000)
    hist = train(model, data, tc)
    diverged = hist.diverged_at is not None
    after = None if diverged else dead_fractions(model, data.x_train)
    return {
        "at_init": at_init,
        "after": after,
        "diverged_at": hist.diverged_at,
        "train_error": None if diverged else hist.train_error[-1],
        "test_error": None if diverged else hist.final_test_error,
        "units": [config.width] * config.depth,
    }


def _overall(per_layer: list[float], units: list[int]) -> float:
    return sum(f * u for f, u in zip(per_layer, units)) / sum(units)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim; see the module docstring."""
    clock = Stopwatch()
    _load(config)  # a data error fails here
    seeds = [config.seed + i for i in range(config.seeds)]
    keys = [(a, b, lr) for a in config.activations for b in config.bias_inits for lr in config.lrs]
    tasks = [(config, a, lr, b, s) for (a, b, lr) in keys for s in seeds]
    runs = run_tasks(_train_one, tasks, config.workers, on_done=lambda d, n: progress(d, n, "training"))

    dead: dict[str, dict[str, dict[str, Any]]] = {}
    diverged: dict[str, dict[str, dict[str, Any]]] = {}
    train_err: dict[str, dict[str, dict[str, Any]]] = {}
    test_err: dict[str, dict[str, dict[str, Any]]] = {}
    for i, (a, b, lr) in enumerate(keys):
        group = runs[i * len(seeds) : (i + 1) * len(seeds)]
        bk, lk = f"{b:g}", f"{lr:g}"
        ok = [r for r in group if r["after"] is not None]
        per_layer = [sum(r["after"][j] for r in ok) / len(ok) for j in range(config.depth)] if ok else None
        dead.setdefault(a, {}).setdefault(bk, {})[lk] = {
            "overall": _overall(per_layer, ok[0]["units"]) if ok else None,
            "per_layer": per_layer,
            "per_seed_overall": [_overall(r["after"], r["units"]) if r["after"] is not None else None for r in group],
            "at_init_overall": _mean([_overall(r["at_init"], r["units"]) for r in group]),
        }
        diverged.setdefault(a, {}).setdefault(bk, {})[lk] = [r["diverged_at"] for r in group]
        train_err.setdefault(a, {}).setdefault(bk, {})[lk] = _mean([r["train_error"] for r in group])
        test_err.setdefault(a, {}).setdefault(bk, {})[lk] = _mean([r["test_error"] for r in group])

    worst = None
    for b, by_lr in dead.get("relu", {}).items():
        for lr, d in by_lr.items():
            if d["overall"] is not None and (worst is None or d["overall"] > worst["fraction"]):
                worst = {"fraction": d["overall"], "lr": float(lr), "bias_init": float(b)}
    metrics = {
        "dead_fraction": dead,
        "diverged": diverged,
        "train_error": train_err,
        "test_error": test_err,
        "max_relu_dead": worst,
    }
    return Result(
        experiment=NAME,
        config=asdict(config),
        metrics=metrics,
        verdict=_verdict(config, dead, diverged, worst),
        env=environment(config.device),
        elapsed_s=clock.elapsed(),
    )


def _verdict(config: Config, dead: dict, diverged: dict, worst: dict | None) -> Verdict:
    if "relu" not in dead:
        return Verdict("inconclusive", "the claim is about relu, and this run did not train relu.")
    if worst is None:
        return Verdict("inconclusive", "every relu run diverged, so no dead fraction could be measured.")
    relu0 = dead["relu"][f"{config.bias_inits[0]:g}"]
    measured = [(float(lr), d["overall"]) for lr, d in relu0.items() if d["overall"] is not None]
    low_lr, low_dead = min(measured)
    others = [f"{a} {max((d['overall'] or 0) for by in dead[a].values() for d in by.values()):.0%}"
              for a in dead if a != "relu"]
    n_div = sum(s is not None for by in diverged["relu"].values() for ss in by.values() for s in ss)
    text = (f"the largest dead share of relu units (zero output on every training example) was {worst['fraction']:.1%} "
            f"at lr {worst['lr']:g}, bias init {worst['bias_init']:g}, against {low_dead:.1%} at lr {low_lr:g}"
            + (f"; {n_div} relu run(s) diverged" if n_div else "")
            + (f"; max for {', '.join(others)}" if others else "") + ".")
    if worst["fraction"] >= 0.4 and worst["fraction"] > low_dead + 0.1:
        return Verdict("holds", text)
    if worst["fraction"] < 0.2 and n_div:
        # the rates at which units would die made the loss diverge instead: not a test of the claim
        diverged_lrs = sorted({float(lr) for by in diverged["relu"].values() for lr, ss in by.items()
                               if any(x is not None for x in ss)})
        return Verdict("inconclusive", text[:-1] + f"; relu diverged at lr {', '.join(f'{v:g}' for v in diverged_lrs)}, "
                       "so try rates between the largest stable one and those.")
    if worst["fraction"] < 0.2:
        return Verdict("does_not_hold", text)
    return Verdict("inconclusive", text)
