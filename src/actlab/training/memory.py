"""Will a claim's settings fit in memory? An estimate from the config, before anything is allocated.

Settings that pass their checks one by one can still ask for more memory than the machine
has (``--set width=65536`` squares into a 17 GB weight matrix). :func:`check_fits` refuses
them in one line with the estimate and the machine's memory, before any work; a run that
fails to allocate anyway is told apart by :func:`is_out_of_memory` and reported the same
way (:func:`out_of_memory_text`).

The estimate is a lower bound from the fields claims share: a dense MLP of ``depth``
layers of ``width`` units on ``in_features`` inputs (weights, their gradients and one more
copy; activations of the largest batch, forward and backward), and for tensor sizes
(``sizes``, the ``cost`` claim) six tensors of the largest size live at once in a forward and
backward pass (input, output, incoming gradient, input gradient, a saved intermediate, and the
copy baseline's buffer).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["estimate_bytes", "machine_memory", "check_fits", "is_out_of_memory", "out_of_memory_text", "gb"]


def _int(config: Any, name: str, default: int = 0) -> int:
    value = getattr(config, name, default)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _largest(config: Any, *names: str) -> int:
    best = 0
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, (tuple, list)):
            best = max([best, *(v for v in value if isinstance(v, int) and not isinstance(v, bool))])
        elif isinstance(value, int) and not isinstance(value, bool):
            best = max(best, value)
    return best


def estimate_bytes(config: Any) -> tuple[int, str]:
    """(bytes the config needs at least, what needs them) from its shared fields; (0, "") if none apply."""
    elem = 8 if getattr(config, "dtype", "float32") == "float64" else 4
    estimates: list[tuple[int, str]] = []
    width, depth = _int(config, "width"), _int(config, "depth", 1)
    if width:
        inputs = _int(config, "in_features", 784)
        outputs = _int(config, "out_features", _int(config, "classes", 10))
        weights = inputs * width + width * width * max(depth - 1, 0) + width * outputs
        batch = max(_largest(config, "batch", "batches", "batch_size"), 1)
        activations = batch * (inputs + width * max(depth, 1) + outputs)
        estimates.append((elem * (3 * weights + 2 * activations),
                          f"an MLP of {depth} layer(s) of width {width} on {inputs} inputs"))
    widths = getattr(config, "train_widths", None)
    if isinstance(widths, (tuple, list)) and widths and all(isinstance(w, int) for w in widths):
        sizes = [784, *widths, 10]
        weights = sum(a * b for a, b in zip(sizes, sizes[1:]))
        batch = max(_int(config, "train_batch", 1), 1)
        estimates.append((elem * (3 * weights + 2 * batch * sum(sizes)), f"a training MLP of widths {list(widths)}"))
    size = _largest(config, "sizes")
    if size:
        estimates.append((elem * 6 * size, f"six tensors of {size:,} elements"))
    return max(estimates, default=(0, ""))


def machine_memory() -> tuple[int | None, int | None]:
    """(bytes available now, bytes in all) of this machine's memory; None where it cannot be read."""
    available = total = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                key, _, rest = line.partition(":")
                if key in ("MemAvailable", "MemTotal"):
                    value = int(rest.split()[0]) * 1024
                    if key == "MemAvailable":
                        available = value
                    else:
                        total = value
    except (OSError, ValueError, IndexError):
        pass
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = None
    return available, total


def gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB"


def _machine_text() -> str:
    available, total = machine_memory()
    if available is not None and total is not None:
        return f"this machine has {gb(available)} free of {gb(total)}"
    if total is not None:
        return f"this machine has {gb(total)}"
    return "this machine's memory is unknown"


def check_fits(config: Any, name: str) -> None:
    """ValueError (one line: the estimate, what needs it, the machine's memory) if ``config`` cannot fit."""
    need, what = estimate_bytes(config)
    if not need:
        return
    available, total = machine_memory()
    room = available if available is not None else total
    if room is not None and need > room:
        raise ValueError(f"{name}: these settings need at least {gb(need)} of memory ({what}); "
                         f"{_machine_text()}: lower the sizes")


def is_out_of_memory(exc: BaseException) -> bool:
    """An allocation that failed: MemoryError, torch's OutOfMemoryError, or its CPU allocator's RuntimeError."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text)


def out_of_memory_text(exc: BaseException, config: Any, name: str) -> str:
    """One line for a run that ran out of memory: the estimate, if any, and the machine's memory."""
    need, what = estimate_bytes(config)
    estimate = f"these settings need at least {gb(need)} ({what}); " if need else ""
    return f"{name}: out of memory; {estimate}{_machine_text()}: lower the sizes"
