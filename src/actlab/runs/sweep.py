"""Sweeps: independent runs of one claim over a grid of settings x seeds, that survive a kill.

A sweep is planned (:func:`plan_sweep`), then executed (:func:`run_sweep`) on a backend
(``"local"``: worker processes on this machine; ``"ray"``: a Ray cluster), then
aggregated (:func:`aggregate_sweep`) from the files it wrote. Its folder,
``OUT/CLAIM/``, holds::

    sweep.json                  the plan: claim, base config, grid, seeds, and every run
                                (id, grid point, seed, full config); written first
    runs/<run-id>/result.json   one finished run, the claim's Result, written atomically
                                (temporary file, then rename) as soon as the run finishes
    runs/<run-id>/error.json    a run that raised or whose worker died: redone on restart
    aggregate.json              per grid point, mean and 95% CI over seeds of every numeric
                                metric; computed from the run files only
    .lock                       held (``flock``) while a sweep works in the folder, removed after
                                (never followed if a link; a file actlab did not make is refused)

Resume. Restarting the same command reads ``sweep.json``, checks it is the same plan (a
different sweep in the folder is a :class:`SweepError`), keeps every run whose
``result.json`` loads and carries that run's config, and redoes the others. A run is
finished exactly when its ``result.json`` exists, and it is written by one rename, so a
kill at any moment (Ctrl-C, SIGKILL, a crashed worker) loses only the runs in flight;
a half-written file is a ``.*.tmp`` file, never read (and deleted on restart). Each run's
id is a hash of its full config, so no run is counted twice.

Runs. Run ``i`` of a grid point has seed ``start + i * stride``: ``start`` is the base
config's ``seed``; ``stride`` is the claim's own ``seeds`` setting where it has one (a
claim that averages ``seeds`` seeds itself uses ``seed, seed + 1, ...``), else 1, so the
runs of a sweep never share a seed. Each run has ``workers=1`` (where the claim has that
setting) and one torch thread: a run's numbers do not depend on the backend or on how
many runs share the machine (timings in the ``cost`` claim excepted).

The same function (:func:`execute_run`) runs every task on both backends; the driver (this
process) writes every file, so on a Ray cluster the results land on the machine that
started the sweep and the workers need no shared folder. The backends live in
:mod:`.sweep_backends`, the aggregate in :mod:`.sweep_aggregate`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
import time
import typing
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from .._version import __version__
from ..data.errors import DataError
from ..training.settings import MAX_WORKERS, Progress, no_progress, parse_value
from ..verdicts.result import ResultFileError, load_result, to_jsonable, write_json_atomic
from .folders import MARKER as RUN_MARKER
from .folders import pid_lock
from .sweep_aggregate import (
    AGGREGATE,
    ERROR,
    LOCK,
    MANIFEST,
    RESULT,
    RUNS,
    aggregate_sweep,
    flatten_metrics,
    read_manifest,
)
from .sweep_backends import BACKENDS, SweepError, WorkerLost, execute_run, start_backend

__all__ = [
    "BACKENDS",
    "SweepError",
    "SweepRun",
    "SweepPlan",
    "SweepReport",
    "plan_sweep",
    "run_sweep",
    "execute_run",
    "aggregate_sweep",
    "flatten_metrics",
    "run_id",
    "parse_grid_values",
]



# --- the plan -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its id, its grid point, its seed and its full config."""

    run_id: str
    point: Mapping[str, Any]
    seed: int
    config: Any


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Every run of a sweep, in order (grid points in product order, seeds inside)."""

    claim: str
    module: str
    base: Mapping[str, Any]
    grid: Mapping[str, Sequence[Any]]
    seeds: int
    runs: tuple[SweepRun, ...]

    def manifest(self) -> dict[str, Any]:
        """What ``sweep.json`` holds."""
        return {
            "experiment": self.claim,
            "actlab_version": __version__,
            "module": self.module,
            "base_config": to_jsonable(self.base),
            "grid": to_jsonable(self.grid),
            "seeds": self.seeds,
            "runs": [{"id": r.run_id, "point": to_jsonable(r.point), "seed": r.seed,
                      "config": to_jsonable(dataclasses.asdict(r.config))} for r in self.runs],
        }


def run_id(claim: str, config: Any) -> str:
    """``s<seed>-<12 hex digits>``: a hash of the claim name and the run's full config."""
    body = json.dumps({"experiment": claim, "config": to_jsonable(dataclasses.asdict(config))},
                      sort_keys=True, separators=(",", ":"))
    return f"s{config.seed}-{hashlib.sha256(body.encode()).hexdigest()[:12]}"


def parse_grid_values(text: str, annotation: Any, name: str) -> list[Any]:
    """``"1,2,3"`` -> ``[1, 2, 3]`` for a field of type ``annotation``.

    Values are separated by ``,``; for a field whose values are themselves lists
    (``activations``), ``;`` separates the values when it appears (``relu,tanh;sigmoid``:
    two values), else each comma-separated item is a one-element value
    (``relu,tanh``: ``("relu",)`` and ``("tanh",)``).
    """
    is_list = typing.get_origin(annotation) in (tuple, Sequence) or annotation is tuple
    items = text.split(";") if is_list and ";" in text else text.split(",")
    items = [t.strip() for t in items if t.strip()]
    if not items:
        raise ValueError(f"--grid {name}= has no values")
    return [parse_value(t, annotation, name) for t in items]


def plan_sweep(module: ModuleType, base: Any, *, seeds: int = 1,
               grid: Mapping[str, Sequence[Any]] | None = None) -> SweepPlan:
    """The runs of a sweep of claim ``module`` around config ``base``.

    Args:
        module: the claim module (``actlab.claims.load_claim(name)``, or any module
            with ``NAME``, ``Config`` and ``run``).
        base: the claim's ``Config`` every run starts from (``--quick``, ``--set`` applied).
        seeds: runs per grid point; run i has seed ``base.seed + i * stride`` (see the
            module docstring).
        grid: setting name -> values (strings are parsed by the field's type); the sweep
            covers their cartesian product, in the order given.

    Raises:
        ValueError: a bad seed count, grid key or value, or two runs with the same config.
    """
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= 100_000:
        raise ValueError(f"seeds={seeds!r} must be an integer from 1 to 100000")
    config_cls = type(base)
    names = [f.name for f in dataclasses.fields(config_cls)]
    hints = typing.get_type_hints(config_cls)
    if "seed" not in names:
        raise ValueError(f"claim {module.NAME} has no seed setting; a sweep needs one")
    grid = dict(grid or {})
    axes: dict[str, list[Any]] = {}
    for key, values in grid.items():
        field = key.replace("-", "_")
        if field in ("seed", "workers"):
            hint = "use --seeds and --seed" if field == "seed" else "use --workers"
            raise ValueError(f"--grid {field}: a sweep sets {field} itself; {hint}")
        if field not in names:
            raise ValueError(f"claim {module.NAME} has no setting {key!r}; its settings: {', '.join(sorted(names))}")
        if field in axes:
            raise ValueError(f"--grid {field} is given twice")
        if isinstance(values, str):
            values = parse_grid_values(values, hints[field], field)
        values = [parse_value(v, hints[field], field) if isinstance(v, str) else v for v in values]
        if not values:
            raise ValueError(f"--grid {field}= has no values")
        axes[field] = values
    fixed = {"workers": 1} if "workers" in names else {}
    runs: list[SweepRun] = []
    seen: dict[str, Mapping[str, Any]] = {}
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes, combo))
        try:
            at_point = dataclasses.replace(base, **point, **fixed)
        except (TypeError, ValueError) as exc:
            where = ", ".join(f"{k}={_show(v)}" for k, v in point.items())
            raise ValueError(f"grid point {where}: {exc}" if where else str(exc)) from None
        stride = at_point.seeds if isinstance(getattr(at_point, "seeds", None), int) else 1
        for i in range(seeds):
            config = dataclasses.replace(at_point, seed=base.seed + i * stride)
            rid = run_id(module.NAME, config)
            if rid in seen:
                raise ValueError(f"grid values {_point_text(seen[rid])} and {_point_text(point)} give the same "
                                 "config; leave one out")
            # The point as the config stores it (canonical names: 'swish' -> 'silu').
            stored = {k: getattr(config, k) for k in point}
            seen[rid] = stored
            runs.append(SweepRun(rid, stored, config.seed, config))
    return SweepPlan(claim=module.NAME, module=module.__name__,
                     base=dataclasses.asdict(dataclasses.replace(base, **fixed)),
                     grid={k: _unique(r.point[k] for r in runs) for k in axes},
                     seeds=seeds, runs=tuple(runs))


def _unique(values: Iterator[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _show(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _point_text(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in point.items()) or "(no grid)"


# --- the folder -----------------------------------------------------------------------


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold ``folder/.lock`` (flock) so that two sweeps never work in one folder."""
    def busy(pid: str) -> SweepError:
        return SweepError(f"another actlab sweep (pid {pid}) is running in {folder}; wait for it, "
                          "or give this one another --out")

    def foreign(what: str) -> SweepError:
        return SweepError(f"{folder / LOCK} is {what}, not actlab's lock; actlab leaves it as it is: move it "
                          "away, or give this sweep another --out")

    with pid_lock(folder / LOCK, busy, foreign=foreign):  # held for the whole sweep; removed after
        yield


def _check_same_sweep(path: Path, old: Mapping[str, Any], plan: SweepPlan) -> None:
    ids = [r.run_id for r in plan.runs]
    old_ids = [r["id"] for r in old["runs"]]
    if old.get("experiment") == plan.claim and old_ids == ids:
        return
    if old.get("experiment") != plan.claim:
        what = f"a sweep of {old.get('experiment')!r}"
    else:
        diffs = [f"{k}: {_describe(old.get(k))} there, {_describe(v)} here"
                 for k, v in (("seeds", plan.seeds), ("grid", to_jsonable(plan.grid))) if old.get(k) != v]
        old_base, base = old.get("base_config"), to_jsonable(plan.base)
        if isinstance(old_base, Mapping):
            diffs += [f"{k}={_describe(old_base.get(k))} there, {_describe(base.get(k))} here"
                      for k in sorted(set(old_base) | set(base)) if old_base.get(k) != base.get(k)]
        what = f"a different sweep ({'; '.join(diffs) or 'other runs'})"
    raise SweepError(f"{path} holds {what}; give this sweep another --out, or delete that sweep.json "
                     "to replace it (finished runs with the same config are reused)")


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    return str(value)


#: The temporary files :func:`write_json_atomic` makes in a sweep's folder (``.NAME.XXXXXXXX.tmp``).
_TEMPORARY = re.compile(r"\.(result|error|sweep|aggregate)\.json\.[a-z0-9_]{8}\.tmp")


def _clean_temporaries(folder: Path) -> list[Path]:
    """Delete the temporary files a killed write left behind (the lock is held: none is live).

    Only files named as actlab names them; a user's own ``.*.tmp`` files stay.
    """
    removed = []
    for tmp in itertools.chain(folder.glob(".*.tmp"), folder.glob(f"{RUNS}/*/.*.tmp")):
        if _TEMPORARY.fullmatch(tmp.name) and tmp.is_file() and not tmp.is_symlink():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _finished(folder: Path, run: SweepRun, claim: str) -> tuple[bool, str | None]:
    """(is the run's result.json a finished run of this config, why not if it exists)."""
    path = folder / RUNS / run.run_id / RESULT
    if not path.exists() and not path.is_symlink():
        return False, None
    try:
        result = load_result(path)
        same = result.experiment == claim and to_jsonable(result.config) == to_jsonable(
            dataclasses.asdict(run.config))
    except ResultFileError as exc:
        return False, str(exc)
    except (TypeError, ValueError, RecursionError) as exc:  # a config no actlab run writes
        return False, f"{path}: not an actlab result ({type(exc).__name__})"
    if not same:
        return False, f"{path}: holds another run (experiment or config differ)"
    if not isinstance(result.metrics, Mapping):
        return False, f"{path}: not an actlab result (metrics is not an object)"
    return True, None


# --- running ---------------------------------------------------------------------------


@dataclasses.dataclass
class SweepReport:
    """What :func:`run_sweep` did.

    ``reused``: runs finished before this call; ``done``: runs finished by it;
    ``failed``: run id -> one line (the claim raised, or its worker died twice);
    ``retried``: run id -> why it ran again (its worker process died while it ran beside
    others: killed, out of memory, crashed);
    ``notes``: files found damaged or stale and redone, named; ``aggregate``: what
    ``aggregate.json`` holds.
    """

    folder: Path
    total: int
    reused: int = 0
    done: int = 0
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    retried: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    aggregate: dict[str, Any] = dataclasses.field(default_factory=dict)
    backend: str = "local"
    workers: int = 0
    elapsed_s: float = 0.0


def run_sweep(plan: SweepPlan, out: str | Path, *, backend: str = "local", workers: int = 0,
              ray_address: str | None = None, progress: Progress = no_progress,
              note: Callable[[str], None] | None = None) -> SweepReport:
    """Run every unfinished run of ``plan`` into ``out/CLAIM/``, then aggregate.

    Args:
        plan: from :func:`plan_sweep`.
        out: results folder; the sweep works in ``out/<claim>/``.
        backend: ``"local"`` (worker processes here) or ``"ray"``.
        workers: runs at a time (0: one per core here; with Ray, the cluster's CPUs).
        ray_address: the Ray cluster (else ``$RAY_ADDRESS``, else a local Ray instance;
            an already initialised Ray is used as it is).
        progress: ``progress(done, total, message)`` as runs finish.
        note: called with one line for each damaged or stale file found (and redone).

    Raises:
        SweepError: a different sweep or another sweep in the folder, a damaged manifest,
            a file that cannot be written (disk full, no permission), Ray missing.
        DataError: a run could not read its data (every run would fail the same way).
        KeyboardInterrupt: after stopping the workers; finished runs are kept.
    """
    if backend not in BACKENDS:
        raise SweepError(f"backend {backend!r} must be one of {', '.join(BACKENDS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or not 0 <= workers <= MAX_WORKERS:
        raise SweepError(f"workers={workers!r} must be an integer from 0 to {MAX_WORKERS} (0: one per core)")
    clock = time.perf_counter()
    folder = Path(out) / plan.claim
    report = SweepReport(folder=folder, total=len(plan.runs), backend=backend)
    tell = note or (lambda line: None)
    if not (folder / MANIFEST).exists() and ((folder / RUN_MARKER).exists() or (folder / RESULT).exists()):
        raise SweepError(f"{folder} holds the result of `actlab run {plan.claim}`, not a sweep; give the sweep "
                         "another --out")
    try:
        (folder / RUNS).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SweepError(f"cannot write to {folder}: {exc.strerror or exc}") from None
    with _locked(folder):
        manifest = folder / MANIFEST
        if manifest.exists():
            _check_same_sweep(manifest, read_manifest(manifest), plan)
        else:
            _write(plan.manifest(), manifest, report)
        _clean_temporaries(folder)
        todo: list[SweepRun] = []
        for run in plan.runs:
            ok, why = _finished(folder, run, plan.claim)
            if ok:
                report.reused += 1
                continue
            if why:
                report.notes.append(f"{why}; redoing that run")
                tell(report.notes[-1])
            todo.append(run)
        if todo:
            _execute(plan, todo, folder, report, backend, workers, ray_address, progress)
        report.aggregate = aggregate_sweep(folder)
        _write(report.aggregate, folder / AGGREGATE, report)
    report.elapsed_s = time.perf_counter() - clock
    return report


def _write(obj: Any, path: Path, report: SweepReport) -> None:
    try:
        write_json_atomic(obj, path)
    except OSError as exc:
        kept = report.reused + report.done
        raise SweepError(f"cannot write {path}: {exc.strerror or exc}; the {kept} finished runs are kept: "
                         "make room (or fix the folder) and rerun the same command to go on") from None


def _execute(plan: SweepPlan, todo: list[SweepRun], folder: Path, report: SweepReport, backend_name: str,
             workers: int, ray_address: str | None, progress: Progress) -> None:
    backend = start_backend(backend_name, workers, len(todo), ray_address)
    report.workers = backend.slots
    progress(report.reused, report.total, f"{report.reused}/{report.total} runs ({report.reused} reused)")
    queue: deque[SweepRun] = deque(todo)
    suspects: deque[SweepRun] = deque()  # in flight when a worker died: retried one at a time
    in_flight: dict[Any, SweepRun] = {}
    # Handles of runs that had another run in flight beside them at some moment: a worker's death
    # may be noticed only after a sibling has finished, and such a run is not the proven cause.
    company: set[Any] = set()
    finished = False
    try:
        while queue or suspects or in_flight:
            # Suspects run alone, after the rest, so that a death names the run that causes it.
            source, limit = (queue, backend.slots) if queue else (suspects, 1)
            lost = False
            while source and len(in_flight) < limit:
                run = source.popleft()
                try:
                    in_flight[backend.submit(plan.module, run.config)] = run
                except WorkerLost:  # the pool broke since the last look: not this run's doing
                    source.appendleft(run)
                    lost = True
                    break
            if len(in_flight) > 1:
                company.update(in_flight)
            for handle in backend.wait(list(in_flight)) if in_flight else ():
                sole = handle not in company
                company.discard(handle)
                lost |= _collect(handle, in_flight, backend, folder, report, suspects, sole, progress)
            if lost and backend.crash_takes_all:
                while in_flight:  # the pool is broken: every task still in flight ends now
                    for handle in backend.wait(list(in_flight)):
                        company.discard(handle)
                        _collect(handle, in_flight, backend, folder, report, suspects, False, progress)
                backend.restart()
        finished = True
    finally:
        backend.close(cancel=not finished, handles=list(in_flight))


def _collect(handle: Any, in_flight: dict[Any, SweepRun], backend: Any, folder: Path, report: SweepReport,
             suspects: deque[SweepRun], sole: bool, progress: Progress) -> bool:
    """Store one finished task's outcome; True if its worker died.

    A run whose worker died is failed if no other run was in flight at any moment while it
    ran (it caused the death), else a suspect, retried alone once the other runs are done.
    """
    run = in_flight.pop(handle)
    run_dir = folder / RUNS / run.run_id
    try:
        outcome = backend.outcome(handle)
    except WorkerLost as exc:
        if sole:
            message = f"its worker process died while running it alone ({exc})"
            report.failed[run.run_id] = message
            _write({"type": "WorkerLost", "message": message, "config": dataclasses.asdict(run.config)},
                   run_dir / ERROR, report)
        else:
            report.retried[run.run_id] = f"a worker process died while it ran ({exc})"
            suspects.append(run)
        return True
    if outcome["status"] == "ok":
        _write(outcome["result"], run_dir / RESULT, report)
        (run_dir / ERROR).unlink(missing_ok=True)
        report.done += 1
        finished = report.reused + report.done
        progress(finished, report.total, f"{finished}/{report.total} runs")
        return False
    _write({k: outcome[k] for k in ("type", "message", "traceback")} | {"config": dataclasses.asdict(run.config)},
           run_dir / ERROR, report)
    if outcome.get("data_error"):
        # The data are shared by every run: stop here; the message names the file and the fix.
        raise DataError(outcome["message"])
    report.failed[run.run_id] = f"{outcome['type']}: {outcome['message']}".splitlines()[0]
    return False
