"""What a results folder holds: each claim's result and figures, what is missing or
unreadable, and a monitor log if there is one.

A results folder is what ``actlab run NAME --out DIR`` writes: ``DIR/NAME/result.json``
beside ``DIR/NAME/*.png`` (see :mod:`actlab.verdicts.result`). Reading it never
raises for one bad claim: a corrupt ``result.json`` becomes an :class:`Unreadable`
entry. Only a folder with no readable result at all is a :class:`ReportError`.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..claims import CLAIMS
from ..runs.failures import read_failures
from ..verdicts.result import Result, ResultFileError, load_result

__all__ = [
    "ReportError",
    "ClaimResult",
    "Unreadable",
    "MonitorLog",
    "ResultsFolder",
    "scan_results",
    "MONITOR_FILES",
    "MAX_FIGURE_BYTES",
]

#: A figure larger than this is not embedded (actlab's figures are well under 1 MB).
MAX_FIGURE_BYTES = 20 * 1024 * 1024

#: Where a monitor log may sit, relative to the results folder, in order of preference:
#: saved findings first (what the user kept), else the JSONL log, diagnosed here.
MONITOR_FILES = ("monitor/findings.json", "monitor.jsonl", "monitor/monitor.jsonl")


class ReportError(ValueError):
    """The folder cannot give a report (missing, or not an actlab results folder)."""


@dataclass(frozen=True)
class ClaimResult:
    """One claim's folder: its result and its figures (PNG files, sorted by name)."""

    name: str
    folder: Path
    result: Result
    figures: tuple[Path, ...]


@dataclass(frozen=True)
class Unreadable:
    """A claim folder whose ``result.json`` could not be used, and why."""

    name: str
    path: Path
    reason: str


@dataclass(frozen=True)
class Failed:
    """A claim whose last ``actlab run`` failed (``runs/failures.py``): its error and the rerun command."""

    name: str
    error: str
    command: str


@dataclass(frozen=True)
class MonitorLog:
    """Monitor findings found in the folder.

    Attributes:
        path: the file read.
        findings: one dict per finding (``Finding.as_dict()`` fields), most severe first;
            None when the file could not be read (``error`` says why).
        steps: sampled steps in a JSONL log (None for a findings file).
        error: why the file could not be read, or None.
    """

    path: Path
    findings: tuple[Mapping[str, Any], ...] | None
    steps: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ResultsFolder:
    """Everything the report shows, read from one results folder.

    Attributes:
        root: the folder, as given.
        results: readable claims, in DESIGN.md order (``claims.CLAIMS``), then any
            other result folders by name.
        unreadable: claim folders whose ``result.json`` is corrupt, truncated or absent.
        missing: claims of ``CLAIMS`` with no folder here (and no recorded failure).
        failed: claims whose last run failed, with no result here (``DIR/failed-claims.json``).
        monitor: the monitor findings, if a log is present (see ``MONITOR_FILES``).
        skipped: one line per file or folder left out because it is not a regular file
            inside the folder (a link out of it), or a figure too large to embed.
    """

    root: Path
    results: tuple[ClaimResult, ...]
    unreadable: tuple[Unreadable, ...]
    missing: tuple[str, ...]
    monitor: MonitorLog | None
    skipped: tuple[str, ...] = ()
    failed: tuple[Failed, ...] = ()

    def run_command(self, name: str, quick: bool) -> str:
        """The command that produces claim ``name`` into this folder."""
        return f"actlab run {name}{' --quick' if quick else ''} --out {shlex.quote(str(self.root))}"


def scan_results(results_dir: str | Path) -> ResultsFolder:
    """Read a results folder; :class:`ReportError` if it is not one.

    Folders whose names start with a dot (``actlab run``'s temporary folders) are skipped.
    """
    root = Path(results_dir)
    if not root.exists():
        raise ReportError(f"{root}: no such folder; make one with `actlab run all --quick --out {shlex.quote(str(root))}`")
    if not root.is_dir():
        raise ReportError(f"{root} is a file; give the results folder that `actlab run ... --out DIR` wrote")
    if (root / "result.json").is_file():
        parent = shlex.quote(str(root.resolve().parent))
        raise ReportError(f"{root} is one claim's folder (it holds result.json); "
                          f"give the results folder above it: actlab report {parent}")
    found: dict[str, ClaimResult] = {}
    unreadable: list[Unreadable] = []
    skipped: list[str] = []
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise ReportError(f"{root}: cannot read the folder ({exc.strerror or exc})") from None
    inside = root.resolve()
    for folder in children:
        path = folder / "result.json"
        if folder.is_symlink():  # only what is in the results folder is shown
            skipped.append(f"{folder}: a link to {_target(folder)}, not followed")
            continue
        if not path.exists() and not path.is_symlink():
            if folder.name in CLAIMS:  # a claim's folder without its result: say so
                unreadable.append(Unreadable(folder.name, path, f"{path}: no such file"))
            continue
        why = _not_regular(path, inside)
        if why:
            unreadable.append(Unreadable(folder.name, path, f"{path}: {why}"))
            continue
        try:
            result = load_result(path)
        except ResultFileError as exc:
            unreadable.append(Unreadable(folder.name, path, str(exc)))
            continue
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:  # parseable JSON with odd types in it
            unreadable.append(Unreadable(folder.name, path, f"{path}: not an actlab result ({type(exc).__name__})"))
            continue
        figures = []
        for figure in sorted(folder.glob("*.png")):
            if figure.name.startswith("."):
                continue
            # a small regular file that is not a PNG stays: the report names it as "not a PNG image"
            why = _not_regular(figure, inside) or _too_large(figure)
            if why:
                skipped.append(f"{figure}: {why}; not embedded")
            else:
                figures.append(figure)
        found[folder.name] = ClaimResult(folder.name, folder, result, tuple(figures))
    if not found:
        claims = ", ".join(CLAIMS)
        if unreadable:
            bad = "; ".join(u.reason for u in unreadable)
            raise ReportError(f"{root}: no readable result.json in it ({bad})")
        raise ReportError(f"{root} is not an actlab results folder: no CLAIM/result.json in it "
                          f"(claims: {claims}); make one with `actlab run all --quick --out {shlex.quote(str(root))}`")
    order = {name: i for i, name in enumerate(CLAIMS)}
    ranked = sorted(found.values(), key=lambda c: (order.get(c.name, len(order)), c.name))
    present = set(found) | {u.name for u in unreadable}
    failed = [Failed(name, entry["error"], entry["command"]) for name, entry in read_failures(root).items()
              if name not in present]
    present |= {f.name for f in failed}
    return ResultsFolder(
        root=root,
        results=tuple(ranked),
        unreadable=tuple(sorted(unreadable, key=lambda u: (order.get(u.name, len(order)), u.name))),
        missing=tuple(n for n in CLAIMS if n not in present),
        monitor=_read_monitor(root, inside),
        skipped=tuple(skipped),
        failed=tuple(sorted(failed, key=lambda f: (order.get(f.name, len(order)), f.name))),
    )


def _target(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "somewhere else"


def _not_regular(path: Path, inside: Path) -> str | None:
    """Why ``path`` is not a regular file inside the results folder ``inside`` (resolved), or None."""
    if path.is_symlink():
        return f"a link to {_target(path)}, not followed"
    if not path.is_file():
        return "not a regular file"
    try:
        path.resolve().relative_to(inside)
    except ValueError:
        return "outside the results folder"
    return None


def _too_large(path: Path) -> str | None:
    """Why ``path`` is not embedded (too large to read whole, unreadable), from its size alone; or None."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        return f"cannot read it ({exc.strerror or exc})"
    if size > MAX_FIGURE_BYTES:
        return f"{size / 2**20:.0f} MB, more than the {MAX_FIGURE_BYTES // 2**20} MB a figure may have"
    return None


def _read_monitor(root: Path, inside: Path | None = None) -> MonitorLog | None:
    inside = inside or root.resolve()
    for rel in MONITOR_FILES:
        path = root / rel
        if path.is_file() or path.is_symlink():
            why = _not_regular(path, inside)
            if why:
                return MonitorLog(path, None, error=f"{path}: {why}")
            return _read_findings(path) if path.suffix == ".json" else _diagnose_jsonl(path)
    return None


def _finding_dicts(items: Sequence[Any]) -> tuple[Mapping[str, Any], ...]:
    out = []
    for item in items:
        if hasattr(item, "as_dict"):
            item = item.as_dict()
        if not isinstance(item, Mapping):
            raise ValueError(f"a finding is a JSON object, not {type(item).__name__}")
        out.append(item)
    return tuple(out)


def _read_findings(path: Path) -> MonitorLog:
    """``findings.json``: a list of findings, or ``{"findings": [...]}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, Mapping):
            data = data.get("findings")
        if not isinstance(data, list):
            raise ValueError("expected a list of findings (or {\"findings\": [...]})")
        return MonitorLog(path, _finding_dicts(data))
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        return MonitorLog(path, None, error=f"{path}: {exc}")
    except RecursionError:
        return MonitorLog(path, None, error=f"{path}: JSON nested too deep to read")


def _diagnose_jsonl(path: Path) -> MonitorLog:
    """A monitor JSONL log, diagnosed with ``actlab.probes`` (the monitor's own rules)."""
    try:
        from ..probes import diagnose, read_jsonl
    except Exception as exc:  # the probes package may be mid-change: the report still renders
        return MonitorLog(path, None, error=f"{path}: actlab.probes cannot read monitor logs here ({exc})")
    try:
        records = read_jsonl(path)
        steps = sum(1 for r in records if r.get("type", "step") == "step")
        return MonitorLog(path, _finding_dicts(diagnose(records)), steps=steps)
    except Exception as exc:  # a malformed log is reported in the page, not raised
        return MonitorLog(path, None, error=f"{path}: {exc}")
