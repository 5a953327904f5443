"""A self-contained HTML report from a results folder.

``build_report(DIR)`` reads what ``actlab run ... --out DIR`` wrote
(``DIR/<claim>/result.json`` and ``DIR/<claim>/*.png``, see
:mod:`actlab.verdicts.result`) and writes ``DIR/report.html``: a summary table
(claim, source, verdict, key number), then one section per claim in DESIGN.md order
with the claim as the course states it, the command that reruns it, its config,
figures, metrics, verdict, environment and time, and the monitor's findings when a
monitor log sits in the folder. Figures are embedded as base64 data URIs and the
CSS is inline: the file reads offline, without JavaScript, and prints.

A claim that was not run is listed with the command that produces it; a corrupt
``result.json`` is named as unreadable. Only a folder with no readable result is an
error (:class:`ReportError`, a ``ValueError``).

Examples::

    >>> from actlab.report import build_report
    >>> build_report("actlab-results")          # doctest: +SKIP
    PosixPath('actlab-results/report.html')

Each claim section opens with "What this means" (``verdict.meaning``), then the claim,
the verdict with its rule and the source's number beside ours, the scale it ran at (quick
or full, with the full-scale command), figures with captions and labelled tables. The
summary's key-number column is ``verdict.key_number``. Captions and tables come from
the claim's ``plots/<claim_module>.py`` (``captions(result)``, ``tables(result)``, and
``callout(result)`` for sign-coherence) where it has them; see :mod:`.claims`.

A sweep folder (what ``actlab sweep`` writes) gets a report of its own
(:func:`build_sweep_report`). The same results render as Markdown for the README
(:func:`render_markdown`) and as a summary picture (:func:`render_summary_png`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..verdicts.result import write_text_atomic
from .folder import (
    MONITOR_FILES,
    ClaimResult,
    MonitorLog,
    ReportError,
    ResultsFolder,
    Unreadable,
    scan_results,
)
from .markdown import render_markdown, render_summary_png
from .page import problems, render_html
from .sweep import build_sweep_report, find_sweeps, render_sweep_html

__all__ = [
    "build_report",
    "build_sweep_report",
    "find_sweeps",
    "render_sweep_html",
    "render_markdown",
    "render_summary_png",
    "scan_results",
    "render_html",
    "problems",
    "ReportError",
    "ResultsFolder",
    "ClaimResult",
    "Unreadable",
    "MonitorLog",
    "MONITOR_FILES",
    "REPORT_NAME",
]

REPORT_NAME = "report.html"


def build_report(results: str | os.PathLike[str] | ResultsFolder) -> Path:
    """Write ``DIR/report.html`` for the results folder ``DIR`` and return its path.

    Args:
        results: the results folder, or what :func:`scan_results` read from it (to
            also list its unreadable files, as ``actlab report`` does).

    Raises:
        ReportError: ``DIR`` is missing, not a folder, or holds no readable result.
    """
    folder = results if isinstance(results, ResultsFolder) else scan_results(results)
    # a path that is not UTF-8 (bytes a file system allows) shows escaped, never stops the page
    text = render_html(folder).encode("utf-8", "backslashreplace").decode("utf-8")
    path = folder.root / REPORT_NAME
    # Temp file in the same folder, then rename: a reader never sees half a report.
    return write_text_atomic(text, path)
