"""Figures, captions and tables of the `saturation` claim (Glorot & Bengio 2010, Fig. 2 style)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from ..verdicts.result import Result
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot", "captions", "tables"]

MEAN_STD = "saturation_mean_std.png"
NEAR_ZERO = "saturation_near_zero.png"
HISTOGRAMS = "saturation_histograms.png"


def _layer_colors(n: int) -> list:
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.9 * i / max(n - 1, 1)) for i in range(n)]


def _where(cfg: dict[str, Any]) -> str:
    return (f"MLP {cfg['depth']}x{cfg['width']} on {cfg['dataset']}, SGD batch {cfg['batch_size']}, lr {cfg['lr']:g}, "
            f"{cfg.get('seeds', 1)} seed(s)")


def _pct(v: float | None) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{100 * v:.0f}%"


def _span(values: list[float]) -> str:
    lo, hi = _pct(min(values)), _pct(max(values))
    return lo if lo == hi else f"{lo} to {hi}"


@styled
def plot(result: Result, out_dir: Path) -> list[Path]:
    """saturation_mean_std.png (per-layer mean +- std over training, one panel per activation),
    saturation_near_zero.png (the verdict's statistic: share of each sigmoid layer's outputs below 0.05,
    per seed) and saturation_histograms.png (final histograms, one small panel per activation and layer)."""
    m, cfg = result.metrics, result.config
    acts = [a for a in m["layer_mean"] if m["layer_mean"][a] is not None]
    steps = np.array(m["steps"], dtype=float)
    where = _where(cfg)
    paths = []
    if not acts:
        return paths

    # 1. mean +- std per layer over training (Glorot & Bengio Fig. 2)
    fig, axes = new_figure(1, len(acts), width=4.4 * len(acts) + 1.2, height=4.0, sharey=False, squeeze=False)
    for ax, act in zip(axes[0], acts):
        mean = np.array(m["layer_mean"][act], dtype=float)  # (probes, layers), mean over seeds
        std = np.array(m["layer_std"][act], dtype=float)
        colors = _layer_colors(mean.shape[1])
        for j in range(mean.shape[1]):
            ax.plot(steps, mean[:, j], color=colors[j], lw=2, label=f"layer {j + 1}" + (" (top)" if j == mean.shape[1] - 1 else ""))
            ax.fill_between(steps, mean[:, j] - std[:, j], mean[:, j] + std[:, j], color=colors[j], alpha=0.12, lw=0)
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, steps[-1])
        ax.set_xlabel("SGD step (linear to 10, then log)")
        if act != "sigmoid" and np.nanmax(np.abs(mean)) <= 0.02:  # every layer's mean on 0: say so, not hide it
            ax.annotate(f"all {mean.shape[1]} layer means within +-{max(np.nanmax(np.abs(mean)), 0.005):.2f} of 0 "
                        "(lines overlap);\nthe bands show the spread growing", xy=(0.02, 0.97), xycoords="axes fraction",
                        va="top", fontsize=8.5, color="0.25")
        err = m["summary"][act]["train_error"]
        ax.set_title(f"{act}: training error at the end {_pct(err)}", color=color_for(act))
    axes[0][0].set_ylabel("activation value: mean over 300 test images\n(band: +-1 std across units and images)")
    legend_outside(axes[0][-1], title="hidden layer")
    fig.suptitle(f"Mean activation of each hidden layer during training (Glorot & Bengio Fig. 2)\n{where}",
                 fontsize=10, y=1.04)
    paths.append(save_figure(fig, out_dir / MEAN_STD))

    # 2. the verdict's statistic: share of sigmoid outputs below 0.05, per layer and seed
    per_seed = result.data.get("near_low_per_seed", {}).get("sigmoid")
    if per_seed:
        arr = np.array(per_seed, dtype=float)  # (seeds, probes, layers)
        layers = arr.shape[2]
        colors = _layer_colors(layers)
        fig, ax = new_figure(1, 1, width=8.2, height=4.2)
        for j in range(layers):
            for k in range(arr.shape[0]):
                ax.plot(steps, 100 * arr[k, :, j], color=colors[j], lw=0.8, alpha=0.45)
            ax.plot(steps, 100 * arr[:, :, j].mean(axis=0), color=colors[j], lw=2.4,
                    label=f"layer {j + 1}" + (" (top)" if j == layers - 1 else ""))
        ax.axhline(50, color="0.3", ls="--", lw=1, label="pinned: over half below 0.05")
        flat = [j for j in range(layers - 1) if np.nanmax(arr[:, :, j]) <= 0.01]
        if len(flat) > 1:  # lines on top of one another at 0: say so rather than hide them
            names = f"layers {flat[0] + 1}-{flat[-1] + 1}" if flat == list(range(flat[0], flat[-1] + 1)) else \
                ", ".join(f"layer {j + 1}" for j in flat)
            ax.annotate(f"{names}: at most 1% below 0.05 in every seed (lines overlap at 0)", xy=(0.02, 0.06),
                        xycoords="axes fraction", fontsize=9, color=colors[flat[-1]])
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(0, steps[-1])
        ax.set_ylim(-3, 103)
        ax.set_xlabel("SGD step (linear to 10, then log)")
        ax.set_ylabel("sigmoid outputs below 0.05 (%)")
        ax.set_title(f"How much of each sigmoid layer sits near 0 (thin: each seed; thick: mean)\n{where}", fontsize=10)
        legend_outside(ax, title="hidden layer")
        paths.append(save_figure(fig, out_dir / NEAR_ZERO))

    # 3. final histograms: one small panel per activation (row) and layer (column), one y scale
    hists, ranges = result.data.get("final_histogram"), result.data.get("histogram_range")
    if hists:
        rows = [a for a in acts if hists.get(a)]
        layers = len(hists[rows[0]][0])
        fig, axes = new_figure(len(rows), layers, width=2.3 * layers + 0.6, height=1.9 * len(rows) + 0.8,
                               sharey=True, squeeze=False)
        for i, act in enumerate(rows):
            seeds = np.array(hists[act], dtype=float)  # (seeds, layers, bins), summed over seeds below
            for j in range(layers):
                ax = axes[i][j]
                counts = seeds[:, j, :].sum(axis=0)
                share = 100 * counts / max(counts.sum(), 1)
                lo, hi = ranges[act][j] if ranges and ranges[act][j] else (-1.0, 1.0)
                edges = np.linspace(lo, hi, len(counts) + 1)
                ax.bar(edges[:-1], np.maximum(share, 1e-3), width=np.diff(edges), align="edge",
                       color=color_for(act), alpha=0.85, lw=0)
                ax.set_yscale("log")
                ax.set_ylim(0.01, 100)
                ax.set_yticks([0.01, 0.1, 1, 10, 100], ["0.01", "0.1", "1", "10", "100"])
                ax.set_xlim(lo, hi)
                ax.grid(True, axis="y", alpha=0.3)
                if i == 0:
                    ax.set_title(f"layer {j + 1}" + (" (top)" if j == layers - 1 else ""))
                if j == 0:
                    ax.set_ylabel(f"{act}\n% of outputs", color=color_for(act))
                if i == len(rows) - 1:
                    ax.set_xlabel("activation value")
        fig.suptitle(f"Where the activations are at the end (step {int(steps[-1])}), all seeds pooled; "
                     f"log scale, same for every panel\n{where}", fontsize=10, y=1.02)
        paths.append(save_figure(fig, out_dir / HISTOGRAMS))
    return paths


def captions(result: Result) -> dict[str, str]:
    """Each figure's file name -> a caption that says what to look at, from this run's numbers."""
    m = result.metrics
    s = m.get("summary", {})
    out: dict[str, str] = {}
    sig = s.get("sigmoid")
    acts = [a for a in m.get("layer_mean", {}) if m["layer_mean"][a] is not None]
    if not acts:
        return out
    lm = m["layer_mean"]
    if sig and lm.get("sigmoid"):
        start, end = lm["sigmoid"][0], lm["sigmoid"][-1]
        others = [a for a in acts if a in ("tanh", "softsign")]  # zero-centred: their means stay near 0
        rest = [a for a in acts if a != "sigmoid" and a not in others]
        out[MEAN_STD] = (
            f"Left panel (sigmoid): the top layer's mean (lightest line) falls from {start[-1]:.2f} at step 0 to "
            f"{end[-1]:.3f} at step {m['steps'][-1]}, while layers 1-{len(end) - 1} stay at "
            f"{min(end[:-1]):.2f}-{max(end[:-1]):.2f}. "
            + (f"The panels of {', '.join(others)} (zero-centred) at the same settings: their layer means stay within "
               f"{max(abs(v) for a in others for row in lm[a] for v in row):.2f} of 0 while the bands (the spread) "
               f"widen, and their training error ends at {', '.join(_pct(s[a]['train_error']) for a in others)}. "
               if others else "")
            + " ".join(f"{a}'s panel: layer means end at {min(lm[a][-1]):.2f}-{max(lm[a][-1]):.2f} (its outputs are "
                       f"not zero-centred), training error {_pct(s[a]['train_error'])}."
                       for a in rest if a in s and lm.get(a)))
    else:
        out[MEAN_STD] = "Mean activation of each hidden layer over training; this run trained no sigmoid network."
    if sig and result.data.get("near_low_per_seed", {}).get("sigmoid"):
        top = sig["top_pinned_for"]
        out[NEAR_ZERO] = (
            "The verdict reads when this happens. The top layer's line jumps above the dashed 50% line "
            + (f"around step {sig['top_pinned_from_median']} (median over seeds) " if sig["top_pinned_from_median"]
               is not None else "in no seed ")
            + f"and stays there ({sig['top_pinned_seeds']} of {sig['seeds']} seeds pinned at the end; onset at step "
            f"{_onset(sig)}, 95% interval), pinned for {_pct(top['mean'])} of the run on average, while the lower layers stay "
            f"near 0% (at most {_pct(sig['lower_pinned_for_max'])} of the run pinned).")
    hists = result.data.get("final_histogram") or {}
    if hists:
        near = m.get("near_low", {}).get("sigmoid")
        out[HISTOGRAMS] = (
            "Each panel is one layer of one network at the end, on the same log scale. "
            + (f"In the top sigmoid layer {_pct(near[-1][-1])} of the outputs sit in the two bins below 0.05; the lower "
               f"sigmoid layers spread around 0.5. " if near else "")
            + " ".join(f"{a}: {_span(ends)} of each layer's outputs in the end bins (within 0.05 of -1 or 1)"
                       + (": it saturates too, at both ends, without being pinned at the lower one." if min(ends) >= 0.05
                          else ".")
                       for a, ends in ((a, [lo + hi for lo, hi in zip(m['near_low'][a][-1], m['near_high'][a][-1])])
                                       for a in hists if a in ("tanh", "softsign") and m.get("near_low", {}).get(a)
                                       and m.get("near_high", {}).get(a))))
    return out


def _onset(a: dict[str, Any]) -> str:
    o = {k: (None if v is None else float(v)) for k, v in (a.get("onset") or {}).items()}  # "inf" from JSON too
    if o.get("by_mean") is not None and not math.isfinite(o["by_mean"]) or (
            o.get("by_high") is not None and not math.isfinite(o["by_high"])):
        return "not pinned at the end in every seed"
    if o.get("by_high") is None or o.get("after_low") is None:
        return "n/a" if o.get("by_mean") is None else f"{o['by_mean']:.0f} (no interval)"
    return f"{max(0.0, o['after_low']):.0f} to {o['by_high']:.0f}"


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables of the metrics: per activation, per sigmoid seed, and beside Glorot & Bengio's Table 1."""
    m, cfg = result.metrics, result.config
    s = m.get("summary", {})
    rows = []
    for act, a in s.items():
        rows.append([act, f"{a['seeds'] - a['diverged']} of {a['seeds']}",
                     f"{a['top_pinned_seeds']} of {a['seeds'] - a['diverged']}", _onset(a),
                     _pct(a["lower_pinned_for_max"]),
                     "n/a" if a["top_mean_end"] is None else f"{a['top_mean_end']:.3f}",
                     _pct(a["train_error"]), a["stuck_at_chance"]])
    out = [{
        "title": "Top hidden layer pinned at the lower end of its range, per activation",
        "columns": ["activation", "seeds used", "seeds with the top layer pinned at the end",
                    "onset: pinned for good from step (95% interval over seeds, from the probe before each onset to the onset probe)",
                    "lower layers pinned, at most (% of the run)", "top layer mean at the end",
                    "training error at the end (%)", "runs stuck at chance level"],
        "rows": rows,
        "note": (f"Pinned: more than half of the layer's outputs on {cfg['probe_examples']} test images within 0.05 of "
                 "the lower end of the output range (sigmoid: below 0.05; tanh, softsign: below -0.95). The onset is "
                 "only known between two probes; the interval runs from the lower end of the earlier probes' t "
                 "interval to the upper end of the onset probes'. 'Early' means within the first "
                 f"{_early()} steps. Chance level: {_pct(m.get('chance_error'))} training error. Diverged runs are "
                 "left out."),
    }]
    sig = [r for r in m.get("runs", []) if r["activation"] == "sigmoid" and "onset_after" in r]
    if sig:
        out.append({
            "title": "Sigmoid, per seed: when the top layer was pinned for good",
            "columns": ["seed", "status", "onset after step", "onset by step", "a lower layer pinned at the end",
                        "training error (%)"],
            "rows": [[r["seed"], r["status"], r["onset_after"], "never" if r["onset_by"] is None else r["onset_by"],
                      "yes" if r.get("lower_pinned_end") else "no", _pct(r["train_error"])] for r in sig],
            "note": "The onset lies after the first step and at or before the second: the probe spacing is its "
                    "resolution."})
    from ..claims.saturation import PAPER_TEST_ERROR

    def err(a: dict[str, Any]) -> str:
        if a["test_error"] is None:
            return "n/a"
        lo, hi = (a.get("test_error_ci95") or [None, None])
        return f"{100 * a['test_error']:.1f}" + (f" ({100 * lo:.1f} to {100 * hi:.1f})" if lo is not None else "")

    paper_rows = [[act, f"{PAPER_TEST_ERROR[act]:.2f}", err(s[act])] for act in s if act in PAPER_TEST_ERROR]
    if paper_rows:
        out.append({
            "title": "Test error: Glorot & Bengio 2010, Table 1 (trained to convergence) and ours (under one epoch)",
            "columns": ["activation", "paper: test error after full training (%)",
                        f"ours after {cfg['steps']} steps: test error, whole test set (%, 95% CI over seeds)"],
            "rows": paper_rows,
            "note": (f"Not comparable: the paper trains for many epochs with the learning rate tuned per network; we "
                     f"train {cfg['steps']} steps of batch {cfg['batch_size']} at lr {cfg['lr']:g} for all, enough to "
                     "show the plateau but not to reach the paper's errors. Ours is measured on every test image."),
        })
    return out


def _early() -> int:
    from ..claims.saturation import EARLY_STEPS

    return EARLY_STEPS
