"""``DIR/compare/``: scorecard.json, scorecard.md (the table and the rule of thumb) and the figure.

Written as a whole with the run folders' rules (``runs.folders``): ``DIR/compare`` is replaced
only when actlab made it (its marker names the files it wrote), one writer at a time, swapped in
whole from a temporary folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._version import __version__
from ..verdicts.result import share_mode, write_json_atomic, write_text_atomic
from .table import render_scorecard_markdown

__all__ = ["COMPARE_FOLDER", "SCORECARD", "write_compare_folder", "check_compare_folder", "read_scorecard"]

COMPARE_FOLDER = "compare"
SCORECARD = "scorecard.json"


def check_compare_folder(out_root: str | os.PathLike[str]) -> Path:
    """``DIR/compare`` may be written (absent, or actlab's); ``runs.folders.FolderError`` otherwise."""
    from ..runs.folders import check_claim_folder

    return check_claim_folder(out_root, COMPARE_FOLDER)


def write_compare_folder(out_root: str | os.PathLike[str], scorecard: Mapping[str, Any], command: str,
                         figures: Callable[[Path], Sequence[Path]] | None = None) -> Path:
    """Write ``DIR/compare`` (scorecard.json, scorecard.md, figures) and return its path."""
    from ..runs.folders import MARKER, check_claim_folder, claim_lock, clean_stale

    out_root = Path(out_root)
    with claim_lock(out_root, COMPARE_FOLDER):
        final = check_claim_folder(out_root, COMPARE_FOLDER)
        clean_stale(out_root, COMPARE_FOLDER)
        tmp = Path(tempfile.mkdtemp(prefix=f".{COMPARE_FOLDER}.", dir=out_root))
        share_mode(tmp, directory=True)
        old = None
        try:
            write_json_atomic(scorecard, tmp / SCORECARD)
            write_text_atomic(render_scorecard_markdown(scorecard, command), tmp / "scorecard.md")
            if figures is not None:
                figures(tmp)
            files = sorted(p.name for p in tmp.iterdir())
            write_json_atomic({"experiment": COMPARE_FOLDER, "actlab_version": __version__, "files": files},
                              tmp / MARKER)
            if final.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{COMPARE_FOLDER}.old.", dir=out_root))
                os.replace(final, old / "x")
            os.replace(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and (old / "x").exists() and not final.exists():
                os.replace(old / "x", final)
            raise
        finally:
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    return final


def read_scorecard(out_root: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``DIR/compare/scorecard.json`` as a dict, or None when there is none (or it is unreadable)."""
    import json

    path = Path(out_root) / COMPARE_FOLDER / SCORECARD
    if not path.is_file() or path.is_symlink():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not str(data.get("format", "")).startswith("actlab-scorecard/"):
        return None
    return data
