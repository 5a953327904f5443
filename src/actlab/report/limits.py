"""A verdict's limits and a result's per-activation numbers, on the page, in the summary and in
Markdown.

A limit sits beside the headline word, never in its place (``verdicts.result.Limit``); the
per-activation numbers (``verdicts.result.PerActivation``) are tables with their intervals,
the best entry per column marked.
"""

from __future__ import annotations

import math
from typing import Any

from .values import esc, user_text

__all__ = ["LIMIT_WORD", "limit_phrase", "limits_html", "limits_inline_html", "limits_markdown",
           "per_activation_tables", "best_activation"]

LIMIT_WORD = {"holds": "holds", "does_not_hold": "does not hold", "inconclusive": "inconclusive"}
_MARK = {"holds": "\u2713", "does_not_hold": "\u2717", "inconclusive": "?"}


def _limits(verdict: Any) -> tuple:
    return tuple(getattr(verdict, "limits", ()) or ())


def limit_phrase(limit: Any) -> str:
    """'limit: large weights, saturation alone does not make the gradient vanish: ✓ holds (1.06x per layer)'."""
    key = getattr(limit, "key_number", None)
    number = f" ({key.text})" if key is not None and key.text else ""
    return (f"limit: {user_text(limit.name)}, {user_text(limit.statement)}: "
            f"{_MARK[limit.status]} {LIMIT_WORD[limit.status]}{number}")


def limits_inline_html(verdict: Any) -> str:
    """The limits for the summary table's key-number cell (empty without limits)."""
    items = "".join(f'<span class="limit {esc(lim.status)}">{esc(limit_phrase(lim))}</span>' for lim in _limits(verdict))
    return f'<span class="limits">{items}</span>' if items else ""


def limits_html(verdict: Any) -> str:
    """The section's "Limits" block: each limit's statement, word, evidence and rule."""
    limits = _limits(verdict)
    if not limits:
        return ""
    out = ['<div class="limits-block"><h3>Limits: where the claim stops holding</h3>',
           '<p class="dim">Measured outside the standard conditions the headline is judged under; '
           'each has its own rule and word, and none of them changes the headline.</p><ul>']
    for lim in limits:
        rule = getattr(lim, "rule", None)
        rule_html = f'<div class="rule small">How it is decided: {esc(user_text(rule.text))}</div>' if rule else ""
        key = getattr(lim, "key_number", None)
        key_html = (f' <span class="kn">{esc(key.text)}</span> <span class="kl">{esc(key.label)}</span>'
                    if key is not None and key.text else "")
        out.append(f'<li class="limit {esc(lim.status)}"><strong>{esc(user_text(lim.name))}</strong>: '
                   f'{esc(user_text(lim.statement))} \u2014 <span class="badge {esc(lim.status)}">'
                   f'{_MARK[lim.status]} {LIMIT_WORD[lim.status]}</span>{key_html}'
                   f'<div>{esc(user_text(lim.evidence))}</div>{rule_html}</li>')
    out.append("</ul></div>")
    return "\n".join(out)


def limits_markdown(verdict: Any) -> str:
    """The limits as one Markdown-safe line for the README's summary table (empty without limits)."""
    return " · ".join(limit_phrase(lim) for lim in _limits(verdict))


def _fmt(v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "\u2013"
    return f"{v:.3g}"


def _with_interval(est: float | None, low: float | None, high: float | None, unit: str = "") -> str:
    if est is None or (isinstance(est, float) and math.isnan(est)):
        return "\u2013"
    text = _fmt(est) + (f" {unit}" if unit else "")
    if low is not None and high is not None:
        text += f" ({_fmt(low)}\u2013{_fmt(high)})"
    return text


def best_activation(per: Any) -> str | None:
    """The activation with the best estimate (by ``per.better``), or None ("neither", or nothing measured)."""
    if per.better not in ("higher", "lower"):
        return None
    scored = [(v.estimate, v.activation) for v in per.values
              if v.estimate is not None and isinstance(v.estimate, (int, float)) and math.isfinite(v.estimate)]
    if not scored:
        return None
    return (max if per.better == "higher" else min)(scored)[1]


def per_activation_tables(result: Any) -> list[dict[str, Any]]:
    """One labelled table per measured property: activation, estimate (95% interval), the ratio
    to the baseline (95% interval), replicates (seeds, trials, processes), note; the best estimate marked with ★."""
    tables = []
    for per in getattr(result, "per_activation", ()) or ():
        best = best_activation(per)
        rows = []
        for v in per.values:
            name = v.activation + (" (baseline)" if v.activation == per.baseline else "") + (" \u2605" if v.activation == best else "")
            rows.append([name, _with_interval(v.estimate, v.low, v.high), _with_interval(v.ratio, v.ratio_low, v.ratio_high),
                         v.n or "\u2013", v.note])
        direction = {"higher": "higher is better", "lower": "lower is better", "neither": "neither way is better"}[per.better]
        note = f"95% intervals in brackets; {direction}; \u2605 marks the best estimate." + (f" {per.note}" if per.note else "")
        columns = ["activation", f"{per.quantity} ({per.unit})" if per.unit else per.quantity,
                   per.ratio_label or f"ratio to {per.baseline}", per.replicates, "note"]
        # a column with nothing in it (no ratios, no notes) is left out here, not reported as "not measured"
        keep = [j for j in range(len(columns)) if j < 2 or any(r[j] not in ("", "\u2013") for r in rows)]
        tables.append({"title": f"Per activation: {per.quantity}", "columns": [columns[j] for j in keep],
                       "rows": [[r[j] for j in keep] for r in rows], "note": note})
    return tables
