"""Where the monitor's records go: a JSONL file, TensorBoard, or your own sink.

A sink has three methods: ``start(header)`` when the monitor attaches,
``write(record)`` once per sampled step (at flush time, oldest first) and
``close()`` when it detaches. Records are plain dicts (see
:class:`~actlab.probes.Monitor`); the JSONL file holds one header line
(``"type": "header"``) per attach, then one ``"type": "step"`` line per sampled step,
NaN and inf written as null. :func:`read_jsonl` reads it back, and
``actlab.plots.monitor.plot_monitor`` draws it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

from ._distributed import rank_folder, rank_path

__all__ = ["Sink", "JsonlSink", "TensorBoardSink", "read_jsonl", "json_safe"]


class Sink(Protocol):
    """Receives the monitor's records."""

    def start(self, header: Mapping[str, Any]) -> None: ...

    def write(self, record: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def json_safe(value: Any) -> Any:
    """``value`` with every NaN / inf float replaced by None (strict JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class JsonlSink:
    """One JSON object per line in ``path`` (created with its folder; truncated on the
    first ``start``, appended to after a re-attach). Each line is flushed as it is
    written, so a crashed run leaves a readable file.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"jsonl path {self.path} is a folder; give a file name such as {self.path / 'monitor.jsonl'}")
        self._file = None
        self._started = False

    def start(self, header: Mapping[str, Any]) -> None:
        if not self._started:  # under DDP rank k > 0 writes <stem>.rank<k><suffix> (_distributed.py)
            self.path = rank_path(self.path, header.get("rank", 0), header.get("world_size", 1))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a" if self._started else "w", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self._started = True
        self.write(header)

    def write(self, record: Mapping[str, Any]) -> None:
        if self._file is None:
            raise RuntimeError(f"JsonlSink({self.path}) is not started (the monitor starts it on attach)")
        try:  # the common case: no NaN or inf anywhere, no need to walk the record first
            line = json.dumps(record, separators=(",", ":"), allow_nan=False)
        except ValueError:
            line = json.dumps(json_safe(record), separators=(",", ":"), allow_nan=False)
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"


def _quiet_tensorboard_writer_thread() -> None:
    """TensorBoard's writer thread re-raises a write error (a full disk) through ``threading.excepthook``,
    which prints a whole traceback; the same error reaches the training thread on the next write, where
    the monitor turns it into its one-line warning. Leave out only that thread's ``OSError``."""
    import threading

    previous = threading.excepthook
    if getattr(previous, "_actlab_tensorboard", False):
        return

    def hook(args: Any) -> None:
        if type(args.thread).__name__ == "_AsyncWriterThread" and isinstance(args.exc_value, OSError):
            return  # reported once, in one line, by the monitor's sink warning
        previous(args)

    hook._actlab_tensorboard = True  # type: ignore[attr-defined]
    threading.excepthook = hook


class TensorBoardSink:
    """Scalars and histograms for TensorBoard (``torch.utils.tensorboard``).

    Tags are ``<statistic>/<layer>`` (``mean/fc1``, ``dead_fraction/fc1``,
    ``grad_norm/fc1.weight``, ``histogram/fc1``, ``weight_histogram/fc1.weight``,
    ``grad_histogram/fc1.weight``), so TensorBoard puts each statistic in its own
    section with one chart per layer.

    Args:
        target: a log folder (the sink opens and closes its own ``SummaryWriter``),
            or a ``SummaryWriter`` you own (flushed, never closed, by the sink).
    """

    SCALARS = ("mean", "std", "zero_centring", "saturated_fraction", "dead_fraction")
    PARAMETER_SCALARS = ("grad_norm", "update_ratio", "sign_coherence", "positive_grad_fraction")

    def __init__(self, target: Any) -> None:
        _quiet_tensorboard_writer_thread()
        self._owned = isinstance(target, (str, os.PathLike))
        self._target = target
        self._writer = None if self._owned else target
        if not self._owned and not hasattr(target, "add_scalar"):
            raise TypeError(f"tensorboard= takes a log folder or a SummaryWriter, not {type(target).__name__}")

    @property
    def writer(self) -> Any:
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:  # the tensorboard package is an optional dependency
                raise ImportError("the TensorBoard sink needs the tensorboard package: pip install tensorboard") from exc
            self._writer = SummaryWriter(log_dir=str(self._target))
        return self._writer

    def start(self, header: Mapping[str, Any]) -> None:
        if self._owned and self._writer is None:  # under DDP rank k > 0 logs to <folder>/rank<k>
            self._target = rank_folder(self._target, header.get("rank", 0), header.get("world_size", 1))
        _ = self.writer  # opens the log folder now, so that a bad path fails on attach

    def write(self, record: Mapping[str, Any]) -> None:
        w, step = self.writer, int(record["step"])
        for site, stats in record.get("activations", {}).items():
            for key in self.SCALARS:
                value = stats.get(key)
                if isinstance(value, float) and math.isfinite(value):
                    w.add_scalar(f"{key}/{site}", value, step)
            self._histogram(w, f"histogram/{site}", stats, step)
        for name, stats in record.get("parameters", {}).items():
            for key in self.PARAMETER_SCALARS:
                value = stats.get(key)
                if isinstance(value, float) and math.isfinite(value):
                    w.add_scalar(f"{key}/{name}", value, step)
            for kind in ("weight", "grad"):
                self._counts(w, f"{kind}_histogram/{name}", stats.get(f"{kind}_histogram"), stats.get(f"{kind}_range"),
                             step)
        w.flush()

    @staticmethod
    def _histogram(w: Any, tag: str, stats: Mapping[str, Any], step: int) -> None:
        counts, rng = stats.get("histogram"), stats.get("histogram_range")
        mean, std = stats.get("mean"), stats.get("std")
        if not counts or not rng or not isinstance(mean, float) or not isinstance(std, float):
            return
        num = sum(counts)
        if num == 0 or not (math.isfinite(mean) and math.isfinite(std)):
            return
        lo, hi = rng
        width = (hi - lo) / len(counts)
        limits = [lo + (i + 1) * width for i in range(len(counts))]  # right edges, as TensorBoard wants
        w.add_histogram_raw(tag, min=lo, max=hi, num=num, sum=mean * num, sum_squares=(std * std + mean * mean) * num,
                            bucket_limits=limits, bucket_counts=counts, global_step=step)

    @staticmethod
    def _counts(w: Any, tag: str, counts: Any, rng: Any, step: int) -> None:
        """A histogram from counts and a range alone (sum and sum of squares from bin centres)."""
        if not counts or not rng or not sum(counts) or not all(isinstance(v, float) and math.isfinite(v) for v in rng):
            return
        lo, hi = rng
        if not hi > lo:
            return
        width = (hi - lo) / len(counts)
        centres = [lo + (i + 0.5) * width for i in range(len(counts))]
        w.add_histogram_raw(tag, min=lo, max=hi, num=sum(counts), sum=sum(c * x for c, x in zip(counts, centres)),
                            sum_squares=sum(c * x * x for c, x in zip(counts, centres)),
                            bucket_limits=[lo + (i + 1) * width for i in range(len(counts))], bucket_counts=counts,
                            global_step=step)

    def close(self) -> None:
        if self._writer is None:
            return
        if self._owned:
            self._writer.close()
            self._writer = None
        else:
            self._writer.flush()

    def __repr__(self) -> str:
        return f"TensorBoardSink({self._target!r})"


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every record of a monitor JSONL file (headers and steps), nulls read back as NaN
    where a number was expected. ValueError naming the line for a corrupt file."""
    return list(_iter_jsonl(Path(path)))


def _iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(f"no monitor log at {path}: pass the jsonl= path given to Monitor")
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{i} is not valid JSON ({exc.msg}); is it a monitor JSONL file?") from exc
            if not isinstance(record, dict) or "type" not in record:
                raise ValueError(f"{path}:{i} is not a monitor record (no 'type' field)")
            yield _nulls_to_nan(record)


_NUMERIC = frozenset({"mean", "std", "zero_centring", "saturated_fraction", "dead_fraction",
                      "grad_norm", "update_ratio", "sign_coherence", "weight_norm", "positive_grad_fraction"})


def _nulls_to_nan(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("type") != "step":
        return record
    for section in ("activations", "parameters"):
        for stats in record.get(section, {}).values():
            for key in _NUMERIC & stats.keys():
                if stats[key] is None:
                    stats[key] = math.nan
    return record
