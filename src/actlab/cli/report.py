"""``actlab report DIR [--markdown FILE] [--summary-png FILE]``: the report of a results (or sweep) folder.

:mod:`actlab.cli.main` parses the arguments and maps errors to exit codes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..verdicts.result import write_text_atomic
from .common import EXIT_OK, UsageError, check_utf8_path, check_writable

__all__ = ["cmd_report"]


def cmd_report(args: argparse.Namespace) -> int:
    from ..report import (
        ReportError,
        build_report,
        build_sweep_report,
        find_sweeps,
        problems,
        render_markdown,
        render_summary_png,
        scan_results,
    )

    check_utf8_path("report", args.dir)
    for opt in ("markdown", "summary_png"):
        if getattr(args, opt) is not None:
            check_utf8_path(f"--{opt.replace('_', '-')}", getattr(args, opt))
    outputs = [(opt, Path(value)) for opt, value in (("--markdown", args.markdown), ("--summary-png", args.summary_png))
               if value is not None]
    for opt, path in outputs:
        if opt == "--summary-png" and path.suffix.lower() != ".png":
            raise UsageError(f"--summary-png {path}: the picture is a PNG; give a file name ending in .png")
        check_writable(path.parent if str(path.parent) else Path("."))
    if find_sweeps(args.dir):  # the folder `actlab sweep` writes (DIR/CLAIM/sweep.json) or one sweep's folder
        if outputs:
            raise UsageError(f"{args.dir} is a sweep folder; --markdown and --summary-png take a results folder "
                             "written by `actlab run ... --out DIR`")
        from ..runs.folders import FolderError, check_report_file

        try:
            check_report_file(args.dir)  # never over a report.html that actlab did not write
            path = build_sweep_report(args.dir)
        except (ReportError, FolderError) as exc:
            raise UsageError(str(exc).replace(", or pass --no-report", "")) from None
        print(f"wrote {path} (sweeps: {', '.join(p.name for p in find_sweeps(args.dir))})")
        return EXIT_OK
    from ..runs.folders import FolderError, check_report_file

    try:
        folder = scan_results(args.dir)
        check_report_file(args.dir)  # never over a report.html that actlab did not write
        path = build_report(folder)
    except (ReportError, FolderError) as exc:
        raise UsageError(str(exc).replace(", or pass --no-report", "")) from None
    for line in problems(folder):
        print(f"actlab: warning: unreadable (named in the report): {line}", file=sys.stderr)
    for line in folder.notes:  # a result in another claim's folder
        print(f"actlab: warning: {line}", file=sys.stderr)
    for line in folder.skipped:  # links out of DIR, figures too large to embed
        print(f"actlab: warning: not in the report: {line}", file=sys.stderr)
    missing = f"; not run: {', '.join(folder.missing)}" if folder.missing else ""
    print(f"wrote {path} ({len(folder.results)} claim(s){missing})")
    for opt, out in outputs:
        if opt == "--markdown":
            key = Path(args.dir).resolve().name
            written = _write_markdown(out, render_markdown(folder), key)
            _write_scorecard_markdown(out, args.dir, key)  # actlab compare's scorecard, if DIR has one
        else:
            _check_own_png(out)
            written = render_summary_png(folder, out)
        print(f"wrote {written}")
    return EXIT_OK


def _write_markdown(path: Path, block: str, key: str) -> Path:
    """The results block into ``path``: a new file, or between the markers of an existing one."""
    from ..report.markdown import splice_markdown

    try:
        existing = path.read_text(encoding="utf-8") if path.exists() else None
        text = splice_markdown(existing, block, key)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--markdown {path}: {exc}") from None
    return write_text_atomic(text, path)


def _write_scorecard_markdown(path: Path, results_dir: str, key: str) -> None:
    """DIR/compare/scorecard.json between the ``KEY scorecard`` markers of ``path`` (when it has them)."""
    from ..report.markdown import markdown_block
    from ..report.scorecard import scorecard_key, scorecard_markdown

    block = scorecard_markdown(results_dir)
    if block is None:
        return
    text = path.read_text(encoding="utf-8")
    if markdown_block(text, scorecard_key(key)) is None:
        print(f"actlab: warning: {path} has no '<!-- actlab results {scorecard_key(key)}: begin -->' lines; "
              "the scorecard block is not written", file=sys.stderr)
        return
    _write_markdown(path, block, scorecard_key(key))


def _check_own_png(path: Path) -> None:
    """--summary-png replaces only a picture it drew itself (its Software chunk says so)."""
    from ..report.markdown import SUMMARY_PNG_SOFTWARE

    if not path.exists() and not path.is_symlink():
        return
    try:
        head = path.read_bytes()[:4096] if path.is_file() else b""
    except OSError:
        head = b""
    if SUMMARY_PNG_SOFTWARE.encode() not in head:
        raise UsageError(f"--summary-png {path}: the file exists and was not drawn by actlab; "
                         "name a new file or move that one away")


