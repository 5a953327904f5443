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
           "NOT_MEASURED"]

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


def best_activation(per: PerActivation | Mapping[str, Any], values: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The activation with the best estimate in one column (``better`` "higher"/"lower"), else None.

    Only measured cells with an estimate count; a tie keeps the first in row order. "neither"
    (a number that is not better one way) has no best.
    """
    better = per["better"] if isinstance(per, Mapping) else per.better
    if better not in ("higher", "lower"):
        return None
    scored = [(act, _finite(cell.get("estimate"))) for act, cell in values.items() if cell.get("measured")]
    scored = [(a, v) for a, v in scored if v is not None]
    if not scored:
        return None
    pick = max if better == "higher" else min
    target = pick(v for _, v in scored)
    return next(a for a, v in scored if v == target)


def _cell(number: ActivationNumber) -> dict[str, Any]:
    cell = {k: v for k, v in to_jsonable(number).items() if k != "activation"}
    cell["measured"] = number.estimate is not None
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
            column["best"] = best_activation(column, values)
            columns.append(column)
    rows = [{"activation": a, "cells": cells[a]} for a in acts]
    return {"format": FORMAT, "activations": acts, "baseline": baseline, "claims": claims, "columns": columns,
            "rows": rows}


def _fmt(v: float | None) -> str:
    if v is None:
        return "n/a"
    a = abs(v)
    if a != 0 and (a >= 1e4 or a < 1e-3):
        return f"{v:.2e}"
    return f"{v:.3g}"


def cell_text(cell: Mapping[str, Any], unit: str = "", *, ratio: bool = False) -> str:
    """"0.57 (0.48-0.69)" for a measured cell (its ratio with ``ratio``), else the note."""
    if not cell.get("measured"):
        return "not measured"
    keys = ("ratio", "ratio_low", "ratio_high") if ratio else ("estimate", "low", "high")
    est, low, high = (_finite(cell.get(k)) for k in keys)
    if est is None:
        return "n/a"
    text = _fmt(est)
    if low is not None and high is not None:
        text += f" ({_fmt(low)}-{_fmt(high)})"
    return text
