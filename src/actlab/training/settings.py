"""What every claim module shares: config checks, devices, seeding, progress, timing.

A claim module (``claims/<claim>.py``, or a package ``claims/<claim>/``) defines:

* ``NAME``: the claim's name on the command line (``"sign-coherence"``);
* ``CLAIM``: the claim in the course material's words; ``SOURCE``: where it is from;
* ``Config``: a frozen dataclass with every setting and its default, seed included,
  checked in ``__post_init__`` (``ValueError`` naming the bad value);
* ``QUICK``: the overrides that make ``--quick`` (minutes on a 2-core CPU);
* ``run(config, progress=None) -> Result``: measures; never prints, plots or writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import torch

from ..activations import REGISTRY, UnknownActivationError

__all__ = [
    "Progress",
    "no_progress",
    "resolve_device",
    "check_activations",
    "check_int",
    "check_float",
    "check_choice",
    "make_config",
    "parse_value",
    "Stopwatch",
    "torch_threads",
    "MAX_WIDTH",
    "MAX_DEPTH",
    "MAX_BATCH",
    "MAX_WORKERS",
    "MAX_THREADS",
    "MAX_SECONDS",
]


class Progress(Protocol):
    """``progress(done, total, message)``: how far a run is; the CLI draws it."""

    def __call__(self, done: float, total: float, message: str = "") -> None: ...


def no_progress(done: float, total: float, message: str = "") -> None:
    """The default progress callback: does nothing."""


def resolve_device(device: str) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N' -> torch.device; ValueError if it is not there."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device {device!r} is not a device name (use cpu or cuda)") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for, but PyTorch finds no CUDA device here; use --device cpu")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use cpu or cuda")
    return dev


def check_activations(names: Sequence[str], what: str = "activations") -> tuple[str, ...]:
    """Canonical names, checked; ValueError (with close matches) for an unknown one."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    if not names:
        raise ValueError(f"{what}: the list is empty")
    out = []
    for n in names:
        try:
            canonical = REGISTRY.resolve(n)
        except UnknownActivationError:
            raise
        if canonical not in out:
            out.append(canonical)
    return tuple(out)


#: Integer settings fit in 64 bits: PyTorch takes sizes and seeds as int64 and fails deep
#: inside ("Overflow when unpacking long long") beyond that.
MAX_INT64 = 2**63 - 1


#: Upper bounds on sizes, so that a typo gives a one-line error rather than an attempt
#: to allocate petabytes (the hostile-input suite found those).
MAX_WIDTH = 1 << 16
MAX_DEPTH = 1000
MAX_BATCH = 1 << 20
MAX_WORKERS = 512
MAX_THREADS = 1024
#: Upper bound on a time budget (seconds of timing per measurement, ...): one hour.
MAX_SECONDS = 3600.0


def check_int(name: str, value: Any, *, min_value: int | None = None, max_value: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}={value!r} must be an integer")
    if not -MAX_INT64 <= value <= MAX_INT64:
        raise ValueError(f"{name}={value} is out of range (a setting fits in 64 bits: |value| <= 2**63 - 1)")
    if min_value is not None and value < min_value:
        raise ValueError(f"{name}={value} must be >= {min_value}")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name}={value} must be <= {max_value}")


def check_float(name: str, value: Any, *, positive: bool = False, min_value: float | None = None,
                max_value: float | None = None) -> None:
    import math

    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be a finite number")
    if positive and value <= 0:
        raise ValueError(f"{name}={value} must be > 0")
    if min_value is not None and value < min_value:
        raise ValueError(f"{name}={value} must be >= {min_value}")
    if max_value is not None and value > max_value:
        raise ValueError(f"{name}={value} must be <= {max_value}")


def check_choice(name: str, value: Any, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r} must be one of {', '.join(choices)}")


def _field_type(config_cls: type, name: str) -> Any:
    hints = typing.get_type_hints(config_cls)
    return hints[name]


def parse_value(text: str, annotation: Any, name: str) -> Any:
    """Parse a command-line string into a config field's type.

    Handles int, float, bool, str, and tuples of those (comma-separated).
    """
    origin = typing.get_origin(annotation)
    if origin in (tuple, Sequence) or annotation in (tuple,):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis] or [str]
        items = [t.strip() for t in text.split(",") if t.strip()]
        return tuple(parse_value(t, args[0], name) for t in items)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if text.lower() in ("none", "null") and len(args) < len(typing.get_args(annotation)):
            return None
        return parse_value(text, args[0], name)
    if annotation in (bool, int, float) and not text.isascii():
        # int() and float() read other scripts' digits ("\u0661\u0662" is 12): a setting is written in ASCII
        raise ValueError(f"{name}={text!r} must be written with the digits 0-9")
    try:
        if annotation is bool:
            low = text.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
    except ValueError:
        kind = {bool: "true or false", int: "an integer", float: "a number"}[annotation]
        raise ValueError(f"{name}={text!r} must be {kind}") from None
    return text


def make_config(config_cls: type, quick: Mapping[str, Any] | None = None,
                overrides: Mapping[str, Any] | None = None) -> Any:
    """``config_cls`` with the ``--quick`` overrides, then the user's, applied in that order.

    String values (from the command line) are parsed to each field's type.
    Unknown field names are an error listing the valid ones.
    """
    valid = {f.name for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = dict(quick or {})
    for key, value in (overrides or {}).items():
        key = key.replace("-", "_")
        if key not in valid:
            raise ValueError(f"unknown setting {key!r}; valid settings: {', '.join(sorted(valid))}")
        if isinstance(value, str):
            value = parse_value(value, _field_type(config_cls, key), key)
        values[key] = value
    return config_cls(**values)


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """``torch.set_num_threads(n)`` inside the block (None or 0: unchanged), restored after."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class Stopwatch:
    """Wall-clock seconds since construction (``time.perf_counter``)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


ProgressFn = Callable[[float, float, str], None]
