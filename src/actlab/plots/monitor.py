"""Figures of a monitor log: per-layer statistics over training, from a saved JSONL.

Reads the file the monitor wrote (``Monitor(..., jsonl=path)``), never a live run::

    from actlab.plots.monitor import plot_monitor
    plot_monitor("runs/monitor.jsonl", "runs/figures")

writes ``monitor_activations.png`` (mean, std, |mean|/std, saturated and dead
fractions per activation site over the steps), ``monitor_parameters.png``
(gradient norm, update/weight ratio with CS231n's ~1e-3 band, row sign coherence and the
share of positive gradient entries per weight), ``monitor_histograms.png`` (each
site's histogram at the first, middle and last sampled step) and
``monitor_weight_histograms.png`` (each weight's and its gradient's histogram at the
last sampled step).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..probes.sinks import read_jsonl
from .style import legend_outside, new_figure, plt, save_figure, styled

__all__ = ["plot_monitor", "ACTIVATION_PANELS", "PARAMETER_PANELS"]

ACTIVATION_PANELS = (
    ("mean", "mean of the outputs", "linear"),
    ("std", "std of the outputs", "linear"),
    ("zero_centring", "|mean| / std (0: zero-centred)", "linear"),
    ("saturated_fraction", "saturated fraction (|f'| < 5% max)", "linear"),
    ("dead_fraction", "dead units over the window", "linear"),
)
PARAMETER_PANELS = (
    ("grad_norm", "gradient norm", "log"),
    ("update_ratio", "||dw|| / ||w|| per step", "log"),
    ("sign_coherence", "row sign coherence of the gradient", "linear"),
    ("positive_grad_fraction", "share of positive gradient entries", "linear"),
)


def _steps(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("type") == "step"]


def _names(steps: Sequence[dict[str, Any]], section: str) -> list[str]:
    seen: dict[str, None] = {}
    for r in steps:
        for name in r.get(section, {}):
            seen.setdefault(name, None)
    return list(seen)


def _series(steps: Sequence[dict[str, Any]], section: str, name: str, key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in steps:
        value = r.get(section, {}).get(name, {}).get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            xs.append(r["step"])
            ys.append(float(value))
    return xs, ys


def _color(i: int) -> Any:
    return plt.get_cmap("tab10")(i % 10)


@styled
def _activations(steps: Sequence[dict[str, Any]], out: Path) -> Path:
    sites = _names(steps, "activations")
    fig, axes = new_figure(2, 3, width=15, height=7.5)
    flat = [ax for row in axes for ax in row]
    for ax, (key, title, scale) in zip(flat, ACTIVATION_PANELS, strict=False):
        for i, site in enumerate(sites):
            xs, ys = _series(steps, "activations", site, key)
            finite = [y for y in ys if math.isfinite(y)]
            if finite:
                kind = steps[-1].get("activations", {}).get(site, {}).get("activation", "")
                ax.plot(xs, ys, color=_color(i), lw=1.6, marker="." if len(xs) < 30 else None,
                        label=f"{site} ({kind})" if kind else site)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_yscale(scale)
        if key in ("saturated_fraction", "dead_fraction"):
            ax.set_ylim(-0.02, 1.02)
    ax = flat[len(ACTIVATION_PANELS)]
    last = steps[-1]
    for i, site in enumerate(sites):
        _draw_histogram(ax, last.get("activations", {}).get(site, {}), _color(i), density=True)
    ax.set_title(f"histograms at step {last['step']} (density)")
    ax.set_xlabel("output value")
    handles, labels = flat[0].get_legend_handles_labels()
    if handles:
        legend_outside(flat[2], handles)
    fig.subplots_adjust(hspace=0.35)
    fig.suptitle("activation sites over training", fontsize=12)
    return save_figure(fig, out)


def _draw_histogram(ax: Any, stats: dict[str, Any], color: Any, density: bool, **kw: Any) -> None:
    counts, rng = stats.get("histogram"), stats.get("histogram_range")
    if not counts or not rng or not sum(counts):
        return
    lo, hi = rng
    width = (hi - lo) / len(counts)
    edges = [lo + i * width for i in range(len(counts) + 1)]
    total = sum(counts)
    heights = [c / (total * width) if density else c for c in counts]
    ax.stairs(heights, edges, color=color, lw=1.4, **kw)


@styled
def _parameters(steps: Sequence[dict[str, Any]], out: Path) -> Path:
    last = steps[-1].get("parameters", {})
    weights = [n for n in _names(steps, "parameters") if len(last.get(n, {}).get("shape", [])) >= 2]
    weights.sort(key=lambda n: (last.get(n, {}).get("depth") is None, last.get(n, {}).get("depth") or 0))
    fig, axes = new_figure(1, len(PARAMETER_PANELS), width=5 * len(PARAMETER_PANELS), height=4.2)
    for ax, (key, title, scale) in zip(axes[0], PARAMETER_PANELS, strict=True):
        for i, name in enumerate(weights):
            xs, ys = _series(steps, "parameters", name, key)
            pts = [(x, y) for x, y in zip(xs, ys, strict=True) if math.isfinite(y) and (scale != "log" or y > 0)]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], color=_color(i), lw=1.6,
                        marker="." if len(pts) < 30 else None, label=name)
        if key == "update_ratio":
            ax.axhspan(1e-4, 1e-2, color="0.5", alpha=0.12, lw=0, label="1e-4 .. 1e-2")
            ax.axhline(1e-3, color="0.3", lw=1, ls="--", label="~1e-3 (CS231n)")
        ax.set_title(title)
        ax.set_xlabel("step")
        if any(line.get_xydata().size for line in ax.get_lines()):
            ax.set_yscale(scale)
        if key in ("sign_coherence", "positive_grad_fraction"):
            ax.set_ylim(-0.02, 1.02)
    # one handle per layer, whatever panel shows it: with every update ratio 0 (nothing to
    # draw on a log scale) the legend still names the layers
    from matplotlib.lines import Line2D

    layers = [Line2D([], [], color=_color(i), lw=1.6, label=name) for i, name in enumerate(weights)]
    bands = [h for h in axes[0][1].get_legend_handles_labels()[0] if h.get_label() not in weights]
    legend_outside(axes[0][-1], layers + bands or None)
    fig.suptitle("weights over training (nearest the input first)", fontsize=12)
    return save_figure(fig, out)


@styled
def _histograms(steps: Sequence[dict[str, Any]], out: Path) -> Path:
    sites = _names(steps, "activations")
    picks = [steps[0], steps[len(steps) // 2], steps[-1]]
    picks = list({id(r): r for r in picks}.values())
    cols = min(3, max(1, len(sites)))
    rows = max(1, math.ceil(len(sites) / cols))
    fig, axes = new_figure(rows, cols, width=5 * cols, height=3.2 * rows, squeeze=False)  # one site: still a grid
    flat = [ax for row in axes for ax in row]
    for ax, site in zip(flat, sites, strict=False):
        for j, rec in enumerate(picks):
            stats = rec.get("activations", {}).get(site)
            if stats:
                _draw_histogram(ax, stats, plt.get_cmap("viridis")(j / max(1, len(picks) - 1)), density=True,
                                label=f"step {rec['step']}")
        ax.set_title(site)
        ax.set_xlabel("output value")
        ax.legend(frameon=False, fontsize=8)
    for ax in flat[len(sites):]:
        ax.axis("off")
    fig.subplots_adjust(hspace=0.45)
    fig.suptitle("activation histograms (first, middle, last sampled step)", fontsize=12, y=1.0 + 0.06 / rows)
    return save_figure(fig, out)


@styled
def _weight_histograms(steps: Sequence[dict[str, Any]], out: Path) -> Path | None:
    last = steps[-1].get("parameters", {})
    names = [n for n, p in last.items() if p.get("weight_histogram") or p.get("grad_histogram")]
    names = [n for n in names if len(last[n].get("shape", [])) >= 2] or names
    if not names:
        return None
    fig, axes = new_figure(len(names), 2, width=10, height=2.4 * len(names), squeeze=False)
    for row, name in zip(axes, names, strict=True):
        for ax, kind in zip(row, ("weight", "grad"), strict=True):
            counts, rng = last[name].get(f"{kind}_histogram"), last[name].get(f"{kind}_range")
            if counts and rng and sum(counts) and all(isinstance(v, float) and math.isfinite(v) for v in rng):
                lo, hi = rng
                width = (hi - lo) / len(counts) if hi > lo else 1.0
                ax.stairs(counts, [lo + i * width for i in range(len(counts) + 1)], color=_color(0 if kind == "weight" else 1),
                          fill=True, alpha=0.6)
                ax.axvline(0, color="0.3", lw=0.8)
                ax.locator_params(axis="x", nbins=5)
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
            share = last[name].get("positive_grad_fraction")
            extra = f", {100 * share:.0f}% > 0" if kind == "grad" and isinstance(share, float) and math.isfinite(share) else ""
            ax.set_title(f"{name}: {'weights' if kind == 'weight' else 'gradient'}{extra}", fontsize=9)
    fig.subplots_adjust(hspace=0.6)
    fig.suptitle(f"weight and gradient histograms at step {steps[-1].get('step')}", fontsize=12)
    return save_figure(fig, out)


def plot_monitor(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> list[Path]:
    """Draw the figures of the monitor log at ``path`` into ``out_dir``; returns their paths.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a monitor log, or has no sampled step yet.
    """
    steps = _steps(read_jsonl(path))
    if not steps:
        raise ValueError(f"{path} has no sampled step yet: train with the monitor attached and call monitor.step()")
    out = Path(out_dir)
    paths = []
    if _names(steps, "activations"):
        paths.append(_activations(steps, out / "monitor_activations.png"))
        paths.append(_histograms(steps, out / "monitor_histograms.png"))
    if _names(steps, "parameters"):
        paths.append(_parameters(steps, out / "monitor_parameters.png"))
        figure = _weight_histograms(steps, out / "monitor_weight_histograms.png")
        if figure is not None:
            paths.append(figure)
    return paths
