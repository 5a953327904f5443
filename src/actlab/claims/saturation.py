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
from ..verdicts.stats import decide, interval95

__all__ = ["NAME", "CLAIM", "SOURCE", "COMMAND", "Config", "QUICK", "run", "probe_steps", "layer_statistics",
           "pinned_stretch", "decide_claim", "PAPER_TEST_ERROR", "NEAR", "PINNED", "THRESHOLD"]

NAME = "saturation"
CLAIM = ("Sigmoid and tanh saturate, and saturated units kill the gradient. With sigmoid, the top hidden layer is "
         "driven to its lower saturation (0) early in training and stays there for a long time, while the lower "
         "layers do not (Glorot & Bengio 2010).")
SOURCE = "Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural networks', Fig. 2, Table 1"
COMMAND = "actlab run saturation"

BINS = 40          # histogram bins over the output range: 0.025 wide for sigmoid, 0.05 for tanh/softsign
NEAR = 0.05        # "near the lower end": within this of the output range's lower bound
PINNED = 0.5       # a layer is pinned when more than this share of its outputs is near the lower end
THRESHOLD = 0.5    # the claim holds when the top layer stays pinned for more than this share of the run (minus lower)
CHANCE_FACTOR = 0.5  # a run "left chance level" once its training error fell below this x the chance error

#: Glorot & Bengio 2010, Table 1, MNIST test error (%) with the standard initialisation.
PAPER_TEST_ERROR = {"sigmoid": 2.21, "tanh": 1.76, "softsign": 1.64}


@dataclass(frozen=True)
class Config:
    """Every setting of the saturation claim (defaults: the full-scale run)."""

    activations: tuple[str, ...] = ("sigmoid", "tanh", "softsign")
    dataset: str = "mnist"
    depth: int = 4
    width: int = 1000
    init: str = "default"
    steps: int = 2500
    batch_size: int = 10
    lr: float = 0.1
    probes: int = 30
    probe_examples: int = 300
    seeds: int = 5
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
        check_int("probes", self.probes, min_value=2, max_value=1000)
        check_int("probe_examples", self.probe_examples, min_value=1, max_value=100_000)
        check_fields(self, "seeds", "seed", "train_examples", "workers", "device")


#: --quick: narrower, shorter, on 20k examples; lr 0.3 so that the top layer is pinned
#: within the first fifth of 2000 steps (at lr 0.1 and width 250 it takes ~3500 steps).
QUICK: dict[str, Any] = {"width": 250, "steps": 2000, "lr": 0.3, "probes": 24, "train_examples": 20_000}


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
    return load_tensors(config.dataset, config.data_dir, config.train_examples, config.probe_examples)


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
    )


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
    }


def _pct(v: float | None, digits: int = 0) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.{digits}f}%"


def decide_claim(runs: list[dict[str, Any]], *, config: dict[str, Any], steps: list[int]) -> Verdict:
    """The verdict from classified runs (:func:`classify_runs`); constructed runs drive it in the tests."""
    total = int(config["steps"])
    scale = ("quick" if all(config.get(k) == v for k, v in QUICK.items()) else
             "full-scale" if int(config["width"]) >= Config.width and total >= Config.steps else "reduced-size")
    where = (f"{scale} run: {config['depth']} hidden layers of {config['width']} units, {total} SGD steps "
             f"(batch {config['batch_size']}, lr {config['lr']:g}), {config['seeds']} seeds")
    sig = [r for r in runs if r["activation"] == "sigmoid"]
    rule = Rule(
        statistic="share of the run the top sigmoid hidden layer stayed pinned near 0 (more than half its outputs "
                  f"below {NEAR}) minus the same share for the most-pinned lower layer, per seed",
        threshold=THRESHOLD, holds_if="above", seeds=len(sig),
        text=(f"holds if the 95% interval over seeds of (share of the run the top sigmoid layer stayed pinned near 0, "
              f"i.e. more than half of its outputs below {NEAR} from some step to the end) minus (the same for the "
              f"most-pinned lower layer) lies wholly above {THRESHOLD:g}: pinned within the first half of the run, "
              "to the end, while the lower layers are not; does not hold if it lies wholly below; at least 5 seeds "
              f"(this run: {len(sig)}); diverged runs, and sigmoid runs stuck at chance level when no tanh/softsign "
              "run at the same settings trains, are left out; otherwise inconclusive."))
    acts = sorted({r["activation"] for r in runs}, key=lambda a: (a != "sigmoid", a))
    ours_err = ", ".join(f"{a} {_pct(_mean([r['test_error'] for r in runs if r['activation'] == a]), 1)}"
                         for a in acts)
    top_end = _mean([r["top_mean_end"] for r in sig if r["status"] != "diverged"])
    paper = ", ".join(f"{a} {v}%" for a, v in PAPER_TEST_ERROR.items())
    source = Source(
        citation="Glorot & Bengio 2010, Fig. 2 and Table 1 (MNIST)",
        value=(f"Fig. 2: the top sigmoid layer's mean activation drops to about 0 early in training and stays there "
               f"for a long time (until about epoch 100); Table 1 test errors {paper}"),
        ours=(f"top sigmoid layer's mean {top_end:.3f} at step {total}" if top_end is not None else "no sigmoid run")
        + f"; test errors {ours_err} after {total} steps",
        differences=(f"we train {total} steps of batch {config['batch_size']} ({total * config['batch_size']:,} "
                     "examples, under 1 epoch of MNIST at full scale) at one learning rate for every activation; the "
                     "paper trains much longer with the learning rate tuned per network, so its test errors are far "
                     f"lower; {config['depth']} hidden layers of {config['width']} units "
                     f"({'the paper: 1000' if int(config['width']) != 1000 else 'as in the paper'}); init "
                     f"'{config['init']}' (default: U(-1/sqrt(n), 1/sqrt(n)), the paper's standard init); "
                     f"{config['dataset']} with {config['train_examples'] or 'all'} training examples."))

    def verdict(status: str, evidence: str, value: float | None, text: str, meaning: str) -> Verdict:
        return Verdict(status, evidence, rule=rule, source=source, meaning=meaning,
                       key_number=KeyNumber(value, text, "share of training the top sigmoid layer sat pinned near 0 "
                                                         "(minus the lower layers'), mean over seeds"))

    if not sig:
        return verdict("inconclusive", "the claim is about sigmoid's top hidden layer; this run did not train sigmoid "
                       "(add --activations sigmoid,tanh).", None, "n/a",
                       "This run trained no sigmoid network, so it cannot say anything about the claim, which is about "
                       "the top hidden layer of a sigmoid network. Rerun with --activations sigmoid,tanh,softsign.")
    diverged = [r for r in sig if r["status"] == "diverged"]
    excluded = [r for r in sig if r["status"] == "stuck at chance" and not r["counts"]]
    used = [r for r in sig if r["counts"] or r["status"] == "trained"]
    controls = [r for r in runs if r["activation"] != "sigmoid"]
    notes = []
    if diverged:
        notes.append(f"{len(diverged)} sigmoid run(s) diverged (seed {', '.join(str(r['seed']) for r in diverged)}), "
                     "left out")
    if excluded:
        why = ("no tanh or softsign network at the same settings left chance level either, so these settings did not "
               "train (too few steps, or a learning rate far too large)" if controls else "and no tanh or softsign run at the same settings shows that they can "
               "train (add --activations sigmoid,tanh)")
        notes.append(f"{len(excluded)} sigmoid run(s) never left chance level ({_pct(excluded[0]['chance_error'])} "
                     f"training error) and were left out: {why}")
    contrast = [r["contrast"] for r in used]
    iv = interval95(contrast)
    status, reason = decide(iv, rule)
    top_from = sorted(r["pinned_from"][-1] for r in used if r["pinned_from"] and r["pinned_from"][-1] is not None)
    top_for = _mean([r["pinned_for"][-1] for r in used])
    lower_for = max((max(r["pinned_for"][:-1], default=0.0) for r in used), default=0.0)
    err = _mean([r["train_error"] for r in used])
    ctrl_err = {a: _mean([r["train_error"] for r in controls if r["activation"] == a]) for a in acts if a != "sigmoid"}
    ctrl_text = ", ".join(f"{a} {_pct(e)}" for a, e in ctrl_err.items() if e is not None)
    # a top layer still sliding towards 0 at the end: the run was too short to show "stays there"
    sliding = [r for r in used if r["top_near_low_end"] <= PINNED and r["top_mean_three_quarters"] is not None
               and r["top_mean_end"] < 0.9 * r["top_mean_three_quarters"]]
    too_short = status != "holds" and used and len(sliding) * 2 > len(used)
    if too_short:
        status = "inconclusive"
        s0 = sliding[0]
        reason = (f"the top layer's mean was still falling when the run ended ({s0['top_mean_three_quarters']:.2f} at "
                  f"three quarters, {s0['top_mean_end']:.2f} at the end, seed {s0['seed']}): the run is too short to "
                  f"show where it settles; rerun with --set steps={2 * total}")
    elif not used:
        status = "inconclusive"
    iv_text = (f"{100 * iv.estimate:.0f} points (95% CI {100 * iv.low:.0f} to {100 * iv.high:.0f}, {iv.n} seeds)"
               if iv.estimate is not None and iv.low is not None else
               (f"{100 * iv.estimate:.0f} points ({iv.n} seed{'s' if iv.n != 1 else ''})" if iv.estimate is not None
                else "not measured"))
    if used:
        evidence = (f"{where}: the top sigmoid layer "
                    + (f"was pinned near 0 (over half its outputs below {NEAR}) from step {top_from[len(top_from) // 2]}"
                       f" (median) to the end in {len(top_from)} of {len(used)} seeds, {_pct(top_for)} of the run on "
                       "average" if top_from else
                       f"was not pinned near 0 (over half its outputs below {NEAR}) at the end of any run")
                    + f", the lower layers for at most {_pct(lower_for)}; "
                    f"difference {iv_text}; sigmoid training error {_pct(err)} (chance {_pct(sig[0]['chance_error'])})"
                    + (f", {ctrl_text} at the same settings" if ctrl_text else "") + f"; {reason}")
    else:
        evidence = f"{where}: no sigmoid run could be used; {reason}"
    if notes:
        evidence += "; " + "; ".join(notes)
    evidence += "."
    meaning = _meaning(status, where, scale, used, top_from, top_for, lower_for, err, sig[0]["chance_error"],
                       ctrl_err, notes, reason, top_end)
    return verdict(status, evidence, iv.estimate, _pct(iv.estimate) + " of the run" if iv.estimate is not None
                   else "n/a", meaning)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return sum(vals) / len(vals) if vals else None


def _meaning(status: str, where: str, scale: str, used: list, top_from: list, top_for: float | None,
             lower_for: float, err: float | None, chance: float, ctrl_err: dict, notes: list, reason: str,
             top_end: float | None) -> str:
    s = ["Glorot & Bengio found that a deep sigmoid network pushes its last hidden layer to output almost exactly 0 "
         "at the very start of training and leaves it there, while the layers below stay near 0.5."]
    if not used:
        s.append(f"This {where} could not test that: {'; '.join(notes) or reason}.")
        s.append("A network that never learns anything says nothing about how saturation slows learning, so there is "
                 "no verdict; rerun with the default settings.")
        return " ".join(s)
    s.append(f"In this {where}, more than half of the top layer's outputs fell below {NEAR} "
             + (f"by step {top_from[len(top_from) // 2]} (median over seeds) and stayed there, {_pct(top_for)} of the "
                f"run (its mean output ended at {top_end:.3f}), while no lower layer did for more than "
                f"{_pct(lower_for)} of it."
                if top_from else f"in no seed by the end of the run; the lower layers did for at most {_pct(lower_for)} "
                                 "of it."))
    s.append("Near 0 the sigmoid is saturated: its slope, at most 0.25 at the middle, is almost 0 there, so almost no "
             "gradient flows back through that layer and the layers below hardly learn.")
    ctrl = ", ".join(f"{a} {_pct(e)}" for a, e in ctrl_err.items() if e is not None)
    s.append(f"The sigmoid network's training error was {_pct(err)} (always guessing the most common digit gives "
             f"{_pct(chance)})" + (f", against {ctrl} for the same network with the other activations." if ctrl else "."))
    verdict_word = {"holds": "So the claim holds here.", "does_not_hold": "So the claim does not hold here.",
                    "inconclusive": f"This is not enough for a verdict: {reason}."}[status]
    s.append(verdict_word + (f" This was a {scale} run; `actlab run saturation` is the full-scale one (1000 units)."
                if scale != "full-scale" else ""))
    return " ".join(s)
