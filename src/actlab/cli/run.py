"""``actlab run NAME|all [--quick] [--out DIR]``: measure claims, write their folders and the report."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from ..data.errors import DataError
from .common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    ProgressLine,
    UsageError,
    check_utf8_path,
    check_writable,
    claim_config,
)

__all__ = ["cmd_run", "write_claim_folder"]

def write_claim_folder(result, out_root: Path, plot: bool, *, locked: bool = False) -> Path:
    """result.json and figures into out_root/NAME, swapped in whole (no partial folder).

    One writer at a time (``folders.claim_lock``; ``locked``: the caller holds it); the
    folder is replaced only if actlab made it (``folders.check_claim_folder``).
    """
    from ..plots import plot_result
    from ..runs.folders import write_claim

    figures = (lambda folder: plot_result(result, folder)) if plot else None
    return write_claim(result, result.experiment, out_root, figures, lock=not locked)


def _print_settings(module) -> None:
    """``actlab run CLAIM --set help``: every setting with its default, --quick value and meaning."""
    from .settings_help import settings_text

    print(settings_text(module))


def cmd_run(args: argparse.Namespace) -> int:
    from ..claims import claim_names, load_claim
    from ..runs.folders import (
        FolderError,
        check_claim_folder,
        check_claim_lock,
        check_out_folder,
        check_report_file,
        claim_lock,
    )
    from ..training.settings import MAX_THREADS, resolve_device

    if args.claim is None:
        if args.help:
            args.parser.print_help()
            return EXIT_OK
        raise UsageError("run needs a CLAIM, or all (see `actlab run --help`)")
    names = claim_names() if args.claim.lower() == "all" else [args.claim]
    try:
        modules = [load_claim(n) for n in names]
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.help or args.set == ["help"]:
        if args.help:
            args.parser.print_help()
            print()
        for module in modules:
            _print_settings(module)
        return EXIT_OK
    if args.device is not None:
        try:
            resolve_device(args.device)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    configs = [claim_config(m, args, strict=len(modules) == 1) for m in modules]
    if args.threads is not None and not 1 <= args.threads <= MAX_THREADS:
        raise UsageError(f"--threads {args.threads} must be from 1 to {MAX_THREADS}")
    check_utf8_path("--out", args.out)
    out_root = Path(args.out)
    try:  # before any work: nothing of the user's is in the way
        check_out_folder(out_root)
        for module in modules:
            check_claim_folder(out_root, module.NAME)
            check_claim_lock(out_root, module.NAME)
        if not args.no_report:
            check_report_file(out_root)
    except FolderError as exc:
        raise UsageError(str(exc)) from None
    check_writable(out_root)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    verdicts = []
    try:
        for i, (module, config) in enumerate(zip(modules, configs), 1):
            label = f"[{i}/{len(modules)}] {module.NAME}" if len(modules) > 1 else module.NAME
            try:
                with claim_lock(out_root, module.NAME):  # one writer per claim folder, from start to end
                    result = _run_claim(module, config, label, args)
                    folder = write_claim_folder(result, out_root, plot=not args.no_plots, locked=True)
            except FolderError as exc:
                raise UsageError(str(exc)) from None
            verdicts.append((module.NAME, result.verdict, result.elapsed_s, folder))
            print(f"{module.NAME}: {result.verdict.status} ({result.elapsed_s:.1f}s) -> {folder}/result.json")
            print(f"    {result.verdict.evidence}")
    except KeyboardInterrupt:
        kept = f"; the {len(verdicts)} finished claim(s) are kept in {out_root}" if verdicts else ""
        print(f"actlab: interrupted{kept}", file=sys.stderr)
        import gc

        gc.freeze()  # the process ends now: its last collection need not walk torch's objects (seconds)
        return EXIT_INTERRUPTED
    if len(verdicts) > 1:
        print("\nsummary:")
        for name, verdict, elapsed, _ in verdicts:
            print(f"  {name:<16} {verdict.status:<14} {elapsed:6.1f}s")
    if not args.no_report:
        from ..report import ReportError, build_report, scan_results

        try:
            folder = scan_results(out_root)
        except ReportError as exc:  # another claim's file in DIR is broken beyond reading
            raise UsageError(str(exc)) from None
        for line in folder.notes:
            print(f"actlab: warning: {line}", file=sys.stderr)
        for line in folder.skipped:
            print(f"actlab: warning: not in the report: {line}", file=sys.stderr)
        print(f"\nreport: {build_report(folder)}  (open it in a browser; `actlab report {shlex.quote(str(out_root))}` rebuilds it)")
    return EXIT_OK


def _run_claim(module, config, label: str, args: argparse.Namespace):
    progress = ProgressLine(label, enabled=not args.no_progress)
    try:
        return module.run(config, progress=progress)
    except DataError:
        raise
    except ValueError as exc:  # settings only the run can check (batch_size > examples of the dataset)
        raise UsageError(f"{module.NAME}: {exc}") from None
    except (MemoryError, RuntimeError) as exc:  # an allocation the estimate did not foresee
        from ..training.memory import is_out_of_memory, out_of_memory_text

        if not is_out_of_memory(exc):
            raise
        raise UsageError(out_of_memory_text(exc, config, module.NAME)) from None
    finally:
        progress.close()
