"""A sweep's aggregate: per grid point, over seeds, every numeric metric's mean and 95% CI.

Computed from the files alone (``sweep.json`` and the runs' ``result.json``), so it can be
recomputed at any time (:func:`aggregate_sweep`); see :mod:`actlab.runs.sweep`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._version import __version__
from ..verdicts.result import ResultFileError, load_result, read_bounded, to_jsonable
from ..verdicts.stats import mean_ci95
from .sweep_backends import SweepError

__all__ = ["aggregate_sweep", "flatten_metrics", "read_manifest", "MANIFEST", "AGGREGATE", "RUNS", "RESULT",
           "ERROR", "LOCK"]

MANIFEST, AGGREGATE, RUNS, RESULT, ERROR, LOCK = (
    "sweep.json", "aggregate.json", "runs", "result.json", "error.json", ".lock")


#: A sweep.json larger than this is not read (one of a million runs is about 500 MB; 10,000 runs: 5 MB).
MAX_MANIFEST_BYTES = 256 * 1024 * 1024


def read_manifest(path: Path) -> dict[str, Any]:
    """``sweep.json``, checked; :class:`SweepError` (saying what to do) if it cannot be used."""
    try:
        data = json.loads(read_bounded(path, MAX_MANIFEST_BYTES, "sweep manifest").decode("utf-8"))
    except (OSError, ValueError, RecursionError, MemoryError) as exc:  # too large, not UTF-8, not JSON
        why = "nested too deep to read" if isinstance(exc, RecursionError) else exc
        raise SweepError(f"{path}: unreadable or corrupt sweep manifest ({why}); delete it to start this "
                         "sweep over (finished runs with the same config are kept)") from None
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list) or not all(
            isinstance(r, dict) and isinstance(r.get("id"), str) for r in data["runs"]):
        raise SweepError(f"{path}: not an actlab sweep manifest; delete it to start this sweep over")
    return data



def _numeric(value: Any) -> float | None:
    """A metric leaf as a float (NaN/inf included, stored as strings in JSON); None if not a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    return None


def flatten_metrics(metrics: Any, prefix: str = "") -> dict[str, Any]:
    """Nested metrics -> ``{"a.b[2]": leaf}``: dict keys joined by ``.``, list items as ``[i]``.

    Every leaf is kept (numbers, ``None``, strings, booleans); :func:`aggregate_sweep`
    averages the numeric ones. A key that itself holds a ``.`` stays as it is.
    """
    out: dict[str, Any] = {}
    if isinstance(metrics, Mapping):
        for key, value in metrics.items():
            out.update(flatten_metrics(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(metrics, (list, tuple)):
        for i, value in enumerate(metrics):
            out.update(flatten_metrics(value, f"{prefix}[{i}]"))
    else:
        out[prefix] = metrics
    return out


def aggregate_sweep(folder: str | Path) -> dict[str, Any]:
    """Per grid point, over its seeds, every numeric metric: mean, 95% CI, counts.

    Reads ``folder/sweep.json`` and the runs' ``result.json`` files, nothing else. For each
    grid point (in the manifest's order, seeds in order):

    * ``metrics[key]``: ``{mean, ci95_low, ci95_high, n, n_nonfinite, n_missing}`` for every
      numeric leaf of the runs' ``metrics`` (:func:`flatten_metrics`: nested dicts as dotted
      keys, list items elementwise as ``key[i]``; booleans and strings other than
      ``"nan"``/``"inf"`` are not numbers and are left out). ``mean`` and the CI (Student t,
      :func:`~actlab.verdicts.stats.mean_ci95`) are over the finite values only; a NaN or
      inf (a diverged run) is counted in ``n_nonfinite`` and named in ``nonfinite``, never
      averaged; ``n_missing`` counts runs without a number there (None, absent, unfinished).
    * ``verdicts``: how many runs gave each status; ``runs``/``seeds``: the finished runs;
      ``missing``: runs without a valid result file; ``invalid``: run id -> why its file
      was not read.

    Raises:
        SweepError: no readable ``sweep.json`` in ``folder``.
    """
    folder = Path(folder)
    manifest = read_manifest(folder / MANIFEST)
    points: dict[str, dict[str, Any]] = {}
    found = 0
    for entry in manifest["runs"]:
        point = entry.get("point", {})
        key = json.dumps(point, sort_keys=True)
        slot = points.setdefault(key, {"point": point, "runs": [], "seeds": [], "missing": [], "invalid": {},
                                       "values": []})
        path = folder / RUNS / entry["id"] / RESULT
        try:
            result = load_result(path)
            if to_jsonable(result.config) != entry.get("config", to_jsonable(result.config)):
                raise ResultFileError(f"{path}: holds another run (config differs from sweep.json)")
            flat = flatten_metrics(result.metrics)
        except (ResultFileError, TypeError, RecursionError) as exc:
            slot["missing"].append(entry["id"])
            if path.exists():
                slot["invalid"][entry["id"]] = str(exc) if isinstance(exc, ResultFileError) else (
                    f"{path}: not an actlab result ({type(exc).__name__})")
            continue
        found += 1
        slot["runs"].append(entry["id"])
        slot["seeds"].append(entry.get("seed"))
        slot["values"].append((entry["id"], flat, result.verdict.status))
    out_points = []
    for slot in points.values():
        values = slot.pop("values")
        n_runs = len(values) + len(slot["missing"])
        keys: dict[str, None] = {}
        for _, flat, _ in values:
            for k, v in flat.items():
                if _numeric(v) is not None:
                    keys.setdefault(k)
        metrics: dict[str, Any] = {}
        nonfinite: dict[str, list[str]] = {}
        for k in keys:
            numbers = []
            for rid, flat, _ in values:
                x = _numeric(flat.get(k))
                if x is None:
                    continue
                numbers.append(x)
                if not math.isfinite(x):
                    nonfinite.setdefault(rid, []).append(k)
            stats = mean_ci95(numbers)
            metrics[k] = {"mean": stats["mean"], "ci95_low": stats["ci95_low"], "ci95_high": stats["ci95_high"],
                          "n": stats["n"], "n_nonfinite": stats["n_excluded"], "n_missing": n_runs - len(numbers)}
        verdicts: dict[str, int] = {}
        for _, _, status in values:
            verdicts[status] = verdicts.get(status, 0) + 1
        out_points.append({**slot, "verdicts": verdicts, "nonfinite": nonfinite, "metrics": metrics})
    return {
        "experiment": manifest.get("experiment"),
        "actlab_version": __version__,
        "grid": manifest.get("grid", {}),
        "seeds": manifest.get("seeds"),
        "runs_expected": len(manifest["runs"]),
        "runs_found": found,
        "complete": found == len(manifest["runs"]),
        "points": out_points,
    }
