"""Figures of the `convergence` claim, from its result."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..experiments.result import Result
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot"]


def _nan(values) -> np.ndarray:
    return np.array([np.nan if (v is None or isinstance(v, str)) else v for v in values], dtype=float)


@styled
def plot(result: Result, out_dir: Path) -> list[Path]:
    """convergence_curves.png (training error over steps) and convergence_steps.png."""
    m, curves, cfg = result.metrics, result.data["curves"], result.config
    target = m["target"]
    where = f"{cfg['model'].upper()} on {cfg['dataset']}, {cfg['seeds']} seed(s), SGD momentum {cfg['momentum']}"
    paths = []

    fig, axes = new_figure(1, 1, width=8.5, height=4.6)
    ax = axes
    for act, c in curves.items():
        steps = np.array(c["steps"], dtype=float)
        errs = np.array([_nan(e)[: len(steps)] for e in c["train_error"] if len(e) >= len(steps)] or [_nan(c["train_error"][0])])
        mean = np.nanmean(errs, axis=0)
        label = f"{act} (lr {m['lr_chosen'][act]:g})"
        ax.plot(steps, 100 * mean, color=color_for(act), lw=2, label=label)
        if len(errs) > 1:
            ax.fill_between(steps, 100 * np.nanmin(errs, axis=0), 100 * np.nanmax(errs, axis=0), color=color_for(act), alpha=0.15, lw=0)
        s = m["steps_to_target"][act]["mean"]
        if s is not None:
            ax.plot([s], [100 * target], "o", color=color_for(act), ms=7, mec="white")
    ax.axhline(100 * target, color="0.3", ls="--", lw=1, label=f"target {100 * target:g}%")
    ax.set_xscale("symlog", linthresh=max(1, cfg["eval_every"]))
    ax.set_xlim(0, max(max(c["steps"]) for c in curves.values()))
    ax.set_xlabel("SGD step (symlog scale)")
    ax.set_ylabel("training error (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Training error over steps: mean of seeds, band = min..max\n{where}")
    legend_outside(ax)
    paths.append(save_figure(fig, out_dir / "convergence_curves.png"))

    acts = list(curves)
    fig, axes = new_figure(1, 2, width=11, height=4.2)
    ax, ax2 = axes[0]
    x = np.arange(len(acts))
    for i, act in enumerate(acts):
        st = m["steps_to_target"][act]
        per_seed = _nan(st["per_seed"])
        if st["mean"] is not None:
            lo = st["ci95_low"] if st["ci95_low"] is not None else st["mean"]
            hi = st["ci95_high"] if st["ci95_high"] is not None else st["mean"]
            ax.bar(i, st["mean"], color=color_for(act), alpha=0.8)
            ax.errorbar(i, st["mean"], yerr=[[st["mean"] - max(lo, 0)], [hi - st["mean"]]], color="k", capsize=4, lw=1)
        else:
            ax.text(i, 0, "not reached\non every seed", ha="center", va="bottom", fontsize=8, rotation=90)
        ax.plot(np.full(len(per_seed), i) + np.linspace(-0.15, 0.15, len(per_seed)), per_seed, "k.", ms=5)
    ax.set_xticks(x, acts, rotation=30, ha="right")
    ax.set_ylabel(f"steps to {100 * target:g}% training error")
    ax.set_title("Steps to target: mean, 95% CI, seeds (dots)")
    speed = [m["speedup_vs_tanh"].get(a) for a in acts]
    ax2.bar(x, [s if s is not None else 0 for s in speed], color=[color_for(a) for a in acts], alpha=0.8)
    ax2.axhline(1, color="0.3", lw=1)
    ax2.axhline(6, color="tab:red", ls="--", lw=1, label="the claim: relu ~6x tanh")
    ax2.set_xticks(x, acts, rotation=30, ha="right")
    ax2.set_ylabel("speed-up vs tanh (x)")
    ax2.set_title("tanh's steps / this activation's steps")
    ax2.legend(loc="upper right")
    fig.suptitle(where, fontsize=10)
    paths.append(save_figure(fig, out_dir / "convergence_steps.png"))
    return paths
