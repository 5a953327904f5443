"""Where ``actlab run`` writes: claim folders it may replace, one writer per folder, no litter.

``actlab run NAME --out DIR`` writes ``DIR/NAME/`` (``result.json``, the figures and
:data:`MARKER`, the list of files actlab wrote there) and then ``DIR/report.html``. The
rules, so that a run never loses what it did not make:

* ``DIR/NAME`` is replaced only when actlab made it: it holds :data:`MARKER` and nothing
  but the files the marker lists (or, from actlab versions before the marker, nothing but an
  actlab ``result.json`` of claim NAME: a PNG beside it may be the user's). Anything else there (a plain file of that name, a folder
  with the user's own files, a sweep's folder) is a :class:`FolderError` naming the
  folder and what to do.
* A sweep's folder (``sweep.json``, ``runs/``) is never written by a run.
* ``DIR/report.html`` is replaced only if actlab wrote it (its ``generator`` tag).
* One writer per claim folder: :func:`claim_lock` holds ``DIR/.NAME.lock`` (``flock``);
  a second run into the same folder is refused at once with the holder's pid. The lock file
  is opened without following links and only if actlab made it (a user's file or a link of
  that name is refused and left as it is); it is removed when the run ends.
* Temporary folders of a killed or failed run (``DIR/.NAME.actlab-tmp.XXXXXXXX``,
  ``DIR/.NAME.actlab-old.XXXXXXXX``) are removed by the next run of that claim, under the
  lock, only if they hold :data:`TEMP_MARK`; nothing is removed by its name alone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
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
    "check_claim_lock",
    "claim_lock",
    "clean_stale",
    "write_claim",
]

#: The file in every claim folder actlab writes: which claim, and the files it wrote.
MARKER = ".actlab-claim.json"
#: A marker larger than this is not actlab's (it lists a claim folder's few files).
MAX_MARKER_BYTES = 1024 * 1024
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
        why = "" if (folder / MARKER).exists() else f" (it has no {MARKER}, so only its result.json is provably actlab's)"
        raise FolderError(f"{folder} holds files actlab did not write ({shown}){why}; move them away (or the "
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
            with open(marker, "rb") as fh:
                raw = fh.read(MAX_MARKER_BYTES + 1)
            if len(raw) > MAX_MARKER_BYTES:  # not a marker actlab wrote (a few hundred bytes)
                return None
            data = json.loads(raw.decode("utf-8"))
            files = data["files"] if isinstance(data, dict) and data.get("experiment") == name else None
            if isinstance(files, list) and all(isinstance(f, str) for f in files):
                return {*files, MARKER}
        except (OSError, ValueError, RecursionError):
            pass
        return None
    # Before the marker: an actlab result of this claim. Only that file is provably actlab's (a
    # PNG beside it may be the user's, as in a copy of docs/results/quick/NAME/ with a figure
    # added): any other file makes the folder the user's.
    result = folder / "result.json"
    if not result.is_file() or result.is_symlink():
        return None
    try:
        if load_result(result).experiment != name:
            return None
    except (ResultFileError, OSError):
        return None
    return {"result.json"}


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


#: What the first line of every lock file actlab makes starts with (then the holder's pid).
LOCK_TAG = "actlab lock, pid "


class _NotOurs(Exception):
    """The lock path holds something actlab did not make (a link, a folder, a user's file)."""


def _open_lock(path: Path) -> int:
    """Open (or make) the lock file at ``path`` without following a link; its descriptor.

    A new file is made with ``O_EXCL``; an existing one is opened only if it is a regular
    file that is empty (being made by another run this instant) or starts with
    :data:`LOCK_TAG` (left by a killed run); anything else raises :class:`_NotOurs`.
    """
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    flags = os.O_RDWR | nofollow | getattr(os, "O_CLOEXEC", 0)
    while True:
        try:
            return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            pass
        try:
            fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:  # removed by its holder since: make it again
            continue
        except OSError as exc:
            if path.is_symlink():
                raise _NotOurs("a link") from None
            if path.is_dir():
                raise _NotOurs("a folder") from None
            raise exc
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise _NotOurs("not a regular file")
            head = os.pread(fd, len(LOCK_TAG), 0)
            if head and not LOCK_TAG.encode().startswith(head) and not head.startswith(LOCK_TAG.encode()):
                raise _NotOurs("a file actlab did not make")
        except BaseException:
            os.close(fd)
            raise
        return fd


@contextmanager
def pid_lock(path: Path, busy: Callable[[str], Exception],
             unopenable: Callable[[OSError], Exception] | None = None,
             foreign: Callable[[str], Exception] | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the lock file at ``path``, which names this process's pid.

    Raises ``busy(pid)`` (the holder's pid, "?" if unknown) at once when another process
    holds it, ``foreign(what)`` when ``path`` is a link, a folder or a file actlab did not
    make (left as it is: never followed, truncated or written), and ``unopenable(error)``
    (else the ``OSError``) if the file cannot be opened. The holder removes the file when it
    is done (no lock files left behind); a run that takes the lock checks that the file it
    locked is still the one at ``path`` (else it takes the new one), so removing it never lets
    two runs hold the lock at once. The lock goes with the process: a killed run never leaves
    a stale one (only its file, reused by the next run). No lock where there is no ``fcntl``.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    while True:
        try:
            fd = _open_lock(path)
        except _NotOurs as exc:
            if foreign is None:
                raise FileExistsError(f"{path} is {exc}, not an actlab lock") from None
            raise foreign(str(exc)) from None
        except OSError as exc:
            if unopenable is None:
                raise
            raise unopenable(exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            text = os.pread(fd, 64, 0).decode("ascii", "replace")
            os.close(fd)
            pid = text[len(LOCK_TAG):].strip() if text.startswith(LOCK_TAG) else ""
            raise busy(pid if pid.isdigit() else "?") from None
        try:  # the file locked must still be the one at path (its holder may have removed it)
            same = os.path.samestat(os.fstat(fd), os.lstat(path))
        except OSError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{LOCK_TAG}{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        try:  # still ours (checked): removed while held, so no other run can be holding it
            if os.path.samestat(os.fstat(fd), os.lstat(path)):
                os.unlink(path)
        except OSError:
            pass
        os.close(fd)  # releases the lock


def check_claim_lock(out_root: str | os.PathLike[str], name: str) -> None:
    """Before any work: ``DIR/.NAME.lock`` is absent or actlab's; FolderError (it is left as it is) otherwise."""
    path = Path(out_root) / lock_name(name)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise FolderError(f"cannot read {path}: {exc.strerror or exc}") from None
    what = None
    if stat.S_ISLNK(info.st_mode):
        what = "a link"
    elif stat.S_ISDIR(info.st_mode):
        what = "a folder"
    elif not stat.S_ISREG(info.st_mode):
        what = "not a regular file"
    else:
        try:
            with open(path, "rb") as fh:
                head = fh.read(len(LOCK_TAG))
        except OSError as exc:
            raise FolderError(f"cannot read {path}: {exc.strerror or exc}") from None
        if head and not LOCK_TAG.encode().startswith(head):
            what = "a file actlab did not make"
    if what:
        raise FolderError(f"{path} is {what}, not actlab's lock; actlab leaves it as it is: move it away, "
                          "or give another --out")


@contextmanager
def claim_lock(out_root: str | os.PathLike[str], name: str) -> Iterator[None]:
    """Hold ``DIR/.NAME.lock`` while writing ``DIR/NAME``; FolderError with the holder's pid if taken."""
    def busy(pid: str) -> FolderError:
        return FolderError(f"another actlab run (pid {pid}) is writing {Path(out_root) / name}; wait for it to "
                           "finish, or give this one another --out")

    def unopenable(exc: OSError) -> FolderError:
        return FolderError(f"cannot write to {out_root}: {exc.strerror or exc}")

    path = Path(out_root) / lock_name(name)

    def foreign(what: str) -> FolderError:
        return FolderError(f"{path} is {what}, not actlab's lock; actlab leaves it as it is: move it away, "
                           "or give another --out")

    with pid_lock(path, busy, unopenable, foreign):
        yield


def lock_name(name: str) -> str:
    """The lock file of claim folder ``name``, beside it (removed when the run ends)."""
    return f".{name}.lock"


#: The file inside each temporary folder actlab makes; only folders holding it are ever removed.
TEMP_MARK = ".actlab-temporary"
_TEMP_TEXT = "a temporary folder of actlab run; removed by the next run of this claim\n"


def _temp_pattern(name: str) -> re.Pattern[str]:
    # tempfile.mkdtemp's names: the prefix, then 8 characters of [a-z0-9_]
    return re.compile(rf"\.{re.escape(name)}\.actlab-(tmp|old)\.[a-z0-9_]{{8}}")


def _make_temp(out_root: Path, name: str, kind: str) -> Path:
    """A new temporary folder ``DIR/.NAME.actlab-KIND.XXXXXXXX`` holding :data:`TEMP_MARK`."""
    folder = Path(tempfile.mkdtemp(prefix=f".{name}.actlab-{kind}.", dir=out_root))
    try:
        fd = os.open(folder / TEMP_MARK, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(_TEMP_TEXT)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder


def _is_our_temp(path: Path, pattern: re.Pattern[str]) -> bool:
    """``path`` is a temporary folder actlab made: its name, a real folder, and the mark inside."""
    if not pattern.fullmatch(path.name) or path.is_symlink() or not path.is_dir():
        return False
    mark = path / TEMP_MARK
    try:
        info = os.lstat(mark)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 4096:
            return False
        with open(mark, encoding="ascii", errors="replace") as fh:
            return fh.read(4096) == _TEMP_TEXT
    except OSError:
        return False


def clean_stale(out_root: str | os.PathLike[str], name: str) -> list[Path]:
    """Remove the temporary folders a killed or failed run of claim ``name`` left in ``DIR``.

    Call it holding :func:`claim_lock`: no live run of that claim owns one then. Only
    folders named as :func:`write_claim` names them *and* holding :data:`TEMP_MARK` are
    touched: a user's folder of a similar name is never removed.
    """
    pattern = _temp_pattern(name)
    removed = []
    try:
        entries = list(Path(out_root).iterdir())
    except OSError:
        return removed
    for path in entries:
        if _is_our_temp(path, pattern):
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
    tmp = _make_temp(out_root, name, "tmp")
    share_mode(tmp, directory=True)
    old = None
    try:
        if figures is not None:
            try:
                figures(tmp)
            except OSError as exc:  # matplotlib writes through a file object: its errors name no file
                if exc.filename:
                    raise
                raise OSError(exc.errno, exc.strerror or str(exc), str(final / "*.png")) from None
        body = result.to_dict() if hasattr(result, "to_dict") else result
        write_json_atomic(body, tmp / "result.json")
        files = sorted(p.name for p in tmp.iterdir() if p.name != TEMP_MARK)
        write_json_atomic({"experiment": name, "actlab_version": __version__, "files": files}, tmp / MARKER)
        if final.exists():
            old = _make_temp(out_root, name, "old")
            os.replace(final, old / "x")
        (tmp / TEMP_MARK).unlink()
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and (old / "x").exists() and not final.exists():
            os.replace(old / "x", final)  # put the previous results back
        raise
    finally:
        if old is not None and _is_our_temp(old, _temp_pattern(name)):
            shutil.rmtree(old, ignore_errors=True)
    return final
