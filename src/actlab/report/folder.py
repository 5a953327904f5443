"""What a results folder holds: each claim's result and figures, what is missing or
unreadable, and a monitor log if there is one.

A results folder is what ``actlab run NAME --out DIR`` writes: ``DIR/NAME/result.json``
beside ``DIR/NAME/*.png`` (see :mod:`actlab.verdicts.result`). Reading it never
raises for one bad claim: a corrupt ``result.json`` becomes an :class:`Unreadable`
entry. Only a folder with no readable result at all is a :class:`ReportError`.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..claims import CLAIMS
from ..runs.failures import read_failures
from ..verdicts.result import VERDICTS, Result, ResultFileError, load_result, read_bounded

__all__ = [
    "ReportError",
    "ClaimResult",
    "Unreadable",
    "MonitorLog",
    "ResultsFolder",
    "scan_results",
    "MONITOR_FILES",
    "MAX_FIGURE_BYTES",
    "MAX_PAGE_FIGURE_BYTES",
    "MAX_SECTIONS",
    "MAX_RUN_ROWS",
    "MAX_MONITOR_BYTES",
    "RunRow",
]

#: A figure larger than this is not embedded (actlab's figures are well under 1 MB).
MAX_FIGURE_BYTES = 20 * 1024 * 1024
#: Figures embedded in one page, in all; past it a figure is named, not embedded.
MAX_PAGE_FIGURE_BYTES = 64 * 1024 * 1024
#: Claims (or a user's own experiments) with a section of their own; more are table rows only.
MAX_SECTIONS = 32
#: Runs listed one row each in the "All runs" table; the others are counted in its totals.
MAX_RUN_ROWS = 500
#: Lines kept in ``ResultsFolder.skipped``; the others are counted in one last line.
MAX_LINES = 50
#: A findings file larger than this is not read; a JSONL monitor log larger than this is
#: sampled: evenly spaced lines adding up to about this many bytes (see ``_diagnose_jsonl``).
MAX_MONITOR_BYTES = 32 * 1024 * 1024

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
        sampled: for a log over ``MAX_MONITOR_BYTES``, k: every k-th step was diagnosed.
    """

    path: Path
    findings: tuple[Mapping[str, Any], ...] | None
    steps: int | None = None
    error: str | None = None
    sampled: int | None = None


@dataclass(frozen=True)
class RunRow:
    """One result found in the folder, for the table of all runs: its folder's name, the claim
    its file names, the verdict, the key number's text, seed and time."""

    folder: str
    claim: str
    status: str
    key: str
    seed: Any
    elapsed_s: Any


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
            inside the folder (a link out of it), a figure too large to embed (or past the
            page's budget); at most ``MAX_LINES``, then one line counting the rest.
        notes: one line per result whose file names another claim than its folder (shown
            under the file's claim); at most ``MAX_LINES``, then one line counting the rest.
        runs: one row per result found (every run, the sectioned ones included), at most
            ``MAX_RUN_ROWS``; ``runs_total`` counts them all and ``run_stats`` sums them per
            claim (verdict counts, key number count, sum, min and max).
    """

    root: Path
    results: tuple[ClaimResult, ...]
    unreadable: tuple[Unreadable, ...]
    missing: tuple[str, ...]
    monitor: MonitorLog | None
    skipped: tuple[str, ...] = ()
    failed: tuple[Failed, ...] = ()
    notes: tuple[str, ...] = ()
    runs: tuple[RunRow, ...] = ()
    runs_total: int = 0
    run_stats: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def run_command(self, name: str, quick: bool) -> str:
        """The command that produces claim ``name`` into this folder."""
        return f"actlab run {name}{' --quick' if quick else ''} --out {shlex.quote(str(self.root))}"


def scan_results(results_dir: str | Path) -> ResultsFolder:
    """Read a results folder; :class:`ReportError` if it is not one.

    Folders whose names start with a dot (``actlab run``'s temporary folders) are skipped.
    Each ``result.json`` is read only up to :data:`MAX_RESULT_BYTES`; a file that names
    another claim than its folder is shown under the file's own claim, with a line saying
    so. One result per claim gets a section (the folder named after the claim first); the
    other runs of a claim are kept as one row each (:class:`RunRow`, at most
    :data:`MAX_RUN_ROWS`) and counted in :attr:`ResultsFolder.runs_total` and
    :attr:`ResultsFolder.run_stats`, so that memory and the page stay bounded however many
    folders there are.
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
    scan = _Scan(root)
    try:
        names = sorted(e.name for e in os.scandir(root) if not e.name.startswith(".") and e.is_dir())
    except OSError as exc:
        raise ReportError(f"{root}: cannot read the folder ({exc.strerror or exc})") from None
    # the folders named after a claim first, so that each claim's own folder gets its section
    for name in sorted(names, key=lambda n: (n not in CLAIMS, n)):
        scan.read(root / name)
    if not scan.found:
        claims = ", ".join(CLAIMS)
        if scan.unreadable:
            bad = "; ".join(u.reason for u in scan.unreadable[:5])
            raise ReportError(f"{root}: no readable result.json in it ({bad})")
        disagree = f" ({scan.notes[0]})" if scan.notes else ""
        raise ReportError(f"{root} is not an actlab results folder: no CLAIM/result.json in it{disagree} "
                          f"(claims: {claims}); make one with `actlab run all --quick --out {shlex.quote(str(root))}`")
    order = {name: i for i, name in enumerate(CLAIMS)}
    ranked = sorted(scan.found.values(), key=lambda c: (order.get(c.name, len(order)), c.name))
    present = set(scan.found) | {u.name for u in scan.unreadable}
    failed = [Failed(name, entry["error"], entry["command"]) for name, entry in read_failures(root).items()
              if name not in present]
    present |= {f.name for f in failed}
    skipped = scan.skipped + ([f"and {scan.more_lines} more lines like these"] if scan.more_lines else [])
    return ResultsFolder(
        root=root,
        results=tuple(ranked),
        unreadable=tuple(sorted(scan.unreadable, key=lambda u: (order.get(u.name, len(order)), u.name))),
        missing=tuple(n for n in CLAIMS if n not in present),
        monitor=_read_monitor(root, scan.inside),
        skipped=tuple(skipped),
        notes=tuple(scan.notes + ([f"and {scan.more_notes} more folders like these"] if scan.more_notes else [])),
        runs=tuple(scan.rows),
        runs_total=scan.runs_total,
        run_stats={k: dict(v) for k, v in scan.stats.items()},
        failed=tuple(sorted(failed, key=lambda f: (order.get(f.name, len(order)), f.name))),
    )


class _Scan:
    """What :func:`scan_results` gathers, folder by folder, with bounded memory."""

    def __init__(self, root: Path) -> None:
        self.root, self.inside = root, root.resolve()
        self.found: dict[str, ClaimResult] = {}
        self.unreadable: list[Unreadable] = []
        self.skipped: list[str] = []
        self.rows: list[RunRow] = []
        self.runs_total = 0
        self.stats: dict[str, dict[str, Any]] = {}
        self.figure_bytes = 0
        self.more_lines = 0
        self.notes: list[str] = []
        self.more_notes = 0

    def skip(self, line: str) -> None:
        if len(self.skipped) < MAX_LINES:
            self.skipped.append(line)
        else:  # the rest are only counted
            self.more_lines += 1

    def read(self, folder: Path) -> None:
        path = folder / "result.json"
        if folder.is_symlink():  # only what is in the results folder is shown
            self.skip(f"{folder}: a link to {_target(folder)}, not followed")
            return
        if not path.exists() and not path.is_symlink():
            if folder.name in CLAIMS:  # a claim's folder without its result: say so
                self.unreadable.append(Unreadable(folder.name, path, f"{path}: no such file"))
            return
        # the folder is a real folder inside the results folder (not a link): a regular file in it is inside too
        try:
            regular = stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            regular = False
        why = None if regular else _not_regular(path, self.inside) or "not a regular file"
        if why:
            self.unreadable.append(Unreadable(folder.name, path, f"{path}: {why}"))
            return
        try:
            result = load_result(path)
        except ResultFileError as exc:
            self.unreadable.append(Unreadable(folder.name, path, str(exc)))
            return
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:  # parseable JSON, odd types
            self.unreadable.append(Unreadable(folder.name, path, f"{path}: not an actlab result ({type(exc).__name__})"))
            return
        claim = result.experiment if isinstance(result.experiment, str) and result.experiment else folder.name
        if claim != folder.name:
            line = (f"{path}: the file is a {claim} result in a folder named {folder.name}; "
                    f"the folder and the file disagree: shown under {claim}")
            if len(self.notes) < MAX_LINES:
                self.notes.append(line)
            else:
                self.more_notes += 1
        self._count(claim, folder, result)
        if claim in self.found or len(self.found) >= MAX_SECTIONS:
            return
        figures = []
        for figure in sorted(folder.glob("*.png")):
            if figure.name.startswith("."):
                continue
            # a small regular file that is not a PNG stays: the report names it as "not a PNG image"
            why = _not_regular(figure, self.inside) or _too_large(figure) or self._over_budget(figure)
            if why:
                self.skip(f"{figure}: {why}; not embedded")
            else:
                figures.append(figure)
        self.found[claim] = ClaimResult(claim, folder, result, tuple(figures))

    def _over_budget(self, figure: Path) -> str | None:
        size = figure.stat().st_size
        if self.figure_bytes + size > MAX_PAGE_FIGURE_BYTES:
            return f"the page already embeds {MAX_PAGE_FIGURE_BYTES // 2**20} MB of figures (its limit)"
        self.figure_bytes += size
        return None

    def _count(self, claim: str, folder: Path, result: Result) -> None:
        self.runs_total += 1
        verdict = result.verdict
        key = verdict.key_number
        value = key.value if key is not None and isinstance(key.value, (int, float)) else None
        stats = self.stats.setdefault(claim, {"runs": 0, "holds": 0, "does_not_hold": 0, "inconclusive": 0,
                                              "key_label": key.label if key is not None else "",
                                              "key_n": 0, "key_sum": 0.0, "key_min": None, "key_max": None})
        stats["runs"] += 1
        if verdict.status in VERDICTS:
            stats[verdict.status] += 1
        if value is not None and math.isfinite(value):
            stats["key_n"] += 1
            stats["key_sum"] += float(value)
            stats["key_min"] = value if stats["key_min"] is None else min(stats["key_min"], value)
            stats["key_max"] = value if stats["key_max"] is None else max(stats["key_max"], value)
        if len(self.rows) < MAX_RUN_ROWS:
            config = result.config if isinstance(result.config, Mapping) else {}
            self.rows.append(RunRow(folder.name, claim, verdict.status, key.text if key is not None else "",
                                    config.get("seed"), result.elapsed_s))


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
        data = json.loads(read_bounded(path, MAX_MONITOR_BYTES, "findings file").decode("utf-8"))
        if isinstance(data, Mapping):
            data = data.get("findings")
        if not isinstance(data, list):
            raise ValueError("expected a list of findings (or {\"findings\": [...]})")
        return MonitorLog(path, _finding_dicts(data))
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        return MonitorLog(path, None, error=f"{path}: {exc}")
    except MemoryError:
        return MonitorLog(path, None, error=f"{path}: too large to read in this machine's memory (MemoryError)")
    except RecursionError:
        return MonitorLog(path, None, error=f"{path}: JSON nested too deep to read")


def _diagnose_jsonl(path: Path) -> MonitorLog:
    """A monitor JSONL log, diagnosed with ``actlab.probes`` (the monitor's own rules).

    A log over :data:`MAX_MONITOR_BYTES` is streamed, never read whole: every header line
    and every k-th step line (k = size / MAX_MONITOR_BYTES, rounded up) are diagnosed, and
    ``MonitorLog.sampled`` says k.
    """
    try:
        from ..probes import diagnose, read_jsonl
    except Exception as exc:  # the probes package may be mid-change: the report still renders
        return MonitorLog(path, None, error=f"{path}: actlab.probes cannot read monitor logs here ({exc})")
    try:
        size = path.stat().st_size
        if size <= MAX_MONITOR_BYTES:
            records = read_jsonl(path)
            steps = sum(1 for r in records if r.get("type", "step") == "step")
            return MonitorLog(path, _finding_dicts(diagnose(records)), steps=steps)
        every = math.ceil(size / MAX_MONITOR_BYTES)
        records, steps = _sample_jsonl(path, every)
        return MonitorLog(path, _finding_dicts(diagnose(records)), steps=steps, sampled=every)
    except MemoryError:
        return MonitorLog(path, None, error=f"{path}: too large to diagnose in this machine's memory (MemoryError)")
    except Exception as exc:  # a malformed log is reported in the page, not raised
        return MonitorLog(path, None, error=f"{path}: {str(exc).strip() or type(exc).__name__}")


def _sample_jsonl(path: Path, every: int) -> tuple[list[dict[str, Any]], int]:
    """Header records and every ``every``-th step record of a JSONL log, read line by line; and the step count."""
    try:
        from ..probes.sinks import _nulls_to_nan as clean
    except ImportError:
        def clean(record: dict[str, Any]) -> dict[str, Any]:
            return record
    records: list[dict[str, Any]] = []
    steps = 0
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, 1):
            is_step = b'"type": "step"' in line or b'"type":"step"' in line
            if is_step:
                steps += 1
                if (steps - 1) % every:
                    continue
            elif not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{i} is not valid JSON; is it a monitor JSONL file?") from exc
            if not isinstance(record, dict) or "type" not in record:
                raise ValueError(f"{path}:{i} is not a monitor record (no 'type' field)")
            records.append(clean(record))
    return records, steps
