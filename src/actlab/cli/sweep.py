"""``actlab sweep CLAIM --seeds N [--grid K=V1,V2] ...``: runs of one claim over a grid, resumable.

:mod:`actlab.cli.main` parses the arguments and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from .common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ProgressLine,
    UsageError,
    check_memory,
    check_utf8_path,
    check_writable,
    claim_config,
    load_plugin_args,
    one_line,
    status_words,
)

__all__ = ["cmd_sweep"]

#: Exit status after SIGTERM, as a shell reports a process it ended (128 + 15).
EXIT_TERMINATED = 143


class _Terminated(KeyboardInterrupt):
    """SIGTERM during a sweep: stopped as Ctrl-C stops it (workers killed, nothing left running)."""


@contextlib.contextmanager
def _sigterm_stops():
    """SIGTERM raises :class:`_Terminated` in the main thread for the sweep's duration, so that the
    sweep stops its workers and its fork server at once instead of leaving them to linger."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cmd_sweep(args: argparse.Namespace) -> int:
    """Runs of one claim over --grid x --seeds, in parallel, resumable (runs/sweep.py)."""
    from ..claims import load_claim
    from ..report.section import STATUS_LABEL, count_label
    from ..runs.sweep import SweepError, plan_sweep, run_sweep
    from ..training.settings import MAX_WORKERS, resolve_device

    if args.claim.strip().lower() == "all":
        raise UsageError("a sweep is of one claim; name it (actlab sweep vanishing --seeds 5)")
    try:
        module = load_claim(args.claim)
        if args.device is not None:
            resolve_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if any(item.partition("=")[0].strip().replace("-", "_") == "workers" for item in args.set or []):
        raise UsageError("--set workers: a sweep runs each run in one process; use --workers for runs at a time")
    if not 1 <= args.sweep_seeds <= 100_000:
        raise UsageError(f"--seeds {args.sweep_seeds} must be from 1 to 100000 (runs per grid point)")
    if not 0 <= args.workers <= MAX_WORKERS:
        raise UsageError(f"--workers {args.workers} must be from 0 to {MAX_WORKERS} (0: one per core)")
    if args.ray_address is not None and args.backend != "ray":
        raise UsageError("--ray-address goes with --backend ray")
    load_plugin_args(args)  # --plugin: here, then in every worker (runs/sweep_backends.py)
    base = claim_config(module, args, strict=True)
    from ..data.errors import DataError
    from ..data.files import check_data_folder

    try:  # a named data folder that is missing is an error now, not in every run
        check_data_folder(args.data_dir)
    except DataError as exc:
        raise UsageError(one_line(exc)) from None
    grid: dict[str, str] = {}
    for item in args.grid or []:
        key, eq, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or not key:
            raise UsageError(f"--grid {item!r} must look like KEY=V1,V2,... (e.g. --grid depth=10,20)")
        if key in grid:
            raise UsageError(f"--grid {key} is given twice; list all its values in one --grid")
        grid[key] = values
    try:
        plan = plan_sweep(module, base, seeds=args.sweep_seeds, grid=grid)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{module.NAME}: {exc}") from None
    for run in {id(r.config): r for r in plan.runs[:100_000]}.values():  # each grid point's sizes, before any work
        check_memory(run.config, module.NAME)
    check_utf8_path("--out", args.out)
    out_root = Path(args.out)
    check_writable(out_root)
    progress = ProgressLine(f"sweep {module.NAME}", enabled=not args.no_progress)
    try:
        with _sigterm_stops():
            report = run_sweep(plan, out_root, backend=args.backend, workers=args.workers,
                               ray_address=args.ray_address, progress=progress,
                               note=lambda line: print(f"note: {line}"))
    except SweepError as exc:
        from ..runs import sweep_backends

        if sweep_backends.RAY_JOIN_STUCK:  # a thread is stuck in Ray's C++ client: say it, then leave at once
            print(f"actlab: error: {one_line(exc)}", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(2)
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (_Terminated): the workers are stopped already
        progress.close()
        print(f"actlab: sweep stopped; finished runs are kept in {out_root / module.NAME}: "
              "rerun the same command to go on", file=sys.stderr)
        import gc

        gc.freeze()  # the process ends now: its last collection need not walk torch's objects (seconds)
        return EXIT_TERMINATED if isinstance(exc, _Terminated) else EXIT_INTERRUPTED
    finally:
        progress.close()
    agg = report.aggregate
    print(f"sweep {module.NAME}: {agg['runs_found']} of {report.total} runs finished ({report.done} now, "
          f"{report.reused} reused; {report.backend}, {report.workers or 'no'} worker{'' if report.workers == 1 else 's'}, "
          f"{report.elapsed_s:.1f}s) "
          f"-> {report.folder / 'aggregate.json'}")
    for point in agg["points"]:
        where = ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                          for k, v in point["point"].items()) or "all runs"
        verdicts = ", ".join(count_label(k, v) if k in STATUS_LABEL else f"{v} {status_words(k)}"
                             for k, v in point["verdicts"].items()) or "none finished"
        diverged = f"; non-finite metrics in {len(point['nonfinite'])} run(s)" if point["nonfinite"] else ""
        print(f"    {where}: {verdicts}{diverged}")
    if report.retried:
        # a worker died (killed, out of memory) with these runs in flight: each ran again, alone
        again = sum(1 for rid in report.retried if rid not in report.failed)
        print(f"    {len(report.retried)} run(s) retried because a worker process died while they ran "
              f"(killed or out of memory?); {again} finished on the retry")
    for rid, why in report.failed.items():
        print(f"    failed {rid}: {why}")
    if report.failed:
        print(f"actlab: {len(report.failed)} of {report.total} runs failed (see {report.folder}/runs/<id>/error.json); "
              "the aggregate holds the others; rerun the same command to retry them", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
