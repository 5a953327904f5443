"""Where ``actlab run`` writes: claim folders it may replace, one writer per folder, no litter.

``actlab run NAME --out DIR`` writes ``DIR/NAME/`` (``result.json``, the figures and
:data:`MARKER`, the list of files actlab wrote there) and then ``DIR/report.html``. The
rules, so that a run never loses what it did not make:

* ``DIR/NAME`` is replaced only when actlab made it: it holds :data:`MARKER` (or, from
  actlab versions before the marker, an actlab ``result.json`` of claim NAME), and nothing
  but the files actlab wrote. Anything else there (a plain file of that name, a folder
  with the user's own files, a sweep's folder) is a :class:`FolderError` naming the
  folder and what to do.
* A sweep's folder (``sweep.json``, ``runs/``) is never written by a run.
* ``DIR/report.html`` is replaced only if actlab wrote it (its ``generator`` tag).
* One writer per claim folder: :func:`claim_lock` holds ``DIR/.NAME.lock`` (``flock``);
  a second run into the same folder is refused at once with the holder's pid.
* Temporary folders of a killed or failed run (``DIR/.NAME.XXXXXXXX``,
  ``DIR/.NAME.old.XXXXXXXX``, named by ``tempfile.mkdtemp``) are removed by the next run
  of that claim, under the lock; nothing else is.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .._version import __version__
from ..verdicts.result import ResultFileError, load_result, share_mode, write_json_atomic

__all__ = [
    "MARKER",
    "FolderError",
    "check_out_folder",
    "check_claim_folder",
    "check_report_file",
    "claim_lock",
    "clean_stale",
    "write_claim",
]

#: The file in every claim folder actlab writes: which claim, and the files it wrote.
MARKER = ".actlab-claim.json"
#: What marks a sweep's folder (``runs/sweep.py``).
SWEEP_MARKS = ("sweep.json", "runs", "aggregate.json")
#: Name of the report that ``actlab run`` (re)builds in the results folder.
REPORT = "report.html"
_GENERATOR = b'<meta name="generator" content="actlab'


class FolderError(ValueError):
    """A folder or file that ``actlab run`` must not write over; one line, with what to do."""


def _sweep_mark(folder: Path) -> str | None:
    for name in SWEEP_MARKS:
        if (folder / name).exists():
            return name
    return None


def check_out_folder(out_root: str | os.PathLike[str]) -> Path:
    """``--out DIR`` is a folder (or can be made) and not a sweep's folder; FolderError otherwise."""
    root = Path(out_root)
    if root.exists() and not root.is_dir():
        raise FolderError(f"--out {root} is a file, not a folder; give a folder for the results")
    for folder in (root, root.parent):
        mark = _sweep_mark(folder) if folder.is_dir() else None
        if mark and (folder / "sweep.json").exists():
            raise FolderError(f"{folder} is a sweep's folder (it holds {mark}); `actlab run` never writes "
                              "into a sweep: give another --out")
    return root


def check_claim_folder(out_root: str | os.PathLike[str], name: str) -> Path:
    """``DIR/NAME`` may be written: absent, or a claim folder actlab made with nothing else in it.

    Returns the folder's path; :class:`FolderError` (naming it, and what to do) otherwise.
    """
    folder = Path(out_root) / name
    if not folder.exists() and not folder.is_symlink():
        return folder
    if folder.is_symlink() or not folder.is_dir():
        kind = "a link" if folder.is_symlink() else "a file"
        raise FolderError(f"{folder} is {kind} that actlab did not write; move it away or give another --out")
    mark = _sweep_mark(folder)
    if mark:
        raise FolderError(f"{folder} is a sweep's folder (it holds {mark}); `actlab run` never writes into a "
                          "sweep: give another --out")
    written = _written_by_actlab(folder, name)
    if written is None:
        raise FolderError(f"{folder} exists and actlab did not write it (no {MARKER} or actlab result.json in "
                          "it); move it away or give another --out")
    foreign = sorted(p.name for p in _entries(folder) if p.name not in written)
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise FolderError(f"{folder} holds files actlab did not write ({shown}); move them away (or the "
                          "folder) or give another --out")
    return folder


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise FolderError(f"cannot read {folder}: {exc.strerror or exc}") from None


def _written_by_actlab(folder: Path, name: str) -> set[str] | None:
    """The names actlab wrote in ``folder`` (from its marker), or None if actlab did not make it."""
    marker = folder / MARKER
    if marker.is_file() and not marker.is_symlink():
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            files = data["files"] if isinstance(data, dict) and data.get("experiment") == name else None
            if isinstance(files, list) and all(isinstance(f, str) for f in files):
                return {*files, MARKER}
        except (OSError, ValueError, RecursionError):
            pass
        return None
    # Before the marker: an actlab result of this claim, beside its PNG figures.
    result = folder / "result.json"
    if not result.is_file() or result.is_symlink():
        return None
    try:
        if load_result(result).experiment != name:
            return None
    except (ResultFileError, OSError):
        return None
    return {"result.json", *(p.name for p in folder.glob("*.png") if p.is_file() and not p.is_symlink())}


def check_report_file(out_root: str | os.PathLike[str]) -> None:
    """``DIR/report.html`` is absent or written by actlab; FolderError otherwise."""
    path = Path(out_root) / REPORT
    if not path.exists() and not path.is_symlink():
        return
    if path.is_symlink() or not path.is_file():
        kind = "a link" if path.is_symlink() else "a folder"
        raise FolderError(f"{path} is {kind}, not actlab's report; move it away, or pass --no-report")
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise FolderError(f"cannot read {path}: {exc.strerror or exc}") from None
    if _GENERATOR not in head:
        raise FolderError(f"{path} was not written by actlab; move it away, or pass --no-report")


@contextmanager
def pid_lock(path: Path, busy: Callable[[str], Exception],
             unopenable: Callable[[OSError], Exception] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file at ``path``, which holds this process's pid.

    Raises ``busy(pid)`` (the holder's pid, "?" if unknown) at once when another process
    holds it, and ``unopenable(error)`` (else the ``OSError``) if the file cannot be opened.
    No lock where there is no ``fcntl`` (not POSIX). The lock goes with the process: a
    killed run never leaves a stale one.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    try:
        fh = open(path, "a+", encoding="utf-8")  # noqa: SIM115 (held, and locked, until the block ends)
    except OSError as exc:
        if unopenable is None:
            raise
        raise unopenable(exc) from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            raise busy(fh.read().strip() or "?") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield
    finally:
        fh.close()  # releases the lock


@contextmanager
def claim_lock(out_root: str | os.PathLike[str], name: str) -> Iterator[None]:
    """Hold ``DIR/.NAME.lock`` while writing ``DIR/NAME``; FolderError with the holder's pid if taken."""
    def busy(pid: str) -> FolderError:
        return FolderError(f"another actlab run (pid {pid}) is writing {Path(out_root) / name}; wait for it to "
                           "finish, or give this one another --out")

    def unopenable(exc: OSError) -> FolderError:
        return FolderError(f"cannot write to {out_root}: {exc.strerror or exc}")

    with pid_lock(Path(out_root) / f".{name}.lock", busy, unopenable):
        yield


def _temp_pattern(name: str) -> re.Pattern[str]:
    # tempfile.mkdtemp's names: the prefix, then 8 characters of [a-z0-9_]
    return re.compile(rf"\.{re.escape(name)}\.(old\.)?[a-z0-9_]{{8}}")


def clean_stale(out_root: str | os.PathLike[str], name: str) -> list[Path]:
    """Remove the temporary folders a killed or failed run of claim ``name`` left in ``DIR``.

    Call it holding :func:`claim_lock`: no live run of that claim owns one then.
    Only folders named as :func:`write_claim` names them are touched.
    """
    pattern = _temp_pattern(name)
    removed = []
    try:
        entries = list(Path(out_root).iterdir())
    except OSError:
        return removed
    for path in entries:
        if pattern.fullmatch(path.name) and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def write_claim(result: Any, name: str, out_root: str | os.PathLike[str],
                figures: Callable[[Path], Sequence[Path]] | None = None, *, lock: bool = True) -> Path:
    """Write ``result`` (``Result`` or its dict) and its figures into ``DIR/NAME``, swapped in whole.

    ``figures(folder)`` writes the PNGs into ``folder`` and returns their paths. The old
    ``DIR/NAME`` is replaced only if :func:`check_claim_folder` allows it (checked again
    here). ``lock``: take :func:`claim_lock` for the write (pass False when the caller
    holds it already, as ``actlab run`` does from the start of the run).

    Raises:
        FolderError: the folder is not actlab's to replace, or another process writes it.
    """
    if lock:
        with claim_lock(out_root, name):
            return write_claim(result, name, out_root, figures, lock=False)
    out_root = Path(out_root)
    final = check_claim_folder(out_root, name)
    clean_stale(out_root, name)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out_root))
    share_mode(tmp, directory=True)
    old = None
    try:
        if figures is not None:
            figures(tmp)
        body = result.to_dict() if hasattr(result, "to_dict") else result
        write_json_atomic(body, tmp / "result.json")
        files = sorted(p.name for p in tmp.iterdir())
        write_json_atomic({"experiment": name, "actlab_version": __version__, "files": files}, tmp / MARKER)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=out_root))
            os.replace(final, old / "x")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "x").exists() and not final.exists():
            os.replace(old / "x", final)  # put the previous results back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return final
