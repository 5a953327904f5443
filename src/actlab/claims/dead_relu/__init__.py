"""Claim 5, `dead-relu`: ReLU units die when the learning rate is too high.

CS231n notes ("Commonly used activation functions"): "Unfortunately, ReLU units can
be fragile during training and can 'die'. [...] you may find that as much as 40% of
your network can be dead (i.e. neurons that never activate across the entire
training dataset) if the learning rate is set too high." Some initialise biases to
a small positive constant such as 0.01 so that units start active.

What is measured: an MLP (3 hidden layers of 256, He init) trained on MNIST. A unit is
**dead** when f'(x) = 0 for every training example (for ReLU: its output is exactly 0 on
every example), counted through :class:`actlab.probes.Monitor` over the *whole* training
set. Leaky ReLU and ELU have f' > 0 everywhere in exact arithmetic (in float32 ELU's
f'(x) = exp(x) underflows to 0 below x ~ -104, so such a unit would count as dead).

The design is fixed here before any run (pre-registered):

1. **Standard conditions** (the headline): Adam at constant rates ``adam_lrs``, biases
   initialised to 0, He init. Plain SGD (``lrs``) and biases at 0.01 are limits.
2. **Selection** on ``select_seeds`` seeds (seed, seed + 1, ...): every rate of the grid.
   A *setting* (activation, optimizer, bias, rate) **still trains** when the median of its
   seeds' final training errors is at most 10% (a diverged seed counts as infinite error).
   This is decided per setting, never per seed, so one seed at 11% cannot flip it. The
   chosen setting is the still-training one with the largest mean dead share.
3. **Confirmation** on ``seeds`` fresh seeds (seed + 1000, seed + 1001, ...) that took no
   part in choosing: the chosen setting is trained again and its dead share over every
   seed that did not diverge is the number reported, with its 95% t interval.

The rule: holds if the chosen Adam rate is not the top of its grid (so the rate above it
was tried and did not train, or killed fewer), it still trains on the fresh seeds, no fresh
seed diverged, and the 95% interval of the dead share lies wholly above 40%; does not hold
if it lies wholly below under the same conditions; else inconclusive with the reason.

Limits (each with its own rule, beside the headline): plain SGD at its highest rate that
still trains; biases started at 0.01 at the chosen Adam rate; leaky_relu/elu at their own
deadliest Adam rate that still trains. Per activation: the dead share at that activation's
deadliest Adam rate that still trains, on the confirmation seeds, paired by seed with the
baseline's.

Metrics:
    runs: one record per run (phase, arm, activation, optimizer, bias_init, lr, seed, status, dead, ...)
    settings: the selection settings (seeds by status, median training error, trains, dead share)
    confirmation: one record per confirmation arm (headline, sgd, bias, activation)
    chosen: {activation: the selection's setting}; design: thresholds, grids and seeds

    actlab run dead-relu
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ...probes import Monitor
from ...training.fields import check_fields
from ...training.models import build_mlp
from ...training.settings import Progress, Stopwatch, check_float, check_int, no_progress
from ...training.step_progress import Reporter, StepProgress
from ...training.trainer import Tensors, TrainConfig, load_tensors, train
from ...training.workers import run_tasks
from ...verdicts.result import Result, environment
from ...verdicts.stats import Interval, interval95
from .verdict import decide_claim, per_activation

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "run", "dead_fractions", "classify",
           "summarise", "decide_claim", "scale_of", "choose", "highest_trainable", "THRESHOLD", "ERROR_LIMIT", "CONFIRM_OFFSET", "trains"]

NAME = "dead-relu"
CLAIM = ('ReLU units can "die": "as much as 40% of your network can be dead if the learning rate is set too high". '
         "Some initialise biases to 0.01 so that units start active; Leaky ReLU and ELU cannot die.")
SOURCE = "CS231n notes, 'Commonly used activation functions' (ReLU cons); CS231n lecture 6"
COMMAND = "actlab run dead-relu"

THRESHOLD = 0.4       # CS231n: "as much as 40%"
ERROR_LIMIT = 0.10    # a setting still trains when its median final training error is at most this
CHANCE_FACTOR = 0.5   # a run is "stuck at chance" if its training error never fell below half the chance error
CONFIRM_OFFSET = 1000  # confirmation seeds: seed + 1000, seed + 1001, ... (never used for choosing)


@dataclass(frozen=True)
class Config:
    """Every setting of the dead-relu claim (defaults: the full-scale run).

    Args:
        seeds: fresh seeds (seed + 1000, seed + 1001, ...) that confirm each chosen setting; the reported ones.
        select_seeds: seeds (seed, seed + 1, ...) per setting that choose the deadliest rate that still trains.
        adam_lrs: Adam rates tried for every activation (the standard conditions; comma-separated).
        lrs: plain-SGD rates tried for relu (the SGD limit; comma-separated).
        bias_inits: initial biases; the first is standard, the others are limits at the chosen Adam rate.
    """

    activations: tuple[str, ...] = ("relu", "leaky_relu", "elu")
    baseline: str = "relu"
    adam_lrs: tuple[float, ...] = (0.001, 0.01, 0.02, 0.03, 0.05, 0.1)  # Adam: the standard conditions
    lrs: tuple[float, ...] = (0.1, 0.5, 0.7, 1.0)  # plain SGD rates (relu, the SGD limit)
    bias_inits: tuple[float, ...] = (0.0, 0.01)    # the first is standard; the others are limits at the chosen rate
    dataset: str = "mnist"
    depth: int = 3
    width: int = 256
    init: str = "he"
    steps: int = 1000
    batch_size: int = 64
    momentum: float = 0.0
    select_seeds: int = 5   # seeds per setting that choose the deadliest rate that still trains
    seeds: int = 10         # fresh seeds (seed + 1000, ...) that confirm the chosen setting: the reported ones
    seed: int = 0
    train_examples: int = 0
    test_examples: int = 0
    workers: int = 0
    device: str = "cpu"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, "activations", "baseline")
        for a in self.activations:
            if a == "maxout":
                raise ValueError("maxout has no dead units to count (some piece is always active); leave it out")
        if not self.lrs and not self.adam_lrs:
            raise ValueError("lrs and adam_lrs are both empty: give at least one learning rate")
        for lr in self.lrs:
            check_float("lrs entry", lr, positive=True)
        for lr in self.adam_lrs:
            check_float("adam_lrs entry", lr, positive=True, max_value=1e3)
        if not self.bias_inits:
            raise ValueError("bias_inits is empty")
        for b in self.bias_inits:
            check_float("bias_inits entry", b, min_value=-1e3, max_value=1e3)
        check_fields(self, "dataset", "depth", "width", "init", "steps", "batch_size", "momentum", "seeds", "seed",
                     "train_examples", "test_examples", "workers", "device")
        check_int("select_seeds", self.select_seeds, min_value=1, max_value=10_000)
        check_int("seeds", self.seeds, min_value=1, max_value=CONFIRM_OFFSET)


#: --quick: narrower, shorter, 10k training examples, 3 selection and 5 confirmation seeds; the
#: grids keep, for each optimizer, the deadliest rate that still trains (Adam 0.03, SGD 0.7 at
#: seeds 0-2), the rate above it, where training breaks (0.05; 1.0), and for Adam one low rate
#: with few dead units (0.01); Adam 0.02 and 0.1 and SGD 0.1 are left to the full run.
QUICK: dict[str, Any] = {
    "seeds": 5,
    "select_seeds": 3,
    "lrs": (0.7, 1.0),
    "adam_lrs": (0.01, 0.03, 0.05),
    "steps": 400,
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


def _standard_bias(config: Config) -> float:
    return config.bias_inits[0]


def _selection_tasks(config: Config) -> list[tuple[str, str, str, float, float, int]]:
    """(phase, activation, optimizer, bias_init, lr, seed), seed-major: every kind of run shows early.

    Every activation runs the Adam grid at the standard bias; relu also runs the SGD grid."""
    out = []
    for i in range(config.select_seeds):
        for a in config.activations:
            grid = [("adam", lr) for lr in config.adam_lrs]
            if a == "relu":
                grid += [("sgd", lr) for lr in config.lrs]
            for opt, lr in grid:
                out.append(("select", a, opt, _standard_bias(config), lr, config.seed + i))
    return out


def _confirmation_arms(config: Config, chosen: dict[str, dict[str, Any]], sgd: dict[str, Any] | None
                       ) -> list[tuple[str, str, str, float, float]]:
    """(arm, activation, optimizer, bias_init, lr) to confirm on fresh seeds."""
    arms = []
    for a in config.activations:
        c = chosen.get(a)
        if c is not None:
            arms.append(("headline" if a == "relu" else f"activation {a}", a, "adam", c["bias_init"], c["lr"]))
            if a == "relu":
                arms += [(f"bias {b:g}", a, "adam", b, c["lr"]) for b in config.bias_inits[1:]]
    if sgd is not None:
        arms.append(("sgd", "relu", "sgd", sgd["bias_init"], sgd["lr"]))
    return arms


def _train_one(config: Config, phase: str, arm: str, activation: str, optimizer: str, bias_init: float, lr: float,
               seed: int, report: Reporter | None = None) -> dict[str, Any]:
    """One run: dead fractions at init, training, dead fractions after; a top-level function for workers."""
    device = torch.device(config.device)
    data = _load(config).to(device)
    model = build_mlp(data.x_train.shape[1], config.width, config.depth, data.num_classes, activation,
                      init=config.init, bias_init=bias_init, seed=seed).to(device)
    at_init = dead_fractions(model, data.x_train)
    tc = TrainConfig(steps=config.steps, batch_size=config.batch_size, lr=lr, seed=seed, optimizer=optimizer,
                     momentum=config.momentum if optimizer == "sgd" else 0.0,
                     eval_every=max(1, config.steps // 20), eval_examples=2000)
    hist = train(model, data, tc, on_step=(lambda step, _m: report(step)) if report is not None else None)
    if report is not None:
        report(math.inf, force=True)
    diverged = hist.diverged_at is not None
    after = None if diverged else dead_fractions(model, data.x_train)
    eval_n = min(tc.eval_examples, len(data.y_train))
    counts = torch.bincount(data.y_train[:eval_n], minlength=data.num_classes)
    errors = [e for e in hist.train_error[1:] if math.isfinite(e)]
    units = [config.width] * config.depth
    return {
        "phase": phase, "arm": arm,
        "activation": activation, "optimizer": optimizer, "bias_init": bias_init, "lr": lr, "seed": seed,
        "dead": None if after is None else _overall(after, units),
        "dead_per_layer": after,
        "dead_at_init": _overall(at_init, units),
        "diverged_at": hist.diverged_at,
        "train_error": None if diverged else hist.train_error[-1],
        "min_train_error": min(errors) if errors else None,
        "test_error": None if diverged else hist.final_test_error,
        "chance_error": 1.0 - float(counts.max()) / eval_n,
    }


def _overall(per_layer: list[float], units: list[int]) -> float:
    return sum(f * u for f, u in zip(per_layer, units)) / sum(units)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def _train(config: Config, tasks: list[tuple], progress: Progress, message: str) -> list[dict[str, Any]]:
    with StepProgress(progress, [config.steps] * len(tasks), message) as ticks:
        return run_tasks(_train_one, [(config, *t, ticks.reporter(i)) for i, t in enumerate(tasks)], config.workers,
                         on_done=ticks.done)


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim; see the module docstring."""
    clock = Stopwatch()
    _load(config)  # a data error fails here
    progress(0, 1, "starting")
    sel_tasks = [(phase, "select", *rest) for phase, *rest in _selection_tasks(config)]
    runs = classify(_train(config, sel_tasks, progress, "choosing rates"))
    settings = summarise(runs)
    chosen = {a: choose(settings, a, "adam", _standard_bias(config)) for a in config.activations}
    sgd = highest_trainable(settings, "relu", "sgd", _standard_bias(config))
    arms = _confirmation_arms(config, {a: c for a, c in chosen.items() if c is not None}, sgd)
    conf_tasks = [("confirm", arm, a, opt, b, lr, config.seed + CONFIRM_OFFSET + i)
                  for i in range(config.seeds) for arm, a, opt, b, lr in arms]
    conf_runs = classify(_train(config, conf_tasks, progress, "confirming on fresh seeds")) if conf_tasks else []
    progress(1, 1, "done")
    confirmation = [dict(s, arm=arm) for arm, *_ in arms
                    for s in summarise([r for r in conf_runs if r["arm"] == arm])]
    verdict = decide_claim(settings, confirmation, config=asdict(config), scale=scale_of(asdict(config)))
    dead: dict[str, Any] = {}
    for s in settings:
        dead.setdefault(s["activation"], {}).setdefault(s["optimizer"], {}).setdefault(
            f"{s['bias_init']:g}", {})[f"{s['lr']:g}"] = s["dead_mean"]
    metrics = {
        "runs": runs + conf_runs,
        "settings": settings,
        "confirmation": confirmation,
        "chosen": {a: ({k: c[k] for k in ("optimizer", "bias_init", "lr")} if c else None) for a, c in chosen.items()},
        "sgd_highest_trainable": {k: sgd[k] for k in ("optimizer", "bias_init", "lr")} if sgd else None,
        "dead_fraction": dead,
        "chance_error": runs[0]["chance_error"] if runs else None,
        "design": {
            "threshold": THRESHOLD, "error_limit": ERROR_LIMIT, "standard": "Adam, bias init "
            f"{_standard_bias(config):g}, {config.init} init",
            "select_seeds": [config.seed + i for i in range(config.select_seeds)],
            "confirm_seeds": [config.seed + CONFIRM_OFFSET + i for i in range(config.seeds)],
            "adam_lrs": list(config.adam_lrs), "sgd_lrs": list(config.lrs), "bias_inits": list(config.bias_inits),
        },
        "definitions": {
            "dead": "share of hidden units with f'(x) = 0 on every training example (relu: output exactly 0)",
            "still trains": f"a setting whose median final training error over its seeds is at most {ERROR_LIMIT:.0%} "
                            "(a diverged seed counts as infinite error)",
            "dead share of a setting": "mean over its seeds that did not diverge, with the 95% t interval",
            "status": "per run, for the tables: diverged (NaN/inf loss), stuck at chance (training error never below "
                      f"half the chance error), above the limit (final training error over {ERROR_LIMIT:.0%}), trained",
        },
    }
    return Result(experiment=NAME, config=asdict(config), metrics=metrics, verdict=verdict,
                  env=environment(config.device), elapsed_s=clock.elapsed(),
                  per_activation=per_activation(confirmation, config.activations, config.baseline))


def classify(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run's ``status``: diverged, stuck at chance, untrained (above the 10% limit) or trained."""
    out = []
    for r in runs:
        r = dict(r, error_limit=ERROR_LIMIT)
        e, lowest = r.get("train_error"), r.get("min_train_error")
        if r.get("diverged_at") is not None or e is None:
            r["status"] = "diverged"
        elif lowest is None or lowest >= CHANCE_FACTOR * r["chance_error"]:
            r["status"] = "stuck at chance"
        elif e > ERROR_LIMIT:
            r["status"] = "untrained"
        else:
            r["status"] = "trained"
        out.append(r)
    return out


def trains(median_error: float | None) -> bool:
    """A setting still trains when its median final training error is at most the limit."""
    return median_error is not None and median_error <= ERROR_LIMIT


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (activation, optimizer, bias_init, lr), in the runs' order: the setting's dead share
    over every seed that did not diverge, and whether it still trains (median training error)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["activation"], r["optimizer"], r["bias_init"], r["lr"]), []).append(r)
    out = []
    for (a, opt, b, lr), rs in groups.items():
        alive = [r for r in rs if r["status"] != "diverged"]
        iv = _clip(interval95([r["dead"] for r in alive]))
        layers = [r["dead_per_layer"] for r in alive if r["dead_per_layer"]]
        median = statistics.median([math.inf if r["train_error"] is None else r["train_error"] for r in rs])
        out.append({
            "activation": a, "optimizer": opt, "bias_init": b, "lr": lr, "seeds": len(rs),
            "seed_list": [r["seed"] for r in rs],
            "n_trained": sum(r["status"] == "trained" for r in rs),
            "n_diverged": sum(r["status"] == "diverged" for r in rs),
            "n_stuck": sum(r["status"] == "stuck at chance" for r in rs),
            "n_untrained": sum(r["status"] == "untrained" for r in rs),
            "median_train_error": median if math.isfinite(median) else None,
            "trains": trains(median if math.isfinite(median) else None),
            "dead_mean": iv.estimate, "dead_ci95_low": iv.low, "dead_ci95_high": iv.high,
            "dead_per_seed": [r["dead"] for r in rs],
            "dead_per_layer": [sum(col) / len(col) for col in zip(*layers)] if layers else None,
            "dead_at_init": _mean([r["dead_at_init"] for r in rs]),
            "train_error_mean": _mean([r["train_error"] for r in rs]),
            "test_error_mean": _mean([r["test_error"] for r in rs]),
            "diverged_at": [r["diverged_at"] for r in rs if r["diverged_at"] is not None],
        })
    return out


def choose(settings: list[dict[str, Any]], activation: str, optimizer: str, bias: float) -> dict[str, Any] | None:
    """The still-training setting with the largest mean dead share (the higher rate on a tie: the harsher test), or
    None."""
    ok = [s for s in settings if (s["activation"], s["optimizer"], s["bias_init"]) == (activation, optimizer, bias)
          and s["trains"] and s["dead_mean"] is not None]
    return max(ok, key=lambda s: (s["dead_mean"], s["lr"])) if ok else None


def highest_trainable(settings: list[dict[str, Any]], activation: str, optimizer: str,
                      bias: float) -> dict[str, Any] | None:
    """The highest rate that still trains, or None."""
    ok = [s for s in settings if (s["activation"], s["optimizer"], s["bias_init"]) == (activation, optimizer, bias)
          and s["trains"] and s["dead_mean"] is not None]
    return max(ok, key=lambda s: s["lr"]) if ok else None


def scale_of(config: dict[str, Any]) -> str:
    """quick (the QUICK settings), full-scale (default width and steps, all examples) or reduced-size."""
    if all((tuple(config.get(k) or ()) == tuple(v)) if isinstance(v, tuple) else config.get(k) == v
           for k, v in QUICK.items()):
        return "quick"
    if config["width"] >= Config.width and config["steps"] >= Config.steps and not config.get("train_examples"):
        return "full-scale"
    return "reduced-size"


def _clip(iv: Interval) -> Interval:
    """A share's t interval kept inside [0, 1] (clipping never moves it across the 40% threshold)."""
    if iv.low is None or iv.high is None:
        return iv
    return Interval(iv.estimate, max(0.0, iv.low), min(1.0, iv.high), iv.n, "t, clipped to [0, 1]")
