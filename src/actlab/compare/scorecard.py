"""The scorecard: one row per activation, one column per measured property, from the claims'
``per_activation`` numbers (``verdicts.result.PerActivation``).

:func:`build_scorecard` is a pure function of the claim results: every cell is copied from
one claim's :class:`~actlab.verdicts.result.ActivationNumber` (estimate, 95% interval, seeds,
ratio to the baseline with its interval, note), never recomputed. A claim that gave no
per-activation numbers, or no number for an activation, shows as "not measured by this
claim" with the reason, never as a failure.

The dict it returns is what ``DIR/compare/scorecard.json`` holds::

    {"format": "actlab-scorecard/1", "activations": [...], "baseline": "relu",
     "claims": {CLAIM: {"status": "measured" | "no_per_activation" | "not_run", "verdict": ...,
                        "config": {...}, "refused": {ACT: reason}, "reused": bool}},
     "columns": [{"id": "CLAIM/KEY", "claim", "key", "quantity", "unit", "better", "baseline",
                  "ratio_label", "note", "best": ACT | None}],
     "rows": [{"activation": ACT, "cells": {COLUMN_ID: CELL}}],
     "rule_of_thumb": [...]}                 # added by rules.check_rule_of_thumb

    CELL = {"measured": true, "estimate", "low", "high", "n", "ratio", "ratio_low", "ratio_high", "note"}
         | {"measured": false, "note": "not measured by this claim: ..."}
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..verdicts.result import ActivationNumber, PerActivation, Result, to_jsonable

__all__ = ["FORMAT", "DEFAULT_ACTIVATIONS", "build_scorecard", "column_id", "cell_text", "best_activation",
           "NOT_MEASURED", "clear_best", "best_with_reason", "cell_short_note", "interval_text", "resolution",
           "ran_without_estimate", "zero_width"]

FORMAT = "actlab-scorecard/1"

#: The lecture's list (CS231n lecture 6) plus today's (GELU, SiLU), the default set of ``actlab compare``.
DEFAULT_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "maxout", "gelu", "silu")

NOT_MEASURED = "not measured by this claim"


def column_id(claim: str, key: str) -> str:
    return f"{claim}/{key}"


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def clear_best(better: str, entries: Sequence[tuple[str, Any, Any, Any]],
               unranked: Sequence[str] = ()) -> tuple[str | None, str]:
    """The clear winner of one property, or None with the reason ("no clear best: ...").

    ``entries``: (activation, estimate, low, high) of each measured value; ``unranked``: the
    activations that were measured but have no estimate (every seed censored or failed), which
    cannot be ranked. A winner needs a direction (``better`` "higher"/"lower"), at least two
    estimates, no activation left unranked, no tie, and its 95% interval clear of every other's.
    """
    if better not in ("higher", "lower"):
        return None, ""
    scored = [(a, _finite(e), _finite(lo), _finite(hi)) for a, e, lo, hi in entries]
    scored = [s for s in scored if s[1] is not None]
    if len(scored) < 2:
        return None, "no clear best: fewer than two estimates to compare"
    if unranked:
        return None, f"no clear best: {', '.join(unranked)} had no estimate to rank"
    sign = 1 if better == "higher" else -1
    scored.sort(key=lambda s: -sign * s[1])
    best, rest = scored[0], scored[1:]
    if any(s[1] == best[1] for s in rest):
        return None, "no clear best: the best estimate is tied"
    if best[2] is None or best[3] is None or any(s[2] is None or s[3] is None for s in rest):
        return None, "no clear best: an interval is missing"
    clear = all((best[2] > s[3]) if sign > 0 else (best[3] < s[2]) for s in rest)
    if not clear:
        return None, "no clear best: the best estimate's 95% interval overlaps another's"
    return best[0], ""


def ran_without_estimate(cell: Mapping[str, Any]) -> bool:
    """A cell for an activation the claim measured that has no estimate (censored or failed seeds)."""
    if cell.get("measured"):
        return False
    if "ran" in cell:
        return bool(cell["ran"])
    return not str(cell.get("note", "")).startswith(NOT_MEASURED)


def best_activation(per: PerActivation | Mapping[str, Any], values: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The clear winner of one column (see :func:`clear_best`), else None."""
    return best_with_reason(per, values)[0]


def best_with_reason(per: PerActivation | Mapping[str, Any],
                     values: Mapping[str, Mapping[str, Any]]) -> tuple[str | None, str]:
    better = per["better"] if isinstance(per, Mapping) else per.better
    entries = [(a, c.get("estimate"), c.get("low"), c.get("high")) for a, c in values.items() if c.get("measured")]
    unranked = [a for a, c in values.items() if ran_without_estimate(c)]
    return clear_best(better, entries, unranked)


def _cell(number: ActivationNumber) -> dict[str, Any]:
    cell = {k: v for k, v in to_jsonable(number).items() if k != "activation"}
    cell["measured"] = number.estimate is not None
    cell["ran"] = True  # the claim measured this activation (no estimate: censored or failed seeds, see note)
    if number.estimate is None and not cell.get("note"):
        cell["note"] = "no number (see the claim's result)"
    return cell


def build_scorecard(results: Mapping[str, Result | None], activations: Sequence[str], baseline: str, *,
                    refused: Mapping[str, Mapping[str, str]] | None = None,
                    claim_info: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The scorecard of ``activations`` from each claim's result (None: the claim did not run).

    ``refused``: claim -> {activation: why the claim cannot measure it} (e.g. cost takes no
    layer activation); ``claim_info``: extra per-claim fields to store (config, reused, ...).
    Rows follow ``activations``; columns follow the claims' order in ``results`` and each
    claim's ``per_activation`` order.
    """
    refused = refused or {}
    claim_info = claim_info or {}
    acts = list(activations)
    claims: dict[str, Any] = {}
    columns: list[dict[str, Any]] = []
    cells: dict[str, dict[str, Any]] = {a: {} for a in acts}
    for claim, result in results.items():
        info: dict[str, Any] = dict(claim_info.get(claim, {}))
        info["refused"] = dict(refused.get(claim, {}))
        if result is None:
            info["status"] = "not_run"
            claims[claim] = info
            continue
        info["verdict"] = {"status": result.verdict.status, "evidence": result.verdict.evidence}
        info["status"] = "measured" if result.per_activation else "no_per_activation"
        claims[claim] = info
        for per in result.per_activation:
            cid = column_id(claim, per.key)
            column = {"id": cid, "claim": claim, "key": per.key, "quantity": per.quantity, "unit": per.unit,
                      "better": per.better, "baseline": per.baseline, "ratio_label": per.ratio_label,
                      "note": per.note}
            values: dict[str, dict[str, Any]] = {}
            for act in acts:
                number = per.get(act)
                if number is not None:
                    values[act] = _cell(number)
                elif act in info["refused"]:
                    values[act] = {"measured": False, "note": f"{NOT_MEASURED}: {info['refused'][act]}"}
                else:
                    values[act] = {"measured": False, "note": f"{NOT_MEASURED} (it gave no number for {act})"}
                cells[act][cid] = values[act]
            column["best"], column["best_note"] = best_with_reason(column, values)
            column["resolution"] = resolution(column, claims)
            columns.append(column)
    rows = [{"activation": a, "cells": cells[a]} for a in acts]
    return {"format": FORMAT, "activations": acts, "baseline": baseline, "claims": claims, "columns": columns,
            "rows": rows}


def resolution(column: Mapping[str, Any], claims: Mapping[str, Any]) -> int | None:
    """The grid (in steps) a column's step counts are read on: its claim's ``eval_every``, for a
    column in steps; None otherwise."""
    if str(column.get("unit", "")).strip() != "steps":
        return None
    config = (claims.get(column.get("claim"), {}) or {}).get("config") or {}
    every = config.get("eval_every") if isinstance(config, Mapping) else None
    return int(every) if isinstance(every, (int, float)) and every > 1 else None


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    a = abs(v)
    if 1e3 <= a < 1e5:  # a step count or a time: whole numbers, not 1.03e+03
        return f"{v:.0f}"
    if a != 0 and (a >= 1e5 or a < 1e-3):
        return f"{v:.2e}"
    return f"{v:.3g}"


def cell_short_note(cell: Mapping[str, Any]) -> str:
    """Why a cell has no estimate, short: "not measured" when the claim did not measure the
    activation; else the first clause of the claim's note ("4 of 4 seeds never reached the
    target (censored at 500 steps)", "5 of 5 seeds never pinned by the end (...)")."""
    if not ran_without_estimate(cell):
        return "not measured"
    note = " ".join(str(cell.get("note", "")).split())
    first = note.split("; ")[0].strip().rstrip(".")
    return first or "measured, no estimate (the claim gave no reason)"


def zero_width(low: float | None, high: float | None) -> bool:
    """Whether an interval is a single number: every seed gave the same value. A geometric mean of
    equal values and its interval can differ from them in the last float digits (666.9999999999986
    to 666.9999999999998), so equal means equal to 1e-9, not bit for bit."""
    return low is not None and high is not None and math.isclose(low, high, rel_tol=1e-9, abs_tol=1e-12)


def interval_text(est: float, low: float | None, high: float | None, resolution: int | None = None,
                  unit: str = "", sep: str = "-") -> str:
    """"0.57x (0.48-0.69)"; a zero-width interval is not printed as a range: "100 (all seeds at
    100; read every 50 steps)" when the number is read on a grid, else "0 (all seeds at 0)"."""
    text = _fmt(est) + unit
    if low is None or high is None:
        return text
    if zero_width(low, high):  # not "667 (667-667)"
        grid = f"; read every {resolution} steps" if resolution else ""
        return text + f" (all seeds at {text}{grid})"
    return text + f" ({_fmt(low)}{sep}{_fmt(high)})"


def cell_text(cell: Mapping[str, Any], unit: str = "", *, ratio: bool = False, resolution: int | None = None) -> str:
    """"0.57 (0.48-0.69)" for a measured cell (its ratio with ``ratio``), else why there is no number
    (:func:`cell_short_note`). ``resolution``: the grid, in steps, the number was read on."""
    if not cell.get("measured"):
        return cell_short_note(cell)
    keys = ("ratio", "ratio_low", "ratio_high") if ratio else ("estimate", "low", "high")
    est, low, high = (_finite(cell.get(k)) for k in keys)
    if est is None:
        return "no ratio" if ratio else "n/a"
    return interval_text(est, low, high, resolution, unit)
