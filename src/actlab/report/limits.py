"""A verdict's limits and a result's per-activation numbers, on the page, in the summary and in
Markdown.

A limit sits beside the headline word, never in its place (``verdicts.result.Limit``); the
per-activation numbers (``verdicts.result.PerActivation``) are tables with their intervals,
the best entry per column marked.
"""

from __future__ import annotations

import math
from typing import Any

from ..compare.scorecard import clear_best, interval_text, resolution
from ..verdicts.result import LIMIT_FINDING
from .values import esc, user_text

__all__ = ["LIMIT_WORD", "LIMIT_FINDING", "limit_phrase", "limits_html", "limits_inline_html", "limits_markdown",
           "per_activation_tables", "best_activation"]

LIMIT_WORD = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}


def _limits(verdict: Any) -> tuple:
    return tuple(getattr(verdict, "limits", ()) or ())


def _measured(limit: Any) -> str:
    key = getattr(limit, "key_number", None)
    if key is None or not key.text:
        return ""
    return f"measured: {key.text}"


def limit_phrase(limit: Any) -> str:
    """'limit found: large weights — tested: saturation alone does not make the gradient vanish (measured: 1.06x per layer)'.

    Neutral words, no ✓/✗: a limit is a measured finding about where the claim stops, not a
    verdict on the course. "limit not found" when its statement did not hold, "limit not
    settled" when the measurement could not decide it. "tested:" says that what follows is the
    statement put to the test, not its outcome (a reader took "ReLU reaches 12% at least 3x
    sooner" after "limit not found" for a result).
    """
    measured = _measured(limit)
    return (f"{LIMIT_FINDING[limit.status]}: {user_text(limit.name)} — tested: {user_text(limit.statement)}"
            + (f" ({measured})" if measured else ""))


#: One line under a README block whose results have limits: what the limit words mean.
LIMITS_LEGEND = ("A *limit* is a separate measured finding about where the claim stops, beside the verdict and "
                 "never changing it: after \"tested:\" comes the statement that was measured; \"limit found\": "
                 "it held, \"limit not found\": it did not, \"limit not settled\": the measurement could not "
                 "decide.")
#: The same, short enough for one line of the README's summary picture.
LIMITS_LEGEND_SHORT = ("limit found / not found / not settled: the tested statement held / did not hold / could not "
                       "be decided; a limit never changes the verdict")


def limits_inline_html(verdict: Any) -> str:
    """The limits for the summary table's key-number cell (empty without limits)."""
    items = "".join(f'<span class="limit" data-status="{esc(lim.status)}">{esc(limit_phrase(lim))}</span>'
                    for lim in _limits(verdict))
    return f'<span class="limits">{items}</span>' if items else ""


def limits_html(verdict: Any) -> str:
    """The section's "Limits" block: each limit's statement, word, evidence and rule."""
    limits = _limits(verdict)
    if not limits:
        return ""
    out = ['<div class="limits-block"><h3>Limits: where the claim stops holding</h3>',
           '<p class="dim">Measured outside the standard conditions the headline is judged under. Each is a '
           'finding about where the claim stops ("limit found": the statement below was measured to hold; "limit '
           'not found": it was not; "limit not settled": the measurement could not decide), not a verdict on the '
           'course, and none of them changes the headline.</p><ul>']
    for lim in limits:
        rule = getattr(lim, "rule", None)
        rule_html = f'<div class="rule small">How it is decided: {esc(user_text(rule.text))}</div>' if rule else ""
        key = getattr(lim, "key_number", None)
        key_html = (f' (measured: <span class="kn">{esc(key.text)}</span> <span class="kl">{esc(key.label)}</span>)'
                    if key is not None and key.text else "")
        out.append(f'<li class="limit" data-status="{esc(lim.status)}"><span class="limit-word">'
                   f'{LIMIT_FINDING[lim.status]}</span>: <strong>{esc(user_text(lim.name))}</strong> \u2014 '
                   f'{esc(user_text(lim.statement))}{key_html}'
                   f'<div>{esc(user_text(lim.evidence))}</div>{rule_html}</li>')
    out.append("</ul></div>")
    return "\n".join(out)


def limits_markdown(verdict: Any) -> str:
    """The limits as one Markdown-safe line for the README's summary table (empty without limits)."""
    return " · ".join(limit_phrase(lim) for lim in _limits(verdict))


def _with_interval(est: float | None, low: float | None, high: float | None, resolution: int | None = None) -> str:
    if est is None or (isinstance(est, float) and not math.isfinite(est)):
        return "\u2013"
    if low is None or high is None or not all(map(math.isfinite, (low, high))):
        return interval_text(est, None, None)
    return interval_text(est, low, high, resolution, sep="\u2013")


def best_activation(per: Any) -> str | None:
    """The clear winner of ``per`` (``compare.scorecard.clear_best``), or None."""
    return _best(per)[0]


def _best(per: Any) -> tuple[str | None, str]:
    entries = [(v.activation, v.estimate, v.low, v.high) for v in per.values if v.estimate is not None]
    unranked = [v.activation for v in per.values if v.estimate is None and v.n]
    return clear_best(per.better, entries, unranked)


def _step_grid(per: Any, result: Any) -> int | None:
    config = getattr(result, "config", None)
    return resolution({"unit": per.unit, "claim": "x"}, {"x": {"config": config if isinstance(config, dict) else {}}})


def per_activation_tables(result: Any) -> list[dict[str, Any]]:
    """One labelled table per measured property: activation, estimate (95% interval), the ratio
    to the baseline (95% interval), replicates (seeds, trials, processes), note; a clear best marked
    with \u2605. An activation measured without an estimate (every seed censored or failed) says why
    in its estimate cell, from the claim's note, never a bare dash."""
    tables = []
    for per in getattr(result, "per_activation", ()) or ():
        best, why_none = _best(per)
        grid = _step_grid(per, result)
        rows = []
        for v in per.values:
            name = v.activation + (" (baseline)" if v.activation == per.baseline else "") + (" \u2605" if v.activation == best else "")
            estimate = _with_interval(v.estimate, v.low, v.high, grid)
            note = v.note
            if v.estimate is None:
                clauses = [c.strip() for c in " ".join(str(v.note or "").split()).split("; ") if c.strip()]
                estimate = (f"no estimate: {clauses[0].rstrip('.')}" if clauses
                            else "no estimate (the claim gave no reason)")
                note = "; ".join(clauses[1:])
            rows.append([name, estimate, _with_interval(v.ratio, v.ratio_low, v.ratio_high), v.n or "\u2013", note])
        direction = {"higher": "higher is better", "lower": "lower is better", "neither": "neither way is better"}[per.better]
        mark = ("\u2605 marks the clear best (its 95% interval clear of every other's)" if best
                else why_none if why_none else "")
        grid_note = (f" Step counts are read every {grid} steps (the training error is checked that often): "
                     f"two activations within {grid} steps show the same number." if grid else "")
        note = (f"95% intervals in brackets; {direction}" + (f"; {mark}" if mark else "") + "." + grid_note
                + (f" {per.note}" if per.note else ""))
        unit = per.unit + (f", read every {grid}" if grid and per.unit else "")
        columns = ["activation", f"{per.quantity} ({unit})" if unit else per.quantity,
                   per.ratio_label or f"ratio to {per.baseline}", per.replicates, "note"]
        # a column with nothing in it (no ratios, no notes) is left out here, not reported as "not measured"
        keep = [j for j in range(len(columns)) if j < 2 or any(r[j] not in ("", "\u2013") for r in rows)]
        tables.append({"title": f"Per activation: {per.quantity}", "columns": [columns[j] for j in keep],
                       "rows": [[r[j] for j in keep] for r in rows], "note": note})
    return tables
