"""Figures, captions and tables of the `convergence` claim, from its result.

``plot(result, out_dir)`` writes curves.png, steps.png, ratio.png and lr_search.png;
``captions(result)`` says what to look at in each, from the run's own numbers;
``tables(result)`` gives the labelled tables the report shows.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..verdicts.result import Result
from .style import color_for, legend_outside, new_figure, plt, save_figure, styled

__all__ = ["plot", "captions", "tables"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X")



def _tick_label(label: str, width: int = 16) -> str:
    """A setup's name on lines short enough that six of them side by side do not run together
    ("MLP, 2 hidden layers" -> "MLP, 2 hidden\nlayers"); the channel counts and the init on lines of their own."""
    parts = label.replace(", N(", ",\nN(").replace(" (", "\n(", 1).split("\n")
    return "\n".join(line for part in parts for line in textwrap.wrap(part, width))

def _tk(t: float) -> str:
    return f"{float(t):g}"


def _pct(t: float) -> str:
    return f"{100 * float(t):g}%"


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan


def _setup_colour(i: int, n: int) -> tuple[float, ...]:
    # networks are not activations: a dark-to-light ramp, so depth order reads as colour order
    return plt.get_cmap("viridis")(0.05 + 0.75 * i / max(1, n - 1))


def _plain_log_axis(axis: Any, unit: str = "") -> None:
    """Log-scale ticks as plain numbers ("0.5x", "200"), not powers of ten."""
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}{unit}"))
    axis.set_minor_formatter(NullFormatter())


def _dataset_name(name: str) -> str:
    return {"cifar10": "CIFAR-10", "fashion-mnist": "Fashion-MNIST", "mnist": "MNIST", "mnist1d": "MNIST-1D"}.get(
        name, name)


def _where(result: Result) -> str:
    cfg = result.config
    data = _dataset_name(cfg["dataset"])
    return f"{data}, {cfg['seeds']} seeds, SGD momentum {cfg['momentum']:g}, batch {cfg['batch_size']}"


@styled
def plot(result: Result, out_dir: Path) -> list[Path]:
    """The claim's figures as PNGs in ``out_dir``."""
    return [_curves(result, out_dir), _steps(result, out_dir), _ratio(result, out_dir), _lr_search(result, out_dir)]


def _curves(result: Result, out_dir: Path) -> Path:
    m, curves = result.metrics, result.data["curves"]
    setups = list(m["setups"])
    n = len(setups)
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = new_figure(rows, cols, width=5.2 * cols + 1.8, height=3.4 * rows, squeeze=False)
    target = m["target"]
    for k, s in enumerate(setups):
        ax = axes[k // cols][k % cols]
        for a, c in curves[s].items():
            runs = [(np.array(st, float), 100 * np.array([_num(e) for e in er]))
                    for st, er in zip(c["steps"], c["train_error"])]
            for i, (st, er) in enumerate(runs):
                ax.plot(st, er, color=color_for(a), lw=1.2, alpha=0.55, label=a if i == 0 else None)
            lr = m["lr_chosen"][s][a]
            g = m["steps_to_target"][s][a][_tk(target)]["geo_mean"]
            if g is not None:
                ax.plot([g], [100 * target], "o", color=color_for(a), ms=8, mec="k", mew=0.8, zorder=5)
            ax.plot([], [], " ", label=f"  lr {lr:g}")
        ax.axhline(100 * target, color="0.25", ls="--", lw=1)
        ax.set_ylim(0, min(100, max(30.0, 3 * 100 * target)))  # the region around the target, not the first drop
        ax.text(1.0, 100 * target, f"target {_pct(target)} ", transform=ax.get_yaxis_transform(), ha="right",
                va="bottom", fontsize=8, color="0.25")
        ax.set_title(m["setups"][s])
        ax.set_xlabel("SGD step")
        ax.set_ylabel("training error (%)")
        legend_outside(ax, fontsize=8)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(f"Training error over steps, every seed (thin lines); dot: geometric mean of steps to "
                 f"{_pct(target)}\n{_where(result)}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir / "curves.png")


def _steps(result: Result, out_dir: Path) -> Path:
    m = result.metrics
    setups, target = list(m["setups"]), m["target"]
    acts = list(m["steps_to_target"][setups[0]])
    fig, ax = new_figure(1, 1, width=max(8.5, 1.55 * len(setups)), height=4.4)  # room for each setup's label
    width = 0.8 / max(1, len(acts))
    for j, a in enumerate(acts):
        for i, s in enumerate(setups):
            if a not in m["steps_to_target"][s]:  # the arms train relu and tanh only
                continue
            st = m["steps_to_target"][s][a][_tk(target)]
            x = i + (j - (len(acts) - 1) / 2) * width
            vals = [_num(v) for v in st["per_seed"]]
            jitter = np.linspace(-0.25, 0.25, len(vals)) * width
            ax.plot(x + jitter, vals, ".", color=color_for(a), ms=6, alpha=0.8)
            if st["geo_mean"] is not None:
                g = st["geo_mean"]
                lo, hi = st["ci95_low"], st["ci95_high"]
                yerr = [[g - lo], [hi - g]] if lo is not None and hi is not None else None
                ax.errorbar([x], [g], yerr=yerr, fmt="s", color=color_for(a), mec="k", ms=8, capsize=5, lw=1.5,
                            label=a if i == 0 else None)
            missing = st["trained"] - st["reached"]
            if missing:  # censored seeds: drawn at max_steps as open triangles (at least that many steps)
                cap = result.config["max_steps"]
                ax.plot([x] * missing, [cap] * missing, "^", mfc="none", color=color_for(a), ms=7)
                ax.annotate(f"{missing} cens.", (x, 1 - 0.045 * j), xycoords=("data", "axes fraction"),
                            ha="center", va="top", fontsize=8, color=color_for(a))
    ax.set_yscale("log")
    _plain_log_axis(ax.yaxis)
    ax.set_xticks(range(len(setups)), [_tick_label(m["setups"][s]) for s in setups], fontsize=9)
    ax.set_ylabel(f"SGD steps to {_pct(target)} training error (log)")
    ax.set_title(f"Steps to {_pct(target)} training error: median (censored log-normal) with its 95% interval, "
                 f"dots = seeds,\nopen triangles ('cens.') = seeds that never got there (at least max_steps)\n"
                 f"{_where(result)}",
                 fontsize=10)
    legend_outside(ax)
    return save_figure(fig, out_dir / "steps.png")


def _ratio(result: Result, out_dir: Path) -> Path:
    m = result.metrics
    ratios = m["ratio_vs_tanh"]
    setups = [s for s in m["setups"] if "relu" in ratios.get(s, {})]
    fig, ax = new_figure(1, 1, width=9.5, height=5.0)
    targets = [float(t) for t in m["targets"]]
    xs = np.arange(len(targets))
    cells = {(c["setup"], c["target"]): c for c in _cells(m)}
    offset = 0.08
    highs = [1.0]
    for i, s in enumerate(setups):
        colour, marker = _setup_colour(i, len(setups)), _MARKERS[i % len(_MARKERS)]
        x = xs + (i - (len(setups) - 1) / 2) * offset
        est, lo, hi = [], [], []
        for t in targets:
            c = cells.get((s, t), {})  # no estimate: too few seed pairs, or every pair a one-sided bound
            est.append(_num(c.get("estimate")))
            lo.append(_num(c.get("low")))
            hi.append(_num(c.get("high")))
        est, lo, hi = np.array(est), np.array(lo), np.array(hi)
        ok = ~np.isnan(lo)
        ax.plot(x, est, marker=marker, color=colour, lw=1.5, ms=7, label=m["setups"][s])
        ax.errorbar(x[ok], est[ok], yerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="none", ecolor=colour,
                    capsize=3, lw=1)
        highs += [v for v in hi[ok]] + [v for v in est if not np.isnan(v)]
        for k, t in enumerate(targets):
            side = cells.get((s, t), {}).get("side")
            if np.isnan(est[k]) and side == "act only":
                ax.annotate("relu only", (x[k], 1), xycoords=("data", "axes fraction"), ha="center", va="top",
                            fontsize=7, color=colour, rotation=90)
            elif np.isnan(est[k]) and side == "tanh only":
                ax.annotate("tanh only", (x[k], 0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                            fontsize=7, color=colour, rotation=90)
    ax.axhline(1, color="0.2", lw=1)
    ax.axhline(6, color=color_for("relu"), ls="--", lw=1.2)
    thr = result.config.get("threshold", 3.0)
    ax.axhline(thr, color="0.5", ls=":", lw=1)
    ax.set_yscale("log")
    lo_lim = min([0.25] + [v for v in highs if v > 0]) * 0.8
    ax.set_ylim(max(lo_lim, 0.05), max(8.0, 1.2 * max(highs)))
    _plain_log_axis(ax.yaxis, "x")
    ax.text(xs[-1] + 0.3, 6, "paper: 6x", va="bottom", fontsize=8, color=color_for("relu"))
    ax.text(xs[-1] + 0.3, thr, f"rule: {thr:g}x", va="bottom", fontsize=8, color="0.4")
    ax.text(xs[-1] + 0.3, 1, "same speed", va="bottom", fontsize=8, color="0.2")
    ax.set_xticks(xs, [_pct(t) for t in targets])
    ax.set_xlim(-0.4, len(targets) - 0.4 + 0.9)
    ax.set_xlabel("target training error (harder to the right)")
    ax.set_ylabel("tanh steps / relu steps (log)\n> 1: relu faster")
    ax.set_title("tanh steps / relu steps at each target (above 1: relu faster; below: tanh faster),\n"
                 f"paired by seed, censored seeds as bounds, 95% interval\n{_where(result)}", fontsize=10)
    legend_outside(ax)
    return save_figure(fig, out_dir / "ratio.png")


def _lr_search(result: Result, out_dir: Path) -> Path:
    m, target = result.metrics, result.metrics["target"]
    setups = list(m["setups"])
    n = len(setups)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = new_figure(rows, cols, width=3.6 * cols + 1.8, height=3.3 * rows + 0.4, squeeze=False, sharey=True)
    cap = result.config["max_steps"]
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    for k, s in enumerate(setups):
        ax = axes[k // cols][k % cols]
        for j, (a, by_lr) in enumerate(m["lr_search"][s].items()):
            lrs = sorted(by_lr, key=float)
            x = np.array([float(lr) for lr in lrs]) * (1 + 0.06 * (j - 0.5))  # small offset: no hidden markers
            y = np.array([_num(by_lr[lr]) if by_lr[lr] is not None else cap * 1.15 for lr in lrs])
            bad = m["lr_search_degenerate"][s].get(a, {})
            ax.plot(x, y, "-", color=color_for(a), lw=1.2, alpha=0.7, label=a if k == 0 else None)
            for xi, yi, lr in zip(x, y, lrs):
                style = "x" if lr in bad else ("^" if by_lr[lr] is None else "o")
                ax.plot([xi], [yi], style, color=color_for(a), ms=6)
            ch = m["lr_chosen"][s][a]
            cy = m["lr_search"][s][a].get(f"{ch:g}")
            cy = cap * 1.15 if cy is None else cy  # chosen by its lowest error: none of the rates got there
            if f"{ch:g}" in m["lr_search"][s][a]:
                ax.plot([ch * (1 + 0.06 * (j - 0.5))], [cy], "o", ms=13, mfc="none", mec=color_for(a), mew=2)
        ax.axhline(cap * 1.15, color="0.6", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        _plain_log_axis(ax.xaxis)
        _plain_log_axis(ax.yaxis)
        ax.set_title(m["setups"][s].replace(", N(", ",\nN("), fontsize=9)
        ax.set_xlabel("learning rate (log)")
        if k % cols == 0:
            ax.set_ylabel(f"steps to {_pct(target)},\nlr-search seed (log)")
    axes[0][0].plot([], [], "^", color="0.4", label="not reached (top line)")
    axes[0][0].plot([], [], "x", color="0.4", label="diverged / stuck")
    axes[0][0].plot([], [], "o", ms=11, mfc="none", mec="0.4", label="chosen")
    legend_outside(axes[0][cols - 1], handles=axes[0][0].get_legend_handles_labels()[0])
    fig.suptitle("Learning-rate grid per network and activation, on a seed that is not reported\n"
                 "(grown until the chosen rate is interior)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, out_dir / "lr_search.png")


# ----------------------------------------------------------------------- captions and tables


def _cells(m: dict[str, Any]) -> list[dict[str, Any]]:
    from ..claims.convergence.curve import ratio_cells

    return ratio_cells(m)


def captions(result: Result) -> dict[str, str]:
    """Figure file name -> a caption that says what to look at, from this run's numbers."""
    m, cfg = result.metrics, result.config
    head, target = m["headline_setup"], m["target"]
    t = _pct(target)
    label = m["setups"][head]
    st = m["steps_to_target"][head]
    r = m["ratio_vs_tanh"].get(head, {}).get("relu", {}).get(_tk(target), {})
    parts = []
    for a in st:
        g = st[a][_tk(target)]["geo_mean"]
        parts.append(f"{a} {g:.0f}" if g is not None else f"{a} not reached")
    ratio = (f"{r['estimate']:.2f}x" if r.get("estimate") is not None else "not measured")
    cells = _cells(m)
    relu_cells = [c for c in cells if c["side"] in ("act", "act only")]
    tanh_cells = [c for c in cells if c["side"] in ("tanh", "tanh only")]
    measured = [c for c in cells if c["estimate"] is not None]
    best = max(measured, key=lambda c: c["estimate"]) if measured else None
    lrs = "; ".join(f"{m['setups'][s]}: " + ", ".join(f"{a} {lr:g}" for a, lr in m["lr_chosen"][s].items())
                    for s in m["setups"])
    edges = [f"{m['setups'][s]} {a}" for s in m["setups"] for a, e in m["lr_at_grid_edge"][s].items() if e]
    unreached = _chosen_unreached(m)
    search = ((f"Still at the grid edge: {', '.join(edges)}. " if edges else "")
              + (f"No rate tried reached {t} for {', '.join(unreached)}: the circled rate there is the one with the "
                 "lowest final error, not one that reached the target." if unreached else "")
              + ("Every chosen rate is interior and reached the target: a faster rate outside the grid is unlikely."
                 if not edges and not unreached else ""))
    return {
        "curves.png": (f"Training error against SGD steps, one thin line per seed. In the {label} panel, compare "
                       f"where each activation's lines cross the dashed {t} line (the dots): geometric mean "
                       f"{', '.join(parts)} steps. The other panels are the MLPs of part (b)."),
        "steps.png": (f"Steps to {t} training error per network: squares are medians with 95% intervals from the "
                      "censored log-normal estimate (a seed that never got there counts as at least max_steps, an "
                      f"open triangle), dots are single seeds. For the {label}, {', '.join(parts)} steps: "
                      f"tanh/relu = {ratio}, against the paper's 6x."),
        "ratio.png": ("tanh's steps divided by relu's at each target error, per network, with 95% intervals; above "
                      "the solid line at 1x relu is faster, the dashed line is the paper's 6x and the dotted one "
                      f"the rule's {cfg.get('threshold', 3):g}x. relu is clearly faster in {len(relu_cells)} of "
                      f"{len(cells)} cells, tanh in {len(tanh_cells)}"
                      + (f"; the largest ratio is {best['estimate']:.2f}x ({m['setups'][best['setup']]}, "
                         f"{_pct(best['target'])})." if best else ".")),
        "lr_search.png": (f"Steps to {t} on the lr-search seed (seed {m.get('lr_search_seed', 'n/a')}, never "
                          f"reported) for every learning rate tried; the circled rate was chosen ({lrs}). "
                          + search.strip()),
    }


def _chosen_unreached(m: dict[str, Any]) -> list[str]:
    """'network activation' for each chosen rate that never reached the target on the lr-search seed."""
    out = []
    for s, per_act in m.get("lr_search", {}).items():
        for a, by_lr in per_act.items():
            chosen = m["lr_chosen"][s][a]
            if all(steps is None for lr, steps in by_lr.items() if float(lr) == chosen):
                out.append(f"{m['setups'][s]} {a}")
    return out


def _steps_text(v: float | None, max_steps: int | None) -> str:
    """A median in steps; one beyond the run length is an estimate past what was observed."""
    if v is None:
        return "not estimated"
    if max_steps and v > max_steps:
        return f"> {max_steps:,} (estimated {v:,.0f}, beyond the run)"
    return f"{v:,.0f}"


def _ci(lo: Any, hi: Any, fmt: str = "{:.0f}") -> str:
    if lo is None or hi is None:
        return "n/a (fewer than 2 seeds)"
    return f"{fmt.format(lo)}-{fmt.format(hi)}"


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables of the metrics, for the report."""
    m = result.metrics
    target, t = m["target"], _pct(m["target"])
    out = []
    rows = []
    for s, label in m["setups"].items():
        for a, by_t in m["steps_to_target"][s].items():
            st = by_t[_tk(target)]
            rows.append([label, a, f"{m['lr_chosen'][s][a]:g}",
                         _steps_text(st["geo_mean"], result.config.get("max_steps")),
                         _ci(st["ci95_low"], st["ci95_high"]), f"{st['reached']} / {st['trained']}"])
    out.append({"title": f"Steps to {t} training error", "columns": [
        "network", "activation", "learning rate (chosen)", "SGD steps (median)", "95% interval (steps)",
        "seeds that reached it / trained"], "rows": rows,
        "note": ("Median over seeds from the censored log-normal estimate: a seed that never reached the target "
                 f"counts as at least {result.config['max_steps']} steps (censored), not as missing; with nothing "
                 "censored it is the geometric mean with the t interval of log(steps). A median beyond the run "
                 "length is the fitted log-normal's, past what was observed.")})
    rows = []
    for c in _cells(m):
        text = (f"{c['estimate']:.2f}" if c["estimate"] is not None else
                "relu only (bounds)" if c["side"] == "act only" else
                "tanh only (bounds)" if c["side"] == "tanh only" else "not estimated")
        reader = (f"{1 / c['estimate']:.2f}" if c["estimate"] else "")
        rows.append([m["setups"][c["setup"]], f"{100 * c['target']:g}", text, reader,
                     _ci(c["low"], c["high"], "{:.2f}"), c["n"], c["censored"]])
    if rows:
        out.append({"title": "tanh/relu ratio of steps, by target error", "columns": [
            "network", "target training error (%)", "tanh steps / relu steps (x)", "relu steps / tanh steps (x)",
            "95% interval of tanh/relu (x)", "seed pairs", "of which bounds (censored)"], "rows": rows,
            "note": "Above 1 in the tanh/relu column: relu reaches the target in fewer steps (the paper: about 6x "
                    "at 25% on CIFAR-10). Paired by seed; a pair where one run never reached the target is a bound "
                    "(censored log-normal estimate); 'not estimated': fewer than 2 exact pairs."})
    rows = []
    for s, per_act in m["lr_search"].items():
        for a, by_lr in per_act.items():
            for lr, steps in sorted(by_lr.items(), key=lambda kv: float(kv[0])):
                bad = m["lr_search_degenerate"][s].get(a, {}).get(lr)
                note = bad or (("chosen" if steps is not None else "chosen (no rate reached the target: lowest "
                                "final error)") if float(lr) == m["lr_chosen"][s][a] else "")
                rows.append([m["setups"][s], a, lr, steps if steps is not None else "not reached", note])
    out.append({"title": f"Learning-rate search (seed {m.get('lr_search_seed', 'n/a')}, not reported; steps to {t})",
                "columns": [
        "network", "activation", "learning rate", f"SGD steps to {t}", "note"], "rows": rows,
        "note": "The chosen rate reaches the target first; a rate at the grid's edge makes the grid grow."})
    rows = []
    for s, per_act in m["test_error"].items():
        for a, te in per_act.items():
            rows.append([m["setups"][s], a, f"{100 * te['mean']:.1f}" if te["mean"] is not None else "n/a",
                         _ci(None if te["ci95_low"] is None else 100 * te["ci95_low"],
                             None if te["ci95_high"] is None else 100 * te["ci95_high"], "{:.1f}")])
    out.append({"title": "Test error when training stopped", "columns": [
        "network", "activation", "test error (%)", "95% interval (%)"], "rows": rows,
        "note": f"Runs stop at the lowest target ({_pct(min(m['targets']))} training error) or after "
                f"{result.config['max_steps']} steps, so this is the test error at that point, not after full training."})
    if m["degenerate"]:
        out.append({"title": "Runs excluded from every comparison", "columns": [
            "network", "activation", "seed", "learning rate", "why"],
            "rows": [[m["setups"][d["setup"]], d["activation"], d["seed"], f"{d['lr']:g}", d["why"]]
                     for d in m["degenerate"]],
            "note": "A run that diverged or never left chance level does not count as trained."})
    return out
