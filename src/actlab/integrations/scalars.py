"""What both callbacks share: a monitor record's scalars, and sinks that log them (and the
histograms) through the trainer's own logger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ScalarSink", "HistogramSink", "scalars", "logger_sinks"]

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


class HistogramSink:
    """A monitor sink that writes each record's histograms (activations, weights,
    gradients) to a TensorBoard ``SummaryWriter`` under ``monitor/<kind>/<layer>``:
    how the Lightning callback gets them into a ``TensorBoardLogger``."""

    def __init__(self, writer: Any, prefix: str = "monitor") -> None:
        self._writer, self.prefix, self.path = writer, prefix, f"histograms in {type(writer).__name__}"

    def start(self, header: Mapping[str, Any]) -> None:
        pass

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("type") != "step":
            return
        from ..probes.sinks import TensorBoardSink

        w, step, pre = self._writer, int(record["step"]), self.prefix
        for site, stats in record.get("activations", {}).items():
            TensorBoardSink._histogram(w, f"{pre}/histogram/{site}", stats, step)
        for name, stats in record.get("parameters", {}).items():
            for kind in ("weight", "grad"):
                TensorBoardSink._counts(w, f"{pre}/{kind}_histogram/{name}", stats.get(f"{kind}_histogram"),
                                        stats.get(f"{kind}_range"), step)

    def close(self) -> None:
        flush = getattr(self._writer, "flush", None)
        if flush is not None:
            flush()


def logger_sinks(logger: Any) -> list[Any]:
    """Sinks that write a monitor's records through a Lightning logger: its scalars through
    ``log_metrics``, and histograms where the logger takes them (a TensorBoard
    ``SummaryWriter`` as ``logger.experiment``; a wandb run)."""
    name = type(logger).__name__
    out: list[Any] = [ScalarSink(lambda metrics, step: logger.log_metrics(metrics, step=step),
                                 f"the trainer's logger ({name})")]
    if "TensorBoard" in name:
        writer = logger.experiment
        if hasattr(writer, "add_histogram_raw"):
            out.append(HistogramSink(writer))
    elif "Wandb" in name:
        from ..probes.wandb_sink import WandbSink

        out.append(WandbSink(logger.experiment, scalars=False))
    return out
