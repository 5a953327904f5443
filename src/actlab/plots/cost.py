"""Figures of the ``cost`` claim, drawn from its ``Result`` only.

Per device measured (the CPU; with CUDA, the same figures again with ``_cuda`` in
the name, from ``metrics["cuda"]``):

* ``cost_ns_per_element.png``: small multiples, one ranked bar chart of nanoseconds per
  element per pass (rows) and size (columns), IQR bars, the out-of-place copy (black
  line) and, forward, ``copy_`` into a preallocated buffer (dotted): the gap between the
  two is the allocation.
* ``cost_ratio.png``: at the smallest size (in cache) and the largest (beyond every cache),
  each activation's cost as a multiple of relu's (forward and forward+backward: the
  geometric mean over independent processes of the per-process ratio, with its 95%
  interval over the processes: the same number the tables give), and at the largest size
  its forward as a multiple of a copy, with actlab's 1.2x budget.
* ``cost_train_step.png``: one MLP training step per activation, in milliseconds
  (IQR as error bars), with its multiple of relu's.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..claims.cost import EXP_BASED, PASSES, RELU_CLASS
from ..verdicts.result import Result
from .style import color_for, new_figure, save_figure, styled

__all__ = ["plot", "captions", "tables", "PASS_LABELS"]

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
    """Small multiples: one ranked bar chart per pass (rows) and size (columns), copy as a line."""
    sizes = [str(s) for s in result.metrics["sizes"]]
    ns = m["ns_per_element"]
    names_all = list(ns)
    fig, axes = new_figure(2, len(sizes), width=max(3.1 * len(sizes) + 1.0, 7.0),
                           height=2 * (0.2 * len(names_all) + 1.3))
    regime = result.metrics.get("regime", {})
    for col, size in enumerate(sizes):
        for row, p in enumerate(PASSES):
            ax = axes[row, col]
            names = sorted(names_all, key=lambda a: float(ns[a][p][size]["median"]))  # cheapest at the bottom
            values = [float(ns[a][p][size]["median"]) for a in names]
            errors = np.array([_err(ns[a][p][size]) for a in names]).T
            y = np.arange(len(names))
            ax.barh(y, values, color=[color_for(a) for a in names], edgecolor="0.2", lw=0.4, xerr=errors,
                    error_kw={"elinewidth": 0.6, "capsize": 1.5, "ecolor": "0.3"})
            ax.set_yticks(y, names, fontsize=8)
            for tick in ax.get_yticklabels():
                if tick.get_text() in RELU_CLASS:
                    tick.set_fontweight("bold")
            copy = float(m["copy_ns_per_element"][p][size]["median"])
            ax.axvline(copy, color=_COPY_COLOR, lw=1.2, label="copy (clone)")
            if p == "forward":
                ax.axvline(float(m["copy_into_ns_per_element"][size]["median"]), color=_COPY_COLOR, lw=1.0,
                           ls=":", label="copy_ into a buffer (no allocation)")
            ax.set_xlim(0, max(max(values), copy) * 1.15)
            ax.grid(axis="y", visible=False)
            ax.tick_params(axis="x", labelsize=8)
            where = {"cached_heap": "below", "fresh_pages": "above"}.get(regime.get(size, ""), "")
            ax.set_title(f"{PASS_LABELS[p]}, {int(size):,} elements"
                         + (f"\n({where} the 32 MB allocation threshold)" if where else ""), fontsize=9)
            if row == 1:
                ax.set_xlabel("ns per element (geometric mean over processes,\nbars: quartiles over processes)"
                              if "replicates" in m else "ns per element (median, IQR bars)", fontsize=8)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)
    fig.suptitle(f"Cost per element, ranked, at each size (ReLU class in bold; {_subtitle(result, device)})",
                 fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def _bars(ax, names: Sequence[str], values: Sequence[float], errors: np.ndarray, colors, offset: float,
          height: float, label: str, hatch: str | None = None) -> None:
    y = np.arange(len(names)) + offset
    ax.barh(y, values, height=height, color=colors, edgecolor="0.2", lw=0.5, hatch=hatch, label=label,
            xerr=errors, error_kw={"elinewidth": 0.8, "capsize": 2, "ecolor": "0.25"})
    for yi, v, above in zip(y, values, errors[1], strict=True):
        ax.text((v + above) * 1.05, yi, f"{v:.2f}x", va="center", ha="left", fontsize=10)  # past the error bar


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


def _shown_sizes(result: Result) -> list[str]:
    """The ends of the size sweep: the smallest (in cache) and the largest (beyond every cache)."""
    sizes = [str(n) for n in result.metrics["sizes"]]
    return sizes if len(sizes) < 2 else [sizes[0], sizes[-1]]


def _where(result: Result, size: str) -> str:
    """Where a size's input and output sit: "in L2", "beyond cache", with the allocation regime."""
    level = result.metrics.get("cache_level", {}).get(size)
    regime = {"cached_heap": "below", "fresh_pages": "above"}.get(result.metrics.get("regime", {}).get(size, ""), "")
    parts = ([f"in {level}" if level and level.startswith("L") else level] if level and level != "unknown" else [])
    parts += [f"{regime} the 32 MB allocation threshold (from there every new tensor gets fresh memory from the "
              "operating system)"] if regime else []
    return "; ".join(parts)


def _ratio_value(m: Mapping[str, Any], a: str, p: str, size: str) -> float:
    """The per-round estimate (what the verdict reads) where the result has it, else the ratio of medians."""
    d = m.get("ratio_vs_relu_ci", {}).get(a, {}).get(p, {}).get(size)
    if d and d.get("estimate") is not None:
        return float(d["estimate"])
    return float(m["ratio_vs_relu"][a][p][size])


def _ci_errors(m: Mapping[str, Any], names: Sequence[str], p: str, size: str) -> np.ndarray | None:
    """xerr (2, n) from the per-round log-t intervals, when the result has them."""
    ci = m.get("ratio_vs_relu_ci")
    if not ci:
        return None
    out = []
    for a in names:
        d = ci[a][p][size]
        est = _ratio_value(m, a, p, size)
        lo = float(d["ci95_low"]) if d["ci95_low"] is not None else est
        hi = float(d["ci95_high"]) if d["ci95_high"] is not None else est
        out.append((max(est - lo, 0.0), max(hi - est, 0.0)))
    return np.array(out).T


@styled
def _ratio_figure(result: Result, device: str, m: Mapping[str, Any], path: Path) -> Path:
    shown = _shown_sizes(result)
    largest = str(result.metrics["largest_size"])
    names = _order(m, shown[0])[::-1]  # barh draws bottom-up: dearest at the top
    colors = [color_for(a) for a in names]
    fig, axes = new_figure(1, len(shown) + 1, width=5.0 * (len(shown) + 1), height=0.55 * len(names) + 2.4,
                           sharey=True)
    relu_ref = m["ns_per_element"]["relu"]
    threshold = 1 + float(result.config.get("margin", 0.1))
    for k, size in enumerate(shown):
        ax = axes[0, k]
        for p, offset, hatch in (("forward", 0.2, None), ("forward_backward", -0.2, "//")):
            values = [_ratio_value(m, a, p, size) for a in names]
            err = _ci_errors(m, names, p, size)
            _bars(ax, names, values, err if err is not None else _ratio_errors(m, names, p, size, relu_ref),
                  colors, offset, 0.38, PASS_LABELS[p], hatch)
        ax.axvline(1.0, color="0.2", lw=1)
        ax.axvline(threshold, color="0.45", lw=1, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel("multiple of relu's time (log scale)")
        where = _where(result, size)
        # the "where" note runs to ~150 characters: wrapped to the panel, or it spills over its neighbours
        note = textwrap.wrap(f"({where})", 60) if where else []
        ax.set_title(f"vs relu, {int(size):,} elements", fontsize=11, pad=6 + 12 * len(note))
        if note:
            ax.text(0.5, 1.01, "\n".join(note), transform=ax.transAxes, ha="center", va="bottom", fontsize=8.5,
                    color="0.3")
    ax_copy = axes[0, -1]
    values = [float(m["ratio_vs_copy"][a]["forward"][largest]) for a in names]
    _bars(ax_copy, names, values, _ratio_errors(m, names, "forward", largest, m["copy_ns_per_element"]),
          colors, 0.0, 0.6, "forward")
    budget = m.get("relu_class_vs_copy", {}).get("budget", 1.2)
    ax_copy.axvline(1.0, color="0.2", lw=1)
    budget_line = ax_copy.axvline(float(budget), color="#d62728", lw=1.5, ls="--",
                                  label=f"actlab's budget: relu-like activations (one compare per number)\n"
                                        f"should take at most {budget:g}x the time of copying the same bytes")
    ax_copy.set_xscale("log")
    ax_copy.set_xlabel("multiple of a same-size copy (clone), forward (log scale)")
    ax_copy.set_title(f"forward vs a copy, {int(largest):,} elements", fontsize=11)
    fig.legend(handles=[
        Patch(facecolor="0.75", edgecolor="0.2", label="forward (upper bar)"),
        Patch(facecolor="0.75", edgecolor="0.2", hatch="//", label="forward + backward (lower bar)"),
        Line2D([], [], color="0.45", ls=":", label=f"verdict threshold {threshold:g}x"),
        budget_line,
        Line2D([], [], color="0.25", marker="|", ls="-", lw=0.8,
               label=(("vs relu: 95% CI over independent processes; vs copy: quartile range over processes"
                       if "replicates" in m else "vs relu: 95% CI over interleaved rounds; vs copy: quartile range")
                      if m.get("ratio_vs_relu_ci") else "quartile range of the ratio")),
    ], loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False, fontsize=10)
    axes[0, 0].set_yticks(np.arange(len(names)), names, fontsize=11)
    for tick in axes[0, 0].get_yticklabels():
        if tick.get_text() in RELU_CLASS:
            tick.set_fontweight("bold")
    for ax in axes[0]:
        ax.set_ylim(-0.7, len(names) - 0.3)
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi * 1.6)  # room for the value labels
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    fig.suptitle(f"Activation cost as multiples of relu and of a copy ({_subtitle(result, device)})", y=1.02)
    fig.tight_layout()
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
    ax.set_xlabel("milliseconds per training step (geometric mean over processes, bars: quartiles over processes)"
                  if "replicates" in m else "milliseconds per training step (median, IQR bars)")
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


def _ci_text(d: Mapping[str, Any] | None) -> str:
    if not d or d.get("ci95_low") is None:
        return "n/a"
    return f"{float(d['ci95_low']):.2f}-{float(d['ci95_high']):.2f}"


def captions(result: Result) -> dict[str, str]:
    """Figure file name -> what to look at, from this run's numbers (timings are of this machine)."""
    out: dict[str, str] = {}
    shown = _shown_sizes(result)
    for suffix, device, m in _by_device(result):
        ratio = m["ratio_vs_relu"]
        exp_act = next((a for a in EXP_BASED if a in ratio), None)
        first = shown[0]
        cheap = sorted(ratio, key=lambda a: float(ratio[a]["forward_backward"][first]))
        out[f"cost_ns_per_element{suffix}.png"] = (
            f"Nanoseconds per element on this machine's {device}, ranked in each panel (cheapest at the bottom). "
            f"At {int(first):,} elements forward+backward, {cheap[0]} is cheapest and {cheap[-1]} dearest; the black "
            f"line is a plain copy of the same bytes. Above 32 MB (the size from which the C library hands every new tensor "
            f"fresh memory from the operating system) the bars bunch together: fetching fresh memory costs more than "
            f"any arithmetic.")
        if exp_act is not None:
            parts = ", ".join(f"forward {_ratio_value(m, exp_act, 'forward', sz):.2f}x and forward+backward "
                              f"{_ratio_value(m, exp_act, 'forward_backward', sz):.2f}x at {int(sz):,} elements"
                              for sz in shown)
            out[f"cost_ratio{suffix}.png"] = (
                f"Each activation's time as a multiple of relu's, at the two ends of the size sweep (in cache and "
                f"beyond every cache). {exp_act}: {parts}. The dotted line is the verdict's "
                f"{1 + float(result.config.get('margin', 0.1)):g}x threshold; error bars are 95% intervals over "
                f"independent processes, and the bar labels are the same numbers as the tables. Right: the "
                f"forward pass against a plain copy.")
        else:
            out[f"cost_ratio{suffix}.png"] = "Each activation's time as a multiple of relu's and of a plain copy."
        steps = m["train_step_ratio_vs_relu"]
        dear = max(steps, key=lambda a: float(steps[a]))
        out[f"cost_train_step{suffix}.png"] = (
            f"A whole training step, where matrix products dominate: the dearest activation, {dear}, costs only "
            f"{float(steps[dear]):.2f}x relu's step. This is the difference a practitioner sees.")
    return out


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables: the forward sweep (the verdict), the ratios at each size, and the training step."""
    m = result.metrics
    sizes = [str(n) for n in m["sizes"]]
    names = _order(m, sizes[0])
    ci = m.get("ratio_vs_relu_ci", {})
    out: list[dict[str, Any]] = []
    sweep = m.get("sweep_ratio_ci")
    unit = "processes" if "replicates" in m else "rounds"
    if sweep:
        out.append({
            "title": "The verdict's number: time as a multiple of relu's over the size sweep",
            "columns": ["activation", "forward (x relu)", "forward 95% CI", "forward+backward (x relu)",
                        "forward+backward 95% CI"],
            "rows": [[a, f"{float(sweep[a]['forward']['estimate']):.2f}", _ci_text(sweep[a]["forward"]),
                      f"{float(sweep[a]['forward_backward']['estimate']):.2f}", _ci_text(sweep[a]["forward_backward"])]
                     for a in sorted(sweep, key=lambda a: -float(sweep[a]["forward"]["estimate"]))],
            "note": (f"Per process, the geometric mean over the sizes {', '.join(f'{int(n):,}' for n in sizes)} "
                     f"elements of the activation's median time over relu's; the estimate is the geometric mean "
                     f"over {m.get('replicates', '?')} independent processes and the interval is over them "
                     f"(log-t). Timings are of this machine (CPU capability {m.get('cpu_capability', '?')})."),
        })
    cols = ["activation"]
    for sz in sizes:
        cols += [f"forward at {int(sz):,}", f"fwd+bwd at {int(sz):,}"]
    rows = []
    for a in names:
        row: list[Any] = [a]
        for sz in sizes:
            for p in PASSES:
                d = ci.get(a, {}).get(p, {}).get(sz)
                row.append(f"{_ratio_value(m, a, p, sz):.2f} ({_ci_text(d)})")
        rows.append(row)
    levels = ", ".join(f"{int(sz):,}: {_where(result, sz) or '?'}" for sz in sizes)
    out.append({"title": "Time as a multiple of relu's at each size (95% CI in brackets)", "columns": cols,
                "rows": rows,
                "note": (f"The same estimator as the figure: the geometric mean over {unit} of the "
                         f"per-{_singular(unit)} "
                         f"ratio, with its 95% interval over {unit}. Where each size sits: {levels}.")})
    tci = m.get("train_step_ratio_ci", {})
    out.append(
        {"title": "One training step per activation", "columns": ["activation", "ms per step", "x relu",
                                                                   "95% CI (x relu)"],
         "rows": [[a, f"{float(m['train_step_ms'][a]['median']):.3f}", f"{float(m['train_step_ratio_vs_relu'][a]):.2f}",
                   _ci_text(tci.get(a))] for a in sorted(m["train_step_ms"],
                                                         key=lambda a: float(m["train_step_ms"][a]["median"]))],
         "note": (f"An MLP 784-256-256-10 SGD step on a synthetic batch: the practical cost of the activation choice "
                  f"(a limit beside the headline). ms per step: geometric mean over {unit}.")})
    return out


def _singular(unit: str) -> str:
    """'process' for 'processes', 'seed' for 'seeds', 'trial' for 'trials'."""
    return unit[:-2] if unit.endswith("sses") else unit[:-1] if unit.endswith("s") else unit
