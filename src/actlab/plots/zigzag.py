"""Figures of the ``zigzag`` claim, from its result (``data["linear"]``, ``metrics``).

* ``zigzag_contours.png``: 2-D least squares, all-positive vs centred inputs side by side:
  gradient-descent and per-example SGD paths on the loss contours, and the direction of
  every per-example SGD step drawn (the two orthants where all weights move together shaded).
* ``zigzag_loss.png``: relative excess loss vs passes over the data, one panel per n.
* ``zigzag_summary.png``: the spectrum of E[x x^T] and, against n, the condition number,
  gradient-descent steps to tol and the share of same-direction per-example steps.
"""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection

from ..experiments import Result
from .style import legend_outside, new_figure, save_figure, styled

__all__ = ["plot", "plot_contours", "plot_loss", "plot_summary", "VARIANT_COLORS", "VARIANT_LABELS"]

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
