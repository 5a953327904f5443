"""The `convergence` claim's numbers, from its finished runs.

``analyse`` turns the runs of :mod:`actlab.claims.convergence` into its metrics: steps to
every target per seed (a seed that never got there is censored at ``max_steps``, a bound,
never dropped), the tanh/act ratio paired by seed with its 95% interval per (network,
target) from the censored log-normal estimator of :mod:`actlab.verdicts.censored`, the
chosen learning rates, the degenerate runs. ``verdict.py`` decides the claim from them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ...verdicts.censored import (
    CensoredEstimate,
    censored_lognormal,
    paired_ratio,
    steps_observations,
)
from ...verdicts.stats import interval95

__all__ = ["analyse", "setup_label", "ratio_cells", "tkey", "is_degenerate", "dataset_name", "pct"]


def tkey(target: float) -> str:
    """A target as a JSON key: 0.12 -> "0.12"."""
    return f"{float(target):g}"


def setup_label(setup: str, config: Any = None) -> str:
    """ "cnn" -> "small CNN (8/16 channels)", "cnn_krizhevsky" -> "small CNN (8/16 channels), N(0, 0.01²) init",
    "mlp4" -> "MLP, 4 hidden layers"."""
    init = ""
    if setup.endswith("_krizhevsky"):
        setup, init = setup[: -len("_krizhevsky")], ", N(0, 0.01²) init"
    if setup in ("cnn", "cnn_wide"):
        key = "wide_channels" if setup == "cnn_wide" else "channels"
        chans = (config or {}).get(key) or ((32, 64) if setup == "cnn_wide" else (8, 16))
        kind = "wide CNN" if setup == "cnn_wide" else "small CNN"
        return f"{kind} ({'/'.join(map(str, chans))} channels){init}"
    d = int(setup[3:])
    return f"MLP, {d} hidden layer{'s' if d != 1 else ''}{init}"


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


def _cell_steps(rows: Sequence[dict[float, int | None] | None], t: float, max_steps: int) -> dict[str, Any]:
    """One (network, activation, target) cell: censored log-normal median of the steps and its interval."""
    vals = [row[t] if row is not None else None for row in rows]
    trained = [row[t] for row in rows if row is not None]
    est = censored_lognormal(steps_observations(trained, max_steps)) if trained else CensoredEstimate(
        None, None, None, 0, 0)
    return {"per_seed": vals, "reached": sum(v is not None for v in trained), "trained": len(trained),
            "censored": est.censored, "geo_mean": est.estimate, "ci95_low": est.low, "ci95_high": est.high,
            "n": est.n, "method": est.method}


def _steps_or_false(rows: Sequence[dict[float, int | None] | None], t: float) -> list[int | None | bool]:
    """Per seed: steps, None (trained, never reached: censored) or False (not trained)."""
    return [False if row is None else row[t] for row in rows]


def _ratio_cell(tanh_rows: Sequence[Any], act_rows: Sequence[Any], t: float, max_steps: int) -> dict[str, Any]:
    """tanh/act steps at target ``t``, paired by seed, censored pairs as bounds."""
    pairs, both = paired_ratio(_steps_or_false(tanh_rows, t), _steps_or_false(act_rows, t), max_steps)
    est = censored_lognormal([p for p in pairs if p is not None])
    return {"estimate": est.estimate, "ci95_low": est.low, "ci95_high": est.high, "n": est.n,
            "censored": est.censored, "both_censored": both, "method": est.method, "why": est.why,
            "per_seed": [p.value if p is not None else None for p in pairs],
            "per_seed_kind": [p.kind if p is not None else None for p in pairs]}


def analyse(config: Any, setups: Sequence[str], acts: Sequence[str],
            per_seed: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]],
            search: Mapping[tuple[str, str], Mapping[float, Mapping[str, Any]]],
            chosen: Mapping[tuple[str, str], float], edge: Mapping[tuple[str, str], str | None],
            grids: Mapping[tuple[str, str], Sequence[float]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, data) of a finished run; see the claim module's docstring for the names.

    ``per_seed[(setup, act)]`` holds the reported seeds' runs, seed ``config.seed + i`` at index i.
    """
    cfg = config
    targets = list(cfg.targets)
    degenerate: list[dict[str, Any]] = []
    steps: dict[str, dict[str, dict[str, Any]]] = {}
    test_error: dict[str, dict[str, Any]] = {}
    curves: dict[str, dict[str, Any]] = {}
    reach: dict[tuple[str, str], list[dict[float, int | None] | None]] = {}
    acts_of = {s: [a for a in acts if (s, a) in per_seed] for s in setups}
    for s in setups:
        steps[s], test_error[s], curves[s] = {}, {}, {}
        for a in acts_of[s]:
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
            steps[s][a] = {tkey(t): _cell_steps(rows, t, cfg.max_steps) for t in targets}
            tests = [r["final_test_error"] for r, row in zip(runs, rows) if row is not None]
            te = interval95(tests)
            test_error[s][a] = {"mean": te.estimate, "ci95_low": te.low, "ci95_high": te.high,
                                "per_seed": [r["final_test_error"] if row is not None else None
                                             for r, row in zip(runs, rows)]}
            curves[s][a] = {"steps": [r["steps"] for r in runs], "train_error": [r["train_error"] for r in runs]}

    ratios: dict[str, dict[str, dict[str, Any]]] = {}
    for s in setups:
        if "tanh" not in acts_of[s]:
            continue
        ratios[s] = {a: {tkey(t): _ratio_cell(reach[(s, "tanh")], reach[(s, a)], t, cfg.max_steps) for t in targets}
                     for a in acts_of[s] if a != "tanh"}
    head = setups[0]
    speedup = {a: (ratios.get(head, {}).get(a, {}).get(tkey(cfg.target), {}).get("estimate")
                   if a != "tanh" else 1.0) for a in acts_of[head]}
    lr_search = {s: {a: {f"{lr:g}": _first_reach(r["steps"], r["train_error"], cfg.target)
                         for lr, r in sorted(search[(s, a)].items())} for a in acts_of[s]} for s in setups}
    # the last training error of each search run: NaN where it diverged (the run files say so)
    lr_search_final = {s: {a: {f"{lr:g}": r["train_error"][-1] if r["train_error"] else math.nan
                               for lr, r in sorted(search[(s, a)].items())} for a in acts_of[s]} for s in setups}
    lr_search_bad = {s: {a: {f"{lr:g}": is_degenerate(r, cfg.chance_error) for lr, r in sorted(search[(s, a)].items())
                             if is_degenerate(r, cfg.chance_error)} for a in acts_of[s]} for s in setups}
    metrics = {
        "target": cfg.target,
        "targets": targets,
        "headline_setup": head,
        "setups": {s: setup_label(s, {"channels": cfg.channels, "wide_channels": cfg.wide_channels})
                   for s in setups},
        "steps_to_target": steps,
        "ratio_vs_tanh": ratios,
        "ratio_method": ("censored log-normal MLE, paired by seed (a seed that never reached the target is a "
                         "bound at max_steps; both censored: no information); with nothing censored it is the "
                         "log-t interval of the per-seed ratios"),
        "speedup_vs_tanh": speedup,
        "test_error": test_error,
        "lr_chosen": {s: {a: chosen[(s, a)] for a in acts_of[s]} for s in setups},
        "lr_grid_used": {s: {a: sorted(grids[(s, a)]) for a in acts_of[s]} for s in setups},
        "lr_at_grid_edge": {s: {a: edge[(s, a)] for a in acts_of[s]} for s in setups},
        "lr_search": lr_search,
        "lr_search_final_error": lr_search_final,
        "lr_search_degenerate": lr_search_bad,
        "degenerate": degenerate,
    }
    return metrics, {"curves": curves, "eval_every": cfg.eval_every}


# ----------------------------------------------------------------------- cells of the curve


def ratio_cells(metrics: Mapping[str, Any], act: str = "relu") -> list[dict[str, Any]]:
    """Every (network, target) cell of ``act``'s tanh/act ratio with what it says.

    ``side``: "act" (interval wholly above 1: ``act`` faster), "tanh" (wholly below), "neither",
    "act only" (no estimate, and every informative seed pair has tanh censored and ``act`` not: a
    bound in ``act``'s favour), "tanh only" (the reverse), or "none" (too few pairs to tell).
    Censored seeds are bounds inside the estimate (``censored`` counts them), never dropped.
    """
    cells = []
    for s, per_act in metrics.get("ratio_vs_tanh", {}).items():
        cell_act = per_act.get(act)
        if cell_act is None:
            continue
        for t in metrics["targets"]:
            r = cell_act[tkey(t)]
            estimate, low, high = r["estimate"], r["ci95_low"], r["ci95_high"]
            kinds = [k for k in r.get("per_seed_kind", []) if k is not None]
            if estimate is not None and low is not None and high is not None:
                side = "act" if low > 1 else "tanh" if high < 1 else "neither"
            elif len(kinds) >= 2 and all(k == "above" for k in kinds):
                side = "act only"
            elif len(kinds) >= 2 and all(k == "below" for k in kinds):
                side = "tanh only"
            else:
                side = "none"
            cells.append({"setup": s, "target": float(t), "side": side, "estimate": estimate,
                          "low": low, "high": high, "n": r["n"], "censored": r.get("censored", 0)})
    return cells


def dataset_name(name: str) -> str:
    return {"cifar10": "CIFAR-10", "fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "mnist1d": "MNIST-1D"}.get(
        name, name)


def pct(t: float) -> str:
    return f"{100 * t:g}%"
