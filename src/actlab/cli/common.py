"""What every ``actlab`` command shares: exit codes, the one-line usage error, argument types,
the writable-folder check, the progress line and a claim's config from the command line.

Each command lives in its own module (``listing``, ``show``, ``verify``, ``run``, ``report``,
``sweep``); they import from here, and :mod:`actlab.cli.main` (the parser) imports them only
when their command runs, so ``actlab --help`` loads no torch.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

__all__ = ["EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_INTERRUPTED", "UsageError", "Parser", "int_arg",
           "parse_activation", "fmt_num", "check_writable", "check_utf8_path", "shown_path", "ProgressLine",
           "claim_config", "check_memory", "one_line", "status_words", "quiet_stdout", "load_plugin_args"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: same one-line format
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def int_arg(text: str) -> int:
    """argparse type for whole numbers: ASCII digits only (int() also reads other scripts' digits)."""
    if not text.strip().isascii():
        raise argparse.ArgumentTypeError(f"{text!r} must be written with the digits 0-9")
    return int(text)


int_arg.__name__ = "int"  # argparse names the type in its message: "invalid int value: 'x'"


def parse_activation(text: str):
    """'elu' or 'elu:alpha=0.5,k=2' -> Activation."""
    from ..activations import get
    from ..training.settings import parse_value

    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"activation parameter {item!r} must look like name=value, e.g. elu:alpha=0.5")
        try:
            text = value.strip()
            params[key.strip()] = int(text) if text.isascii() and text.lstrip("-").isdigit() else parse_value(
                text, float, key.strip())
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return get(name, **params)



def fmt_num(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.4g}"



def shown_path(path: str | os.PathLike[str]) -> str:
    """A path as text that can always be printed: bytes that are not UTF-8 as ``\\xff`` escapes."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_utf8_path(option: str, path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, a path whose name is not UTF-8 (the report and messages could not name it)."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{option} {shown_path(path)}: the name is not valid UTF-8; give a folder whose name "
                         "is UTF-8 text") from None


def check_writable(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder; give a folder (or a new name) instead")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".actlab-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        what = f"{blocker} is a file, not a folder" if blocker else "a file stands in its path"
        raise UsageError(f"cannot write to {folder}: {what}") from None
    except OSError as exc:
        raise UsageError(f"cannot write to {folder}: {exc.strerror or exc}") from None



class ProgressLine:
    """One status line on stderr: claim, percent, message, elapsed, time left.

    Redrawn in place on a terminal; elsewhere (CI logs) a line at most every ``every`` seconds.
    Never silent for longer than ``heartbeat`` seconds while open: a background thread repeats
    the latest message with the time updated when the work itself has said nothing (a long
    step, a figure being drawn), until :meth:`close`.
    """

    def __init__(self, label: str, stream=None, enabled: bool = True, *, every: float = 1.0,
                 heartbeat: float | None = 1.0) -> None:
        self.label, self.stream, self.enabled = label, stream or sys.stderr, enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.last = -math.inf
        self.every = every
        self._latest: tuple[float, float, str] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._shown = False  # a line of ours is on the terminal now
        if enabled and heartbeat:
            self._thread = threading.Thread(target=self._beat, args=(heartbeat,), daemon=True,
                                            name=f"actlab progress {label}")
            self._thread.start()

    def __call__(self, done: float, total: float, message: str = "") -> None:
        if not self.enabled:
            return
        with self._lock:
            self._latest = (done, total, message)
            now = time.perf_counter()
            if not self.tty and now - self.last < self.every and done < total:
                return
            self._write(done, total, message, now)

    def later(self, done: float, total: float, message: str = "") -> None:
        """Like a call, but shown only if nothing else is said for ``heartbeat`` seconds: work that
        usually ends at once (a bad argument is then the only line) and sometimes takes long."""
        if self.enabled:
            with self._lock:
                self._latest = (done, total, message)
                self.last = time.perf_counter()

    def _beat(self, period: float) -> None:
        while not self._stop.wait(period / 2):
            with self._lock:
                now = time.perf_counter()
                if self._latest is not None and now - self.last >= period and not self._stop.is_set():
                    self._write(*self._latest, now)

    def _write(self, done: float, total: float, message: str, now: float) -> None:
        self.last = now
        self._shown = True
        frac = min(max(done / total, 0.0), 1.0) if total else 0.0
        spent = now - self.start
        left = f", ~{spent * (1 - frac) / frac:.0f}s left" if 0.02 < frac < 1 else ""
        text = f"{self.label}: {100 * frac:3.0f}% {message} [{spent:.0f}s{left}]"
        try:
            if self.tty:
                width = shutil.get_terminal_size((100, 20)).columns - 1
                self.stream.write("\r" + text[:width].ljust(width))
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
        except (OSError, ValueError):  # the stream went away (closed pipe): progress is not worth a crash
            self._stop.set()

    def clear(self) -> None:
        """Wipe the line on a terminal before other output; the heartbeat waits for the next call."""
        with self._lock:
            self._latest = None
            if self.enabled and self.tty and self._shown:
                self._shown = False
                try:
                    self.stream.write("\r\033[K")
                    self.stream.flush()
                except (OSError, ValueError):
                    self._stop.set()

    def close(self) -> None:
        # No join: the heartbeat checks _stop under the lock before it writes, so nothing is
        # written after this, and Ctrl-C never waits for the thread to wake up.
        with self._lock:
            self._stop.set()
        if self.enabled and self.tty:
            with self._lock:
                if self._shown:  # keep the last line on the terminal; nothing to end if none was drawn
                    self._shown = False
                    try:
                        self.stream.write("\n")
                        self.stream.flush()
                    except (OSError, ValueError):
                        pass


def claim_config(module, args: argparse.Namespace, *, strict: bool):
    """Config for one claim from --quick, the common options and --set."""
    from ..training.settings import make_config

    valid = {f.name for f in fields(module.Config)}
    overrides: dict[str, Any] = {}
    for option in ("seed", "device", "activations", "baseline", "dataset", "seeds", "data_dir"):
        value = getattr(args, option, None)
        if value is None:
            continue
        if option not in valid:
            if strict:
                raise UsageError(f"claim {module.NAME} has no --{option.replace('_', '-')} option; "
                                 f"its settings: {', '.join(sorted(valid))}")
            continue
        overrides[option] = value if not isinstance(value, str) else value
    for item in args.set or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise UsageError(f"--set {item!r} must look like KEY=VALUE")
        key = key.strip().replace("-", "_")
        if key not in valid:
            if strict:
                raise UsageError(f"claim {module.NAME} has no setting {key!r}; its settings: {', '.join(sorted(valid))}")
            continue
        overrides[key] = value
    try:
        config = make_config(module.Config, module.QUICK if args.quick else None, overrides)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"{module.NAME}: {exc}") from None
    check_memory(config, module.NAME)
    return config


def check_memory(config, name: str) -> None:
    """Settings that cannot fit in this machine's memory: one line with the estimate, before any work."""
    from ..training.memory import check_fits

    try:
        check_fits(config, name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None



def status_words(status: str) -> str:
    """A verdict for people: "does not hold", never ``does_not_hold``."""
    return status.replace("_", " ")


def one_line(exc: BaseException) -> str:
    """The first line of an error's message (PyTorch's own errors append a C++ stack)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__



def quiet_stdout() -> None:
    """After a closed pipe (``actlab list | head -1``): send what is left to /dev/null, as Unix tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (tests capture it): nothing to silence
        pass



def load_plugin_args(args: argparse.Namespace) -> list[str]:
    """Run the ``--plugin FILE`` files (repeatable) here, before any name is looked up; the names
    they registered. Worker processes load them too (``training.workers``). One-line
    :class:`UsageError` for a missing file, a file that raises, a file that registers nothing."""
    paths = getattr(args, "plugin", None) or []
    if not paths:
        return []
    from ..activations.plugins import PluginError, load_plugin_files

    try:
        return load_plugin_files(paths)
    except PluginError as exc:
        raise UsageError(str(exc)) from None
