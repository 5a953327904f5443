"""The scorecard at a glance: a grid of activations x measured properties, each cell coloured by
its rank in its column (green: best, red: worst; grey: no better way, or not measured), with the
estimate and its 95% interval written in it, and the rule of thumb's verdicts underneath.

Drawn from ``scorecard.json`` only (``compare.scorecard``), never from a live run.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..compare.scorecard import cell_short_note, zero_width
from .style import plt, save_figure

__all__ = ["plot_scorecard", "FIGURE"]

FIGURE = "scorecard.png"
_WORD_COLOURS = {"holds": ("#116329", "#dafbe1"), "does_not_hold": ("#a40e26", "#ffebe9"),
                 "inconclusive": ("#7d4e00", "#fff8c5")}
_WORD = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _fmt(v: float) -> str:
    a = abs(v)
    return f"{v:.1e}" if a and (a >= 1e4 or a < 1e-2) else f"{v:.3g}"


def _rank_colour(rank: float):
    """0 = best (green) .. 1 = worst (red), through pale yellow."""
    cmap = plt.get_cmap("RdYlGn_r")
    return cmap(0.12 + 0.76 * rank)


#: a column whose largest estimate is within this factor of its smallest is drawn pale (no real spread)
_FLAT = 1.15


def _positions(values: Mapping[str, float], better: str) -> dict[str, float]:
    """0 (best) .. 1 (worst) by where each estimate lies between the column's best and worst
    (on a log scale for positive numbers), not by rank: near-equal numbers get near-equal colours."""
    import math

    lo, hi = min(values.values()), max(values.values())
    positive = lo > 0
    if (positive and hi / lo < _FLAT) or hi == lo:
        return {a: 0.5 for a in values}
    scale = (lambda v: math.log(v)) if positive else (lambda v: v)
    span = scale(hi) - scale(lo)
    pos = {a: (scale(v) - scale(lo)) / span for a, v in values.items()}
    return pos if better == "lower" else {a: 1 - p for a, p in pos.items()}


def _clipped_lines(text: str, width: int, most: int) -> list[str]:
    """``text`` wrapped at ``width``, at most ``most`` lines; a cut ends in an ellipsis."""
    lines = textwrap.wrap(text, width)
    if len(lines) <= most:
        return lines
    return [*lines[:most - 1], textwrap.shorten(" ".join(lines[most - 1:]), width, placeholder=" \u2026")]


def plot_scorecard(scorecard: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``out_dir/scorecard.png``; returns its path (none when there is nothing to draw)."""
    cols = list(scorecard.get("columns", []))
    rows = list(scorecard.get("rows", []))
    rules = list(scorecard.get("rule_of_thumb", []))
    if not rows:
        return []
    ncol = max(len(cols), 1)
    cw, rh, left = 1.9, 0.52, 1.7
    heads = [textwrap.wrap(f"{col['claim']}: {col['quantity']}", 24) for col in cols]
    head_h = 0.55 + 0.15 * max([3, *map(len, heads)])  # every header line shown: the box grows to fit them
    rule_h = 0.42 * len(rules) + (0.5 if rules else 0)
    width = left + cw * ncol + 0.3
    height = 0.8 + head_h + rh * len(rows) + rule_h + 0.35
    with plt.rc_context({"font.size": 9, "font.family": "DejaVu Sans", "figure.dpi": 110, "savefig.dpi": 110}):
        fig = plt.figure(figsize=(max(width, 10.0), height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, max(width, 10.0))
        ax.set_ylim(height, 0)
        ax.axis("off")
        ax.text(0.2, 0.35, "Which activation should I use? Each claim's own number per activation",
                fontsize=12.5, fontweight="bold", va="center")
        ax.text(0.2, 0.68, "cell: estimate (95% CI over seeds); colour: where it lies between its column's best (green) and "
                "worst (red); \u2605 clear best (interval clear of the rest); grey: no better way, or no number", fontsize=8.5, color="#59636e",
                va="center")
        top = 0.8
        for j, col in enumerate(cols):
            x = left + cw * j
            better = {"higher": "\u2191 higher is better", "lower": "\u2193 lower is better"}.get(col.get("better"), "")
            lines = heads[j]
            unit = str(col.get("unit", "")).strip()
            sub = ", ".join(p for p in (f"[{unit}]" if unit else "", better) if p)
            ax.text(x + cw / 2, top + head_h - 0.32, "\n".join(lines), ha="center", va="bottom", fontsize=8,
                    fontweight="bold", linespacing=1.1)
            ax.text(x + cw / 2, top + head_h - 0.12, sub, ha="center", va="center", fontsize=7, color="#59636e")
        y0 = top + head_h
        if not cols:
            ax.text(left + 0.1, y0 + rh * len(rows) / 2, "No claim here gave per-activation numbers:\n"
                    "every cell is \"not measured by this claim\"", va="center", fontsize=9.5, color="#818b98",
                    style="italic")
        for i, row in enumerate(rows):
            y = y0 + rh * i
            base = " (baseline)" if row["activation"] == scorecard.get("baseline") else ""
            ax.text(left - 0.12, y + rh / 2, row["activation"] + base, ha="right", va="center", fontsize=9.5,
                    fontweight="bold")
        for j, col in enumerate(cols):
            x = left + cw * j
            values = {}
            for row in rows:
                cell = row.get("cells", {}).get(col["id"], {})
                v = _num(cell.get("estimate")) if cell.get("measured") else None
                if v is not None:
                    values[row["activation"]] = v
            where = _positions(values, col.get("better", "")) if values else {}
            for i, row in enumerate(rows):
                act = row["activation"]
                y = y0 + rh * i
                cell = row.get("cells", {}).get(col["id"], {})
                if act in values and col.get("better") in ("higher", "lower") and len(values) > 1:
                    face = _rank_colour(where[act])
                else:
                    face = "#eef1f4"
                ax.add_patch(plt.Rectangle((x + 0.04, y + 0.03), cw - 0.08, rh - 0.06, facecolor=face,
                                           edgecolor="white", lw=1))
                if act not in values:  # not measured, or measured without an estimate (censored): say which
                    why = cell_short_note(cell) if cell else "not measured"
                    why = "\n".join(_clipped_lines(why, 27, 3))
                    ax.text(x + cw / 2, y + rh / 2, why, ha="center", va="center", fontsize=6.5 if "\n" in why else 7.5,
                            color="#818b98", style="italic", linespacing=1.1)
                    continue
                star = " \u2605" if col.get("best") == act else ""
                ax.text(x + cw / 2, y + rh * 0.36, _fmt(values[act]) + star, ha="center", va="center",
                        fontsize=9.5, fontweight="bold")
                low, high = _num(cell.get("low")), _num(cell.get("high"))
                ci = (("all seeds equal" + (f" (read every {col['resolution']})" if col.get("resolution") else ""))
                      if zero_width(low, high) else
                      f"{_fmt(low)}\u2013{_fmt(high)}" if low is not None and high is not None else "no interval")
                ax.text(x + cw / 2, y + rh * 0.74, ci, ha="center", va="center", fontsize=7, color="#30363d")
        y = y0 + rh * len(rows) + 0.35
        if rules:
            ax.text(0.2, y, "The rule of thumb (CS231n) and today's practice, checked from these numbers", fontsize=10.5,
                    fontweight="bold", va="center")
            y += 0.45
        for line in rules:
            fg, bg = _WORD_COLOURS[line["status"]]
            ax.text(0.2, y, _WORD[line["status"]], fontsize=8, color=fg, fontweight="bold", va="center",
                    bbox={"boxstyle": "round,pad=0.25", "fc": bg, "ec": fg, "lw": 0.7})
            ax.text(1.55, y, line["sentence"], fontsize=9, fontweight="bold", va="center")
            arms = "; ".join(f"{a['arm']} {a['text']}" + ("" if a.get("unit", "") in a["text"] else a.get("unit", ""))
                             for a in line.get("arms", [])[:4])
            room = max(20, int((max(width, 10.0) - 4.75) / 0.058))  # characters of 7.5 pt text that fit
            ax.text(4.6, y, textwrap.shorten(arms or line.get("evidence", ""), room), fontsize=7.5,
                    color="#59636e", va="center")
            y += 0.42
        path = save_figure(fig, Path(out_dir) / FIGURE)
        plt.close(fig)
    return [path]
