"""Figures of the ``zigzag`` claim, from its result (``data["linear"]``, ``metrics``).

* ``zigzag_contours.png``: 2-D least squares, all-positive vs centred inputs side by side:
  gradient-descent and per-example SGD paths on the loss contours, and the direction of
  every per-example SGD step drawn (the two orthants where all weights move together shaded).
* ``zigzag_loss.png``: relative excess loss vs passes over the data, one panel per n.
* ``zigzag_summary.png``: the spectrum of E[x x^T] and, against n, the condition number,
  gradient-descent steps to tol and the share of same-direction per-example steps.

Part (b), from ``data["factorial"]`` and the factorial metrics:

* ``zigzag_factorial_curves.png``: training error vs SGD steps for sigmoid,
  sigmoid_centered, tanh_shifted and tanh (mean over seeds, band from the lowest to the
  highest seed), each at its own best rate and all at one rate.
* ``zigzag_factorial.png``: steps_to_target as a 2x2 table (centred? x gain), the factorial
  effects on log steps with their 95% CIs, and steps to target against the learning rate.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator

from ..verdicts.result import Result
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot", "captions", "tables", "plot_contours", "plot_loss", "plot_summary", "plot_factorial_curves", "plot_factorial",
           "VARIANT_COLORS", "VARIANT_LABELS"]

VARIANT_COLORS = MappingProxyType({"positive": "#1f77b4", "centred": "#d62728"})
VARIANT_LABELS = MappingProxyType({"positive": "all-positive inputs", "centred": "centred inputs"})
_VARIANTS = ("positive", "centred")
_QUADRANT_SHADE = "#fdd49e"


def plot(result: Result, out_dir: Path) -> list[Path]:
    """Every ``zigzag`` figure that ``result`` has the data for; returns the PNG paths."""
    out_dir = Path(out_dir)
    paths: list[Path] = []
    linear = result.data.get("linear")
    if linear:
        if "2" in linear["per_dim"]:
            paths.append(plot_contours(result, out_dir / "zigzag_contours.png"))
        paths.append(plot_loss(result, out_dir / "zigzag_loss.png"))
        paths.append(plot_summary(result, out_dir / "zigzag_summary.png"))
    if result.data.get("factorial"):
        paths.append(plot_factorial_curves(result, out_dir / "zigzag_factorial_curves.png"))
        paths.append(plot_factorial(result, out_dir / "zigzag_factorial.png"))
    return paths


def _inputs_label(result: Result) -> str:
    kind = result.config.get("inputs", "sigmoid")
    return "x = sigmoid(z), z ~ N(0, I)" if kind == "sigmoid" else "x ~ U(0, 1]"


@styled
def plot_contours(result: Result, path: Path) -> Path:
    """2-D paths on the loss contours (top) and per-example step directions (bottom)."""
    per_dim: dict[str, Any] = result.data["linear"]["per_dim"]["2"]
    kappa = result.metrics["condition_number"]
    steps = result.metrics["steps_to_tol"]
    qf = result.metrics["quadrant_fraction"]
    fig, axes = new_figure(2, 2, width=11.0, height=10.0, layout="constrained",
                           gridspec_kw={"height_ratios": [1.3, 1.0]})

    # One window for both panels: w0, the optimum and both paths, with a margin.
    points = [np.zeros((1, 2))]
    for v in _VARIANTS:
        points += [np.asarray(per_dim[v]["gd_trajectory"]), np.asarray(per_dim[v]["sgd_trajectory"]),
                   np.asarray(per_dim[v]["w_opt"])[None, :]]
    allp = np.concatenate(points)
    lo, hi = allp.min(0), allp.max(0)
    centre, half = (lo + hi) / 2, (hi - lo).max() / 2 * 1.2 + 0.1
    w1 = np.linspace(centre[0] - half, centre[0] + half, 201)
    w2 = np.linspace(centre[1] - half, centre[1] + half, 201)
    g1, g2 = np.meshgrid(w1, w2)  # (201, 201) each

    for col, v in enumerate(_VARIANTS):
        ax = axes[0, col]
        d = per_dim[v]
        h, w_opt = np.asarray(d["hessian"]), np.asarray(d["w_opt"])
        e1, e2 = g1 - w_opt[0], g2 - w_opt[1]
        excess = 0.5 * (h[0, 0] * e1**2 + 2 * h[0, 1] * e1 * e2 + h[1, 1] * e2**2)
        e0 = 0.5 * float(w_opt @ h @ w_opt)  # L(w0) - L*, w0 = 0
        levels = e0 * np.logspace(-4, 1, 11)  # geometric: the loss spans decades
        cs = ax.contour(g1, g2, excess, levels=levels, colors="0.55", linewidths=0.7)
        ax.clabel(cs, cs.levels[::2], fmt=lambda x, e0=e0: f"{x / e0:.0e}", fontsize=7)
        sgd = np.asarray(d["sgd_trajectory"])
        gd = np.asarray(d["gd_trajectory"])
        ax.plot(sgd[:, 0], sgd[:, 1], "-", color=VARIANT_COLORS[v], lw=1.1, alpha=0.9,
                label=f"per-example SGD, first {len(sgd) - 1} steps")
        ax.plot(gd[:, 0], gd[:, 1], "o-", color="black", ms=2.5, lw=1.0,
                label=f"full-batch GD, {len(gd) - 1} steps (lr = {result.config['lr_scale']:g}/λmax)")
        ax.plot(0, 0, "s", color="0.2", ms=7, label="start w0 = 0")
        ax.plot(*w_opt, "*", color="gold", mec="black", ms=15, label="optimum w*")
        ax.set_xlim(w1[0], w1[-1])
        ax.set_ylim(w2[0], w2[-1])
        ax.set_aspect("equal")
        ax.set_xlabel("weight w1")
        ax.set_ylabel("weight w2")
        ax.set_title(f"{VARIANT_LABELS[v]}: cond E[xxᵀ] = {kappa[v]['2']:.3g}\n"
                     f"GD needs {steps[v]['2']} steps to relative loss {result.config['tol']:g}")
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9)

        # Directions of the per-example steps: unit vectors from the origin.
        ax = axes[1, col]
        moves = np.diff(sgd, axis=0)
        norms = np.linalg.norm(moves, axis=1)
        unit = moves[norms > 0] / norms[norms > 0, None]
        ax.fill_between([0, 1.2], 0, 1.2, color=_QUADRANT_SHADE, lw=0, label="all weights move the same way")
        ax.fill_between([-1.2, 0], -1.2, 0, color=_QUADRANT_SHADE, lw=0)
        segments = np.stack([np.zeros_like(unit), unit], axis=1)  # (steps, 2 ends, 2 coords)
        ax.add_collection(LineCollection(segments, colors=VARIANT_COLORS[v], linewidths=0.8, alpha=0.5))
        ax.plot([], [], color=VARIANT_COLORS[v], lw=1.5, label=f"the first {len(unit)} steps that moved")
        ax.axhline(0, color="0.3", lw=0.8)
        ax.axvline(0, color="0.3", lw=0.8)
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-1.2, 1.2)
        ax.set_aspect("equal")
        ax.set_xlabel("Δw1 / |Δw|")
        ax.set_ylabel("Δw2 / |Δw|")
        ax.set_title(f"per-example SGD step directions: {100 * qf[v]['2']:.3g}% in the shaded\n"
                     f"orthants (over all {result.metrics['quadrant_fraction_steps'][v]['2']} steps)")
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    fig.suptitle(f"Least squares in 2-D, {_inputs_label(result)} vs the same inputs centred; target weights "
                 "of opposite signs\ncontours: relative excess loss (L - L*) / (L(w0) - L*)", fontsize=12)
    return save_figure(fig, path)


@styled
def plot_loss(result: Result, path: Path) -> Path:
    """Relative excess loss vs passes over the data (GD step = 1 pass; SGD: steps / N)."""
    linear = result.data["linear"]
    keys = [str(n) for n in linear["dims"]]
    tol = result.config["tol"]
    kappa = result.metrics["condition_number"]
    ncols = 2 if len(keys) == 4 else min(len(keys), 3)
    nrows = -(-len(keys) // ncols)
    fig, axes = new_figure(nrows, ncols, width=4.2 * ncols + 2.6, height=3.6 * nrows + 0.4,
                           layout="constrained", sharey=True)
    axes = np.asarray(axes, dtype=object).reshape(nrows, ncols)  # one panel: new_figure gives a bare Axes
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for i, key in enumerate(keys):
        ax = axes.flat[i]
        for v in _VARIANTS:
            d = linear["per_dim"][key][v]
            n_samples = d["samples"]
            gd_x, gd_y = np.asarray(d["gd_curve"]["step"], float), np.asarray(d["gd_curve"]["value"], float)
            sgd_x = np.asarray(d["sgd_curve"]["step"], float) / n_samples
            sgd_y = np.asarray(d["sgd_curve"]["value"], float)
            # log axes: skip the start (x = 0) and exact zeros
            ok = (gd_x > 0) & (gd_y > 0)
            ax.plot(gd_x[ok], gd_y[ok], "-", color=VARIANT_COLORS[v], lw=1.8, label=f"GD, {VARIANT_LABELS[v]}")
            ok = (sgd_x > 0) & (sgd_y > 0)
            ax.plot(sgd_x[ok], sgd_y[ok], "--", color=VARIANT_COLORS[v], lw=1.2,
                    label=f"per-example SGD, {VARIANT_LABELS[v]}")
        ax.axhline(tol, color="0.3", lw=0.9, ls=":", label=f"tol = {tol:g}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(max(tol * 1e-3, 1e-30), 2.0)
        ax.minorticks_off()  # decades of minor ticks add nothing here and cost most of the drawing time
        ax.set_xlabel("passes over the data (GD steps; SGD steps / N)")
        if i % ncols == 0:
            ax.set_ylabel("(L - L*) / (L(w0) - L*)")
        ax.set_title(f"n = {key}: cond {kappa['positive'][key]:.3g} vs {kappa['centred'][key]:.3g}")
    legend_outside(axes[0, -1])
    fig.suptitle("Relative excess loss, all-positive vs centred inputs (log scales)", fontsize=12)
    return save_figure(fig, path)


def _zero_floor(values: list[float], counts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Values for a log axis: a measured 0 is drawn at 1/(2 * steps counted), flagged."""
    v = np.asarray(values, float)
    floor = 0.5 / np.maximum(np.asarray(counts, float), 1.0)
    zero = v <= 0
    return np.where(zero, floor, v), zero


@styled
def plot_summary(result: Result, path: Path) -> Path:
    """The spectrum for the largest n, and the three metrics against n."""
    linear, m = result.data["linear"], result.metrics
    dims = [int(n) for n in linear["dims"]]
    keys = [str(n) for n in dims]
    fig, axes = new_figure(2, 2, width=11.5, height=8.5, layout="constrained")
    (ax_eig, ax_k), (ax_s, ax_q) = axes

    top = keys[-1]
    for v, marker in (("centred", "o"), ("positive", "x")):  # crosses on top: the two bulks coincide
        eig = np.sort(np.asarray(linear["per_dim"][top][v]["eigenvalues"], float))[::-1]
        ax_eig.plot(np.arange(1, len(eig) + 1), eig, marker, ms=4, color=VARIANT_COLORS[v], label=VARIANT_LABELS[v])
    ax_eig.set_yscale("log")
    ax_eig.set_xlabel("eigenvalue rank (largest first)")
    ax_eig.set_ylabel("eigenvalue of E[xxᵀ]")
    ax_eig.set_title(f"spectrum of E[xxᵀ], n = {top}: the mean adds one large\neigenvalue; the other {int(top) - 1} coincide")
    ax_eig.legend(fontsize=8)

    for v in _VARIANTS:
        c = VARIANT_COLORS[v]
        ax_k.plot(dims, [m["condition_number"][v][k] for k in keys], "o-", color=c, label=f"measured, {VARIANT_LABELS[v]}")
        ax_k.plot(dims, [m["condition_number_population"][v][k] for k in keys], ":", color=c,
                  label="population: 1 + n μ²/σ²" if v == "positive" else "population: 1")
        measured = [m["steps_to_tol"][v][k] for k in keys]
        ok = [i for i, s in enumerate(measured) if s is not None]
        ax_s.plot([dims[i] for i in ok], [measured[i] for i in ok], "o-", color=c, label=f"measured, {VARIANT_LABELS[v]}")
        ax_s.plot(dims, [m["steps_bound"][v][k] for k in keys], ":", color=c, label="bound from the condition number")
        vals, zero = _zero_floor([m["quadrant_fraction"][v][k] for k in keys],
                                 [m["quadrant_fraction_steps"][v][k] for k in keys])
        dims_arr = np.asarray(dims)
        ax_q.plot(dims_arr[~zero], vals[~zero], "o-", color=c, label=f"measured, {VARIANT_LABELS[v]}")
        if zero.any():
            ax_q.plot(dims_arr[zero], vals[zero], "v", color=c, ms=8, mfc="white",
                      label="none of the steps (drawn at 1/(2·steps))")
    ax_q.plot(dims, [2.0 ** (1 - n) for n in dims], ":", color=VARIANT_COLORS["centred"],
              label="2^(1-n): independent symmetric inputs")

    for ax in (ax_k, ax_s, ax_q):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(dims)
        ax.set_xticklabels(keys)
        ax.minorticks_off()
        ax.set_xlabel("input dimension n")
        ax.legend(fontsize=8)
    ax_k.set_ylabel("λmax / λmin of E[xxᵀ]")
    ax_k.set_title("condition number")
    ax_s.set_ylabel(f"GD steps to relative loss {result.config['tol']:g}")
    ax_s.set_title(f"full-batch GD, lr = {result.config['lr_scale']:g}/λmax")
    ax_q.set_ylabel("share of steps")
    ax_q.set_title("per-example SGD steps moving all weights the same way")
    q_floor = min(0.5 / max(m["quadrant_fraction_steps"][v][k], 1) for v in _VARIANTS for k in keys)
    ax_q.set_ylim(min(q_floor, 2.0 ** (1 - dims[-1])) / 3 if dims[-1] <= 30 else q_floor / 3, 2.0)
    fig.suptitle(f"Why all-positive inputs are slow ({_inputs_label(result)}, N = {result.config['samples']})",
                 fontsize=12)
    return save_figure(fig, path)


# --- part (b): the factorial on MNIST-1D -----------------------------------------------------

_GAIN_LABEL = MappingProxyType({"sigmoid": "sigmoid's gain (slope 1/4 at 0)", "tanh": "tanh's gain (slope 1 at 0)"})
_EFFECT_LABELS = MappingProxyType({
    "centring": "centring\n(main effect)",
    "gain": "gain\n(main effect)",
    "interaction": "interaction",
    "centring_at_sigmoid_gain": "centring sigmoid\n(sigmoid_centered\nvs sigmoid)",
    "total": "tanh vs sigmoid\n(total)",
})


def _line_style(result: Result, variant: str) -> str:
    centred, _ = result.data["factorial"]["factors"][variant]
    return "-" if centred else "--"


def _curve_band(steps: list[list[int]], errors: list[list[Any]]) -> tuple[np.ndarray, ...]:
    """(steps, mean, low, high) over seeds; a seed that stopped early (diverged) is NaN after."""
    longest = max(steps, key=len)
    grid = np.full((len(errors), len(longest)), np.nan)
    for i, e in enumerate(errors):
        grid[i, : len(e)] = np.asarray(e, dtype=float)  # "nan" strings from result.json too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns, where every seed diverged
        return np.asarray(longest, float), np.nanmean(grid, 0), np.nanmin(grid, 0), np.nanmax(grid, 0)


def _steps_label(summary: dict[str, Any], diverged: list[int | None] | None = None) -> str:
    seeds = len(summary["per_seed"])
    text = (f"{summary['mean']:.0f} steps" if summary["mean"] is not None
            else f"target missed on {seeds - summary['reached']} of {seeds} seeds")
    div = [d for d in diverged or [] if d is not None]
    if div:
        text += f", diverged on {len(div)} (from step {min(div)})"
    return text


@styled
def plot_factorial_curves(result: Result, path: Path) -> Path:
    """Training error vs steps per variant: each at its own rate (left), all at one rate (right)."""
    fac, m = result.data["factorial"], result.metrics
    target = m["target_error"]
    fig, axes = new_figure(1, 2, width=13.0, height=4.8, layout="constrained", sharey=True)
    panels = (("tuned", "", "each variant at its best rate"),
              ("fixed", "_fixed_lr", f"all four at one rate, lr = {m['lr_fixed']:g}"))
    for ax, (key, suffix, title) in zip(axes.flat, panels):
        for v in fac["variants"]:
            c = fac[key][v]
            x, mean, lo, hi = _curve_band(c["steps"], c["train_error"])
            color = color_for(v)
            summary = m["steps_to_target" + suffix][v]
            ax.fill_between(x, lo, hi, color=color, alpha=0.18, lw=0)
            ax.plot(x, mean, _line_style(result, v), color=color, lw=1.8,
                    label=f"{v}, lr {c['lr']:g}: {_steps_label(summary, m['diverged' + suffix][v])}")
            if summary["mean"] is not None:
                ax.plot(summary["mean"], target, "o", color=color, mec="black", ms=7, zorder=5)
        ax.axhline(target, color="0.25", lw=1.0, ls=":")
        ax.text(0.99, target, f" target {100 * target:g}%", transform=ax.get_yaxis_transform(), ha="right",
                va="bottom", fontsize=8, color="0.25")
        ax.set_xlabel("SGD steps")
        ax.set_title(title)
        ax.set_xlim(0, result.config["train_steps"])
        ax.set_ylim(0, 1)
        ax.legend(loc="upper right", fontsize=8, framealpha=0.9,
                  title="mean steps to target (dot)", title_fontsize=8)
    axes.flat[0].set_ylabel("training error (all training examples)")
    seeds = len(fac["tuned"]["sigmoid"]["seeds"])
    fig.suptitle(f"MNIST-1D, MLP 40-{'-'.join([str(result.config['width'])] * result.config['depth'])}-10, "
                 f"plain SGD, batch {result.config['batch_size']}: mean of {seeds} seed{'s' if seeds > 1 else ''}, "
                 "band = lowest to highest seed\n"
                 "solid: zero-centred outputs, dashed: all-positive; blue: sigmoid's gain, red: tanh's gain",
                 fontsize=11)
    return save_figure(fig, path)


def _effect_rows(effects: dict[str, Any], names: tuple[str, ...]) -> list[tuple[float, float, float] | None]:
    rows = []
    for e in names:
        d = effects[e]
        if d["mean"] is None:
            rows.append(None)
        else:
            lo = d["ci95_low"] if d["ci95_low"] is not None else d["mean"]
            hi = d["ci95_high"] if d["ci95_high"] is not None else d["mean"]
            rows.append((d["mean"], lo, hi))
    return rows


@styled
def plot_factorial(result: Result, path: Path) -> Path:
    """The 2x2 table of steps to target, the factorial effects, and steps against the rate."""
    fac, m = result.data["factorial"], result.metrics
    fig, axes = new_figure(1, 3, width=17.0, height=5.6, layout="constrained",
                           gridspec_kw={"width_ratios": [1.05, 1.25, 1.0]})
    ax_t, ax_e, ax_lr = axes.flat

    # 2x2 table: rows gain, columns centring; colour = log mean steps.
    steps = m["steps_to_target"]
    cells = {(0 if g == "sigmoid" else 1, 1 if centred else 0): v for v, (centred, g) in fac["factors"].items()}
    means = np.full((2, 2), np.nan)
    for (r, c), v in cells.items():
        if steps[v]["mean"] is not None:
            means[r, c] = steps[v]["mean"]
    finite = means[np.isfinite(means)]
    vmin, vmax = (np.log(finite.min()), np.log(finite.max())) if finite.size else (0.0, 1.0)
    # light colours only (the text sits on them): the slowest cell is mid-orange
    norm = Normalize(vmin=vmin - 0.35 * (vmax - vmin) - 0.05, vmax=vmax + 0.6 * (vmax - vmin) + 0.05)
    ax_t.imshow(np.log(means), cmap="YlOrRd", norm=norm, aspect="auto")
    for (r, c), v in cells.items():
        s, acc = steps[v], m["test_accuracy"][v]
        lines = [v, _steps_label(s)]
        if s["ci95_low"] is not None:
            lines.append(f"95% CI {s['ci95_low']:.0f}-{s['ci95_high']:.0f}")
        lines.append(f"lr {m['lr_chosen'][v]:g}")
        if acc["mean"] is not None:
            lines.append(f"test accuracy {100 * acc['mean']:.1f}%")
        ax_t.text(c, r, "\n".join(lines), ha="center", va="center", fontsize=9,
                  fontweight="bold" if v in ("sigmoid", "tanh") else "normal")
    ax_t.set_xticks([0, 1], ["all-positive outputs", "zero-centred outputs"])
    ax_t.set_yticks([0, 1], [_GAIN_LABEL["sigmoid"].replace(" (", "\n("), _GAIN_LABEL["tanh"].replace(" (", "\n(")])
    ax_t.grid(False)
    ax_t.set_title(f"steps to {100 * m['target_error']:g}% training error,\nmean over seeds, each at its best rate")

    # Effects on ln steps, tuned and fixed rate side by side.
    names = ("centring", "gain", "interaction", "centring_at_sigmoid_gain", "total")
    y = np.arange(len(names))
    legend = []
    missing: list[str] = []
    for offset, key, color, label in ((-0.18, "factorial_effects", "#444444", "each variant at its best rate"),
                                      (0.18, "factorial_effects_fixed_lr", "#9ecae1", f"all four at lr {m['lr_fixed']:g}")):
        rows = _effect_rows(m[key], names)
        if not any(rows):  # all or none: a seed where some variant missed the target has no contrasts
            missing.append(label)  # said in a note, not as a legend entry for bars that are not drawn
            continue
        legend.append(Patch(color=color, label=label))
        for i, row in enumerate(rows):
            if row is None:
                continue
            mean, lo, hi = row
            ax_e.barh(y[i] + offset, mean, height=0.34, color=color)
            ax_e.errorbar(mean, y[i] + offset, xerr=[[mean - lo], [hi - mean]], fmt="none", ecolor="black", capsize=3, lw=1)
            ax_e.text(min(lo, mean, 0) - 0.03, y[i] + offset, f"x{np.exp(mean):.2f}", va="center", ha="right", fontsize=8)
    if legend:
        ax_e.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=8)
    if missing:
        ax_e.text(0.5, -0.32, "not drawn (a variant missed the target on some seed): " + "; ".join(missing),
                  transform=ax_e.transAxes, ha="center", va="top", fontsize=8, color="0.3")
    ax_e.axvline(0, color="0.2", lw=0.9)
    ax_e.set_yticks(y, [_EFFECT_LABELS[n] for n in names], fontsize=8)
    ax_e.invert_yaxis()
    lo_all = [r[1] for k in ("factorial_effects", "factorial_effects_fixed_lr") for r in _effect_rows(m[k], names) if r]
    ax_e.set_xlim(min(lo_all + [0.0]) - 0.45, max([r[2] for k in ("factorial_effects", "factorial_effects_fixed_lr")
                                                    for r in _effect_rows(m[k], names) if r] + [0.0]) + 0.15)
    ax_e.set_xlabel("change in ln(steps to target): < 0 is fewer steps\n(x: the factor on the steps; whiskers: 95% CI over seeds)")
    share = m["factorial_effects"]["centring_share"]
    ax_e.set_title("factorial effects on ln(steps)" + (
        f": centring explains {100 * share:.0f}%\nof tanh's advantage over sigmoid" if share is not None else ""))

    # Steps to target against the rate, mean over seeds where every seed reached it.
    budget = result.config["train_steps"]
    for j, v in enumerate(fac["variants"]):
        lrs, vals, missed = [], [], []
        for lr_key, d in m["lr_search"][v].items():
            reached = [s for s in d["per_seed"] if s is not None]
            if len(reached) == len(d["per_seed"]) and reached:
                lrs.append(float(lr_key))
                vals.append(float(np.mean(reached)))
            else:
                missed.append(float(lr_key))
        ax_lr.plot(lrs, vals, "o" + _line_style(result, v), color=color_for(v), lw=1.6, label=v)
        ax_lr.plot([m["lr_chosen"][v]], [steps[v]["mean"] or np.nan], "*", color=color_for(v), mec="black", ms=14)
        # above the budget line, one row per variant: this rate missed the target on some seed
        ax_lr.plot(missed, [budget * (1.08 + 0.07 * j)] * len(missed), "x", color=color_for(v), ms=8, mew=2)
    ax_lr.axhline(budget, color="0.4", lw=0.8, ls=":")
    ax_lr.text(0.5, budget / 1.03, f"train_steps = {budget} (x above: target missed on some seed)",
               transform=ax_lr.get_yaxis_transform(), ha="center", va="top", fontsize=7, color="0.3")
    ax_lr.set_xscale("log")
    ax_lr.set_yscale("log")
    grid = sorted({float(k) for v in fac["variants"] for k in m["lr_search"][v]})
    ax_lr.set_xticks(grid, [f"{lr:g}" for lr in grid])
    ax_lr.minorticks_off()
    ax_lr.set_xlim(grid[0] / 1.8, grid[-1] * 1.8)
    reached = [s for v in fac["variants"] for d in m["lr_search"][v].values() for s in d["per_seed"] if s]
    ax_lr.set_ylim(min(reached, default=budget) / 1.6, budget * 1.5)
    ax_lr.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax_lr.yaxis.set_major_formatter(FuncFormatter(lambda val, _pos: f"{val:g}"))
    ax_lr.set_xlabel("learning rate")
    ax_lr.set_ylabel("steps to target (mean over seeds)")
    ax_lr.set_title("the rate search: mean steps to target per rate\n(star: the rate chosen for each variant)")
    ax_lr.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    fig.suptitle("Centring vs gain: sigmoid, sigmoid - 1/2, tanh + 1, tanh on MNIST-1D with plain SGD", fontsize=12)
    return save_figure(fig, path)


def _x(v: Any, fmt: str = "{:.3g}") -> str:
    return "n/a" if v is None else fmt.format(float(v))


def _finite_sample(result: Result, k: str) -> str:
    """Why the measured condition number exceeds the population value: a finite sample's smallest eigenvalue."""
    samples, n = result.config.get("samples"), int(k)
    if not samples or n >= samples:
        return ""
    shrink = (1 - math.sqrt(n / samples)) ** 2
    expected = float(result.metrics["condition_number_population"]["positive"][k]) / shrink
    return (f"; measured on {samples} examples, whose smallest eigenvalue is about (1 - sqrt(n/{samples}))^2 = "
            f"{shrink:.2f} of the population's (Marchenko-Pastur), so about {expected:.3g} is expected")


def captions(result: Result) -> dict[str, str]:
    """Figure file name -> what to look at, from this run's numbers."""
    m = result.metrics
    out: dict[str, str] = {}
    linear = result.data.get("linear")
    if linear:
        keys = [str(n) for n in linear["dims"]]
        k = keys[-1]
        qf = m["quadrant_fraction"]
        if "2" in linear["per_dim"]:
            out["zigzag_contours.png"] = (
                f"One linear neuron, two weights. With all-positive inputs (left) every single-example step points "
                f"into the shaded quadrants, both weights moving the same way ({100 * float(qf['positive']['2']):.0f}% "
                f"of steps, 100% by algebra), so the path zig-zags; centred (right) {100 * float(qf['centred']['2']):.0f}%.")
        out["zigzag_loss.png"] = (
            f"Excess loss against passes over the data. Gradient descent needs {m['steps_to_tol']['positive'][k]} steps "
            f"with positive inputs against {m['steps_to_tol']['centred'][k]} centred at n = {k}: the input mean "
            f"makes the problem ill-conditioned.")
        out["zigzag_summary.png"] = (
            f"The condition number of E[xx^T] (how stretched the loss surface is) grows with n for positive inputs, "
            f"{_x(m['condition_number']['positive'][k])} at n = {k} (population value 1 + "
            f"{float(m['sgd_steps_ratio_population']) - 1:.1f} n = {_x(m['condition_number_population']['positive'][k])}"
            + _finite_sample(result, k) + "), and stays near 1 centred; the gradient-descent steps follow it.")
    if result.data.get("factorial"):
        steps = m["steps_to_target"]
        per = ", ".join(f"{v} {_x(steps[v]['mean'], '{:.0f}')}" for v in result.data["factorial"]["variants"])
        out["zigzag_factorial_curves.png"] = (
            f"Training error against SGD steps on MNIST-1D, each variant at its best learning rate (band: lowest to "
            f"highest seed). Steps until training error is at or below {100 * float(m['target_error']):g}% (arithmetic "
            f"mean over seeds): {per}. Dashed lines have "
            f"all-positive outputs.")
        cf = m.get("centring_steps_factor", {})
        share = m["factorial_effects"]["centring_share"]
        out["zigzag_factorial.png"] = (
            "Left: steps to target in the 2x2 design (centred or not x sigmoid's or tanh's slope). Middle: what each "
            f"factor does to the steps; centring multiplies them by {_x(cf.get('estimate'), '{:.2f}')} (95% CI "
            f"{_x(cf.get('ci95_low'), '{:.2f}')}-{_x(cf.get('ci95_high'), '{:.2f}')})"
            + (f", {100 * float(share):.0f}% of tanh's advantage over sigmoid on the log scale" if share is not None
               else "")
            + ". Right: the learning-rate search; stars mark each variant's chosen rate, which must not sit at "
              "an end of the grid.")
    return out


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables of part (a) per n and part (b) per variant and effect."""
    m = result.metrics
    out: list[dict[str, Any]] = []
    linear = result.data.get("linear")
    if linear:
        keys = [str(n) for n in linear["dims"]]
        out.append({
            "title": "Part (a), one linear neuron: positive vs centred inputs",
            "columns": ["n (inputs)", "condition number, positive", "condition number, centred",
                        "population 1 + n mu^2/s^2", "GD steps to tol, positive", "GD steps to tol, centred",
                        "steps ratio (x)", "same-direction SGD steps, positive (%)",
                        "same-direction SGD steps, centred (%)"],
            "rows": [[int(k), _x(m["condition_number"]["positive"][k]), _x(m["condition_number"]["centred"][k]),
                      _x(m["condition_number_population"]["positive"][k]), _x(m["steps_to_tol"]["positive"][k], "{:.0f}"),
                      _x(m["steps_to_tol"]["centred"][k], "{:.0f}"), _x(m["steps_ratio"][k], "{:.1f}"),
                      _x(100 * float(m["quadrant_fraction"]["positive"][k]), "{:.1f}"),
                      _x(100 * float(m["quadrant_fraction"]["centred"][k]), "{:.1f}")] for k in keys],
            "note": "An algebra check: with positive inputs every single-example step moves all weights one way (100% by "
                    "algebra), and the condition number is about 1 + n mu^2/s^2 in the population (a finite sample's is "
                    "larger: its smallest eigenvalue shrinks); GD uses lr = 1/lambda_max.",
        })
    fac = result.data.get("factorial")
    if fac:
        steps, acc = m["steps_to_target"], m["test_accuracy"]
        out.append({
            "title": (f"Part (b), MNIST-1D: steps until training error is at or below {100 * float(m['target_error']):g}%, "
                      "per variant"),
            "columns": ["activation", "zero-centred outputs", "slope (gain) of", "learning rate chosen",
                        "rates tried", "steps to target (arithmetic mean)", "95% CI (steps)", "seeds reaching target",
                        "test accuracy (%)"],
            "rows": [[v, "yes" if fac["factors"][v][0] else "no", fac["factors"][v][1], f"{float(m['lr_chosen'][v]):g}",
                      ", ".join(f"{float(x):g}" for x in m.get("lr_grid_used", {}).get(v, [])) or "n/a",
                      _x(steps[v]["mean"], "{:.0f}"),
                      f"{_x(steps[v]['ci95_low'], '{:.0f}')}-{_x(steps[v]['ci95_high'], '{:.0f}')}",
                      f"{steps[v]['reached']} of {len(steps[v]['per_seed'])}",
                      _x(100 * acc[v]["mean"] if acc[v]["mean"] is not None else None, "{:.1f}")]
                     for v in fac["variants"]],
            "note": "Each variant at its own best learning rate; a rate at the end of its grid makes the grid grow. "
                    "Arithmetic mean over seeds with its t interval; the per-activation table gives the geometric "
                    "mean of the same seeds (log-t interval), so its numbers differ slightly.",
        })
        eff = m["factorial_effects"]
        names = [e for e in ("centring", "gain", "interaction", "total", "centring_at_sigmoid_gain")
                 if eff[e]["mean"] is not None]
        if names:
            out.append({
                "title": "Part (b): what each factor does to the steps",
                "columns": ["effect", "steps factor (x)", "95% CI (x)"],
                "rows": [[_EFFECT_LABELS.get(e, e).replace("\n", " "), f"{math.exp(eff[e]['mean']):.2f}",
                          (f"{math.exp(eff[e]['ci95_low']):.2f}-{math.exp(eff[e]['ci95_high']):.2f}"
                           if eff[e]["ci95_low"] is not None else "n/a")] for e in names],
                "note": "Below 1: fewer steps. Contrasts of ln steps, paired per seed, then exp.",
            })
    return out
