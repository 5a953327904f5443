"""Step schedules: plain ``step -> bool`` functions (as in Cockpit).

A schedule says on which training steps the monitor records. Steps count from 0:
step t is the t-th call of the training step, before its ``monitor.step()``.

Examples::

    >>> from actlab.probes.schedules import every, at, union
    >>> s = every(100)
    >>> [t for t in range(350) if s(t)]
    [0, 100, 200, 300]
    >>> s = union(at(1, 2, 3), every(100, start=10))
    >>> [t for t in range(250) if s(t)]
    [1, 2, 3, 10, 110, 210]
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["Schedule", "every", "at", "union", "check_schedule"]

Schedule = Callable[[int], bool]


def _check_count(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    if value < minimum:
        hint = " (every=0 would never record; use every=1 for every step)" if name == "every" else ""
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}{hint}")
    return value


def every(n: int, start: int = 0) -> Schedule:
    """Steps ``start, start + n, start + 2n, ...``.

    Raises:
        ValueError: ``n`` < 1 or ``start`` < 0, or either not an integer.
    """
    _check_count("every", n, 1)
    _check_count("start", start, 0)

    def schedule(step: int) -> bool:
        return step >= start and (step - start) % n == 0

    schedule.__qualname__ = f"every({n}, start={start})"
    return schedule


def at(*steps: int) -> Schedule:
    """Exactly the given steps."""
    for s in steps:
        _check_count("step", s, 0)
    chosen = frozenset(steps)

    def schedule(step: int) -> bool:
        return step in chosen

    schedule.__qualname__ = f"at({', '.join(map(str, sorted(chosen)))})"
    return schedule


def union(*schedules: Schedule) -> Schedule:
    """Steps where any of ``schedules`` records."""
    for s in schedules:
        check_schedule(s)
    parts = tuple(schedules)

    def schedule(step: int) -> bool:
        return any(s(step) for s in parts)

    schedule.__qualname__ = "union(" + ", ".join(getattr(s, "__qualname__", "?") for s in parts) + ")"
    return schedule


def check_schedule(schedule: object) -> Schedule:
    """``schedule`` if it is callable and returns a bool for step 0; TypeError otherwise."""
    if not callable(schedule):
        raise TypeError(f"a schedule must be a function step -> bool, not {type(schedule).__name__}")
    answer = schedule(0)
    if not isinstance(answer, bool):
        raise TypeError(f"schedule(0) returned {answer!r} ({type(answer).__name__}); a schedule must return a bool")
    return schedule  # type: ignore[return-value]
