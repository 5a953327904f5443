"""Claim 4, `saturation`: the top sigmoid hidden layer saturates early in training.

Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
neural networks", Fig. 2-4: with sigmoid units and the standard initialisation
U(-1/sqrt(n), 1/sqrt(n)), the mean activation of the last hidden layer is quickly
driven to 0 (the lower saturation of the sigmoid) and stays there for a long time,
while the lower layers stay near 0.5; tanh layers saturate one after another
(Fig. 3) and softsign layers much less (Fig. 4). CS231n lecture 6 states the
general claim: sigmoid and tanh saturate and saturated units kill the gradient.

What is measured: MLPs with 4 hidden layers (1000 units at full scale) and sigmoid,
tanh, softsign, trained with plain SGD (batch 10, as in the paper) on MNIST. At
probe steps (denser early on), :class:`actlab.probes.Monitor` measures each hidden
layer's activations on 300 fixed test examples: mean, std, the saturated fraction
(|f'(x)| < 5% of max |f'|, the monitor's definition) and a fixed-bin histogram.

Metrics:
    steps: the probe steps
    layer_mean[act], layer_std[act], saturated_fraction[act]: [probe][hidden layer]
    top_layer[act]: {mean_at_init, min_mean, min_at_step, final_mean}
    train_error[act], test_error[act]: after the last step

    actlab run saturation --activations sigmoid,tanh,softsign
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..probes import Monitor
from .base import (
    Progress,
    Stopwatch,
    check_float,
    check_int,
    no_progress,
)
from .fields import check_fields
from .models import build_mlp
from .parallel import run_tasks
from .result import Result, Verdict, environment
from .trainer import Tensors, TrainConfig, load_tensors, train

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "run", "probe_steps", "layer_statistics"]

NAME = "saturation"
CLAIM = ("Sigmoid and tanh saturate, and saturated units kill the gradient. With sigmoid, the top hidden layer is "
         "driven to its lower saturation (0) early in training and stays there for a long time (Glorot & Bengio 2010).")
SOURCE = "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural networks', Fig. 2-4"
COMMAND = "actlab run saturation --activations sigmoid,tanh,softsign"

BINS = 40


@dataclass(frozen=True)
class Config:
    """Every setting of the saturation claim (defaults: the paper's scale)."""

    activations: tuple[str, ...] = ("sigmoid", "tanh", "softsign")
    dataset: str = "mnist"
    depth: int = 4
    width: int = 1000
    init: str = "default"
    steps: int = 15_000
    batch_size: int = 10
    lr: float = 0.1
    probes: int = 40
    probe_examples: int = 300
    seed: int = 0
    train_examples: int = 0
    workers: int = 0
    device: str = "cpu"
    data_dir: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, "activations")
        if "maxout" in self.activations:
            raise ValueError("maxout does not saturate (and is a layer); leave it out")
        check_fields(self, "dataset", "depth", "width", "init", "steps", "batch_size")
        check_float("lr", self.lr, positive=True)
        check_int("probes", self.probes, min_value=2)
        check_int("probe_examples", self.probe_examples, min_value=1)
        check_fields(self, "seed", "train_examples", "workers", "device")


QUICK: dict[str, Any] = {"width": 250, "steps": 1500, "probes": 25, "train_examples": 20_000}


def probe_steps(steps: int, probes: int) -> list[int]:
    """About ``probes`` steps from 0 to ``steps``, geometrically spaced (dense early), distinct, sorted."""
    out = {0, steps}
    for i in range(probes - 1):
        out.add(round(steps ** (i / (probes - 2)) if probes > 2 else steps) if steps > 1 else steps)
    return sorted(s for s in out if 0 <= s <= steps)


def _load(config: Config) -> Tensors:
    return load_tensors(config.dataset, config.data_dir, config.train_examples, config.probe_examples)


@torch.no_grad()
def layer_statistics(model: nn.Module, x: Tensor) -> list[dict[str, Any]]:
    """Per activation site, in forward order: the monitor's mean, std, saturated fraction
    and histogram of the activations of ``x`` (one monitored step)."""
    was_training = model.training
    model.eval()
    stats = ("mean", "std", "saturated_fraction", "histogram")
    with Monitor(model, every=1, stats=stats, training_only=False, bins=BINS) as monitor:
        model(x)
        monitor.step()
        record = monitor.latest
    model.train(was_training)
    return [record["activations"][site] for site in monitor.sites]


def _train_one(config: Config, activation: str) -> dict[str, Any]:
    """Train one network, probing its hidden layers; a top-level function for worker processes."""
    device = torch.device(config.device)
    data = _load(config).to(device)
    x_probe = data.x_test[: config.probe_examples]  # 300 fixed test examples, as in the paper
    model = build_mlp(data.x_train.shape[1], config.width, config.depth, data.num_classes, activation,
                      init=config.init, seed=config.seed).to(device)
    at = set(probe_steps(config.steps, config.probes))
    records: list[tuple[int, list[dict[str, Any]]]] = [(0, layer_statistics(model, x_probe))]

    def on_step(step: int, m: nn.Module) -> None:
        if step in at:
            records.append((step, layer_statistics(m, x_probe)))

    tc = TrainConfig(steps=config.steps, batch_size=config.batch_size, lr=config.lr, seed=config.seed,
                     eval_every=max(1, config.steps // 10), eval_examples=2000)
    hist = train(model, data, tc, on_step=on_step)
    return {
        "steps": [s for s, _ in records],
        "mean": [[r["mean"] for r in recs] for _, recs in records],
        "std": [[r["std"] for r in recs] for _, recs in records],
        "saturated_fraction": [[r["saturated_fraction"] for r in recs] for _, recs in records],
        "final_histogram": [r["histogram"] for r in records[-1][1]],
        "histogram_range": [r.get("histogram_range") for r in records[-1][1]],
        "train_error": hist.train_error[-1],
        "test_error": hist.final_test_error,
        "diverged_at": hist.diverged_at,
        "train_curve": {"steps": hist.steps, "train_error": hist.train_error},
    }


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim; see the module docstring."""
    clock = Stopwatch()
    _load(config)  # data errors fail here
    acts = config.activations
    runs = run_tasks(_train_one, [(config, a) for a in acts], config.workers,
                     on_done=lambda d, n: progress(d, n, "training"))
    by_act = dict(zip(acts, runs))
    top: dict[str, dict[str, Any]] = {}
    for a, r in by_act.items():
        top_mean = [means[-1] for means in r["mean"]]  # the last hidden layer, per probe
        i_min = min(range(len(top_mean)), key=lambda i: top_mean[i])
        top[a] = {"mean_at_init": top_mean[0], "min_mean": top_mean[i_min], "min_at_step": r["steps"][i_min],
                  "final_mean": top_mean[-1]}
    metrics = {
        "steps": by_act[acts[0]]["steps"],
        "layer_mean": {a: r["mean"] for a, r in by_act.items()},
        "layer_std": {a: r["std"] for a, r in by_act.items()},
        "saturated_fraction": {a: r["saturated_fraction"] for a, r in by_act.items()},
        "top_layer": top,
        "train_error": {a: r["train_error"] for a, r in by_act.items()},
        "test_error": {a: r["test_error"] for a, r in by_act.items()},
        "diverged": {a: r["diverged_at"] for a, r in by_act.items()},
    }
    data = {
        "final_histogram": {a: r["final_histogram"] for a, r in by_act.items()},
        "histogram_range": {a: r["histogram_range"] for a, r in by_act.items()},
        "train_curve": {a: r["train_curve"] for a, r in by_act.items()},
    }
    return Result(
        experiment=NAME,
        config=asdict(config),
        metrics=metrics,
        verdict=_verdict(config, metrics),
        env=environment(config.device),
        elapsed_s=clock.elapsed(),
        data=data,
    )


def _verdict(config: Config, m: dict[str, Any]) -> Verdict:
    if "sigmoid" not in m["top_layer"]:
        return Verdict("inconclusive", "the claim is about sigmoid's top hidden layer; this run did not train sigmoid.")
    t = m["top_layer"]["sigmoid"]
    lower = [means[:-1] for means in m["layer_mean"]["sigmoid"]]
    i = m["steps"].index(t["min_at_step"])
    lower_then = lower[i]
    text = (f"the mean activation of the top sigmoid hidden layer on {config.probe_examples} test examples went from "
            f"{t['mean_at_init']:.2f} at init to {t['min_mean']:.3f} at step {t['min_at_step']} (of {config.steps}), "
            f"while the lower layers were at {min(lower_then):.2f}-{max(lower_then):.2f}"
            if lower_then else
            f"the mean activation of the sigmoid hidden layer went from {t['mean_at_init']:.2f} to {t['min_mean']:.3f}")
    text += f"; training error then {100 * m['train_error']['sigmoid']:.0f}%."
    if t["min_mean"] < 0.1 and (not lower_then or min(lower_then) > 2 * t["min_mean"]):
        return Verdict("holds", text)
    if t["min_mean"] > 0.3:
        return Verdict("does_not_hold", text)
    return Verdict("inconclusive", text)
