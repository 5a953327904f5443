"""Figures of the ``sign-coherence`` claim, drawn from its ``Result`` only.

* ``sign_coherence_layers.png``: for one draw at the smallest batch, the whole-layer
  histogram of gradient values (as it is usually plotted) next to the sign map of the
  same gradient matrix (rows = output units) and a strip that marks each row one-signed
  or mixed: a histogram with both signs does not contradict rows of one sign each.
* ``sign_coherence_histograms.png``: the whole-layer histograms of every layer, each
  titled with the layer's measured row coherence.
* ``sign_coherence_by_layer.png``: ``coherence[activation][batch]`` against the layer.
* ``sign_coherence_vs_batch.png``: coherence, sign agreement and weighted coherence of
  the activation-fed layers against batch size.
* ``sign_coherence_maps_by_batch.png``: one layer's sign map at the smallest and the
  largest batch, per activation (only when more than one batch size was measured).
* ``sign_coherence_seed_question.png``: the seed study note's question answered on one
  figure: one deep sigmoid layer as the mixed whole-layer histogram and, next to it, the
  per-neuron view (each neuron's row of gradients, with its one sign).

``captions(result)``, ``tables(result)`` and ``callout(result)`` give the report its
text, written from the run's numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Patch
from matplotlib.ticker import LogLocator, MaxNLocator, NullLocator

from ..claims.sign_coherence.verdict import pick_pair
from ..verdicts.result import Result
from .style import color_for, legend_outside, new_figure, plt, save_figure, styled

__all__ = ["plot", "captions", "tables", "callout", "SIGN_COLORS", "ROW_COLORS", "SEED_FIGURE"]

SEED_FIGURE = "sign_coherence_seed_question.png"

#: Colours of a gradient entry's sign: negative, exactly zero, positive.
SIGN_COLORS = ("#2166ac", "#e6e6e6", "#b2182b")
#: Colours of a row's status: one-signed (coherent), mixed, all zero.
ROW_COLORS = {"c": "#1b7837", "m": "#f1a340", "z": "#bdbdbd"}


def _num(v: Any) -> float:
    """A metric value as a float: result.json stores NaN as the string 'nan', which float() reads."""
    return float(v)


def _nums(values: Sequence[Any]) -> np.ndarray:
    return np.array([_num(v) for v in values], dtype=float)


def _sign_matrix(rows: Sequence[str]) -> np.ndarray:
    table = {"-": 0, "0": 1, "+": 2}  # indices into SIGN_COLORS
    return np.array([[table[ch] for ch in row] for row in rows], dtype=int)


def _status_matrix(status: str) -> np.ndarray:
    return np.array([[{"c": 0, "m": 1, "z": 2}[ch]] for ch in status], dtype=int)


def _shown_layers(n_layers: int) -> list[int]:
    """First layer (zero-mean input), the first layer fed by the activation, and the last."""
    return sorted({0, min(1, n_layers - 1), n_layers - 1})


def _edges(hist: dict) -> np.ndarray:
    return np.linspace(-hist["max_abs"], hist["max_abs"], len(hist["counts"]) + 1)


def _draw_histogram(ax, hist: dict, title: str) -> None:
    edges = _edges(hist)
    counts = np.asarray(hist["counts"], dtype=float)
    # values this small get a power of ten in the axis label, not matplotlib's offset text
    # (which would sit on top of the label)
    top = float(np.abs(edges).max()) or 1.0
    exponent = math.floor(math.log10(top))
    scale = 10.0 ** exponent if exponent < -1 or exponent > 2 else 1.0
    edges = edges / scale
    half = len(counts) // 2  # edges are symmetric about 0: the first half of the bins is < 0
    shown = np.where(counts > 0, counts, 0.5)  # empty bins sit on the baseline, below the axis
    ax.stairs(shown[:half], edges[:half + 1], fill=True, color=SIGN_COLORS[0], baseline=0.5)
    ax.stairs(shown[half:], edges[half:], fill=True, color=SIGN_COLORS[2], baseline=0.5)
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.7)
    # few ticks: with dozens of panels, tick drawing is most of the figure's cost
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(LogLocator(numticks=4))
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.axvline(0, color="0.2", lw=0.8)
    ax.set_title(title, fontsize=9)
    unit = f" (x 1e{exponent})" if scale != 1.0 else ""
    ax.set_xlabel(f"weight gradient dL/dW{unit}", fontsize=8)
    ax.set_ylabel("entries (log scale)", fontsize=8)
    ax.tick_params(labelsize=7)


def _draw_sign_map(ax_map, ax_strip, smap: dict, title: str) -> None:
    signs = _sign_matrix(smap["rows"])
    ax_map.imshow(signs, cmap=ListedColormap(SIGN_COLORS), vmin=0, vmax=2, aspect="auto", interpolation="nearest")
    ax_map.set_title(title, fontsize=9)
    out, inp = smap["shape"]
    ax_map.set_xlabel(f"input unit j ({signs.shape[1]} of {inp})", fontsize=8)
    ax_map.set_ylabel(f"output unit i ({signs.shape[0]} of {out})", fontsize=8, labelpad=1)
    ax_map.tick_params(labelsize=7)
    ax_map.xaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax_map.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    ax_map.grid(False)
    status = _status_matrix(smap["status"])
    ax_strip.imshow(status, cmap=ListedColormap(list(ROW_COLORS.values())), vmin=0, vmax=2, aspect="auto",
                    interpolation="nearest")
    ax_strip.set_xticks([])
    ax_strip.set_yticks([])
    ax_strip.grid(False)
    for spine in ax_strip.spines.values():
        spine.set_visible(True)


def _legend_handles() -> list[Patch]:
    return [
        Patch(color=SIGN_COLORS[2], label="dL/dW > 0"),
        Patch(color=SIGN_COLORS[0], label="dL/dW < 0"),
        Patch(color=SIGN_COLORS[1], label="dL/dW = 0 exactly"),
        Patch(color=ROW_COLORS["c"], label="row: one sign (coherent)"),
        Patch(color=ROW_COLORS["m"], label="row: both signs (mixed)"),
        Patch(color=ROW_COLORS["z"], label="row: all zero (excluded)"),
    ]


def _positive_share(hist: dict) -> float:
    edges = _edges(hist)
    counts = np.asarray(hist["counts"], dtype=float)
    total = counts.sum()
    return float(counts[edges[:-1] >= 0].sum() / total) if total else math.nan


def _share_text(hist: dict) -> str:
    share = _positive_share(hist)
    return "none (all zero)" if math.isnan(share) else f"{100 * share:.0f}%"


def _layer_header(label: str, li: int, n_layers: int) -> str:
    if li == 0:
        return f"{label}: fed by the zero-mean input"
    return f"{label}{', the logits' if li == n_layers - 1 else ''}: fed by the activation"


def _panel_axes(fig, cell, strip: bool = True, histogram: bool = True):
    """Axes of one panel group in grid-spec ``cell``: (histogram or None, sign map, row strip)."""
    if histogram:
        left, right = cell.subgridspec(1, 2, width_ratios=[3.0, 2.9], wspace=0.42)
        ax_h = fig.add_subplot(left)
    else:
        ax_h, right = None, cell
    map_cell, strip_cell = right.subgridspec(1, 2, width_ratios=[2.6, 0.16], wspace=0.05)
    return ax_h, fig.add_subplot(map_cell), fig.add_subplot(strip_cell)


def _label_rows_and_columns(fig, grid, row_labels: Sequence[str], col_labels: Sequence[str]) -> float:
    """Bold activation names left of each row of ``grid``; a header above each column.

    Offsets are in inches, so that small and large figures look alike. Returns the
    figure y just above the headers."""
    width, height = fig.get_size_inches()
    for r, text in enumerate(row_labels):
        box = grid[r, 0].get_position(fig)
        fig.text(box.x0 - 0.75 / width, (box.y0 + box.y1) / 2, text, rotation=90, ha="center", va="center",
                 fontsize=12, fontweight="bold")
    top = grid[0, 0].get_position(fig).y1 + 0.5 / height  # above two lines of panel titles
    for c, text in enumerate(col_labels):
        box = grid[0, c].get_position(fig)
        fig.text((box.x0 + box.x1) / 2, top, text, ha="center", va="bottom", fontsize=11, fontweight="bold")
    return top + 0.3 / height


def _legend_below(fig, grid, ncol: int, fontsize: float = 10) -> None:
    bottom = grid[-1, 0].get_position(fig).y0 - 0.5 / fig.get_size_inches()[1]  # below the x labels
    fig.legend(handles=_legend_handles(), loc="upper center", ncol=ncol, frameon=False, fontsize=fontsize,
               bbox_to_anchor=(0.5, bottom))


@styled
def _plot_layers(result: Result, path: Path) -> Path:
    data, config = result.data, result.config
    acts = list(config["activations"])
    batch = str(min(config["batches"]))
    layers = data["layers"]
    shown = _shown_layers(len(layers))
    fig = plt.figure(figsize=(5.6 * len(shown), 2.5 * len(acts) + 0.6))
    grid = fig.add_gridspec(len(acts), len(shown), wspace=0.3, hspace=0.62)
    for r, act in enumerate(acts):
        for s, li in enumerate(shown):
            ax_h, ax_m, ax_s = _panel_axes(fig, grid[r, s])
            hist = data["histograms"][act][batch][li]
            smap = data["sign_maps"][act][batch][li]
            title = f"whole layer: {_share_text(hist)} of entries > 0"
            if hist["zeros"]:
                title += f"\n({hist['zeros']} exact zeros left out)"
            _draw_histogram(ax_h, hist, title)
            rows_note = f"rows: {smap['coherent']}/{smap['nonzero']} one-signed"
            if smap["nonzero"] < smap["shape"][0]:
                rows_note += f"\n({smap['shape'][0] - smap['nonzero']} all-zero rows excluded)"
            _draw_sign_map(ax_m, ax_s, smap, rows_note)
    size = data["sign_map_size"]
    top = _label_rows_and_columns(fig, grid, acts, [_layer_header(layers[li], li, len(layers)) for li in shown])
    _legend_below(fig, grid, ncol=6 if len(shown) > 2 else 3)
    fig.suptitle(f"One gradient at batch {batch}: whole-layer histogram (left) and the sign map of the same "
                 f"matrix, rows = output units (right).\nA histogram with both signs is compatible with every "
                 f"row having one sign. Maps show at most the top-left {size}x{size} block; the strip judges "
                 f"each whole row.", fontsize=12, y=top, va="bottom")
    return save_figure(fig, path)


@styled
def _plot_histograms(result: Result, path: Path) -> Path:
    data, config, metrics = result.data, result.config, result.metrics
    acts = list(config["activations"])
    batch = str(min(config["batches"]))
    layers = data["layers"]
    ncols = len(layers)
    fig, axes = new_figure(len(acts), ncols, width=2.7 * ncols + 0.5, height=2.2 * len(acts) + 0.6,
                           gridspec_kw={"hspace": 0.85, "wspace": 0.45})
    for r, act in enumerate(acts):
        coh = _nums(metrics["coherence"][act][batch])
        for li in range(ncols):
            hist = data["histograms"][act][batch][li]
            c = coh[li]
            coh_text = "n/a (all rows zero)" if math.isnan(c) else f"{c:.3f}"
            _draw_histogram(axes[r, li], hist, f"{act}, {layers[li]}\nrow coherence {coh_text}; "
                                               f"{_share_text(hist)} > 0")
            if li:
                axes[r, li].set_ylabel("")
    height = fig.get_size_inches()[1]
    fig.legend(handles=_legend_handles()[:2], loc="upper center", ncol=2, frameon=False,
               bbox_to_anchor=(0.5, axes[-1, 0].get_position().y0 - 0.5 / height))
    # the title sits just above the first row's two-line panel titles (no empty band under it)
    fig.suptitle(f"Whole-layer weight-gradient histograms (one draw, batch {batch}, exact zeros left out); "
                 f"titles: fraction of rows with one sign, over all {config['trials']} trials", fontsize=11,
                 y=axes[0, 0].get_position().y1 + 0.5 / height, va="bottom")
    return save_figure(fig, path)


@styled
def _plot_by_layer(result: Result, path: Path) -> Path:
    config, metrics = result.config, result.metrics
    acts = list(config["activations"])
    batches = [str(b) for b in config["batches"]]
    n = len(batches)
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    fig, axes = new_figure(nrows, ncols, width=3.6 * ncols + 1.8, height=3.1 * nrows + 0.5, sharey=True,
                           gridspec_kw={"hspace": 0.5})
    n_layers = config["depth"] + 1
    x = np.arange(1, n_layers + 1)
    markers = "osD^vP*X"
    for k, batch in enumerate(batches):
        ax = axes[k // ncols, k % ncols]
        ax.axvspan(0.5, 1.5, color="0.85", alpha=0.6, lw=0)
        for i, act in enumerate(acts):
            # each activation a little to the side and with its own marker: equal values stay visible
            dx = (i - (len(acts) - 1) / 2) * 0.1
            ax.plot(x + dx, _nums(metrics["coherence"][act][batch]), marker=markers[i % len(markers)], ms=5,
                    lw=1.2, color=color_for(act), label=act, alpha=0.9)
        ax.set_title(f"batch {batch}")
        ax.set_xticks(x)
        ax.set_xlim(0.5, n_layers + 0.5)
        ax.set_ylim(-0.04, 1.04)
        ax.set_xlabel("Linear layer (1 = fed by the zero-mean input)")
        if k % ncols == 0:
            ax.set_ylabel("row coherence\n(one-signed / non-zero rows)")
    for k in range(n, nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    legend_outside(axes[0, ncols - 1], title="activation")
    fig.suptitle(f"Row sign coherence per layer ({config['depth']} hidden layers, width {config['width']}; layer "
                 f"{config['depth'] + 1} = logits; "
                 f"{config['trials']} trials pooled; grey: input layer;\nmarkers set side by side so that equal values stay visible)", fontsize=12, y=1.04)
    return save_figure(fig, path)


@styled
def _plot_vs_batch(result: Result, path: Path) -> Path:
    config, metrics = result.config, result.metrics
    acts = list(config["activations"])
    batches = [int(b) for b in config["batches"]]
    panels = [
        ("coherence", "row coherence\n(one-signed / non-zero rows)", "strict: every entry one sign"),
        ("sign_agreement", "sign agreement\nmean of max(P, N) / (P + N)", "share of a row's entries with its majority sign"),
        ("weighted_coherence", "weighted coherence\nmean of |sum g| / sum |g|", "net sign of a row's mass: |P - N| / (P + N)"),
    ]
    fig, axes = new_figure(1, len(panels), width=14.5, height=4.1)
    for ax, (key, ylabel, subtitle) in zip(axes[0], panels, strict=True):
        for i, act in enumerate(acts):
            per_layer = np.array([_nums(metrics[key][act][str(b)])[1:] for b in batches])  # (batches, fed layers)
            with np.errstate(all="ignore"):
                mean = np.array([np.nanmean(v) if np.isfinite(v).any() else np.nan for v in per_layer])
            # side by side on the log axis, own marker: equal values (0 for tanh, elu, ...) stay visible
            shift = 2.0 ** ((i - (len(acts) - 1) / 2) * 0.06)
            ax.plot(np.array(batches) * shift, mean, marker="osD^vP*X"[i % 8], ms=5, color=color_for(act), label=act)
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches)
        ax.set_xticklabels([str(b) for b in batches])
        ax.minorticks_off()
        ax.set_ylim(-0.04, 1.04)
        ax.set_xlabel("batch size (examples summed into one gradient)")
        ax.set_ylabel(ylabel)
        ax.set_title(subtitle, fontsize=10)
    legend_outside(axes[0, -1], title="activation")
    fig.suptitle(f"Layers 2..{config['depth'] + 1} (fed by the activation), mean over layers; "
                 f"{config['trials']} trials pooled. Random signs give strict coherence ~0 and "
                 f"mass-weighted ~1/sqrt({config['width']}) = {config['width'] ** -0.5:.2f}, agreement ~0.5",
                 fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)


@styled
def _plot_maps_by_batch(result: Result, path: Path) -> Path:
    data, config = result.data, result.config
    acts = list(config["activations"])
    shown_batches = sorted(data["sign_maps"][acts[0]], key=int)
    layers = data["layers"]
    li = min(1, len(layers) - 1)
    fig = plt.figure(figsize=(3.4 * len(shown_batches) + 0.6, 2.45 * len(acts) + 0.9))
    grid = fig.add_gridspec(len(acts), len(shown_batches), wspace=0.35, hspace=0.7)
    for r, act in enumerate(acts):
        for s, batch in enumerate(shown_batches):
            smap = data["sign_maps"][act][batch][li]
            _, ax_m, ax_s = _panel_axes(fig, grid[r, s], histogram=False)
            title = f"{act}, batch {batch}: {smap['coherent']}/{smap['nonzero']} rows one-signed"
            _draw_sign_map(ax_m, ax_s, smap, title)
    _legend_below(fig, grid, ncol=3, fontsize=9)
    fig.suptitle(f"Sign map of {layers[li]} (one draw), smallest vs largest batch:\n"
                 "summing examples mixes the signs of a row only as far as the examples disagree",
                 fontsize=11, y=grid[0, 0].get_position(fig).y1 + 0.45 / fig.get_size_inches()[1], va="bottom")
    return save_figure(fig, path)


def plot(result: Result, out_dir: str | Path) -> list[Path]:
    """Write the claim's figures into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        _plot_layers(result, out_dir / "sign_coherence_layers.png"),
        _plot_histograms(result, out_dir / "sign_coherence_histograms.png"),
        _plot_by_layer(result, out_dir / "sign_coherence_by_layer.png"),
        _plot_vs_batch(result, out_dir / "sign_coherence_vs_batch.png"),
    ]
    paths.append(_plot_seed_question(result, out_dir / SEED_FIGURE))
    if len(result.data["sign_maps"][result.config["activations"][0]]) > 1:
        paths.append(_plot_maps_by_batch(result, out_dir / "sign_coherence_maps_by_batch.png"))
    return paths


# --- the seed question -------------------------------------------------------------------


def _seed_layer(result: Result) -> tuple[str, int]:
    """(activation, layer index) the seed figure shows: sigmoid (else the first activation with
    non-negative outputs), the deepest hidden Linear it feeds (the note's "deep layer")."""
    acts = list(result.config["activations"])
    expects = result.data.get("expects_coherent", {})
    act = "sigmoid" if "sigmoid" in acts else next((a for a in acts if expects.get(a)), acts[0])
    n_layers = len(result.data["layers"])
    return act, max(1, n_layers - 2) if n_layers > 2 else n_layers - 1


@styled
def _plot_seed_question(result: Result, path: Path) -> Path:
    data = result.data
    act, li = _seed_layer(result)
    batch = str(min(result.config["batches"]))
    hist = data["histograms"][act][batch][li]
    smap = data["sign_maps"][act][batch][li]
    fig = plt.figure(figsize=(11.5, 4.4))
    grid = fig.add_gridspec(1, 2, width_ratios=[1.0, 1.05], wspace=0.3)
    ax_h = fig.add_subplot(grid[0, 0])
    _draw_histogram(ax_h, hist, f"the whole layer at once: {_share_text(hist)} of its entries > 0\n"
                                "(what the study note plotted: looks mixed)")
    _, ax_m, ax_s = _panel_axes(fig, grid[0, 1], histogram=False)
    _draw_sign_map(ax_m, ax_s, smap, f"neuron by neuron: {smap['coherent']} of {smap['nonzero']} rows have one sign\n"
                                     "(each row = one neuron's incoming weights)")
    fig.legend(handles=_legend_handles()[:2] + _legend_handles()[3:5], loc="lower center", ncol=4, frameon=False,
               bbox_to_anchor=(0.5, -0.06))
    fig.suptitle(f"{act}, {data['layers'][li]}, one example (batch {batch}): the same gradient matrix two ways",
                 fontsize=12, y=1.03)
    return save_figure(fig, path)


def callout(result: Result) -> dict[str, str]:
    """The seed question answered (issue 13 item 2), next to :data:`SEED_FIGURE`."""
    act, li = _seed_layer(result)
    batch = str(min(result.config["batches"]))
    hist = result.data["histograms"][act][batch][li]
    smap = result.data["sign_maps"][act][batch][li]
    layer = result.data["layers"][li]
    return {
        "title": f"Why does a deep {act} layer's gradient histogram look mixed?",
        "text": (
            f"In the study note, deep {act} layers gave weight-gradient histograms with both signs, which seemed to "
            f"contradict 'all gradients share one sign'. Both are true. A neuron's weight gradients for one example "
            f"are its own upstream gradient dL/dz (one number, either sign) times its inputs; the inputs come from "
            f"{act}, so they are all positive, and the whole row shares the sign of dL/dz. Different neurons have "
            f"different upstream gradients, so a histogram of the whole layer mixes neurons of both signs: here "
            f"{_share_text(hist)} of {layer}'s entries are positive, yet {smap['coherent']} of its {smap['nonzero']} "
            f"neurons have a row of one sign. A batch mixes examples as well, which is the only thing that can break "
            f"a row's sign (see the batch-size figure)."),
        "figure": SEED_FIGURE,
    }


# --- captions and tables -----------------------------------------------------------------


def _mean_fed(values: Sequence[Any]) -> float:
    v = _nums(values)[1:]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else math.nan


def captions(result: Result) -> dict[str, str]:
    """Figure file name -> what to look at, written from this run's numbers."""
    m, config, data = result.metrics, result.config, result.data
    acts = list(config["activations"])
    small, large = str(min(config["batches"])), str(max(config["batches"]))
    pos = [a for a in acts if data.get("expects_coherent", {}).get(a)]
    # outputs of both signs: mixed rows by the strict test; by mass, small negative outputs (leaky_relu) stay relu-like
    like = [a for a in acts if a not in pos and _mean_fed(m["weighted_coherence"][a][small]) >= 0.5]
    neg = [a for a in acts if a not in pos and a not in like]
    like_text = (f" {', '.join(like)}: its small negative outputs break the strict test (one entry of the other sign "
                 f"makes a row mixed), but by mass its rows are one-signed like relu's ("
                 + ", ".join(f"{_mean_fed(m['weighted_coherence'][a][small]):.2f}" for a in like)
                 + " mass-weighted): it does not behave like a zero-centred activation." if like else "")
    one = ", ".join(f"{a} {_mean_fed(m['coherence'][a][small]):.2f}" for a in acts)
    one_mass = ", ".join(f"{a} {_mean_fed(m['weighted_coherence'][a][small]):.2f}" for a in acts)
    big = ", ".join(f"{a} {_mean_fed(m['weighted_coherence'][a][large]):.2f}" for a in acts)
    act, li = _seed_layer(result)
    hist = data["histograms"][act][small][li]
    smap = data["sign_maps"][act][small][li]
    out = {
        SEED_FIGURE: (f"Left: all of {act} {data['layers'][li]}'s weight gradients in one histogram, {_share_text(hist)} "
                      f"positive, so it looks mixed. Right: the same matrix, one row per neuron: {smap['coherent']} of "
                      f"{smap['nonzero']} rows are a single colour, because each neuron's sign is set by its own upstream "
                      f"gradient."),
        "sign_coherence_layers.png": (
            f"Each activation (rows) at batch {small}: the whole-layer histogram beside the sign map of the same "
            f"matrix. Look at the green strips: for {', '.join(pos) or 'no activation here'} every row of the layers "
            f"fed by the activation is one colour (one sign), although their histograms hold both signs; "
            f"for {', '.join(neg) or 'none'} rows are mixed (orange).{like_text}"),
        "sign_coherence_histograms.png": (
            f"Whole-layer histograms of every layer at batch {small}, as the study note drew them. Both signs appear "
            f"for every activation; the title's row coherence is what separates them (mean over activation-fed "
            f"layers, strict: {one}; mass-weighted: {one_mass})."),
        "sign_coherence_by_layer.png": (
            f"Row coherence (share of neurons whose gradient row has one sign) per layer and batch size. At batch "
            f"{small} the {', '.join(pos)} lines stay at 1.0 from layer 2 on (an identity of algebra), "
            f"{', '.join(neg + like)} sit near 0 by this strict test"
            + (f" ({', '.join(like)} only because of its small negative outputs: by mass it is relu-like)" if like
               else "") + "; layer 1 sees the zero-mean input and is near 0 for all. Larger batches "
            "mostly pull the lines down (averages in the next figure)."),
        "sign_coherence_vs_batch.png": (
            f"How a batch mixes signs, averaged over the activation-fed layers. Strict coherence (left) falls fast "
            f"because one entry of the other sign breaks a row; the mass-weighted measure (right) shows how much "
            f"stays one-signed: at batch {large}: {big}."),
        "sign_coherence_maps_by_batch.png": (
            f"The sign map of {data['layers'][min(1, len(data['layers']) - 1)]} at batch {small} and {large}: summing "
            f"examples mixes a row's signs only as far as the examples disagree; {act}-fed rows stay mostly one "
            f"colour."),
    }
    return out


def _pair(acts: Sequence[str]) -> tuple[str | None, str | None]:
    """The verdict's subject and zero-centred control (the claim's own choice, from the registry)."""
    return pick_pair(acts)


def tables(result: Result) -> list[dict[str, Any]]:
    """Labelled tables of the metrics: per-layer row coherence, strict and mass-weighted."""
    m, config = result.metrics, result.config
    acts = list(config["activations"])
    n_layers = config["depth"] + 1
    layer_cols = [f"layer {i + 1}" for i in range(n_layers)]

    def fmt(v: Any) -> str:
        v = _num(v)
        return "n/a" if math.isnan(v) else f"{v:.3f}"

    out = []
    large = str(max(config["batches"]))
    if "weighted_coherence" in m and "input_mean_to_std" in m:
        positive, centred = _pair(acts)
        zc = result.data.get("zero_centred", {})

        def role(a: str) -> str:
            return "subject" if a == positive else "zero-centred control" if a == centred else ""
        out.append({
            "title": f"The batch effect at batch {large}: activation-fed layers (2 on), mean over layers",
            "columns": ["activation", "role in the verdict", "zero-centred (registry)", "input mean / std",
                        f"strict row coherence, batch {large}", f"mass-weighted row coherence, batch {large}"],
            "rows": [[a, role(a), {True: "yes", False: "no"}.get(zc.get(a), "?"),
                      f"{_mean_fed(m['input_mean_to_std'][a]):.2f}", fmt(_mean_fed(m["coherence"][a][large])),
                      fmt(_mean_fed(m["weighted_coherence"][a][large]))] for a in acts],
            "note": "Mass-weighted row coherence: per neuron, |positive minus negative gradient mass| / total mass "
                    "of its row of weight gradients, averaged over neurons (1 = all one sign, about 0.1 = random "
                    "signs). The verdict: subject minus control, paired per trial, must exceed 0.5. The control is "
                    "chosen by the registry's zero_centred property (actlab list).",
        })
    for key, title, note in (
        ("coherence", "Row coherence (share of neurons whose gradient row has one sign)",
         f"Layer 1 is fed by the zero-mean input; layers 2 on by the activation; layer {config['depth'] + 1} is "
         "the logits (the output layer after the last hidden layer). At batch 1 a layer fed by non-negative "
         "outputs has 1.000 by algebra (a demonstration, not a test)."),
        ("weighted_coherence", "Mass-weighted row coherence (mean over neurons of |sum g| / sum |g|)",
         "1 when all of a row's gradient mass has one sign, near 0 when the signs balance; the batch rule uses "
         "this measure, because strict coherence breaks on one tiny entry of the other sign."),
    ):
        rows = [[a, int(b), *[fmt(v) for v in m[key][a][str(b)]]] for a in acts for b in config["batches"]]
        if all(cell == "n/a" for r in rows for cell in r[2:]):
            continue  # no row of any layer had a non-zero gradient: nothing to show
        out.append({"title": title, "columns": ["activation", "batch (examples)", *layer_cols], "rows": rows,
                    "note": note})
    if "input_mean_to_std" in m:
        out.append({"title": "The layers' inputs: mean / standard deviation at the largest batch",
                    "columns": ["activation", *layer_cols],
                    "rows": [[a, *[f"{_num(v):.2f}" for v in m["input_mean_to_std"][a]]] for a in acts],
                    "note": "A large ratio (inputs far from zero compared to their spread) keeps a batch's gradient "
                            "rows one-signed; zero-centred inputs have a ratio near 0."})
    return out
