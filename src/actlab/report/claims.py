"""What the report asks of a claim's code: its module (claim text, source, ``Config``,
``QUICK``), the command that reruns a result, the scale it ran at, and the optional
hooks of ``plots/<claim_module>.py``:

* ``captions(result) -> {file name: caption}``: what to look at in each figure;
* ``tables(result) -> [{"title", "columns", "rows", "note"}]``: labelled metric tables;
* ``callout(result) -> {"title", "text", "figure"} | None`` (sign-coherence): the seed
  question answered, beside that figure.

Each hook may be absent (older code) or fail on an older result; :func:`call_hook`
then returns None and the report falls back to its generic rendering. A malformed
answer counts as a failure, so that a half-written hook never breaks the page.
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from types import ModuleType
from typing import Any

from ..claims import CLAIMS
from .values import config_text

__all__ = ["claim_module", "plot_module", "rerun_command", "run_scale", "Scale", "call_hook", "captions_of",
           "tables_of", "callout_of", "headline", "CLI_OPTIONS"]

# The options `actlab run` maps onto config fields of the same name; others go through --set.
CLI_OPTIONS = {"seed": "--seed", "device": "--device", "activations": "--activations", "baseline": "--baseline",
               "dataset": "--dataset", "seeds": "--seeds", "data_dir": "--data-dir"}


def _import(package: str, name: str) -> tuple[ModuleType | None, str | None]:
    if name not in CLAIMS:
        return None, None
    target = f"actlab.{package}.{CLAIMS[name]}"
    try:
        return importlib.import_module(target), None
    except ModuleNotFoundError as exc:
        if exc.name == target:
            return None, "this version of actlab has no module for this claim"
        return None, f"its module cannot be imported ({exc})"
    except Exception as exc:  # a module that is mid-change must not sink the whole report
        return None, f"its module cannot be imported ({type(exc).__name__}: {exc})"


def claim_module(name: str) -> tuple[ModuleType | None, str | None]:
    """``actlab.claims.<claim_module>``, or (None, why not)."""
    return _import("claims", name)


def plot_module(name: str) -> ModuleType | None:
    """``actlab.plots.<claim_module>`` (where the hooks live), or None."""
    return _import("plots", name)[0]


def _jsonable(v: Any) -> Any:
    from ..verdicts.result import to_jsonable

    return to_jsonable(v)


def _config_from(build: Callable[[], Any]) -> dict[str, Any] | None:
    try:
        return _jsonable(build())
    except Exception:  # a Config that cannot be built here: no baseline to compare with
        return None


def _baselines(module: ModuleType | None) -> dict[bool, dict[str, Any]]:
    """{True: the --quick config, False: the default (paper-scale) config}, where they build."""
    out: dict[bool, dict[str, Any]] = {}
    if module is None or not hasattr(module, "Config"):
        return out
    from ..training.settings import make_config

    quick = getattr(module, "QUICK", None)
    if quick is not None:
        base = _config_from(lambda: make_config(module.Config, quick))
        if base is not None:
            out[True] = base
    base = _config_from(lambda: make_config(module.Config))
    if base is not None:
        out[False] = base
    return out


def rerun_command(module: ModuleType | None, name: str, config: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The ``actlab run`` command that reproduces ``config``, and notes on what it cannot say.

    The command is ``--quick`` or not, whichever needs fewer options, plus one option per
    setting that differs (``--seed`` and the other common options where the claim has
    them, ``--set key=value`` for the rest).
    """
    config = dict(config)
    notes: list[str] = []
    names: list[str] = list(config)
    if module is not None and hasattr(module, "Config"):
        names = [f.name for f in fields(module.Config)]
        unknown = [k for k in config if k not in names]
        if unknown:
            notes.append(f"settings unknown to this actlab, left out: {', '.join(unknown)}")
        absent = [k for k in names if k not in config]
        if absent:
            notes.append(f"settings not recorded in this result (today's defaults apply): {', '.join(absent)}")
    else:
        notes.append("the claim's module is not available, so every recorded setting is spelled out")
    bases = _baselines(module)
    recorded = _jsonable(config)
    best_quick, best_diff = False, [k for k in names if k in recorded]
    for is_quick in (True, False):
        if is_quick not in bases:
            continue
        base = bases[is_quick]
        diff = [k for k in names if k in recorded and recorded[k] != base.get(k)]
        if len(diff) < len(best_diff) or (len(diff) == len(best_diff) and is_quick):
            best_quick, best_diff = is_quick, diff
    args = ["actlab", "run", name] + (["--quick"] if best_quick else [])
    for key in best_diff:
        value = recorded[key]
        if isinstance(value, dict) or (isinstance(value, list) and any(isinstance(x, (dict, list)) for x in value)):
            notes.append(f"setting {key} cannot be given on the command line")
            continue
        if key in CLI_OPTIONS:
            args += [CLI_OPTIONS[key], config_text(value)]
        else:
            args += ["--set", f"{key}={config_text(value)}"]
    return shlex.join(args), notes


@dataclass(frozen=True)
class Scale:
    """At what size a result ran.

    Attributes:
        kind: ``"quick"`` (every ``QUICK`` override holds), ``"full"`` (the defaults: paper
            scale), ``"custom"`` (neither), or ``"unknown"`` (no module to compare with).
        sizes: (setting, this run's value, the --quick value, the full-scale value) for
            every setting ``--quick`` changes.
        full_command: the command that runs the claim at full scale.
    """

    kind: str
    sizes: tuple[tuple[str, Any, Any, Any], ...]
    full_command: str

    @property
    def differences(self) -> list[tuple[str, Any, Any]]:
        """(setting, this run's value, the full-scale value) where they differ: a setting that
        matches full scale says nothing about this run."""
        return [(k, v, full) for k, v, _, full in self.sizes if v != full]

    @property
    def label(self) -> str:
        return {"quick": "quick (--quick)", "full": "full (paper) scale", "custom": "custom sizes",
                "unknown": "unknown scale"}[self.kind]


def run_scale(module: ModuleType | None, name: str, config: Mapping[str, Any]) -> Scale:
    """The :class:`Scale` of a result of claim ``name`` with ``config``."""
    command = getattr(module, "COMMAND", None) or f"actlab run {name}"
    bases = _baselines(module)
    quick = getattr(module, "QUICK", None)
    if module is None or not isinstance(quick, Mapping) or False not in bases:
        return Scale("unknown", (), command)
    recorded = _jsonable(dict(config))
    # which activations ran is a choice, not a size (cost's --quick drops gelu; `actlab compare`
    # names its own set): it never makes a run "custom"
    quick = {k: v for k, v in quick.items() if k not in ("activations", "baseline")}
    keys = [k for k in quick if k in recorded]
    sizes = tuple((k, recorded.get(k), bases.get(True, {}).get(k), bases[False].get(k)) for k in keys)
    if keys and all(recorded[k] == bases.get(True, {}).get(k, object()) for k in keys):
        kind = "quick"
    elif all(recorded.get(k) == bases[False].get(k) for k in quick):
        kind = "full"
    else:
        kind = "custom"
    return Scale(kind, sizes, command)


def call_hook(module: ModuleType | None, hook: str, *args: Any) -> Any:
    """``module.hook(*args)``, or None when the hook is absent or raises."""
    fn = getattr(module, hook, None)
    if not callable(fn):
        return None
    try:
        return fn(*args)
    except Exception:  # an old result the hook no longer understands: the generic rendering
        return None


def captions_of(module: ModuleType | None, result: Any) -> dict[str, str]:
    """``captions(result)``, keeping only text captions; {} when absent or failing."""
    got = call_hook(module, "captions", result)
    if not isinstance(got, Mapping):
        return {}
    return {str(k): " ".join(v.split()) for k, v in got.items() if isinstance(v, str) and v.strip()}


def tables_of(module: ModuleType | None, result: Any) -> list[dict[str, Any]] | None:
    """``tables(result)``, each checked (title, columns, rows of that width); None when
    absent, failing or malformed."""
    got = call_hook(module, "tables", result)
    if not isinstance(got, (list, tuple)):
        return None
    out = []
    for t in got:
        if not isinstance(t, Mapping):
            return None
        title, columns, rows = t.get("title"), t.get("columns"), t.get("rows")
        if not isinstance(title, str) or not isinstance(columns, (list, tuple)) or not isinstance(rows, (list, tuple)):
            return None
        if any(not isinstance(r, (list, tuple)) or len(r) != len(columns) for r in rows):
            return None
        note = t.get("note", "")
        out.append({"title": title, "columns": [str(c) for c in columns], "rows": [list(r) for r in rows],
                    "note": note if isinstance(note, str) else ""})
    return out


def callout_of(module: ModuleType | None, result: Any) -> dict[str, str] | None:
    """``callout(result)`` when it is a {title, text, figure} of text; else None."""
    got = call_hook(module, "callout", result)
    if not isinstance(got, Mapping):
        return None
    if not all(isinstance(got.get(k), str) and got.get(k).strip() for k in ("title", "text")):
        return None
    figure = got.get("figure")
    return {"title": got["title"], "text": got["text"], "figure": figure if isinstance(figure, str) else ""}


def headline(module: ModuleType | None, metrics: Any) -> str | None:
    """A claim module's own ``headline(metrics)``, for results without a key number."""
    text = call_hook(module, "headline", metrics)
    return text.strip() if isinstance(text, str) and text.strip() else None
