"""``actlab run NAME|all [--quick] [--out DIR]``: measure claims, write their folders and the report."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from .common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    ProgressLine,
    UsageError,
    check_utf8_path,
    check_writable,
    claim_config,
    load_plugin_args,
    one_line,
    status_words,
)

__all__ = ["cmd_run", "write_claim_folder"]

def write_claim_folder(result, out_root: Path, plot: bool, *, locked: bool = False, progress=None) -> Path:
    """result.json and figures into out_root/NAME, swapped in whole (no partial folder).

    One writer at a time (``folders.claim_lock``; ``locked``: the caller holds it); the
    folder is replaced only if actlab made it (``folders.check_claim_folder``).
    """
    from ..plots import plot_result
    from ..runs.folders import write_claim

    figures = (lambda folder: plot_result(result, folder, progress)) if plot else None
    return write_claim(result, result.experiment, out_root, figures, lock=not locked)


def _print_settings(module) -> None:
    """``actlab run CLAIM --set help``: every setting with its default, --quick value and meaning."""
    from .settings_help import settings_text

    print(settings_text(module))


def cmd_run(args: argparse.Namespace) -> int:
    if args.claim is None:  # before any import that loads torch: `actlab run --help` is instant
        if args.help:
            args.parser.print_help()
            return EXIT_OK
        raise UsageError("run needs a CLAIM, or all (see `actlab run --help`)")
    from .._datafolder import DataFolderError, check_named_data_folder

    if not (args.help or args.set == ["help"]):
        try:  # a named data folder that is not there: said at once, before torch and the claims load
            check_named_data_folder(args.data_dir)
        except DataFolderError as exc:
            raise UsageError(str(exc)) from None
    # Loading torch and the claims takes seconds (tens on a loaded machine): after a second of it,
    # say so. A bad setting is only found after that load; it must stay the only line the user
    # sees. On a terminal the line is drawn in place and wiped before the error, so one claim
    # shows it too; in a log (no terminal) a line cannot be taken back, so there only `run all`
    # (whose load is the longest) shows it, and a single claim stays quiet until it starts.
    single = args.claim.lower() != "all"
    terminal = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    quiet = args.no_progress or args.help or args.set == ["help"] or (single and not terminal)
    starting = ProgressLine("actlab run", enabled=not quiet)
    starting.later(0, 1, f"loading torch and {'the claims' if not single else args.claim}")
    try:
        return _cmd_run(args, starting)
    except BaseException:
        starting.clear()  # on a terminal the error is then the only line left on the screen
        raise
    finally:
        starting.close()


def _cmd_run(args: argparse.Namespace, starting: ProgressLine) -> int:
    from ..claims import claim_names, load_claim
    from ..runs.failures import FAILED_FILE, clear_failure, record_failure
    from ..runs.folders import (
        FolderError,
        check_claim_folder,
        check_claim_lock,
        check_out_folder,
        check_report_file,
        claim_lock,
    )
    from ..training.settings import MAX_THREADS, resolve_device
    from ..training.workers import shared_pool

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
    load_plugin_args(args)  # --plugin: the user's activations, before the names are checked
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
    starting.clear()  # the claims' own progress takes the line
    starting.close()
    _resolve_data(modules, configs, args)  # every claim's data, before the first claim starts
    verdicts, failed = [], []
    try:
        with shared_pool():  # one set of worker processes for every claim (each new one imports torch)
            for i, (module, config) in enumerate(zip(modules, configs), 1):
                label = f"[{i}/{len(modules)}] {module.NAME}" if len(modules) > 1 else module.NAME
                started = time.perf_counter()
                try:
                    with claim_lock(out_root, module.NAME):  # one writer per claim folder, from start to end
                        result, folder = _run_claim(module, config, label, args, out_root)
                except FolderError as exc:
                    raise UsageError(str(exc)) from None
                except UsageError:  # bad input that only the run could see: exit 2 at once, as for any bad input
                    raise
                except Exception as exc:  # noqa: BLE001 - one claim's failure must not cost the others
                    if len(modules) == 1:
                        raise
                    waited = time.perf_counter() - started
                    error, command = _failure_line(exc), _rerun_command(module.NAME, args)
                    print(f"{module.NAME}: failed ({waited:.1f}s): {error}\n    rerun it alone: {command}")
                    if not record_failure(out_root, module.NAME, error, command):
                        print(f"actlab: warning: {out_root / FAILED_FILE} is not actlab's; the failure of "
                              f"{module.NAME} is not recorded for the report", file=sys.stderr)
                    failed.append((module.NAME, error, waited))
                    continue
                clear_failure(out_root, module.NAME)
                waited = time.perf_counter() - started  # what the user waited: the measurement, figures, writing
                verdicts.append((module.NAME, result.verdict, waited, folder))
                print(f"{module.NAME}: {status_words(result.verdict.status)} ({waited:.1f}s; measured in "
                      f"{result.elapsed_s:.1f}s) -> {folder}/result.json")
                print(f"    {result.verdict.evidence}")
    except KeyboardInterrupt:
        kept = f"; the {len(verdicts)} finished claim(s) are kept in {out_root}" if verdicts else ""
        print(f"actlab: interrupted{kept}", file=sys.stderr)
        import gc

        gc.freeze()  # the process ends now: its last collection need not walk torch's objects (seconds)
        return EXIT_INTERRUPTED
    if len(verdicts) + len(failed) > 1:
        print("\nsummary:")
        for name, verdict, waited, _ in verdicts:
            print(f"  {name:<16} {status_words(verdict.status):<14} {waited:6.1f}s")
        for name, _, waited in failed:
            print(f"  {name:<16} {'failed':<14} {waited:6.1f}s")
    if not args.no_report:
        from ..report import ReportError, build_report, scan_results

        progress = ProgressLine("report", enabled=not args.no_progress)
        try:
            progress(0, 1, f"building {out_root / 'report.html'}")
            folder = scan_results(out_root)
            path = build_report(folder)
        except ReportError as exc:  # another claim's file in DIR is broken beyond reading, or nothing finished
            if failed:
                print(f"actlab: no report: {one_line(exc)}", file=sys.stderr)
                folder = path = None
            else:
                raise UsageError(str(exc)) from None
        finally:
            progress.close()
        if folder is not None:
            for line in folder.notes:
                print(f"actlab: warning: {line}", file=sys.stderr)
            for line in folder.skipped:
                print(f"actlab: warning: not in the report: {line}", file=sys.stderr)
            print(f"\nreport: {path}  (open it in a browser; `actlab report {shlex.quote(str(out_root))}` rebuilds it)")
    if failed:
        names = ", ".join(name for name, _, _ in failed)
        print(f"actlab: {len(failed)} of {len(modules)} claims failed ({names}); the others are written "
              f"in {out_root}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _failure_line(exc: BaseException) -> str:
    from ..data.errors import DataError

    if isinstance(exc, DataError):
        return one_line(exc)
    return f"{type(exc).__name__}: {one_line(exc)}"


def _rerun_command(name: str, args: argparse.Namespace) -> str:
    parts = ["actlab", "run", name, *(["--quick"] if args.quick else []), "--out", str(args.out)]
    if args.data_dir:
        parts += ["--data-dir", args.data_dir]
    return shlex.join(parts)


def _resolve_data(modules, configs, args: argparse.Namespace) -> None:
    """Fail fast: the data folder the user named exists and can be read, and the data of every
    selected claim is found (or downloaded now), before any claim starts. One-line errors."""
    from ..data import resolve_data
    from ..data.errors import DataError
    from ..data.files import check_data_folder

    try:
        check_data_folder(args.data_dir)
    except DataError as exc:
        raise UsageError(one_line(exc)) from None
    needed = {}
    for module, config in zip(modules, configs):
        dataset = getattr(config, "dataset", None)
        if isinstance(dataset, str):
            needed.setdefault((dataset, getattr(config, "data_dir", None)), []).append(module.NAME)
    progress = ProgressLine("data", enabled=not args.no_progress and bool(needed))
    try:
        for k, ((dataset, data_dir), names) in enumerate(needed.items()):
            progress(k, len(needed), f"looking up {dataset} for {', '.join(names)}")
            try:
                resolve_data(dataset, data_dir)
            except DataError as exc:
                raise UsageError(f"{', '.join(names)}: {one_line(exc)}") from None
    finally:
        progress.close()


def _run_claim(module, config, label: str, args: argparse.Namespace, out_root: Path):
    """Run one claim and write its folder, with its progress line open until the figures are drawn."""
    from ..data.errors import DataError

    progress = ProgressLine(label, enabled=not args.no_progress)
    try:
        try:
            result = module.run(config, progress=progress)
        except DataError:
            raise
        except ValueError as exc:  # settings only the run can check (batch_size > examples of the dataset)
            raise UsageError(f"{module.NAME}: {exc}") from None
        except (MemoryError, RuntimeError) as exc:  # an allocation the estimate did not foresee
            from ..training.memory import is_out_of_memory, out_of_memory_text

            if not is_out_of_memory(exc):
                raise
            raise UsageError(out_of_memory_text(exc, config, module.NAME)) from None

        def figures(done: int, total: int | None) -> None:
            progress(1, 1, f"drawing figures {done}/{total}" if total else f"drawing figures ({done} drawn)")

        folder = write_claim_folder(result, out_root, plot=not args.no_plots, locked=True, progress=figures)
        return result, folder
    finally:
        progress.close()
