"""``actlab compare``: the claims on a set of activations, reused where already run, then the scorecard.

:func:`plan` builds each claim's config (the claim's ``--quick`` sizes, then
:data:`COMPARE_QUICK`'s overrides, then the user's) with the compared activations and the
baseline; an activation a claim cannot take (cost times elementwise ops only) is left out of
that claim and named in the scorecard as "not measured by this claim" with the claim's own
reason. :func:`run_compare` runs each claim whose folder ``DIR/NAME`` does not already hold a
result of the same config (and, for a plugin activation, the same plugin file bytes): like a
sweep, a stopped comparison resumes where it stopped, and a claim already run by ``actlab run``
with the same settings is not rerun. Each claim's folder is written as it finishes
(``runs.folders``, one writer per folder), then ``DIR/compare/`` (:mod:`.folder`).

Nothing here plots: the CLI passes the writers that draw (plots sit above this layer).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import Any

from ..verdicts.result import Result, ResultFileError, load_result, to_jsonable
from .scorecard import build_scorecard

__all__ = ["COMPARE_QUICK", "CompareError", "ClaimPlan", "plan", "run_compare", "previous_plugins"]

#: ``--quick`` overrides on top of each claim's own QUICK, so that ``compare --quick`` on the
#: eight default activations stays within 10 minutes on a 2-core CPU. Each claim's quick run
#: scales with the number of activations; these cap the ones that grow most.
#: (Measured per claim with eight activations: none needs one yet; the mechanism is here for those
#: that grow past their share.)
COMPARE_QUICK: dict[str, dict[str, Any]] = {}


class CompareError(ValueError):
    """A comparison that cannot start: the message says why and what to do."""


@dataclass
class ClaimPlan:
    name: str
    module: ModuleType
    config: Any
    refused: dict[str, str] = field(default_factory=dict)   # activation -> why this claim cannot take it
    reuse: Result | None = None


def _fields(module: ModuleType) -> set[str]:
    return {f.name for f in fields(module.Config)}


def _config(module: ModuleType, quick: bool, overrides: Mapping[str, Any]) -> Any:
    from ..training.settings import make_config

    base = dict(module.QUICK) if quick else {}
    if quick:
        base.update({k: v for k, v in COMPARE_QUICK.get(module.NAME, {}).items() if k in _fields(module)})
    return make_config(module.Config, base, overrides)


def plan(claims: Sequence[str], activations: Sequence[str], baseline: str, *, quick: bool,
         common: Mapping[str, Any] | None = None, sets: Mapping[str, Mapping[str, Any]] | None = None
         ) -> list[ClaimPlan]:
    """Each claim's config for these activations; :class:`CompareError` for settings no claim can take.

    ``common``: seed, seeds, device, dataset, data_dir (given to the claims that have them);
    ``sets``: claim -> {setting: value} (``--set CLAIM.KEY=VALUE``), "*" -> {setting: value} for every
    claim that has the setting (``--set KEY=VALUE``).
    """
    from ..claims import load_claim

    sets = sets or {}
    modules = [load_claim(name) for name in claims]
    for key in sets.get("*", {}):  # KEY=VALUE for every claim that has it: some claim must
        if not any(key in _fields(m) for m in modules):
            raise CompareError(f"no claim compared has a setting {key!r} (--set {key}=...)")
    out = []
    for module in modules:
        valid = _fields(module)
        over = {k: v for k, v in (common or {}).items() if v is not None and k in valid}
        over.update({k: v for k, v in sets.get("*", {}).items() if k in valid})
        for key in sets.get(module.NAME, {}):
            if key.replace("-", "_") not in valid:
                raise CompareError(f"claim {module.NAME} has no setting {key!r}; its settings: {', '.join(sorted(valid))}")
        over.update(sets.get(module.NAME, {}))
        refused: dict[str, str] = {}
        if "activations" in valid:
            if "baseline" in valid:
                over["baseline"] = baseline
            acts = [a for a in activations]
            if baseline not in acts and "baseline" not in valid:
                acts.append(baseline)
            try:
                config = _config(module, quick, {**over, "activations": tuple(acts)})
            except (ValueError, TypeError):
                for act in acts:  # which activations does this claim refuse, and why?
                    if act == baseline:
                        continue
                    try:
                        _config(module, quick, {**over, "activations": (act,) if "baseline" in valid
                                                else (act, baseline)})
                    except (ValueError, TypeError) as exc:
                        refused[act] = " ".join(str(exc).split())
                kept = tuple(a for a in acts if a not in refused)
                try:
                    config = _config(module, quick, {**over, "activations": kept})
                except (ValueError, TypeError) as exc:
                    raise CompareError(f"{module.NAME}: {exc}") from None
        else:
            try:
                config = _config(module, quick, over)
            except (ValueError, TypeError) as exc:
                raise CompareError(f"{module.NAME}: {exc}") from None
        out.append(ClaimPlan(module.NAME, module, config, refused))
    return out


def previous_plugins(out_root: Path) -> dict[str, dict[str, str]]:
    """claim -> {plugin activation: file digest} from the last scorecard in ``DIR/compare``."""
    try:
        data = json.loads((Path(out_root) / "compare" / "scorecard.json").read_text(encoding="utf-8"))
        return {c: dict(info.get("plugins", {})) for c, info in data.get("claims", {}).items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}


def _reusable(p: ClaimPlan, out_root: Path, plugins: Mapping[str, str],
              before: Mapping[str, Mapping[str, str]]) -> Result | None:
    path = out_root / p.name / "result.json"
    if not path.is_file():
        return None
    try:
        result = load_result(path)
    except (ResultFileError, OSError):
        return None
    if result.experiment != p.name or to_jsonable(result.config) != to_jsonable(asdict(p.config)):
        return None
    used = _plugins_used(p, plugins)
    if used and dict(before.get(p.name, {})) != used:  # a plugin activation, and its file changed (or unknown)
        return None
    return result


def _plugins_used(p: ClaimPlan, plugins: Mapping[str, str]) -> dict[str, str]:
    acts = getattr(p.config, "activations", ()) or ()
    return {a: plugins[a] for a in acts if a in plugins}


def run_compare(out_root: str | Path, plans: Sequence[ClaimPlan], activations: Sequence[str], baseline: str, *,
                run_claim: Callable[[ClaimPlan, str], Result],
                write_claim: Callable[[Result], Path],
                plugins: Mapping[str, str] | None = None,
                on_claim: Callable[[ClaimPlan, Result, bool], None] | None = None) -> dict[str, Any]:
    """Run (or reuse) each planned claim and return the scorecard (without the rule of thumb).

    ``run_claim(plan, label) -> Result`` runs one claim; ``write_claim(result)`` writes its folder
    (the caller holds ``claim_lock``: see the CLI); ``plugins``: plugin activation -> file digest;
    ``on_claim(plan, result, reused)`` after each claim.
    """
    from ..runs.folders import claim_lock

    out_root = Path(out_root)
    plugins = dict(plugins or {})
    before = previous_plugins(out_root)
    results: dict[str, Result | None] = {}
    info: dict[str, dict[str, Any]] = {}
    for i, p in enumerate(plans, 1):
        label = f"[{i}/{len(plans)}] {p.name}"
        with claim_lock(out_root, p.name):
            result = _reusable(p, out_root, plugins, before)
            reused = result is not None
            if result is None:
                result = run_claim(p, label)
                write_claim(result)
        results[p.name] = result
        info[p.name] = {"config": to_jsonable(asdict(p.config)), "reused": reused,
                        "elapsed_s": result.elapsed_s, "plugins": _plugins_used(p, plugins)}
        if on_claim:
            on_claim(p, result, reused)
    return build_scorecard(results, activations, baseline, refused={p.name: p.refused for p in plans},
                           claim_info=info)
