"""What both callbacks share: a monitor record's scalars, and a sink that logs them through
the trainer's own logger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ScalarSink", "scalars"]

_ACTIVATION_SCALARS = ("mean", "std", "zero_centring", "saturated_fraction", "dead_fraction")
_PARAMETER_SCALARS = ("grad_norm", "update_ratio", "sign_coherence", "positive_grad_fraction")


def scalars(record: Mapping[str, Any], prefix: str = "monitor") -> dict[str, float]:
    """The finite scalar statistics of one monitor record, flat:
    ``{"monitor/<statistic>/<layer>": value}``."""
    out: dict[str, float] = {}
    for section, keys in (("activations", _ACTIVATION_SCALARS), ("parameters", _PARAMETER_SCALARS)):
        for name, stats in record.get(section, {}).items():
            for key in keys:
                value = stats.get(key)
                if isinstance(value, float) and value == value and abs(value) != float("inf"):
                    out[f"{prefix}/{key}/{name}"] = value
    return out


class ScalarSink:
    """A monitor sink that hands each record's scalars to ``log(metrics, step)``: how the
    callbacks log through the trainer's own logger."""

    def __init__(self, log: Callable[[dict[str, float], int], None], name: str = "trainer logger") -> None:
        self._log, self.path = log, name

    def start(self, header: Mapping[str, Any]) -> None:
        pass

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("type") == "step":
            self._log(scalars(record), int(record["step"]))

    def close(self) -> None:
        pass
