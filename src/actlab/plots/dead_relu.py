"""Figures, captions and tables of the `dead-relu` claim, from its result."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib
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


def _series(settings: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """(activation, bias_init) pairs in a stable order: relu first."""
    seen = dict.fromkeys((s["activation"], s["bias_init"]) for s in settings)
    return sorted(seen, key=lambda k: (k[0] != "relu", k[0], k[1]))


def _broken(s: dict[str, Any]) -> str | None:
    """How a setting is marked in the broken-runs rows: "diverged" (some seed's loss became NaN),
    "untrained" (no seed trained: stuck at chance or above the error limit), or None."""
    if s["n_diverged"]:
        return "diverged"
    if not s["n_trained"] and (s["n_stuck"] or s["n_untrained"]):
        return "untrained"
    return None


def _where(cfg: dict[str, Any]) -> str:
    return (f"MLP {cfg['depth']}x{cfg['width']} ({cfg['init']} init) on {cfg['dataset']}, {cfg['steps']} steps of "
            f"batch {cfg['batch_size']}, {cfg['seeds']} seeds per relu point" + (f" ({cfg['other_seeds']} for the others)" if cfg.get('other_seeds') else ""))


@styled
def plot(result: Result, out_dir: Path) -> list[Path]:
    """dead_relu_vs_lr.png (dead share and training error against learning rate, per optimizer, with
    diverged and collapsed runs marked in their own rows) and dead_relu_layers.png (relu, per layer)."""
    m, cfg = result.metrics, result.config
    settings = m["settings"]
    opts = [o for o in ("sgd", "adam") if any(s["optimizer"] == o for s in settings)]
    series = _series(settings)
    paths = []
    if not opts:
        return paths

    fig, axes = new_figure(2, len(opts), width=5.2 * len(opts) + 2.2, height=7.4, squeeze=False,
                           sharex="col", gridspec_kw={"height_ratios": [3, 2]})
    for c, opt in enumerate(opts):
        ax, ax_err = axes[0][c], axes[1][c]
        for k, (act, bias) in enumerate(series):
            pts = sorted((s for s in settings if s["optimizer"] == opt and s["activation"] == act
                          and s["bias_init"] == bias), key=lambda s: s["lr"])
            if not pts:
                continue
            shift = 10 ** (0.035 * (k - (len(series) - 1) / 2))  # side by side on the log axis: nothing hidden
            ls = "-" if bias == series[0][1] or act != "relu" else "--"
            style = {"color": color_for(act), "ls": ls, "lw": 1.8}
            xs = np.array([s["lr"] * shift for s in pts])
            ys = np.array([np.nan if s["dead_mean"] is None else 100 * s["dead_mean"] for s in pts])
            lo = np.array([np.nan if s["dead_ci95_low"] is None else 100 * s["dead_ci95_low"] for s in pts])
            hi = np.array([np.nan if s["dead_ci95_high"] is None else 100 * s["dead_ci95_high"] for s in pts])
            ax.plot(xs, ys, marker="o", ms=5, **style)
            ok = ~np.isnan(lo)
            ax.errorbar(xs[ok], ys[ok], yerr=[ys[ok] - lo[ok], hi[ok] - ys[ok]], fmt="none", ecolor=color_for(act),
                        elinewidth=1, capsize=2)
            errs = np.array([np.nan if s["train_error_mean"] is None else 100 * s["train_error_mean"] for s in pts])
            ax_err.plot(xs, errs, marker="o", ms=4, **style)
            # broken runs in their own row per series, above the plot: never under another series' marker
            row = 106 + 5 * k
            for s, x in zip(pts, xs):
                if _broken(s) == "diverged":
                    ax.plot([x], [row], "x", color=color_for(act), ms=8, mew=2, clip_on=False)
                elif _broken(s) == "untrained":
                    ax.plot([x], [row], "s", mfc="none", color=color_for(act), ms=7, mew=1.5, clip_on=False)
        ax.axhline(40, color="0.25", ls=":", lw=1.2)
        ax.axhline(103, color="0.6", lw=0.6)
        ax.set_xscale("log")
        ax.set_ylim(-3, 106 + 5 * len(series))
        ax.set_yticks([0, 20, 40, 60, 80, 100])
        ax.set_title(OPT_NAME[opt])
        ax.set_ylabel("dead units (% of hidden units)\nmean and 95% CI over trained seeds")
        ax.text(0.01, 103.8, "broken runs (one row per series):", transform=ax.get_yaxis_transform(), fontsize=8,
                color="0.35", va="bottom")
        limit = m.get("trained_error_limit")
        if limit:
            ax_err.axhline(100 * limit, color="0.25", ls=":", lw=1.2)
        ax_err.set_yscale("log")
        ax_err.set_ylim(1, 100)
        ax_err.set_yticks([1, 2, 5, 10, 20, 50, 100], ["1", "2", "5", "10", "20", "50", "100"])
        ax_err.set_xlabel("learning rate (log scale)")
        ax_err.set_ylabel("training error at the end (%)\nmean over runs that did not diverge")
    handles = [Line2D([], [], color=color_for(a), ls="--" if (a == "relu" and b != series[0][1]) else "-", marker="o",
                      label=f"{a}, bias init {b:g}") for a, b in series]
    handles += [Line2D([], [], color="0.25", ls=":", label='40% dead ("as much as 40%", CS231n)\n'
                                                          f"/ training-error limit {_pct(m.get('trained_error_limit'))}"),
                Line2D([], [], color="0.3", marker="x", ls="none", ms=8, mew=2, label="diverged (NaN loss) in 1+ seeds"),
                Line2D([], [], color="0.3", marker="s", mfc="none", ls="none", ms=7,
                       label="no seed trained: stuck at chance\nor above the error limit")]
    legend_outside(axes[0][-1], handles=handles)
    fig.suptitle(f"Dead relu units against learning rate, with training error beside them\n{_where(cfg)}",
                 fontsize=10, y=1.01)
    paths.append(save_figure(fig, out_dir / VS_LR))

    relu = [s for s in settings if s["activation"] == "relu" and s["dead_per_layer"]]
    if relu:
        biases = sorted({s["bias_init"] for s in relu})
        fig, axes = new_figure(len(biases), len(opts), width=4.6 * len(opts) + 1.6, height=3.1 * len(biases) + 0.6,
                               sharey=True, squeeze=False)
        cmap = matplotlib.colormaps["viridis"]
        for r, bias in enumerate(biases):
            for c, opt in enumerate(opts):
                ax = axes[r][c]
                pts = sorted((s for s in relu if s["optimizer"] == opt and s["bias_init"] == bias), key=lambda s: s["lr"])
                rates = sorted({s["lr"] for s in relu if s["optimizer"] == opt})  # one colour per rate in every panel
                layers = cfg["depth"]
                width = 0.8 / max(len(pts), 1)
                for i, s in enumerate(pts):
                    xs = np.arange(layers) + (i - (len(pts) - 1) / 2) * width
                    shade = cmap(0.9 * rates.index(s["lr"]) / max(len(rates) - 1, 1))
                    ax.bar(xs, 100 * np.array(s["dead_per_layer"]), width=width, color=shade,
                           label=f"lr {s['lr']:g} ({_pct(s['trained_error_mean'], 1)} error"
                                 + (f", {s['n_trained']}/{s['seeds']} seeds" if s["n_trained"] < s["seeds"] else "") + ")")
                ax.set_xticks(np.arange(layers), [f"hidden {k + 1}" for k in range(layers)])
                ax.axhline(40, color="0.25", ls=":", lw=1)
                ax.set_ylim(0, 135)  # room above 100% for the legend: it never covers a bar
                ax.set_yticks([0, 20, 40, 60, 80, 100])
                ax.set_title(f"relu, {OPT_NAME[opt]}, bias init {bias:g}", fontsize=10)
                if c == 0:
                    ax.set_ylabel("dead units (%)")
                if pts:
                    ax.legend(fontsize=7, loc="upper center", ncol=2, frameon=False)
                else:
                    ax.text(0.5, 0.5, "no rate trained", ha="center", transform=ax.transAxes)
        fig.suptitle(f"Dead relu units per hidden layer, trained runs only (mean over seeds)\n{_where(cfg)}",
                     fontsize=10, y=1.02)
        paths.append(save_figure(fig, out_dir / LAYERS))
    return paths


def captions(result: Result) -> dict[str, str]:
    """Each figure's file name -> a caption that says what to look at, from this run's numbers."""
    m = result.metrics
    settings = m.get("settings", [])
    out: dict[str, str] = {}
    if not settings:
        return out
    relu = [s for s in settings if s["activation"] == "relu" and s["dead_mean"] is not None]
    chosen = m.get("chosen")
    pick = next((s for s in relu if chosen and all(s[k] == chosen[k] for k in ("optimizer", "bias_init", "lr"))), None)
    parts = []
    if pick is not None:
        parts.append(f"Follow the green (relu) line up with the learning rate: at {OPT_NAME[pick['optimizer']]} lr "
                     f"{pick['lr']:g} it reaches {_pct(pick['dead_mean'])} dead units while training error (lower panel) "
                     f"is {_pct(pick['trained_error_mean'], 1)}.")
    broken = [s for s in settings if _broken(s) == "diverged"]
    if broken:
        names = dict.fromkeys(s["activation"] for s in broken)
        parts.append("Crosses in the rows above each panel mark rates where at least one seed diverged ("
                     + "; ".join(f"{a} at " + ", ".join(dict.fromkeys(f"{OPT_NAME[s['optimizer']]} {s['lr']:g}"
                                                                      for s in broken if s["activation"] == a))
                                 for a in names) + ").")
    stuck = [s for s in settings if _broken(s) == "untrained"]
    if stuck:
        parts.append("Open squares mark rates where no seed trained: stuck at chance level or above the error limit ("
                     + ", ".join(dict.fromkeys(f"{s['activation']} {OPT_NAME[s['optimizer']]} {s['lr']:g}"
                                               for s in stuck))
                     + "); their dead units do not count.")
    others = [s for s in settings if s["activation"] != "relu" and s["dead_mean"] is not None]
    if others:
        names = " and ".join(dict.fromkeys(s["activation"] for s in others))
        parts.append(f"{names} have at most {_pct(max(s['dead_mean'] for s in others))} dead units wherever they train "
                     "(their lines lie at 0, drawn side by side).")
    out[VS_LR] = " ".join(parts) or "Dead relu units against the learning rate."
    layered = [s for s in relu if s.get("dead_per_layer")]
    if layered:
        worst = max(layered, key=lambda s: max(s["dead_per_layer"]))
        j = max(range(len(worst["dead_per_layer"])), key=lambda i: worst["dead_per_layer"][i])
        out[LAYERS] = (f"Units die unevenly across layers: the most is hidden layer {j + 1} at "
                       f"{OPT_NAME[worst['optimizer']]} lr {worst['lr']:g}, bias init {worst['bias_init']:g} "
                       f"({_pct(worst['dead_per_layer'][j])} dead, {_pct(worst['dead_mean'])} over the whole network). "
                       "Compare the rows to see what starting the biases at 0.01 changes.")
    return out


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables: relu per setting (training error beside every dead share), the comparison
    activations, and relu per layer."""
    m = result.metrics
    settings = m.get("settings", [])
    columns = ["activation", "optimizer", "bias init", "learning rate", "seeds trained / run",
               "dead units (%, mean over trained seeds)", "dead units 95% CI (%)", "training error (%, trained seeds)",
               "other runs", "dead at init (%)"]

    def row(s: dict[str, Any]) -> list[Any]:
        rest = ", ".join(x for x in (f"{s['n_diverged']} diverged" if s["n_diverged"] else "",
                                     f"{s['n_stuck']} stuck at chance" if s["n_stuck"] else "",
                                     f"{s['n_untrained']} above the error limit" if s["n_untrained"] else "") if x)
        ci = (f"{100 * s['dead_ci95_low']:.1f} to {100 * s['dead_ci95_high']:.1f}"
              if s["dead_ci95_low"] is not None else "no interval (under 2 trained seeds)")
        return [s["activation"], OPT_NAME[s["optimizer"]], f"{s['bias_init']:g}", f"{s['lr']:g}",
                f"{s['n_trained']} / {s['seeds']}",
                "not measured (no run trained)" if s["dead_mean"] is None else f"{100 * s['dead_mean']:.1f}",
                ci, "n/a" if s["trained_error_mean"] is None else f"{100 * s['trained_error_mean']:.1f}",
                rest or "none", "n/a" if s["dead_at_init"] is None else f"{100 * s['dead_at_init']:.1f}"]

    limit = _pct(m.get("trained_error_limit"), 1)
    out = []
    relu = [s for s in settings if s["activation"] == "relu"]
    if relu:
        out.append({"title": "ReLU: dead units and training error per setting", "columns": columns,
                    "rows": [row(s) for s in relu],
                    "note": (f"A run counts as trained when it did not diverge, left chance level, and ended at or "
                             f"below {limit} training error; dead shares are over trained seeds only. Dead: zero "
                             "output on every training example.")})
    others = [s for s in settings if s["activation"] != "relu"]
    if others:
        out.append({"title": "leaky_relu and elu at the same optimizers and rates", "columns": columns,
                    "rows": [row(s) for s in others],
                    "note": "Leaky ReLU and ELU have a non-zero slope for negative inputs, so their units cannot die "
                            "(ELU's can only underflow to exactly 0 below about -104 in float32)."})
    layered = [s for s in relu if s.get("dead_per_layer")]
    if layered:
        depth = len(layered[0]["dead_per_layer"])
        out.append({"title": "ReLU: dead units per hidden layer (trained seeds)",
                    "columns": ["optimizer", "bias init", "learning rate"]
                    + [f"hidden layer {k + 1}: dead (%)" for k in range(depth)] + ["training error (%)"],
                    "rows": [[OPT_NAME[s["optimizer"]], f"{s['bias_init']:g}", f"{s['lr']:g}"]
                             + [f"{100 * v:.1f}" for v in s["dead_per_layer"]]
                             + [f"{100 * s['trained_error_mean']:.1f}"] for s in layered],
                    "note": "Mean over the seeds that trained at each setting."})
    return out
