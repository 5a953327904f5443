"""Settings read from environment variables, checked the same way everywhere."""

from __future__ import annotations

import os

__all__ = ["env_seconds"]


def env_seconds(name: str, default: float, maximum: float, error: type[Exception]) -> float:
    """Seconds from ``$name`` (unset or empty: ``default``), in (0, ``maximum``].

    A value that is not a number, or out of range, raises ``error`` naming the variable and
    what it must be, so the caller's one-line error handling shows it.
    """
    text = os.environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        raise error(f"{name}={text!r} must be a number of seconds") from None
    if not 0 < value <= maximum:
        raise error(f"{name}={text!r} must be from 0 to {maximum:g} seconds")
    return value
