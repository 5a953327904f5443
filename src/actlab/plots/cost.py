"""Figures of the ``cost`` claim, drawn from its ``Result`` only.

Per device measured (the CPU; with CUDA, the same figures again with ``_cuda`` in
the name, from ``metrics["cuda"]``):

* ``cost_ns_per_element.png``: nanoseconds per element against tensor size (log-log),
  forward and forward+backward, one line per activation (IQR as error bars), with the
  out-of-place copy baseline (black) and, forward, ``copy_`` into a preallocated
  buffer (black, dotted): the gap between the two is the allocation.
* ``cost_ratio.png``: at the largest size, each activation's cost as a multiple of
  relu's (forward and forward+backward), and its forward as a multiple of a copy,
  with DESIGN.md's 1.2x budget for the ReLU class. Error bars: the ratio's
  quartile range (first quartile over the reference's third, third over first).
* ``cost_train_step.png``: one MLP training step per activation, in milliseconds
  (IQR as error bars), with its multiple of relu's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..experiments import Result
from ..experiments.cost import EXP_BASED, PASSES, RELU_CLASS
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot", "PASS_LABELS"]

PASS_LABELS = {"forward": "forward", "forward_backward": "forward + backward"}
_COPY_COLOR = "black"


def _linestyle(name: str) -> str:
    """Solid: piecewise linear (ReLU class); dashed: exp-based; dash-dot: the rest."""
    if name in RELU_CLASS:
        return "-"
    return "--" if name in EXP_BASED else "-."


def _err(stats: Mapping[str, Any]) -> tuple[float, float]:
    """(below, above) the median: the distances to the first and third quartile."""
    m = float(stats["median"])
    return max(m - float(stats["q1"]), 0.0), max(float(stats["q3"]) - m, 0.0)


def _by_device(result: Result) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(file suffix, device words, metrics of that device) for each device measured."""
    out = [("", "CPU", result.metrics)]
    if "cuda" in result.metrics:
        out.append(("_cuda", "CUDA " + str(result.env.get("gpu", "")).strip(), result.metrics["cuda"]))
    return out


def _subtitle(result: Result, device: str) -> str:
    m, env = result.metrics, result.env
    threads = env.get("threads", "?")
    where = f"{device}, {threads} thread{'s' if threads != 1 else ''}" if device == "CPU" else device
    return f"{where}, {m['dtype']}, torch {env.get('torch', '?')}"


def _order(m: Mapping[str, Any], size: str) -> list[str]:
    """Activations from the dearest to the cheapest forward pass at ``size``."""
    ns = m["ns_per_element"]
    return sorted(ns, key=lambda a: -float(ns[a]["forward"][size]["median"]))


@styled
def _ns_figure(result: Result, device: str, m: Mapping[str, Any], path: Path) -> Path:
    sizes = [int(s) for s in result.metrics["sizes"]]
    keys = [str(s) for s in sizes]
    order = _order(m, keys[-1])
    fig, axes = new_figure(1, 2, width=13.0, height=5.6, sharey=True)
    for ax, p in zip(axes[0], PASSES, strict=True):
        for name in order:
            stats = [m["ns_per_element"][name][p][k] for k in keys]
            med = np.array([float(s["median"]) for s in stats])
            err = np.array([_err(s) for s in stats]).T
            ax.errorbar(sizes, med, yerr=err, color=color_for(name), ls=_linestyle(name), lw=1.4,
                        marker="o", ms=3.5, capsize=2, elinewidth=0.8, label=name)
        copy = [m["copy_ns_per_element"][p][k] for k in keys]
        ax.errorbar(sizes, [float(s["median"]) for s in copy], yerr=np.array([_err(s) for s in copy]).T,
                    color=_COPY_COLOR, lw=2.6, marker="s", ms=4, capsize=2, zorder=5,
                    label="copy (clone): the baseline")
        if p == "forward":
            into = [m["copy_into_ns_per_element"][k] for k in keys]
            ax.errorbar(sizes, [float(s["median"]) for s in into], yerr=np.array([_err(s) for s in into]).T,
                        color=_COPY_COLOR, lw=1.8, ls=":", marker="s", ms=3, capsize=2, zorder=5,
                        label="copy_ into a preallocated buffer")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tensor size (elements)")
        ax.set_title(PASS_LABELS[p])
    axes[0][0].set_ylabel("nanoseconds per element (median, IQR bars)")
    # One legend for both panels: activations dearest first, then the baselines and line styles.
    handles, labels = axes[0][0].get_legend_handles_labels()
    styles = [Line2D([], [], color="0.4", ls=ls, label=text) for ls, text in
              (("-", "style: piecewise linear"), ("--", "style: exp / tanh inside"), ("-.", "style: other"))]
    legend_outside(axes[0][1], handles=[*handles, *styles], title="dearest forward first", ncol=1)
    fig.suptitle(f"Cost per element of each activation vs a same-size copy ({_subtitle(result, device)})")
    return save_figure(fig, path)


def _bars(ax, names: Sequence[str], values: Sequence[float], errors: np.ndarray, colors, offset: float,
          height: float, label: str, hatch: str | None = None) -> None:
    y = np.arange(len(names)) + offset
    ax.barh(y, values, height=height, color=colors, edgecolor="0.2", lw=0.5, hatch=hatch, label=label,
            xerr=errors, error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"})
    for yi, v, above in zip(y, values, errors[1], strict=True):
        ax.text((v + above) * 1.05, yi, f"{v:.2f}x", va="center", ha="left", fontsize=7.5)  # past the error bar


def _ratio_errors(m: Mapping[str, Any], names: Sequence[str], p: str, size: str,
                  reference: Mapping[str, Any]) -> np.ndarray:
    """xerr (2, n): the ratio's quartile range, [q1/ref_q3, q3/ref_q1], around the ratio of medians."""
    out = []
    ref = reference[p][size]
    for a in names:
        s = m["ns_per_element"][a][p][size]
        ratio = float(s["median"]) / float(ref["median"])
        low, high = float(s["q1"]) / float(ref["q3"]), float(s["q3"]) / float(ref["q1"])
        out.append((max(ratio - low, 0.0), max(high - ratio, 0.0)))
    return np.array(out).T


@styled
def _ratio_figure(result: Result, device: str, m: Mapping[str, Any], path: Path) -> Path:
    size = str(result.metrics["largest_size"])
    names = _order(m, size)[::-1]  # barh draws bottom-up: dearest at the top
    colors = [color_for(a) for a in names]
    fig, axes = new_figure(1, 2, width=13.0, height=0.32 * len(names) + 2.2, sharey=True)
    ax_relu, ax_copy = axes[0]
    relu_ref = m["ns_per_element"]["relu"]
    for p, offset, hatch in (("forward", 0.2, None), ("forward_backward", -0.2, "//")):
        values = [float(m["ratio_vs_relu"][a][p][size]) for a in names]
        _bars(ax_relu, names, values, _ratio_errors(m, names, p, size, relu_ref), colors, offset, 0.38,
              PASS_LABELS[p], hatch)
    ax_relu.axvline(1.0, color="0.2", lw=1)
    ax_relu.set_xscale("log")
    ax_relu.set_xlabel("multiple of relu's time (log scale)")
    ax_relu.set_title(f"vs relu, at {int(size):,} elements")
    values = [float(m["ratio_vs_copy"][a]["forward"][size]) for a in names]
    _bars(ax_copy, names, values, _ratio_errors(m, names, "forward", size, m["copy_ns_per_element"]),
          colors, 0.0, 0.6, "forward")
    budget = m.get("relu_class_vs_copy", {}).get("budget", 1.2)
    ax_copy.axvline(1.0, color="0.2", lw=1)
    budget_line = ax_copy.axvline(float(budget), color="#d62728", lw=1.5, ls="--",
                                  label=f"DESIGN.md budget: ReLU class within {budget:g}x of a copy")
    ax_copy.set_xscale("log")
    ax_copy.set_xlabel("multiple of a same-size copy (clone), forward (log scale)")
    ax_copy.set_title("forward vs a copy (ReLU class in bold)")
    # Below both panels, where no bar can be hidden behind it.
    fig.legend(handles=[
        Patch(facecolor="0.75", edgecolor="0.2", label="forward (left: upper bar)"),
        Patch(facecolor="0.75", edgecolor="0.2", hatch="//", label="forward + backward (left: lower bar)"),
        budget_line,
        Line2D([], [], color="0.25", marker="|", ls="-", lw=0.8, label="quartile range of the ratio"),
    ], loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False)
    ax_relu.set_yticks(np.arange(len(names)), names)
    for tick in ax_relu.get_yticklabels():
        if tick.get_text() in RELU_CLASS:
            tick.set_fontweight("bold")
    for ax in (ax_relu, ax_copy):
        ax.set_ylim(-0.7, len(names) - 0.3)
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi * 1.6)  # room for the value labels
        ax.grid(axis="y", visible=False)
    fig.suptitle(f"Activation cost at the largest size, as multiples ({_subtitle(result, device)})")
    return save_figure(fig, path)


@styled
def _train_figure(result: Result, device: str, m: Mapping[str, Any], path: Path) -> Path:
    steps = m["train_step_ms"]
    names = sorted(steps, key=lambda a: float(steps[a]["median"]))
    values = [float(steps[a]["median"]) for a in names]
    errors = np.array([_err(steps[a]) for a in names]).T
    fig, ax = new_figure(width=8.0, height=0.3 * len(names) + 1.8)
    y = np.arange(len(names))
    ax.barh(y, values, color=[color_for(a) for a in names], edgecolor="0.2", lw=0.5,
            xerr=errors, error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"})
    hi = max(float(steps[a]["q3"]) for a in names)
    for yi, a, v in zip(y, names, values, strict=True):
        ax.text(hi * 1.03, yi, f"{v:.2f} ms  ({float(m['train_step_ratio_vs_relu'][a]):.2f}x relu)",
                va="center", ha="left", fontsize=8)
    ax.axvline(float(steps["relu"]["median"]), color=color_for("relu"), lw=1.2, ls="--", label="relu")
    ax.set_yticks(y, names)
    ax.set_xlim(0, hi * 1.45)
    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.grid(axis="y", visible=False)
    cfg = result.config
    widths = "-".join(str(w) for w in (784, *cfg.get("train_widths", ()), 10))
    ax.set_xlabel("milliseconds per training step (median, IQR bars)")
    ax.set_title(f"One SGD training step of a {widths} MLP, batch {cfg.get('train_batch', '?')}, per activation\n"
                 f"({_subtitle(result, device)})")
    return save_figure(fig, path)


def plot(result: Result, out_dir: str | Path) -> list[Path]:
    """The claim's PNGs in ``out_dir`` (see the module docstring); returns their paths."""
    out_dir = Path(out_dir)
    paths = []
    for suffix, device, m in _by_device(result):
        paths.append(_ns_figure(result, device, m, out_dir / f"cost_ns_per_element{suffix}.png"))
        paths.append(_ratio_figure(result, device, m, out_dir / f"cost_ratio{suffix}.png"))
        paths.append(_train_figure(result, device, m, out_dir / f"cost_train_step{suffix}.png"))
    return paths
