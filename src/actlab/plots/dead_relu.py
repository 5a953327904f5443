"""Figures, captions and tables of the `dead-relu` claim, from its result."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D

from ..verdicts.result import Result
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot", "captions", "tables"]

VS_LR = "dead_relu_vs_lr.png"
LAYERS = "dead_relu_layers.png"
OPT_NAME = {"sgd": "plain SGD", "adam": "Adam"}


def _pct(v: float | None, digits: int = 0) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.{digits}f}%"


def _num(v: float | None, digits: int = 1) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.{digits}f}"


def _where(cfg: dict[str, Any]) -> str:
    return (f"MLP {cfg['depth']}x{cfg['width']} ({cfg['init']} init) on {cfg['dataset']}, {cfg['steps']} steps of "
            f"batch {cfg['batch_size']}; {cfg.get('select_seeds', '?')} selection seeds per point, "
            f"{cfg['seeds']} fresh seeds per star")


def _limit(m: dict[str, Any]) -> float:
    return m.get("design", {}).get("error_limit", 0.1)


@styled
def plot(result: Result, out_dir: Path) -> list[Path]:
    """dead_relu_vs_lr.png (dead share and median training error against the rate, per optimizer, selection
    seeds as lines and the confirmed settings as stars) and dead_relu_layers.png (confirmed settings per layer)."""
    m, cfg = result.metrics, result.config
    settings = m.get("settings", [])
    conf = m.get("confirmation", [])
    opts = [o for o in ("sgd", "adam") if any(s["optimizer"] == o for s in settings)]
    paths: list[Path] = []
    if not opts:
        return paths
    acts = list(dict.fromkeys(s["activation"] for s in settings))
    fig, axes = new_figure(2, len(opts), width=4.6 * len(opts) + 2.6, height=6.4, squeeze=False,
                           sharex="col", gridspec_kw={"height_ratios": [3, 2]})
    for c, opt in enumerate(opts):
        ax, ax_err = axes[0][c], axes[1][c]
        for k, act in enumerate(acts):
            pts = sorted((s for s in settings if s["optimizer"] == opt and s["activation"] == act), key=lambda s: s["lr"])
            if not pts:
                continue
            shift = 10 ** (0.03 * (k - (len(acts) - 1) / 2))  # side by side on the log axis: nothing hidden
            xs = np.array([s["lr"] * shift for s in pts])
            ys = np.array([np.nan if s["dead_mean"] is None else 100 * s["dead_mean"] for s in pts])
            ax.plot(xs, ys, color=color_for(act), lw=1.6, marker="o", ms=4)
            for s, x, y in zip(pts, xs, ys):  # an open marker: the setting did not train
                if not s["trains"] and np.isfinite(y):
                    ax.plot([x], [y], "o", ms=9, mfc="white", color=color_for(act), mew=1.5)
                if s["n_diverged"]:
                    ax.plot([x], [104], "x", color=color_for(act), ms=8, mew=2, clip_on=False)
            errs = np.array([np.nan if s["median_train_error"] is None else 100 * s["median_train_error"] for s in pts])
            ax_err.plot(xs, np.where(np.isfinite(errs), errs, 100), color=color_for(act), lw=1.6, marker="o", ms=4)
            for s in conf:
                if s["activation"] == act and s["optimizer"] == opt and s["dead_mean"] is not None:
                    lo, hi = s["dead_ci95_low"], s["dead_ci95_high"]
                    y = 100 * s["dead_mean"]
                    ax.errorbar([s["lr"] * shift], [y], yerr=None if lo is None else [[y - 100 * lo], [100 * hi - y]],
                                fmt="*", ms=14, color=color_for(act), mec="black", mew=0.6, capsize=3,
                                alpha=0.55 if s["bias_init"] != cfg["bias_inits"][0] else 1.0)
        ax.axhline(40, color="0.25", ls=":", lw=1.2)
        ax.set_xscale("log")
        ax.set_ylim(-3, 108)
        ax.set_title(f"{OPT_NAME[opt]}" + (" (standard conditions)" if opt == "adam" else " (a limit)"))
        ax.set_ylabel("dead units (% of hidden units)")
        ax_err.axhline(100 * _limit(m), color="0.25", ls="--", lw=1.2)
        ax_err.set_yscale("log")
        ax_err.set_ylim(1, 110)
        ax_err.set_yticks([1, 2, 5, 10, 20, 50, 100], ["1", "2", "5", "10", "20", "50", "100"])
        ax_err.set_xlabel("learning rate (log scale)")
        ax_err.set_ylabel("median training error\nat the end (%)")
    handles = [Line2D([], [], color=color_for(a), marker="o", ms=4, label=f"{a} (selection seeds, mean)") for a in acts]
    handles += [Line2D([], [], color="0.4", marker="*", ms=12, ls="none", mec="black",
                       label="chosen setting on fresh seeds\n(95% CI; faint: biases at 0.01)"),
                Line2D([], [], color="0.4", marker="o", ms=9, mfc="white", ls="none",
                       label=f"setting did not train\n(median error over {_pct(_limit(m))})"),
                Line2D([], [], color="0.4", marker="x", ms=8, mew=2, ls="none",
                       label="a seed diverged (drawn above 100%:\na diverged net has no dead share)"),
                Line2D([], [], color="0.25", ls=":", label="40% dead (CS231n), top panels"),
                Line2D([], [], color="0.25", ls="--", label=f"{_pct(_limit(m))} training error limit,\nbottom panels")]
    legend_outside(axes[0][-1], handles=handles, fontsize=9)
    fig.suptitle(f"Dead units against learning rate, training error beside them\n{_where(cfg)}", fontsize=10, y=1.01)
    paths.append(save_figure(fig, out_dir / VS_LR))

    layered = [s for s in conf if s.get("dead_per_layer")]
    if layered:
        depth = len(layered[0]["dead_per_layer"])
        fig, ax = new_figure(1, 1, width=7.0, height=3.6)
        width = 0.8 / len(layered)
        for i, s in enumerate(layered):
            xs = np.arange(depth) + (i - (len(layered) - 1) / 2) * width
            ax.bar(xs, 100 * np.array(s["dead_per_layer"]), width=width, color=color_for(s["activation"]),
                   hatch="//" if s["optimizer"] == "sgd" else (".." if s["bias_init"] != cfg["bias_inits"][0] else None),
                   edgecolor="white", label=_arm_label(s))
        ax.set_xticks(np.arange(depth), [f"hidden {k + 1}" for k in range(depth)])
        ax.axhline(40, color="0.25", ls=":", lw=1)
        ax.set_ylim(0, 100)
        ax.set_ylabel("dead units (%)")
        legend_outside(ax, fontsize=9)
        ax.set_title(f"Dead units per hidden layer at the confirmed settings (mean over {cfg['seeds']} fresh seeds)",
                     fontsize=10)
        paths.append(save_figure(fig, out_dir / LAYERS))
    return paths


def _arm_label(s: dict[str, Any]) -> str:
    return (f"{s['activation']}, {OPT_NAME[s['optimizer']]} lr {s['lr']:g}"
            + (f", bias {s['bias_init']:g}" if s["bias_init"] else ""))


def captions(result: Result) -> dict[str, str]:
    """Each figure's file name -> a caption that says what to look at, from this run's numbers."""
    m = result.metrics
    conf = m.get("confirmation", [])
    head = next((s for s in conf if s["arm"] == "headline"), None)
    out: dict[str, str] = {}
    if not m.get("settings"):
        return out
    parts = ["Lines: each setting's mean dead share on the selection seeds (open circles: the setting did not "
             "train). Stars: the chosen settings trained again on fresh seeds, with their 95% interval."]
    if head is not None:
        parts.append(f"The relu star at Adam lr {head['lr']:g} is the headline: {_pct(head['dead_mean'])} dead at "
                     f"{_pct(head['median_train_error'], 1)} median training error (lower panel).")
    out[VS_LR] = " ".join(parts)
    if any(s.get("dead_per_layer") for s in conf):
        out[LAYERS] = ("Where the dead units sit: each bar is one confirmed setting's share of dead units in one "
                       "hidden layer, averaged over the fresh seeds.")
    return out


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables: the confirmed settings (the evidence), and every setting on the selection seeds."""
    m = result.metrics
    out = []
    conf = m.get("confirmation", [])
    arm_name = {"headline": "headline (relu, standard)", "sgd": "limit: plain SGD"}
    if conf:
        out.append({
            "title": "Confirmed settings: trained again on fresh seeds",
            "columns": ["arm", "activation", "optimizer", "bias init", "learning rate", "fresh seeds",
                        "dead units (%, mean)", "dead units 95% CI (%)", "median training error (%)",
                        "seeds over the 10% limit", "diverged"],
            "rows": [[arm_name.get(s["arm"], "limit: " + s["arm"].replace("activation ", "")),
                      s["activation"], OPT_NAME[s["optimizer"]], f"{s['bias_init']:g}", f"{s['lr']:g}", s["seeds"],
                      _num(s["dead_mean"]),
                      f"{_num(s['dead_ci95_low'])} to {_num(s['dead_ci95_high'])}" if s["dead_ci95_low"] is not None
                      else "no interval", _num(s["median_train_error"]),
                      s["n_untrained"] + s["n_stuck"], s["n_diverged"]] for s in conf],
            "note": "Each arm's rate was chosen on the selection seeds (table below); these seeds took no part in "
                    "choosing it. Dead: zero slope on every training example. The dead share is over every seed that "
                    "did not diverge."})
    settings = m.get("settings", [])
    if settings:
        out.append({
            "title": "Every setting on the selection seeds",
            "columns": ["activation", "optimizer", "learning rate", "seeds", "median training error (%)",
                        "still trains", "dead units (%, mean)", "seeds: diverged / stuck at chance / over 10%",
                        "dead at init (%)"],
            "rows": [[s["activation"], OPT_NAME[s["optimizer"]], f"{s['lr']:g}", s["seeds"],
                      "diverged" if s["median_train_error"] is None else _num(s["median_train_error"]),
                      "yes" if s["trains"] else "no", _num(s["dead_mean"]),
                      f"{s['n_diverged']} / {s['n_stuck']} / {s['n_untrained']}", _num(s["dead_at_init"])]
                     for s in settings],
            "note": f"A setting still trains when its median final training error is at most {_pct(_limit(m))} (a "
                    "diverged seed counts as infinite error). The chosen rate is the still-training one with the "
                    "largest mean dead share."})
    return out
