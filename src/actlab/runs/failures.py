"""Claims that failed in a results folder: ``DIR/failed-claims.json``, so that the report shows them.

``actlab run all`` goes on when one claim fails (its data vanished mid-run, a worker died):
the failure is recorded here with its one-line error and the command that reruns the claim,
and removed when that claim next finishes. The report (``report/folder.py``) reads it.

The file is written atomically and replaced only if actlab wrote it (its ``written_by``
field); a user's file of that name is left alone (:func:`record_failure` returns False).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..verdicts.result import write_json_atomic

__all__ = ["FAILED_FILE", "read_failures", "record_failure", "clear_failure"]

FAILED_FILE = "failed-claims.json"
_WRITER = "actlab run"


def _load(path: Path) -> dict[str, Any] | None:
    """The file's content if actlab wrote it; {} if it does not exist; None if it is someone else's."""
    if not path.exists() and not path.is_symlink():
        return {}
    try:
        if path.is_symlink() or not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != _WRITER or not isinstance(data.get("claims"), dict):
        return None
    return data


def read_failures(out_root: str | os.PathLike[str]) -> dict[str, dict[str, str]]:
    """Claim name -> {"error": one line, "command": the rerun command}; {} when none (or unreadable)."""
    data = _load(Path(out_root) / FAILED_FILE) or {}
    claims = data.get("claims", {})
    return {str(name): {"error": str(entry.get("error", "")), "command": str(entry.get("command", ""))}
            for name, entry in claims.items() if isinstance(entry, dict)}


def record_failure(out_root: str | os.PathLike[str], name: str, error: str, command: str) -> bool:
    """Add (or replace) claim ``name``'s failure; False if the file there is not actlab's."""
    path = Path(out_root) / FAILED_FILE
    data = _load(path)
    if data is None:
        return False
    claims = dict(data.get("claims", {}))
    claims[name] = {"error": error, "command": command}
    write_json_atomic({"written_by": _WRITER, "claims": claims}, path)
    return True


def clear_failure(out_root: str | os.PathLike[str], name: str) -> None:
    """Forget claim ``name``'s failure (it has just finished); the file goes when it lists none."""
    path = Path(out_root) / FAILED_FILE
    data = _load(path)
    if not data or name not in data.get("claims", {}):
        return
    claims = {k: v for k, v in data["claims"].items() if k != name}
    if claims:
        write_json_atomic({"written_by": _WRITER, "claims": claims}, path)
    else:
        path.unlink(missing_ok=True)
