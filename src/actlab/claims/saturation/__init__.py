"""Claim 4, `saturation`: the top sigmoid hidden layer is driven to its lower saturation early and stays there.

Glorot & Bengio (2010), "Understanding the difficulty of training deep feedforward
neural networks", Fig. 2: with sigmoid units and the standard initialisation
U(-1/sqrt(n), 1/sqrt(n)), "very quickly at the beginning, all the sigmoid activation
values of the last hidden layer are pushed to their lower saturation value of 0",
and they stay there for a long time (in the paper, until about epoch 100), while the
lower layers stay near 0.5. Near 0 the sigmoid's slope is tiny, so little gradient
flows back through that layer: the net sits on a plateau. CS231n lecture 6 states the
general point: saturated sigmoid units kill the gradient.

What is measured: MLPs with 4 hidden layers (1000 units at full scale) and sigmoid,
tanh, softsign, trained with plain SGD (batch 10, as in the paper) on MNIST, 5 seeds
each. At probe steps (dense early, then even), :class:`actlab.probes.Monitor` measures
each hidden layer's activations on 300 fixed test examples (as in the paper): mean,
std, saturated fraction (|f'| < 5% of max |f'|, the monitor's one definition) and a
40-bin histogram of every value. From the histogram: the share of outputs within 0.05
of the lower end of the output range (``near_low``: sigmoid < 0.05, tanh and softsign
< -0.95). A layer is *pinned* at a probe when more than half its outputs are there.

The statistic (per seed): the share of the run during which the top layer stayed
pinned (from the first probe after which it is pinned at every probe, to the end),
minus the same share for the most-pinned lower layer. The claim holds when its 95%
interval over >= 5 seeds lies wholly above 0.5 ("early": pinned within the first
half; "stays": to the end; "lower layers do not": the difference). Runs that diverged
are left out. A sigmoid net stuck at chance level is the plateau the claim predicts,
but only if a tanh or softsign net at the same settings trains (leaves chance
level); otherwise the settings themselves do not train (say, ``lr=1e23``) and the
verdict is inconclusive. A run whose top layer is still sliding towards 0 at the end
is too short to tell, and says so.

Metrics:
    steps: the probe steps
    layer_mean[act], layer_std[act], saturated_fraction[act], near_low[act]: [probe][layer], mean over seeds
    runs: one record per (activation, seed): pinned_from / pinned_for per layer, errors, status
    summary[act]: seeds used, pinned share of the run (mean, 95% CI), top-layer mean at the end, errors
    chance_error: the training error of always answering the most frequent class

    actlab run saturation --activations sigmoid,tanh,softsign
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from ...probes import Monitor
from ...training.models import build_mlp
from ...training.settings import Progress, Stopwatch, no_progress
from ...training.step_progress import Reporter, StepProgress
from ...training.trainer import Tensors, TrainConfig, load_tensors, train
from ...training.workers import run_tasks
from ...verdicts.result import PerActivation, Result, environment
from ...verdicts.stats import activation_number, interval95
from .config import (
    BINS,
    CHANCE_FACTOR,
    CLAIM,
    COMMAND,
    EARLY_STEPS,
    NAME,
    NEAR,
    PAPER_TEST_ERROR,
    PINNED,
    QUICK,
    SOURCE,
    STAY_STEPS,
    THRESHOLD,
    Config,
)
from .verdict import decide_claim, onset_interval

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "run", "probe_steps", "layer_statistics",
           "pinned_stretch", "decide_claim", "onset_interval", "onset_bounds", "classify_runs", "per_activation",
           "PAPER_TEST_ERROR", "NEAR", "PINNED", "THRESHOLD", "EARLY_STEPS", "STAY_STEPS", "BINS", "CHANCE_FACTOR"]


def probe_steps(steps: int, probes: int) -> list[int]:
    """About ``probes`` steps from 0 to ``steps``: half geometric (dense early), half even; distinct, sorted."""
    out = {0, steps}
    n_geo = max(1, probes // 2)
    for i in range(n_geo):
        out.add(round(steps ** (i / max(n_geo - 1, 1))) if steps > 1 else steps)
    n_lin = max(1, probes - n_geo)
    for i in range(1, n_lin + 1):
        out.add(round(steps * i / n_lin))
    return sorted(s for s in out if 0 <= s <= steps)


def _load(config: Config) -> Tensors:
    """The training set (``train_examples``) and the whole test set: the probes read its first
    ``probe_examples``, the final test error all of it."""
    return load_tensors(config.dataset, config.data_dir, config.train_examples, 0)


@torch.no_grad()
def layer_statistics(model: nn.Module, x: Tensor) -> list[dict[str, Any]]:
    """Per activation site, in forward order: the monitor's mean, std, saturated fraction
    and histogram (every value, ``BINS`` bins over the output range) of the activations of ``x``."""
    was_training = model.training
    model.eval()
    stats = ("mean", "std", "saturated_fraction", "histogram")
    with Monitor(model, every=1, stats=stats, training_only=False, bins=BINS, histogram_sample=None) as monitor:
        model(x)
        monitor.step()
        record = monitor.latest
    model.train(was_training)
    return [record["activations"][site] for site in monitor.sites]


def _near_ends(site: dict[str, Any]) -> tuple[float, float]:
    """Share of a layer's outputs within NEAR of the lower and of the upper end of its histogram range."""
    counts = [float(c) for c in site["histogram"]]
    lo, hi = site.get("histogram_range") or (0.0, 1.0)
    total = sum(counts) or 1.0
    k = max(1, round(NEAR / ((hi - lo) / len(counts))))  # bins that make up the band
    return sum(counts[:k]) / total, sum(counts[-k:]) / total


def pinned_stretch(steps: list[int], near_low: list[float], total_steps: int) -> tuple[int | None, float]:
    """(pinned_from, pinned_for) of one layer: the first probe step after which the layer is pinned
    (near_low > PINNED) at every later probe, and the share of the run from there to the end
    (0 and None when it is not pinned at the last probe)."""
    start = None
    for s, share in zip(steps, near_low):
        if share > PINNED:
            if start is None:
                start = s
        else:
            start = None
    if start is None or total_steps <= 0:
        return None, 0.0
    return start, (total_steps - start) / total_steps


def onset_bounds(steps: list[int], onset: int | None) -> tuple[int, int | None]:
    """(after, by): the onset lies after the probe before ``onset`` and at or before ``onset`` (the probe
    spacing is the resolution). Never reached: (the last probe, None), a censored onset."""
    if onset is None:
        return steps[-1], None
    i = steps.index(onset)
    return (steps[i - 1] if i > 0 else onset), onset


def _first_for_good(steps: list[int], shares: list[float]) -> int | None:
    """The first probe step from which ``shares`` stays above one half to the end, or None."""
    start = None
    for st, v in zip(steps, shares):
        if v > PINNED:
            start = st if start is None else start
        else:
            start = None
    return start


def _train_one(config: Config, activation: str, seed: int, report: Reporter | None = None) -> dict[str, Any]:
    """Train one network, probing its hidden layers; a top-level function for worker processes."""
    device = torch.device(config.device)
    data = _load(config).to(device)
    x_probe = data.x_test[: config.probe_examples]  # 300 fixed test examples, as in the paper
    model = build_mlp(data.x_train.shape[1], config.width, config.depth, data.num_classes, activation,
                      init=config.init, seed=seed).to(device)
    at = probe_steps(config.steps, config.probes)
    wanted = set(at)
    records: list[tuple[int, list[dict[str, Any]]]] = [(0, layer_statistics(model, x_probe))]

    def on_step(step: int, m: nn.Module) -> None:
        if step in wanted:
            records.append((step, layer_statistics(m, x_probe)))
        if report is not None:
            report(step)

    tc = TrainConfig(steps=config.steps, batch_size=config.batch_size, lr=config.lr, seed=seed,
                     eval_every=max(1, config.steps // 20), eval_examples=2000)
    hist = train(model, data, tc, on_step=on_step)
    if report is not None:
        report(math.inf, force=True)
    eval_n = min(tc.eval_examples, len(data.y_train))
    counts = torch.bincount(data.y_train[:eval_n], minlength=data.num_classes)
    chance = 1.0 - float(counts.max()) / eval_n
    near = [[_near_ends(r) for r in recs] for _, recs in records]
    steps = [s for s, _ in records]
    low = [[lo for lo, _ in row] for row in near]
    errors = [e for e in hist.train_error if math.isfinite(e)]
    stretches = [pinned_stretch(steps, [row[j] for row in low], config.steps) for j in range(config.depth)]
    return {
        "activation": activation,
        "seed": seed,
        "steps": steps,
        "mean": [[r["mean"] for r in recs] for _, recs in records],
        "std": [[r["std"] for r in recs] for _, recs in records],
        "saturated_fraction": [[r["saturated_fraction"] for r in recs] for _, recs in records],
        "near_low": low,
        "near_high": [[hi for _, hi in row] for row in near],
        "final_histogram": [r["histogram"] for r in records[-1][1]],
        "histogram_range": [r.get("histogram_range") for r in records[-1][1]],
        "pinned_from": [s for s, _ in stretches],
        "onset_bounds": [onset_bounds(steps, f) for f, _ in stretches],
        "top_saturated_end": records[-1][1][-1]["saturated_fraction"],
        "top_saturation_onset": onset_bounds(steps, _first_for_good(
            steps, [recs[-1]["saturated_fraction"] for _, recs in records])),
        "pinned_for": [f for _, f in stretches],
        "train_error": hist.train_error[-1] if hist.diverged_at is None else None,
        "min_train_error": min(errors) if errors else None,
        "test_error": hist.final_test_error if hist.diverged_at is None else None,
        "diverged_at": hist.diverged_at,
        "chance_error": chance,
        "train_curve": {"steps": hist.steps, "train_error": hist.train_error},
    }


def run(config: Config, progress: Progress = no_progress) -> Result:
    """Measure the claim; see the module docstring."""
    clock = Stopwatch()
    _load(config)  # data errors fail here
    acts, seeds = config.activations, [config.seed + i for i in range(config.seeds)]
    keys = [(a, s) for s in seeds for a in acts]  # seed-major: the progress estimate sees every activation early
    progress(0, 1, "starting")
    with StepProgress(progress, [config.steps] * len(keys)) as ticks:
        runs = run_tasks(_train_one, [(config, a, s, ticks.reporter(i)) for i, (a, s) in enumerate(keys)],
                         config.workers, on_done=ticks.done)
    progress(1, 1, "done")
    by_act = {a: [r for r in runs if r["activation"] == a] for a in acts}
    steps = runs[0]["steps"]

    def seed_mean(a: str, key: str) -> list[list[float]] | None:
        ok = [r[key] for r in by_act[a] if r["diverged_at"] is None and len(r[key]) == len(steps)]
        if not ok:
            return None
        return [[sum(rr[i][j] for rr in ok) / len(ok) for j in range(config.depth)] for i in range(len(steps))]

    classified = classify_runs([_run_summary(r) for r in runs], acts)
    metrics = {
        "steps": steps,
        "layer_mean": {a: seed_mean(a, "mean") for a in acts},
        "layer_std": {a: seed_mean(a, "std") for a in acts},
        "saturated_fraction": {a: seed_mean(a, "saturated_fraction") for a in acts},
        "near_low": {a: seed_mean(a, "near_low") for a in acts},
        "near_high": {a: seed_mean(a, "near_high") for a in acts},
        "runs": classified,
        "summary": {a: _act_summary([r for r in classified if r["activation"] == a]) for a in acts},
        "chance_error": runs[0]["chance_error"],
        "definitions": {
            "near_low": f"share of a layer's outputs within {NEAR} of the lower end of the output range "
                        "(sigmoid: below 0.05; tanh, softsign: below -0.95), from a histogram of every value",
            "pinned": f"a layer is pinned at a probe when near_low > {PINNED}",
            "pinned_for": "share of the run from the first probe after which the layer stays pinned to the end",
            "saturated_fraction": "the monitor's: share of units with |f'(x)| < 5% of max |f'|",
        },
    }
    data = {
        "final_histogram": {a: [r["final_histogram"] for r in by_act[a]] for a in acts},
        "histogram_range": {a: by_act[a][0]["histogram_range"] for a in acts},
        "near_low_per_seed": {a: [r["near_low"] for r in by_act[a]] for a in acts},
        "train_curve": {a: [r["train_curve"] for r in by_act[a]] for a in acts},
    }
    return Result(
        experiment=NAME,
        config=asdict(config),
        metrics=metrics,
        verdict=decide_claim(classified, config=asdict(config), steps=steps),
        env=environment(config.device),
        elapsed_s=clock.elapsed(),
        data=data,
        per_activation=per_activation(classified, acts, config.baseline),
    )


def per_activation(runs: list[dict[str, Any]], acts: tuple[str, ...], baseline: str) -> tuple[PerActivation, ...]:
    """The claim's own measure for every activation, paired by seed with the baseline: the top layer's share of
    outputs at the lower end of its range at the end (%), and the onset step from which over half of them stay there
    (censored when never: no number from that seed). The monitor's |f'| < 5% count is not used here: a sigmoid
    output of 0.017 has slope 0.017, just above its 5% line, so it would call the pinned layer unsaturated."""
    by = {a: {r["seed"]: r for r in runs if r["activation"] == a and r["status"] != "diverged"} for a in acts}
    seeds = sorted({r["seed"] for r in runs})
    share, onset = [], []
    for a in acts:
        def col(key: str, scale: float, who: str = a) -> list[float | None]:
            return [None if by[who].get(s) is None or by[who][s].get(key) is None else scale * by[who][s][key]
                    for s in seeds]
        never = sum(1 for s in seeds if by[a].get(s) is not None and by[a][s].get("onset_by") is None)
        at_start = sum(1 for s in seeds if by[a].get(s) is not None and by[a][s].get("onset_by") == 0)
        diverged = sum(1 for r in runs if r["activation"] == a and r["status"] == "diverged")
        broke = f"{diverged} of {diverged + len(by[a])} seeds diverged (no number from them)" if diverged else ""
        onset_notes = [broke,
                       f"{never} of {len(by[a])} seeds never pinned by the end (censored, left out)" if never else "",
                       (f"{at_start} of {len(by[a])} seeds pinned from the first probe (step 0): an onset at the "
                        "start has no positive step to average") if at_start else ""]
        share.append(activation_number(a, col("top_near_low_end", 100.0), col("top_near_low_end", 100.0, baseline),
                                       positive=False, note=broke))
        onset.append(activation_number(a, col("onset_by", 1.0), col("onset_by", 1.0, baseline),
                                       note="; ".join(n for n in onset_notes if n)))
    return (PerActivation("top_pinned_share", "top hidden layer's outputs at the lower end of their range, at the end",
                          "%", "lower", baseline, share,
                          ratio_label=f"ratio to {baseline}, paired by seed (not meaningful between a bounded and an "
                                      "unbounded activation: see the note)",
                          note=f"Within {NEAR} of the lower end of the range the layer's histogram covers (sigmoid: "
                               "0; tanh, softsign: -1), on the probe examples. For an activation unbounded above "
                               "(relu, leaky_relu, gelu, silu, elu) the lower end is its minimum (relu: 0), and an "
                               "output there is an inactive unit, not saturation in Glorot & Bengio's sense (a bounded "
                               "unit stuck at its limit); so a ratio of sigmoid's share to relu's compares two "
                               "different things and is not meaningful."),
            PerActivation("top_pinned_onset", "step from which over half the top layer's outputs stay at the lower end",
                          "steps", "higher", baseline, onset, ratio_label=f"ratio to {baseline}, paired by seed",
                          note="Higher is better: pinned later. A seed never pinned has no onset (censored). Each "
                               "seed's onset probe (the step by which it was pinned), geometric mean over seeds with "
                               "its log-t interval; the verdict's interval also counts the probe before each onset "
                               "(the probe spacing), so it is wider."))


def _run_summary(r: dict[str, Any]) -> dict[str, Any]:
    """The per-run numbers the verdict reads (small; kept in metrics['runs'])."""
    top_mean = [row[-1] for row in r["mean"]]
    steps = r["steps"]
    i_late = min(range(len(steps)), key=lambda i: abs(steps[i] - 0.75 * steps[-1]))  # the probe nearest 3/4 of the run
    return {
        "activation": r["activation"], "seed": r["seed"],
        "pinned_from": r["pinned_from"], "pinned_for": r["pinned_for"],
        "top_mean_start": top_mean[0], "top_mean_end": top_mean[-1],
        "top_mean_three_quarters": top_mean[i_late],
        "top_near_low_end": r["near_low"][-1][-1],
        "onset_after": r["onset_bounds"][-1][0], "onset_by": r["onset_bounds"][-1][1],
        "lower_pinned_end": any(b is not None for _, b in r["onset_bounds"][:-1]),
        "top_saturated_end": r["top_saturated_end"],
        "saturation_onset_by": r["top_saturation_onset"][1],
        "train_error": r["train_error"], "min_train_error": r["min_train_error"], "test_error": r["test_error"],
        "diverged_at": r["diverged_at"], "chance_error": r["chance_error"],
    }


def _left_chance(r: dict[str, Any]) -> bool:
    e = r.get("min_train_error")
    return r.get("diverged_at") is None and e is not None and e < CHANCE_FACTOR * r["chance_error"]


def classify_runs(runs: list[dict[str, Any]], acts: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """Each run's ``status``: "diverged", "stuck at chance" (never left chance level: its training error
    never fell below half of the error of always guessing the most common class) or "trained";
    and for sigmoid runs stuck at chance, ``counts``: True when a tanh/softsign run at the same
    settings trained (the plateau the claim predicts), False when nothing trained (broken settings)."""
    controls_trained = any(_left_chance(r) for r in runs if r["activation"] != "sigmoid")
    out = []
    for r in runs:
        r = dict(r)
        if r.get("diverged_at") is not None:
            r["status"], r["counts"] = "diverged", False
        elif _left_chance(r):
            r["status"], r["counts"] = "trained", True
        else:
            r["status"], r["counts"] = "stuck at chance", r["activation"] == "sigmoid" and controls_trained
        if r["pinned_for"]:
            lower = r["pinned_for"][:-1]
            r["contrast"] = r["pinned_for"][-1] - (max(lower) if lower else 0.0)
        else:
            r["contrast"] = None
        out.append(r)
    return out


def _act_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    used = [r for r in runs if r["status"] != "diverged"]

    def avg(key: str) -> float | None:
        vals = [r[key] for r in used if r.get(key) is not None and math.isfinite(r[key])]
        return sum(vals) / len(vals) if vals else None

    top = interval95([r["pinned_for"][-1] for r in used if r["pinned_for"]])
    test = interval95([r["test_error"] for r in used])
    onset = onset_interval(used)
    froms = sorted(r["pinned_from"][-1] for r in used if r["pinned_for"] and r["pinned_from"][-1] is not None)
    return {
        "seeds": len(runs), "diverged": len(runs) - len(used),
        "stuck_at_chance": sum(r["status"] == "stuck at chance" for r in runs),
        "top_pinned_for": {"mean": top.estimate, "ci95_low": top.low, "ci95_high": top.high, "n": top.n},
        "top_pinned_from_median": froms[len(froms) // 2] if froms else None,
        "top_pinned_seeds": len(froms),
        "lower_pinned_for_max": max((max(r["pinned_for"][:-1], default=0.0) for r in used), default=None),
        "top_mean_end": avg("top_mean_end"),
        "train_error": avg("train_error"), "test_error": avg("test_error"),
        "test_error_ci95": [test.low, test.high], "test_examples": None,
        "onset": {"after_low": onset.low, "by_high": onset.high, "by_mean": onset.estimate, "n": onset.n},
        "onset_per_seed": [[r["onset_after"], r["onset_by"]] for r in used],
    }


