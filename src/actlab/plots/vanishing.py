"""Figures of the ``vanishing`` claim, drawn from its result only.

* ``vanishing_grad_norm.png``: weight-gradient norm against Linear layer index
  (log scale), one panel per init, one line per activation (band: min to max over seeds).
* ``vanishing_bound.png``: the 0.25 bound at work, two panels, one line per init arm: sigmoid's
  mean f'(pre-activation) per hidden layer under 0.25, and its measured gain per layer under the
  bound 0.25 x ||W||_2.
* ``vanishing_decay.png``: top, the weight-gradient ratio per layer (``decay_per_layer``, dL/dW; not
  the gain per layer, which is dL/dz)
  for every activation x init, with the decades gained (+) or lost (-) from the last layer
  to the first, in the colour bar's sign convention; bottom, the absolute size of the weight
  gradients (geometric mean over layers), which a flat decay can hide.
* ``vanishing_gain_vs_scale.png``: sigmoid's backward gain per layer (95% interval over
  seeds) against the weight scale s, with the mean f' of its units: the verdict's figure.

``captions(result)`` and ``tables(result)`` give the report its text from the run's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..verdicts.result import Result
from .style import color_for, legend_outside, new_figure, save_figure, styled

__all__ = ["plot", "plot_grad_norm", "plot_bound", "plot_decay", "plot_gain_vs_scale", "captions", "tables"]

_INIT_TITLES = {
    "default": "PyTorch default init",
    "xavier": "Xavier (Glorot) init",
    "he": "He init",
    "lecun": "LeCun init",
}


def _arms(result: Result) -> list[str]:
    """The init arms measured: standard inits and scaled ones (older results: the inits)."""
    return list(result.metrics.get("weight_scale", {})) or list(result.config["inits"])


def _title(arm: str) -> str:
    if arm.startswith("scaled"):
        return f"weights N(0, s^2/fan_in), s = {arm[len('scaled'):]}"
    return _INIT_TITLES.get(arm, arm)


def _short(arm: str) -> str:
    return f"s={arm[len('scaled'):]}" if arm.startswith("scaled") else arm


def _drawn(acts: list[str], arm: str) -> list[str]:
    """The activations a panel draws: at scaled inits only sigmoid and tanh (the claim's subject);
    the unbounded activations all explode alike there and would hide one another."""
    if not arm.startswith("scaled"):
        return acts
    kept = [a for a in acts if a in ("sigmoid", "tanh")]
    return kept or acts


def _floats(values: Sequence[Any]) -> np.ndarray:
    """Numbers from a result (JSON writes inf and nan as strings)."""
    return np.array([float(v) for v in values], dtype=np.float64)


def _grid(n: int) -> tuple[int, int]:
    ncols = min(n, 2)
    return math.ceil(n / ncols), ncols


def _subtitle(cfg: Mapping[str, Any]) -> str:
    seeds = cfg.get("seeds", 1)
    return (f"MLP, {cfg.get('depth')} hidden layers of {cfg.get('width')} units, Gaussian batch of "
            f"{cfg.get('batch')}, cross-entropy on random labels; {seeds} seed{'s' if seeds != 1 else ''}")


@styled
def plot_grad_norm(result: Result, path: Path) -> Path:
    """Log-scale ||dL/dW_l|| against layer index; one panel per init, one line per activation."""
    m, cfg = result.metrics, result.config
    acts, inits = list(m["grad_norm"]), _arms(result)
    per_seed = result.data.get("grad_norm_per_seed", {})
    nrows, ncols = _grid(len(inits))
    fig, axes = new_figure(nrows, ncols, width=5.2 * ncols + 1.8, height=3.3 * nrows + 0.6,
                           sharex=True, sharey=False)
    axes = np.atleast_1d(axes).ravel()
    for ax, init in zip(axes[: len(inits)], inits, strict=True):
        for name in _drawn(acts, init):
            norms = _floats(m["grad_norm"][name][init])
            layers = np.arange(1, len(norms) + 1)
            c = color_for(name)
            ax.plot(layers, norms, color=c, lw=1.8, label=name)
            seeds = per_seed.get(name, {}).get(init)
            if seeds is not None and len(seeds) > 1:
                runs = np.array([_floats(r) for r in seeds])
                ax.fill_between(layers, runs.min(axis=0), runs.max(axis=0), color=c, alpha=0.18, lw=0)
        ax.set_yscale("log")
        ax.set_title(_title(init) + ("\n(sigmoid and tanh only: the others grow to ~1e17 and overlap)"
                                     if _drawn(acts, init) != acts else ""), fontsize=10)
        ax.set_xlim(1, len(norms))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[len(inits):]:
        ax.set_visible(False)
    for k, ax in enumerate(axes[: len(inits)]):
        if k + ncols >= len(inits):  # nothing drawn below this panel
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("Linear layer (1 = input side, last = logits)")
        if k % ncols == 0:
            ax.set_ylabel("||dL/dW|| (Frobenius, log scale)")
    legend_outside(axes[min(ncols, len(inits)) - 1], title="activation")
    fig.suptitle("Weight-gradient norm per layer at initialisation\n"
                 f"{_subtitle(cfg)}\nband: min to max over seeds; the dL/dW ratio per layer is in the heatmap",
                 fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


@styled
def plot_bound(result: Result, path: Path) -> Path:
    """The 0.25 bound at work, for sigmoid (or the first activation without it), one line per init arm.

    Left: mean f'(z_l) per hidden layer against the ceiling max|f'|. Right: the measured gain per
    layer ||dL/dz_l|| / ||dL/dz_l+1|| (solid) under its bound max|f'| x ||W_l+1||_2 (dashed).
    """
    m, cfg = result.metrics, result.config
    acts, inits = list(m["grad_norm"]), _arms(result)
    focus = "sigmoid" if "sigmoid" in acts else acts[0]
    max_abs = float(m["max_abs_derivative"][focus])
    fig, axes = new_figure(1, 2, width=12.0, height=5.0)
    left, right = axes[0, 0], axes[0, 1]
    colors = _arm_colors(inits)
    for init in inits:
        c = colors[init]
        slope = _floats(m["mean_derivative"][focus][init])
        gain = _floats(m["backward_gain"][focus][init])
        bound = _floats(m["gain_bound"][focus][init])
        layers = np.arange(1, len(gain) + 1)
        left.plot(layers, slope, color=c, lw=1.8, label=_short(init))
        right.plot(layers, gain, color=c, lw=2.0, label=_short(init))
        right.plot(layers, bound, color=c, lw=1.2, ls="--")
    left.axhline(max_abs, color="k", ls=":", lw=1.2)
    left.text(1, max_abs, f" max|f'| = {max_abs:g}", va="bottom", fontsize=10)
    left.set_ylim(0, 1.25 * max_abs)
    left.set_ylabel(f"mean {focus}'(z_l) over units and examples")
    left.set_title(f"{focus}'s slope per layer: never above {max_abs:g}", fontsize=12)
    right.axhline(1.0, color="k", lw=1)
    right.set_yscale("log")
    right.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    right.yaxis.set_minor_formatter(FuncFormatter(_two_five))
    right.text(0.99, 1.0, "1: gradient kept ", transform=right.get_yaxis_transform(), ha="right", va="top",
               fontsize=10)
    right.set_ylabel("gain per layer ||dL/dz_l|| / ||dL/dz_l+1||")
    right.set_title("measured gain (solid) under its bound max|f'| x ||W||_2 (dashed)", fontsize=12)
    for ax in (left, right):
        ax.set_xlabel("hidden layer l (1 = input side)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=10)
    legend_outside(right, title="init (s = weight scale)")
    fig.suptitle(f"The {max_abs:g} bound at work: {focus}, {_subtitle(cfg)}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def _two_five(v: float, _pos: Any = None) -> str:
    """Minor log ticks labelled at 2 and 5 times a power of ten only."""
    if v <= 0:
        return ""
    return f"{v:g}" if round(v / 10 ** math.floor(math.log10(v))) in (2, 5) else ""


def _arm_colors(arms: Sequence[str]) -> dict[str, Any]:
    """Standard inits in distinct hues, scaled arms in reds that darken with s."""
    import matplotlib

    standard = [a for a in arms if not a.startswith("scaled")]
    scaled = [a for a in arms if a.startswith("scaled")]
    cool = matplotlib.colormaps["tab10"]
    warm = matplotlib.colormaps["Reds"]
    out = {a: cool([0, 2, 4, 9, 6, 8][k % 6]) for k, a in enumerate(standard)}
    out.update({a: warm(0.45 + 0.5 * k / max(len(scaled) - 1, 1)) for k, a in enumerate(scaled)})
    return out


@styled
def plot_decay(result: Result, path: Path) -> Path:
    """Top: the change per layer (log10, < 0 vanishing) with the decades gained or lost; bottom:
    the absolute size of the weight gradients (log10 of their geometric mean over layers)."""
    m, cfg = result.metrics, result.config
    acts, inits = list(m["grad_norm"]), _arms(result)
    decay = np.array([[float(m["decay_per_layer"][a][i]) for i in inits] for a in acts])  # (acts, inits)
    # decades from the last layer to the first, signed like the colour bar: < 0 lost (vanishing)
    change = -np.array([[float(m["orders_of_magnitude"][a][i]) for i in inits] for a in acts])
    size = np.array([[float(np.exp(np.mean(np.log(_floats(m["grad_norm"][a][i]))))) for i in inits] for a in acts])
    with np.errstate(divide="ignore", invalid="ignore"):
        logd = np.log10(decay)
        logs = np.log10(size)
    fig, axs = new_figure(2, 1, width=max(1.3 * len(inits) + 3.5, 8.0), height=2 * max(0.5 * len(acts) + 2.0, 3.4))
    ax, ax2 = axs[0, 0], axs[1, 0]
    finite = np.isfinite(logd)
    reach = max(float(np.abs(logd[finite]).max()) if finite.any() else 0.0, 0.05)
    image = ax.imshow(np.where(finite, logd, -reach), cmap="RdBu", aspect="auto",
                      norm=TwoSlopeNorm(vcenter=0.0, vmin=-reach, vmax=reach))
    for r in range(len(acts)):
        for c in range(len(inits)):
            strong = finite[r, c] and abs(logd[r, c]) > 0.6 * reach
            ax.text(c, r, f"x{decay[r, c]:.3g}/layer\n{change[r, c]:+.1f} dec.", ha="center", va="center",
                    fontsize=7, color="white" if strong else "black")
    bar = fig.colorbar(image, ax=ax, fraction=0.05, pad=0.03)
    bar.set_label("log10 weight-gradient ratio per layer\n(< 0, red: shrinking; > 0, blue: growing)")
    ax.set_title("Weight-gradient ratio per layer ||dL/dW_l|| / ||dL/dW_l+1|| (not the gain per layer),\n"
                 "and decades (factors of 10) gained (+) or lost (-) from the last layer to the first", fontsize=10)
    finite_s = np.isfinite(logs)
    lo, hi = (float(logs[finite_s].min()), float(logs[finite_s].max())) if finite_s.any() else (-1.0, 1.0)
    image2 = ax2.imshow(np.where(finite_s, logs, lo), cmap="viridis", aspect="auto", vmin=lo, vmax=hi)
    for r in range(len(acts)):
        for c in range(len(inits)):
            dark = finite_s[r, c] and logs[r, c] < lo + 0.5 * (hi - lo)
            ax2.text(c, r, f"{size[r, c]:.1e}", ha="center", va="center", fontsize=7,
                     color="white" if dark else "black")
    bar2 = fig.colorbar(image2, ax=ax2, fraction=0.05, pad=0.03)
    bar2.set_label("log10 typical ||dL/dW|| (geometric mean over layers)")
    ax2.set_title("Absolute size of the weight gradients:\na flat ratio per layer can still be tiny everywhere",
                  fontsize=10)
    for a in (ax, ax2):
        a.set_xticks(range(len(inits)), [_short(i) for i in inits], rotation=30)
        a.set_yticks(range(len(acts)), acts)
        a.grid(False)
        a.set_xlabel("weight init (s = weight scale)")
    ax.set_ylabel("activation")
    fig.suptitle(f"depth {cfg.get('depth')}, width {cfg.get('width')}, at initialisation", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


@styled
def plot_gain_vs_scale(result: Result, path: Path) -> Path:
    """Sigmoid's backward gain per layer against the weight scale s, with its 95% interval."""
    m = result.metrics
    gain, scale = m["sigmoid_gain"], m["weight_scale"]
    arms = sorted(gain, key=lambda a: scale[a])
    s = np.array([scale[a] for a in arms])
    est = np.array([float(gain[a]["estimate"]) for a in arms])
    low = np.array([float(gain[a]["ci95_low"]) if gain[a]["ci95_low"] is not None else np.nan for a in arms])
    high = np.array([float(gain[a]["ci95_high"]) if gain[a]["ci95_high"] is not None else np.nan for a in arms])
    slope = np.array([float(np.mean(_floats(m["mean_derivative"]["sigmoid"][a]))) for a in arms])
    fig, ax = new_figure(width=7.8, height=4.4)
    c = color_for("sigmoid")
    ax.errorbar(s, est, yerr=[est - low, high - est], fmt="o", color=c, capsize=4, lw=1.5, ms=6,
                label="measured gain per layer (95% CI over seeds)")
    ax.plot(s, 0.25 * 2 * s, color="0.5", ls="--", lw=1, label="0.25 x 2s (0.25 x typical ||W||_2)")
    ax.axhline(1.0, color="k", lw=1)
    ax.text(s.min(), 1.03, "1: gradient kept", fontsize=8, va="bottom")
    seen: dict[float, int] = {}
    high = 0
    for x, y, a, d in zip(s, est, arms, slope, strict=True):
        label = f"{_short(a)}: mean f' {d:.3f}"
        if y > 0.8:  # near the line at 1, where points crowd: labels above it, stacked, right-aligned
            ax.annotate(label, (x, y), textcoords="offset points", xytext=(-4, 14 + 11 * high), fontsize=7,
                        ha="right", arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.6})
            high += 1
            continue
        k = seen[x] = seen.get(x, -1) + 1  # arms at the same s (xavier, lecun): labels stacked, not overlaid
        ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, -14 - 11 * k), fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(min(0.05, float(np.nanmin(low)) * 0.8), max(3.0, float(np.nanmax(high)) * 1.3))
    ax.set_xlabel("weight scale s (weights ~ N(0, s^2 / fan_in); standard inits s <= 1.41)")
    ax.set_ylabel("sigmoid: ||dL/dz_l|| / ||dL/dz_l+1||")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    ax.set_title("Does sigmoid's gradient vanish? Only while the weights are small", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


def plot(result: Result, out_dir: str | Path) -> list[Path]:
    """Every figure of a ``vanishing`` result, as PNGs in ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    return [
        plot_grad_norm(result, out_dir / "vanishing_grad_norm.png"),
        plot_bound(result, out_dir / "vanishing_bound.png"),
        plot_decay(result, out_dir / "vanishing_decay.png"),
        *([plot_gain_vs_scale(result, out_dir / "vanishing_gain_vs_scale.png")]
          if result.metrics.get("sigmoid_gain") else []),
    ]


def _role(arm: str, m: Mapping[str, Any]) -> str:
    """Which verdict an arm decides: the headline (standard inits), the limit (the largest s), or neither."""
    if not arm.startswith("scaled"):
        return "headline"
    scaled = [a for a in m.get("weight_scale", {}) if a.startswith("scaled")]
    return "limit" if scaled and arm == max(scaled, key=lambda a: float(m["weight_scale"][a])) else "shown only"


def _fmt_gain(g: Mapping[str, Any]) -> str:
    if g["ci95_low"] is None:
        return "n/a"
    return f"{float(g['ci95_low']):.3g}-{float(g['ci95_high']):.3g}"


def captions(result: Result) -> dict[str, str]:
    """Figure file name -> what to look at, from this run's numbers."""
    m, cfg = result.metrics, result.config
    arms = _arms(result)
    acts = list(m["grad_norm"])
    out: dict[str, str] = {}
    depth = cfg.get("depth")
    if "sigmoid" in acts:
        std = [a for a in arms if not a.startswith("scaled")] or arms
        d = {a: float(m["orders_of_magnitude"]["sigmoid"][a]) for a in arms}
        worst = max(std, key=lambda a: d[a])
        out["vanishing_grad_norm.png"] = (
            f"Weight-gradient size per layer (log scale) at initialisation, {depth} hidden layers. The sigmoid line "
            f"falls towards the input: {d[worst]:.1f} decades (factors of 10) lost under {worst} init; with "
            f"scaled-up weights (s panels) it stays flat or rises.")
        gain = m.get("sigmoid_gain", {})
        if gain:
            big = max(gain, key=lambda a: float(gain[a]["estimate"]))
            out["vanishing_gain_vs_scale.png"] = (
                f"Sigmoid's gradient kept per layer against the weight scale s. Below the line at 1 it vanishes: "
                f"every standard init sits there (s <= 1.41). At {_short(big)} the neurons are saturated (mean f' "
                f"{float(np.mean(_floats(m['mean_derivative']['sigmoid'][big]))):.3f}) yet the gain is "
                f"{float(gain[big]['estimate']):.2f} (95% CI {_fmt_gain(gain[big])}): saturation alone does not "
                f"make it vanish.")
        out["vanishing_bound.png"] = (
            "Left: sigmoid's average slope f' per layer, one line per init; it never exceeds 0.25, and with large "
            "weights (s = weight scale, red lines) the units saturate and it falls towards 0. Right: the measured "
            "gain per layer (solid) stays under its bound 0.25 x ||W||_2 (dashed); only with large weights do the "
            "bound, and the gain, reach 1.")
    else:
        out["vanishing_grad_norm.png"] = "Weight-gradient size per layer (log scale) at initialisation."
        out["vanishing_bound.png"] = "Average slope f' per layer and the gain bound max|f'| x ||W||_2."
    sizes = {(a, i): float(np.exp(np.mean(np.log(_floats(m["grad_norm"][a][i]))))) for a in acts for i in arms}
    flat = [(a, i) for (a, i) in sizes if i in cfg["inits"] and 0.8 < float(m["decay_per_layer"][a][i]) < 1.25]
    tiny = min(flat, key=lambda k: sizes[k]) if flat else None
    out["vanishing_decay.png"] = (
        "Top: the weight-gradient ratio per layer ||dL/dW_l|| / ||dL/dW_l+1|| (red: shrinking, blue: growing) and the decades "
        "gained (+) or lost (-) over the whole net. Bottom: how large the gradients are."
        + (f" Compare the two for {tiny[0]} with {tiny[1]} init: x{float(m['decay_per_layer'][tiny[0]][tiny[1]]):.2f} "
           f"per layer looks healthy, but its gradients are ~{sizes[tiny]:.0e} everywhere." if tiny else ""))
    return out


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables: sigmoid's gain per init; decay and size per activation x init."""
    m = result.metrics
    arms = _arms(result)
    acts = list(m["grad_norm"])
    out = []
    if m.get("sigmoid_gain"):
        g = m["sigmoid_gain"]
        out.append({
            "title": "Sigmoid: gradient kept per layer, by weight init",
            "columns": ["init", "weight scale s", "decides", "gain per layer (x)", "95% CI (x)", "mean f'",
                        "decades lost, last to first layer"],
            "rows": [[_short(a), f"{float(m['weight_scale'][a]):.2f}", _role(a, m), f"{float(g[a]['estimate']):.3f}",
                      _fmt_gain(g[a]),
                      f"{float(np.mean(_floats(m['mean_derivative']['sigmoid'][a]))):.3f}",
                      f"{float(m['orders_of_magnitude']['sigmoid'][a]):.1f}"] for a in arms],
            "note": "Gain per layer = ||dL/dz_l|| / ||dL/dz_l+1|| (z_l: layer l's pre-activations), geometric mean "
                    "over hidden layers, 95% log-t interval over seeds; below 1 the gradient shrinks towards the "
                    f"input, below {float(m.get('vanishing_threshold', 1.0)):.3g} it loses at least 2 decades over "
                    "the net (vanishes). s = weight scale: weights drawn from N(0, s^2 / fan_in); the standard "
                    "inits have s <= 1.41, s=12 is 12x LeCun's scale. The headline is decided on the standard "
                    "inits; the largest s is the limit 'saturation alone does not make the gradient vanish'.",
        })
    out.append({
        "title": "Every activation: weight-gradient ratio per layer and absolute gradient size",
        "columns": ["activation", *[f"{_short(a)}: dL/dW ratio per layer / typical |dL/dW|" for a in arms]],
        "rows": [[n, *[f"x{float(m['decay_per_layer'][n][a]):.3g} / "
                       f"{float(np.exp(np.mean(np.log(_floats(m['grad_norm'][n][a]))))):.1e}" for a in arms]]
                 for n in acts],
        "note": "dL/dW ratio per layer = geometric mean of ||dL/dW_l|| / ||dL/dW_l+1|| over layers (a weight "
                "gradient is dL/dz times the layer's input, so it differs from the gain per layer, which follows "
                "dL/dz only); below 1 the weight gradient shrinks towards the input. Typical |dL/dW| is the "
                "geometric mean of the per-layer norms, which shows gradients that are uniformly tiny. "
                "s = weight scale: weights drawn from N(0, s^2 / fan_in); s=12 is 12x LeCun's scale.",
    })
    return out
