"""The `convergence` claim's numbers and verdict, from its finished runs.

``analyse`` turns the runs of :mod:`actlab.claims.convergence` into its metrics
(steps to every target per seed, the tanh/act ratio with a log-scale 95% interval
per (network, target), the chosen learning rates, the degenerate runs) and
``verdict`` decides the claim from them. Pure functions of their inputs: the tests
drive ``verdict`` to each of its three outcomes with constructed metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ...verdicts.result import KeyNumber, Rule, Source, Verdict
from ...verdicts.stats import Interval, decide, interval95, positive_ci95

__all__ = ["analyse", "verdict", "setup_label", "ratio_cells", "tkey", "is_degenerate", "PAPER_RATIO"]

#: Krizhevsky et al. 2012, Fig. 1: epochs to 25% training error, tanh / relu.
PAPER_RATIO = 6.0


def tkey(target: float) -> str:
    """A target as a JSON key: 0.12 -> "0.12"."""
    return f"{float(target):g}"


def setup_label(setup: str, config: Any = None) -> str:
    """ "cnn" -> "CNN (2 conv + 2 fc)", "mlp4" -> "MLP, 4 hidden layers"."""
    if setup == "cnn":
        n_conv = len(config["channels"]) if config is not None else 2
        return f"CNN ({n_conv} conv + 2 fc)"
    d = int(setup[3:])
    return f"MLP, {d} hidden layer{'s' if d != 1 else ''}"


def _first_reach(steps: Sequence[int], errors: Sequence[Any], target: float) -> int | None:
    for s, e in zip(steps, errors):
        if isinstance(e, (int, float)) and e <= target:  # NaN (diverged) compares False
            return int(s)
    return None


def is_degenerate(r: dict[str, Any], chance_error: float) -> str | None:
    """Why a run cannot count as trained ("diverged at step N", "never left chance"), or None."""
    if r["diverged_at"] is not None:
        return f"diverged at step {r['diverged_at']}"
    errs = [e for e in r["train_error"] if isinstance(e, float) and math.isfinite(e)]
    if not errs or min(errs) > chance_error:
        return f"never left chance (training error >= {100 * chance_error:g}%)"
    return None


def _interval_dict(iv: Interval) -> dict[str, Any]:
    return {"estimate": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high, "n": iv.n, "method": iv.method}


def analyse(config: Any, setups: Sequence[str], acts: Sequence[str],
            per_seed: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]],
            search: Mapping[tuple[str, str], Mapping[float, Mapping[str, Any]]],
            chosen: Mapping[tuple[str, str], float], edge: Mapping[tuple[str, str], str | None],
            grids: Mapping[tuple[str, str], Sequence[float]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, data) of a finished run; see the claim module's docstring for the names."""
    cfg = config
    targets = list(cfg.targets)
    degenerate: list[dict[str, Any]] = []
    steps: dict[str, dict[str, dict[str, Any]]] = {}
    test_error: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, Any]] = {}
    reach: dict[tuple[str, str], list[dict[float, int | None] | None]] = {}
    for s in setups:
        steps[s], test_error[s], curves[s] = {}, {}, {}
        for a in acts:
            runs = per_seed[(s, a)]
            rows: list[dict[float, int | None] | None] = []
            for i, r in enumerate(runs):
                why = is_degenerate(r, cfg.chance_error)
                if why is not None:
                    degenerate.append({"setup": s, "activation": a, "seed": cfg.seed + i, "lr": chosen[(s, a)],
                                       "why": why})
                    rows.append(None)
                else:
                    rows.append({t: _first_reach(r["steps"], r["train_error"], t) for t in targets})
            reach[(s, a)] = rows
            steps[s][a] = {}
            for t in targets:
                vals = [row[t] if row is not None else None for row in rows]
                got = [v for v in vals if v is not None]
                iv = positive_ci95(got) if got else Interval(None, None, None, 0, "log-t")
                steps[s][a][tkey(t)] = {"per_seed": vals, "reached": len(got),
                                        "trained": sum(row is not None for row in rows),
                                        "geo_mean": iv.estimate, "ci95_low": iv.low, "ci95_high": iv.high,
                                        "n": iv.n}
            tests = [r["final_test_error"] for r, row in zip(runs, rows) if row is not None]
            te = interval95(tests)
            test_error[s][a] = {"mean": te.estimate, "ci95_low": te.low, "ci95_high": te.high,
                                "per_seed": [r["final_test_error"] if row is not None else None
                                             for r, row in zip(runs, rows)]}
            curves[s][a] = {"steps": [r["steps"] for r in runs], "train_error": [r["train_error"] for r in runs]}

    ratios: dict[str, dict[str, dict[str, Any]]] = {}
    if "tanh" in acts:
        for s in setups:
            ratios[s] = {}
            for a in acts:
                if a == "tanh":
                    continue
                ratios[s][a] = {}
                for t in targets:
                    per = []
                    for rt, ra in zip(reach[(s, "tanh")], reach[(s, a)]):
                        ok = rt is not None and ra is not None and rt[t] is not None and ra[t] is not None
                        per.append(rt[t] / ra[t] if ok and ra[t] > 0 and rt[t] > 0 else None)
                    got = [v for v in per if v is not None]
                    iv = positive_ci95(got) if got else Interval(None, None, None, 0, "log-t")
                    ratios[s][a][tkey(t)] = {**_interval_dict(iv), "per_seed": per}
    head = setups[0]
    speedup = {a: (ratios.get(head, {}).get(a, {}).get(tkey(cfg.target), {}).get("estimate")
                   if a != "tanh" else 1.0) for a in acts}
    lr_search = {s: {a: {f"{lr:g}": _first_reach(r["steps"], r["train_error"], cfg.target)
                         for lr, r in sorted(search[(s, a)].items())} for a in acts} for s in setups}
    # the last training error of each search run: NaN where it diverged (the run files say so)
    lr_search_final = {s: {a: {f"{lr:g}": r["train_error"][-1] if r["train_error"] else math.nan
                               for lr, r in sorted(search[(s, a)].items())} for a in acts} for s in setups}
    lr_search_bad = {s: {a: {f"{lr:g}": is_degenerate(r, cfg.chance_error) for lr, r in sorted(search[(s, a)].items())
                             if is_degenerate(r, cfg.chance_error)} for a in acts} for s in setups}
    metrics = {
        "target": cfg.target,
        "targets": targets,
        "headline_setup": head,
        "setups": {s: setup_label(s, {"channels": cfg.channels}) for s in setups},
        "steps_to_target": steps,
        "ratio_vs_tanh": ratios,
        "speedup_vs_tanh": speedup,
        "test_error": test_error,
        "lr_chosen": {s: {a: chosen[(s, a)] for a in acts} for s in setups},
        "lr_grid_used": {s: {a: sorted(grids[(s, a)]) for a in acts} for s in setups},
        "lr_at_grid_edge": {s: {a: edge[(s, a)] for a in acts} for s in setups},
        "lr_search": lr_search,
        "lr_search_final_error": lr_search_final,
        "lr_search_degenerate": lr_search_bad,
        "degenerate": degenerate,
    }
    return metrics, {"curves": curves, "eval_every": cfg.eval_every}


# ----------------------------------------------------------------------- the verdict


def ratio_cells(metrics: Mapping[str, Any], act: str = "relu") -> list[dict[str, Any]]:
    """Every (network, target) cell of ``act``'s ratio with what it says.

    ``side``: "act" (interval wholly above 1: ``act`` faster), "tanh" (wholly below), "neither",
    "act only" (``act`` reached the target on every trained seed, at least 2, and tanh on none),
    "tanh only", "censored" (some trained seed of either activation never reached the target: the
    seeds that did are the fast ones, so their ratio would be biased; no estimate), or "none"
    (anything else: too few seed pairs reached it to tell).
    """
    cells = []
    for s, per_act in metrics.get("ratio_vs_tanh", {}).items():
        cell_act = per_act.get(act)
        if cell_act is None:
            continue
        for t in metrics["targets"]:
            r = cell_act[tkey(t)]
            st_a = metrics["steps_to_target"][s][act][tkey(t)]
            st_t = metrics["steps_to_target"][s]["tanh"][tkey(t)]
            estimate, low, high = r["estimate"], r["ci95_low"], r["ci95_high"]
            every = st_a["reached"] == st_a["trained"] and st_t["reached"] == st_t["trained"]
            if r["n"] >= 2 and low is not None and not every:
                side, estimate, low, high = "censored", None, None, None
            elif r["n"] >= 2 and low is not None:
                side = "act" if low > 1 else "tanh" if high < 1 else "neither"
            elif st_a["trained"] >= 2 and st_a["reached"] == st_a["trained"] and not st_t["reached"]:
                side = "act only"
            elif st_t["trained"] >= 2 and st_t["reached"] == st_t["trained"] and not st_a["reached"]:
                side = "tanh only"
            else:
                side = "none"
            cells.append({"setup": s, "target": float(t), "side": side, "estimate": estimate,
                          "low": low, "high": high, "n": r["n"]})
    return cells


def _dataset_name(name: str) -> str:
    return {"cifar10": "CIFAR-10", "fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "mnist1d": "MNIST-1D"}.get(
        name, name)


def _pct(t: float) -> str:
    return f"{100 * t:g}%"


def _curve_summary(metrics: Mapping[str, Any]) -> tuple[str, str]:
    """(one clause for the evidence, two plain sentences for "what this means") about the whole curve."""
    cells = ratio_cells(metrics)
    if not cells:
        return "no tanh/relu cells were measured", "No other networks or targets were measured."
    setups = metrics["setups"]
    relu = [c for c in cells if c["side"] in ("act", "act only")]
    tanh = [c for c in cells if c["side"] in ("tanh", "tanh only")]
    measured = [c for c in cells if c["estimate"] is not None]
    best = max(measured, key=lambda c: c["estimate"]) if measured else None
    worst = min(measured, key=lambda c: c["estimate"]) if measured else None
    n = len(cells)
    where = "; ".join(f"{setups[c['setup']]} at {_pct(c['target'])}" +
                      (f" ({c['estimate']:.2f}x)" if c["estimate"] is not None else " (only relu got there)")
                      for c in sorted(relu, key=lambda c: -(c["estimate"] or 99))[:3])
    clause = (f"over the curve ({n} network x target cells) relu was clearly faster in {len(relu)}"
              + (f" ({where})" if relu else "") + f", tanh clearly faster in {len(tanh)}, "
              f"and the ratio ranged {worst['estimate']:.2f}-{best['estimate']:.2f}x" if best and worst else
              f"over the curve ({n} cells) no ratio could be measured")
    if relu:
        biggest = (f"the largest ratio measured anywhere was {best['estimate']:.2f}x ({setups[best['setup']]}, "
                   f"{_pct(best['target'])} error)") if best else "no ratio could be measured"
        plain = (f"Across {n} combinations of network (the CNN and MLPs of different depths) and target error, "
                 f"ReLU was clearly faster in {len(relu)} ({where}), tanh clearly faster in {len(tanh)}, and "
                 f"{biggest}.")
    else:
        plain = (f"Across {n} combinations of network (the CNN and MLPs of different depths) and target error, "
                 f"ReLU was never clearly faster; tanh was clearly faster in {len(tanh)}"
                 + (f", and the tanh/relu ratio stayed between {worst['estimate']:.2f}x and "
                    f"{best['estimate']:.2f}x." if best and worst else "."))
    return clause, plain


def _rule(config: Any, n: int) -> Rule:
    t = _pct(config.target)
    return Rule(
        statistic=f"tanh/relu ratio of SGD steps to {t} training error (headline network, geometric mean over seeds)",
        threshold=config.threshold, holds_if="above", seeds=n, min_seeds=5,
        text=(f"holds if the 95% interval (log scale) of the tanh/relu steps-to-{t} ratio lies wholly above "
              f"{config.threshold:g}x (half-way, on a log scale, towards the claimed {PAPER_RATIO:g}x from no "
              f"difference at 1x; 'about 6x' allows a factor of 2), does not hold if wholly below, from >= 5 "
              f"seeds whose runs trained (diverged or chance-level runs excluded), each activation's lr interior "
              f"to its grid and the target reached after >= {config.min_steps} steps; otherwise inconclusive. "
              f"This run: {n} seed pairs."))


def _source(config: Any, ours: str, head: str) -> Source:
    data = _dataset_name(config.dataset)
    net = (f"a CNN of {len(config.channels)} conv layers ({', '.join(map(str, config.channels))} channels, 3x3, "
           f"max-pooling) + 2 fully connected ({config.hidden} hidden units)" if head == "cnn"
           else f"an MLP of {config.depth} hidden layers of {config.width}")
    not_cifar = ("" if config.dataset == "cifar10" else
                 f"{data}, not CIFAR-10 (CIFAR-10 is not available offline; --dataset cifar10 reads a "
                 "cifar-10-batches-bin folder when you have one); ")
    return Source(
        citation="Krizhevsky, Sutskever & Hinton 2012, Fig. 1",
        value="about 6x: a four-layer CNN with ReLUs reached 25% training error on CIFAR-10 six times faster "
              "(in epochs) than the same net with tanh; lr chosen per net, no regularisation",
        ours=ours,
        differences=(f"{not_cifar}{net}; SGD momentum {config.momentum:g}, batch {config.batch_size}; "
                     f"He init for relu, LeCun for tanh ({config.init}); target {_pct(config.target)} because "
                     f"25% is reached in a few dozen steps on {data} (the first transient, not training); "
                     f"steps instead of epochs (the same ratio); training error on {config.eval_examples} "
                     "fixed training examples."),
    )


def verdict(config: Any, metrics: Mapping[str, Any], scale: str = "custom") -> Verdict:
    """Decide the claim from ``metrics`` (as :func:`analyse` makes them); see :func:`_rule`."""
    head = metrics["headline_setup"]
    label = metrics["setups"][head]
    t, tk = _pct(config.target), tkey(config.target)
    where = f"{label} on {_dataset_name(config.dataset)}"
    size = {"quick": "quick run", "full": "full-scale run"}.get(scale, "run")
    rerun = {"quick": " (`actlab run convergence` runs the full scale)", "full": ""}.get(
        scale, " (`actlab run convergence` runs the full scale)")
    acts = list(metrics["steps_to_target"][head])
    if "relu" not in acts or "tanh" not in acts:
        ev = f"the claim compares relu with tanh; this run trained {', '.join(acts)} ({where})."
        return Verdict("inconclusive", ev, rule=_rule(config, 0),
                       source=_source(config, "not measured: relu or tanh missing", head),
                       meaning=(f"This {size} did not train both ReLU and tanh, so it cannot compare them. "
                                "Rerun with --activations relu,tanh."),
                       key_number=KeyNumber(None, "n/a", f"tanh/relu steps to {t} training error"))
    cell = metrics["ratio_vs_tanh"][head]["relu"][tk]
    iv = Interval(cell["estimate"], cell["ci95_low"], cell["ci95_high"], cell["n"], cell.get("method", "log-t"))
    rule = _rule(config, iv.n)
    status, reason = decide(iv, rule)
    problems: list[str] = []
    edges = {a: metrics["lr_at_grid_edge"][head][a] for a in ("relu", "tanh") if metrics["lr_at_grid_edge"][head][a]}
    if edges:
        problems.append("best lr at the grid edge for " + ", ".join(
            f"{a} ({metrics['lr_chosen'][head][a]:g}, {side} end of {metrics['lr_grid_used'][head][a]})"
            for a, side in edges.items()) + ": rerun with a wider --set lr_grid or more lr_grid_extensions")
    st_r, st_t = metrics["steps_to_target"][head]["relu"][tk], metrics["steps_to_target"][head]["tanh"][tk]
    for a, st in (("relu", st_r), ("tanh", st_t)):
        if st["reached"] < st["trained"]:
            problems.append(f"{a} reached {t} on only {st['reached']} of {st['trained']} trained seeds within "
                            f"{config.max_steps} steps: raise max_steps")
    fastest = min((st["geo_mean"] for st in (st_r, st_t) if st["geo_mean"] is not None), default=None)
    if fastest is not None and fastest < config.min_steps:
        problems.append(f"{t} was reached in {fastest:.0f} steps, fewer than {config.min_steps}: that is the first "
                        "transient, not training; rerun with a lower --set target")
    other_edges = [f"{metrics['setups'][s]} {a}" for s, per in metrics["lr_at_grid_edge"].items() for a, e in per.items()
                   if e and not (s == head and a in ("relu", "tanh"))]
    if other_edges:
        clause_edges = f"; lr still at the grid edge (curve cells less certain): {', '.join(other_edges)}"
    else:
        clause_edges = ""
    bad = [d for d in metrics["degenerate"] if d["setup"] == head and d["activation"] in ("relu", "tanh")]
    excluded = ("; excluded: " + ", ".join(f"{d['activation']} seed {d['seed']} ({d['why']})" for d in bad)) if bad else ""
    if problems:
        status = "inconclusive"
        reason = "; ".join(problems)
    clause, plain_curve = _curve_summary(metrics)
    r_txt = iv.text("{:.2f}", "x")
    steps_txt = (f"relu {st_r['geo_mean']:.0f} vs tanh {st_t['geo_mean']:.0f} steps"
                 if st_r["geo_mean"] and st_t["geo_mean"] else "steps not measured on every seed")
    evidence = (f"{status.replace('_', ' ')}: tanh/relu steps to {t} training error {r_txt} on the {where} "
                f"({steps_txt}; the paper: about {PAPER_RATIO:g}x); {reason}{excluded}; {clause}{clause_edges}.")
    ours = f"{r_txt} to {t} training error ({where}, {size})"
    # What this means, from this run's numbers.
    if iv.estimate is not None:
        faster = ("ReLU needed fewer steps" if iv.estimate > 1 else "tanh needed fewer steps" if iv.estimate < 1
                  else "the two needed the same steps")
        ratio_sentence = (f"tanh needed {iv.estimate:.2f} times as many steps as ReLU ({faster}; the 95% interval, "
                          f"the range that would catch the true ratio in 95 of 100 repeats, is "
                          + (f"{iv.low:.2f}-{iv.high:.2f}x)" if iv.low is not None else "not available)")
                          + f", against the paper's {PAPER_RATIO:g}x.")
    else:
        ratio_sentence = "The ratio of steps could not be measured on enough seeds."
    conclusion = {
        "holds": f"So here ReLU's head start is large enough to count as 'about 6x' (above {config.threshold:g}x).",
        "does_not_hold": "So the 6x does not carry over to this setting: with each activation's learning rate "
                         "tuned, " + (
                             "ReLU was not faster at all on this network: tanh got there first." if iv.high is not None and iv.high < 1 else
                             f"ReLU was faster, but by well under {config.threshold:g}x."
                             if iv.low is not None and iv.low > 1 else
                             f"ReLU's advantage, if it has one, is well under {config.threshold:g}x."),
        "inconclusive": f"This run cannot decide the claim: {problems[0] if problems else reason}.",
    }[status]
    meaning = " ".join([
        "Krizhevsky et al. (2012) trained the same four-layer convolutional network with ReLU and with tanh and "
        "found that ReLU reached 25% training error on CIFAR-10 about 6 times sooner.",
        f"This {size} trained the {where} with each activation's learning rate picked from a grid, "
        f"{config.seeds} seeds (independent restarts) each, and counted SGD steps (one step = one minibatch "
        f"update) until the training error first fell to {t}{rerun}.",
        ratio_sentence,
        plain_curve,
        conclusion,
    ])
    return Verdict(status, evidence, rule=rule, source=_source(config, ours, head), meaning=meaning,
                   key_number=KeyNumber(iv.estimate, f"{iv.estimate:.2f}x" if iv.estimate is not None else "n/a",
                                        f"tanh/relu steps to {t} training error ({label}; paper: 6x)"))
