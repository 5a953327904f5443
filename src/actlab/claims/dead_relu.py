"""Claim 5, `dead-relu`: ReLU units die when the learning rate is too high.

CS231n notes ("Commonly used activation functions"): "Unfortunately, ReLU units can
be fragile during training and can 'die'. [...] you may find that as much as 40% of
your network can be dead (i.e. neurons that never activate across the entire
training dataset) if the learning rate is set too high." Some initialise biases to
a small positive constant such as 0.01 so that units start active.

What is measured: a ReLU MLP (3 hidden layers of 256, He init) trained on MNIST with
plain SGD and with Adam over learning-rate grids that run from "trains well" to
"breaks" (diverges, or collapses to chance level), with biases initialised to 0 and
to 0.01, and leaky_relu and elu at the same optimizers and rates (bias 0), 5 seeds
each. After training, the dead fraction is measured through
:class:`actlab.probes.Monitor` over the *whole* training set: a unit is dead when
f'(x) = 0 for every training example (for ReLU: its output is exactly 0 for every
example). Leaky ReLU and ELU have f' > 0 everywhere in exact arithmetic; in float32
ELU's f'(x) = exp(x) underflows to exactly 0 below x ~ -104, so an ELU unit driven
that far negative on every example counts as dead too.

A dead share counts only in a network that still trains. Each run is one of:
``diverged`` (the loss became NaN/inf; no dead share is measured: a NaN network would
look all dead), ``stuck at chance`` (training error never fell below half of the
error of always guessing the most common class), ``untrained`` (final training error
above the limit: 10%, or twice the best relu run's error if that is larger) or
``trained``. The rule: holds if, at the relu setting (optimizer, bias, rate) that
kills the most units among trained runs, the 95% interval of the dead share over >= 5
trained seeds lies wholly above 40%; does not hold if wholly below, no other setting
comes near, and that rate is not the top of its grid (the next rate up broke
training, so the band between "trains" and "breaks" was searched); else inconclusive.

Metrics:
    runs: one record per run (activation, optimizer, bias_init, lr, seed, status, dead, dead_per_layer,
        dead_at_init, train_error, test_error, diverged_at)
    settings: one record per (activation, optimizer, bias_init, lr): seeds by status, dead share over
        trained seeds (mean, 95% CI, per layer), training and test error
    dead_fraction[act][optimizer][bias_init][lr], train_error[...]: mean over runs that did not diverge
    trained_error_limit, chosen: the setting the verdict rests on

    actlab run dead-relu
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..probes import Monitor
from ..training.fields import check_fields
from ..training.models import build_mlp
from ..training.settings import Progress, Stopwatch, check_float, check_int, no_progress
from ..training.step_progress import Reporter, StepProgress
from ..training.trainer import Tensors, TrainConfig, load_tensors, train
from ..training.workers import run_tasks
from ..verdicts.result import KeyNumber, Result, Rule, Source, Verdict, environment
from ..verdicts.stats import Interval, decide, grid_edge, interval95

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "run", "dead_fractions", "classify",
           "summarise", "decide_claim", "THRESHOLD", "ERROR_LIMIT"]

NAME = "dead-relu"
CLAIM = ('ReLU units can "die": "as much as 40% of your network can be dead if the learning rate is set too high". '
         "Some initialise biases to 0.01 so that units start active; Leaky ReLU and ELU cannot die.")
SOURCE = "CS231n notes, 'Commonly used activation functions' (ReLU cons); CS231n lecture 6"
COMMAND = "actlab run dead-relu"

THRESHOLD = 0.4     # CS231n: "as much as 40%"
ERROR_LIMIT = 0.10  # a run trains when its final training error is at most this (or 2x the best relu run's)
CHANCE_FACTOR = 0.5


@dataclass(frozen=True)
class Config:
    """Every setting of the dead-relu claim (defaults: the full-scale run)."""

    activations: tuple[str, ...] = ("relu", "leaky_relu", "elu")
    lrs: tuple[float, ...] = (0.1, 0.5, 0.7, 1.0)            # plain SGD
    adam_lrs: tuple[float, ...] = (0.001, 0.01, 0.02, 0.03, 0.1)  # Adam; empty: SGD only
    bias_inits: tuple[float, ...] = (0.0, 0.01)               # relu; the others use the first
    dataset: str = "mnist"
    depth: int = 3
    width: int = 256
    init: str = "he"
    steps: int = 1000
    batch_size: int = 64
    momentum: float = 0.0
    seeds: int = 10          # relu; at 5 the full run's interval at Adam 0.02 was 39.7-57.9% (spans 40%)
    other_seeds: int = 2     # seeds for the comparison activations (not relu); 0: as many as relu
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
        check_int("other_seeds", self.other_seeds, min_value=0, max_value=10_000)


#: --quick: narrower, shorter, 10k training examples; the grids keep a rate that trains,
#: one in the band, and one that breaks, for each optimizer.
QUICK: dict[str, Any] = {
    "seeds": 5,
    "lrs": (0.1, 0.7, 1.0),
    "adam_lrs": (0.01, 0.02, 0.03, 0.1),
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


def _tasks(config: Config) -> list[tuple[str, str, float, float, int]]:
    """(activation, optimizer, bias_init, lr, seed), seed-major so that progress sees every kind of run early."""
    grids = [("sgd", lr) for lr in config.lrs] + [("adam", lr) for lr in config.adam_lrs]
    out = []
    other = config.other_seeds or config.seeds
    for i in range(max(config.seeds, other)):
        for a in config.activations:
            if i >= (config.seeds if a == "relu" else other):
                continue
            for b in (config.bias_inits if a == "relu" else config.bias_inits[:1]):
                for opt, lr in grids:
                    out.append((a, opt, b, lr, config.seed + i))
    return out


def _train_one(config: Config, activation: str, optimizer: str, bias_init: float, lr: float, seed: int,
               report: Reporter | None = None) -> dict[str, Any]:
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


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim; see the module docstring."""
    clock = Stopwatch()
    _load(config)  # a data error fails here
    tasks = _tasks(config)
    progress(0, 1, "starting")
    with StepProgress(progress, [config.steps] * len(tasks)) as ticks:
        runs = run_tasks(_train_one, [(config, *t, ticks.reporter(i)) for i, t in enumerate(tasks)], config.workers,
                         on_done=ticks.done)
    progress(1, 1, "done")
    runs = classify(runs)
    settings = summarise(runs)
    dead: dict[str, Any] = {}
    err: dict[str, Any] = {}
    for s in settings:
        key = (s["activation"], s["optimizer"], f"{s['bias_init']:g}", f"{s['lr']:g}")
        dead.setdefault(key[0], {}).setdefault(key[1], {}).setdefault(key[2], {})[key[3]] = s["dead_all_mean"]
        err.setdefault(key[0], {}).setdefault(key[1], {}).setdefault(key[2], {})[key[3]] = s["train_error_mean"]
    verdict, chosen = decide_claim(runs, settings, config=asdict(config))
    metrics = {
        "runs": runs,
        "settings": settings,
        "dead_fraction": dead,
        "train_error": err,
        "trained_error_limit": runs[0]["error_limit"] if runs else None,
        "chance_error": runs[0]["chance_error"] if runs else None,
        "chosen": chosen,
        "definitions": {
            "dead": "share of hidden units with f'(x) = 0 on every training example (relu: output exactly 0)",
            "status": "diverged (NaN/inf loss), stuck at chance (training error never below half the chance error), "
                      f"untrained (final training error above the limit: {ERROR_LIMIT:.0%} or 2x the best relu run's), "
                      "trained",
            "dead_fraction": "[activation][optimizer][bias_init][lr]: mean over the runs that did not diverge",
        },
    }
    return Result(experiment=NAME, config=asdict(config), metrics=metrics, verdict=verdict,
                  env=environment(config.device), elapsed_s=clock.elapsed())


def classify(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run's ``status`` (diverged, stuck at chance, untrained, trained) and the error limit it was held to."""
    relu_errors = [r["train_error"] for r in runs if r["activation"] == "relu" and r.get("train_error") is not None]
    pool = relu_errors or [r["train_error"] for r in runs if r.get("train_error") is not None]
    best = min(pool) if pool else None
    limit = max(ERROR_LIMIT, 2 * best) if best is not None else ERROR_LIMIT
    out = []
    for r in runs:
        r = dict(r, error_limit=limit)
        e, lowest = r.get("train_error"), r.get("min_train_error")
        if r.get("diverged_at") is not None or e is None:
            r["status"] = "diverged"
        elif lowest is None or lowest >= CHANCE_FACTOR * r["chance_error"]:
            r["status"] = "stuck at chance"
        elif e > limit:
            r["status"] = "untrained"
        else:
            r["status"] = "trained"
        out.append(r)
    return out


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (activation, optimizer, bias_init, lr), in the runs' order."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["activation"], r["optimizer"], r["bias_init"], r["lr"]), []).append(r)
    out = []
    for (a, opt, b, lr), rs in groups.items():
        trained = [r for r in rs if r["status"] == "trained"]
        iv = _clip(interval95([r["dead"] for r in trained]))
        layers = [r["dead_per_layer"] for r in trained if r["dead_per_layer"]]
        out.append({
            "activation": a, "optimizer": opt, "bias_init": b, "lr": lr, "seeds": len(rs),
            "n_trained": len(trained), "n_diverged": sum(r["status"] == "diverged" for r in rs),
            "n_stuck": sum(r["status"] == "stuck at chance" for r in rs),
            "n_untrained": sum(r["status"] == "untrained" for r in rs),
            "dead_mean": iv.estimate, "dead_ci95_low": iv.low, "dead_ci95_high": iv.high,
            "dead_per_layer": [sum(col) / len(col) for col in zip(*layers)] if layers else None,
            "dead_all_mean": _mean([r["dead"] for r in rs]),  # every run that did not diverge
            "dead_at_init": _mean([r["dead_at_init"] for r in rs]),
            "train_error_mean": _mean([r["train_error"] for r in rs]),
            "trained_error_mean": _mean([r["train_error"] for r in trained]),
            "test_error_mean": _mean([r["test_error"] for r in trained]),
            "untrained_dead_mean": _mean([r["dead"] for r in rs if r["status"] in ("untrained", "stuck at chance")]),
            "untrained_error_mean": _mean([r["train_error"] for r in rs
                                           if r["status"] in ("untrained", "stuck at chance")]),
            "diverged_at": [r["diverged_at"] for r in rs if r["diverged_at"] is not None],
        })
    return out


def _clip(iv: Interval) -> Interval:
    """A share's t interval kept inside [0, 1] (clipping never moves it across the 40% threshold)."""
    if iv.low is None or iv.high is None:
        return iv
    return Interval(iv.estimate, max(0.0, iv.low), min(1.0, iv.high), iv.n, "t, clipped to [0, 1]")


def _pct(v: float | None, digits: int = 0) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.{digits}f}%"


def _name(s: dict[str, Any]) -> str:
    return f"{'SGD' if s['optimizer'] == 'sgd' else 'Adam'} lr {s['lr']:g}"


def _state(s: dict[str, Any] | None) -> str:
    """'31% dead at 4.1% training error (5 of 5 seeds trained)' or what happened instead."""
    if s is None:
        return "not run"
    parts = []
    if s["n_trained"]:
        parts.append(f"{_pct(s['dead_mean'])} dead at {_pct(s['trained_error_mean'], 1)} training error"
                     + (f" ({s['n_trained']} of {s['seeds']} seeds trained)" if s["n_trained"] < s["seeds"] else ""))
    if s["n_diverged"]:
        parts.append(f"diverged in {s['n_diverged']} of {s['seeds']} seeds")
    if s["n_stuck"]:
        parts.append(f"stuck at chance level in {s['n_stuck']} of {s['seeds']}")
    if s["n_untrained"]:
        parts.append(f"above the error limit in {s['n_untrained']} of {s['seeds']}")
    if (s["n_stuck"] or s["n_untrained"]) and s.get("untrained_dead_mean") is not None:
        parts[-1] += (f", those at {_pct(s['untrained_dead_mean'])} dead and {_pct(s['untrained_error_mean'], 1)} "
                      "training error, not counted")
    return ", ".join(parts)


def decide_claim(runs: list[dict[str, Any]], settings: list[dict[str, Any]], *,
                 config: dict[str, Any]) -> tuple[Verdict, dict[str, Any] | None]:
    """The verdict (and the setting it rests on) from classified runs and their settings; tests drive it
    with constructed runs."""
    relu = [s for s in settings if s["activation"] == "relu"]
    limit = runs[0]["error_limit"] if runs else ERROR_LIMIT
    scale = ("quick" if all(tuple(config.get(k)) == tuple(v) if isinstance(v, tuple) else config.get(k) == v
                            for k, v in QUICK.items()) else
             "full-scale" if config["width"] >= Config.width and config["steps"] >= Config.steps
             and not config.get("train_examples") else "reduced-size")
    where = (f"{scale} run: {config['depth']} hidden layers of {config['width']} units, He init, {config['steps']} steps "
             f"of batch {config['batch_size']} on {config['dataset']}, {config['seeds']} seeds per relu setting"
             + (f" ({config['other_seeds']} for the others)" if config.get("other_seeds") else ""))
    rule = Rule(
        statistic="share of dead relu units (zero on every training example) over trained seeds, at the setting "
                  "that kills the most",
        threshold=THRESHOLD, holds_if="above", seeds=config["seeds"],
        text=(f"holds if, at the relu setting (optimizer, learning rate, bias init) that kills the most units among "
              f"runs that still train (did not diverge, left chance level, final training error <= {_pct(limit, 1)}: "
              f"{ERROR_LIMIT:.0%}, or 2x the best relu run's if larger), the 95% interval of the dead share over at "
              f"least 5 trained seeds lies wholly above {THRESHOLD:.0%}; does not hold if it lies wholly below, no "
              "other setting's trained runs average 40% or more, and that learning rate is not the top of its grid; "
              f"otherwise inconclusive (this run: {config['seeds']} seeds per setting)."))

    def verdict(status: str, evidence: str, chosen: dict | None, meaning: str) -> Verdict:
        value = chosen["dead_mean"] if chosen else None
        source = Source(
            citation="CS231n notes, 'Commonly used activation functions' (ReLU)",
            value='"as much as 40% of your network can be dead" if the learning rate is set too high',
            ours=(f"{_pct(value)} dead (95% CI {_pct(chosen['dead_ci95_low'])}-{_pct(chosen['dead_ci95_high'])}) at "
                  f"{_name(chosen)}, bias {chosen['bias_init']:g}, {_pct(chosen['trained_error_mean'], 1)} training "
                  f"error" if chosen and chosen["dead_ci95_low"] is not None else
                  (f"{_pct(value)} dead at {_name(chosen)}" if chosen else "no relu network trained")),
            differences=("the notes give no network, data, optimizer or schedule; we use a 3-hidden-layer MLP on "
                         f"{config['dataset']} ({config['train_examples'] or 'all'} training examples), He init, "
                         f"plain SGD and Adam at constant rates, {config['steps']} steps, and count a unit dead only "
                         "if it is zero on every training example of a network that still trains."))
        return Verdict(status, evidence, rule=rule, source=source, meaning=meaning,
                       key_number=KeyNumber(value, f"{_pct(value)} dead" if value is not None else "n/a",
                                            "largest share of dead relu units in networks that still train"
                                            + (f" ({_name(chosen)}, bias {chosen['bias_init']:g})" if chosen else "")))

    if not relu:
        return verdict("inconclusive", "the claim is about relu, and this run did not train relu "
                       "(add --activations relu,leaky_relu,elu).", None,
                       "This run trained no ReLU network, so it says nothing about dead ReLU units. Rerun with "
                       "--activations relu,leaky_relu,elu."), None
    measured = [s for s in relu if s["n_trained"]]
    enough = [s for s in measured if s["n_trained"] >= 5]
    pool = enough or measured
    chosen = max(pool, key=lambda s: s["dead_mean"]) if pool else None
    broken = [s for s in relu if s["n_diverged"] or s["n_stuck"] or s["n_untrained"]]
    broken_text = "; ".join(f"{_name(s)} bias {s['bias_init']:g}: {_state(s)}" for s in broken if s is not chosen)
    if chosen is None:
        evidence = (f"{where}: no relu run trained (each diverged, stayed at chance level or ended above "
                    f"{_pct(limit, 1)} training error), so no dead share counts" + (f"; {broken_text}" if broken_text else "")
                    + ". Rerun with smaller learning rates.")
        return verdict("inconclusive", evidence, None, _meaning("inconclusive", where, scale, None, None, None, [],
                                                                "no relu network trained")), None
    iv = Interval(chosen["dead_mean"], chosen["dead_ci95_low"], chosen["dead_ci95_high"], chosen["n_trained"], "t")
    status, reason = decide(iv, rule)
    grid = config["lrs"] if chosen["optimizer"] == "sgd" else config["adam_lrs"]
    # a one-rate grid has no interior: it cannot show where training breaks either
    edge = grid_edge(grid, chosen["lr"]) if len(grid) > 1 else "high"
    if edge == "high":
        status = "inconclusive"
        reason = (f"the deadliest trained rate, {_name(chosen)}, is the top of its grid: the band between 'trains' "
                  f"and 'breaks' was not reached; add larger rates (--set {'lrs' if chosen['optimizer'] == 'sgd' else 'adam_lrs'}=...)")
    higher = [s for s in measured if s is not chosen and s["dead_mean"] is not None and s["dead_mean"] >= THRESHOLD]
    if status == "does_not_hold" and higher:
        h = max(higher, key=lambda s: s["dead_mean"])
        status = "inconclusive"
        reason = (f"{_name(h)} (bias {h['bias_init']:g}) killed {_pct(h['dead_mean'])} in the {h['n_trained']} "
                  f"seeds that trained; rerun with --seeds {max(10, 2 * config['seeds'])}")
    same = [s for s in settings if s["optimizer"] == chosen["optimizer"] and s["lr"] == chosen["lr"]]
    bias_arm = [s for s in same if s["activation"] == "relu" and s["bias_init"] != chosen["bias_init"]]
    others = [s for s in same if s["activation"] != "relu"]
    low = min((s for s in relu if s["optimizer"] == chosen["optimizer"] and s["bias_init"] == chosen["bias_init"]
               and s["n_trained"]), key=lambda s: s["lr"])
    evidence = (f"{where}: at {_name(chosen)} with bias init {chosen['bias_init']:g}, {_state(chosen)} "
                f"(95% CI {_pct(chosen['dead_ci95_low'])}-{_pct(chosen['dead_ci95_high'])}; "
                f"{_pct(low['dead_mean'])} at {_name(low)})"
                + "".join(f"; bias init {s['bias_init']:g}: {_state(s)}" for s in bias_arm)
                + "".join(f"; {s['activation']}: {_state(s)}" for s in others)
                + f"; {reason}"
                + (f". Broken relu settings, left out: {broken_text}" if broken_text else "")
                + _named_breaks(settings) + ".")
    meaning = _meaning(status, where, scale, chosen, low, bias_arm[0] if bias_arm else None, others, reason,
                       bracketed=edge != "high")
    return verdict(status, evidence, chosen, meaning), {k: chosen[k] for k in ("optimizer", "bias_init", "lr")}


def _named_breaks(settings: list[dict[str, Any]]) -> str:
    """'; leaky_relu diverged at SGD lr 0.85, 1; elu ...' for the comparison activations."""
    parts = []
    for a in dict.fromkeys(s["activation"] for s in settings if s["activation"] != "relu"):
        div = [s for s in settings if s["activation"] == a and s["n_diverged"]]
        stuck = [s for s in settings if s["activation"] == a and s["n_stuck"] and not s["n_diverged"]]
        if div:
            parts.append(f"{a} diverged at {', '.join(_name(s) for s in div)}")
        if stuck:
            parts.append(f"{a} stayed at chance level at {', '.join(_name(s) for s in stuck)}")
    return ("; " + "; ".join(parts)) if parts else ""


def _meaning(status: str, where: str, scale: str, chosen: dict | None, low: dict | None, bias_arm: dict | None,
             others: list, reason: str, bracketed: bool = False) -> str:
    s = ["A ReLU unit is dead when its input is negative for every training image: it then outputs 0 and passes "
         "back no gradient, so it never recovers. CS231n warns that with a learning rate set too high as much as 40% "
         "of a network can die."]
    if chosen is None:
        s.append(f"In this {where} no ReLU network trained well enough for its dead units to count, so there is no "
                 "verdict; smaller learning rates are needed.")
        return " ".join(s)
    s.append(f"In this {where}, the deadliest rate that still trains was {_name(chosen)}: {_pct(chosen['dead_mean'])} "
             f"of the units were dead while the network still reached {_pct(chosen['trained_error_mean'], 1)} training "
             f"error, against {_pct(low['dead_mean'])} dead at {_name(low)}"
             + ("; larger rates broke training." if bracketed else "; no larger rate was tried."))
    extra = []
    if bias_arm is not None:
        extra.append(f"starting the biases at {bias_arm['bias_init']:g} instead gave {_pct(bias_arm['dead_mean'])}")
    for o in others:
        extra.append(f"{o['activation']} at the same rate had {_pct(o['dead_mean'])} dead" if o["n_trained"]
                     else f"{o['activation']} at the same rate did not train: {_state(o)}")
    if extra:
        s.append("At that rate, " + "; ".join(extra) + ".")
    s.append({"holds": "So the claim holds here: a high learning rate killed 40% or more of a network that still works.",
              "does_not_hold": "So the claim does not hold here: even at the highest rate that still trains, fewer "
                               "than 40% of the units died.",
              "inconclusive": f"This is not enough for a verdict: {reason}."}[status]
             + (f" This was a {scale} run; `actlab run dead-relu` is the full-scale one." if scale != "full-scale" else ""))
    return " ".join(s)
