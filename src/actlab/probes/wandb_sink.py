"""A monitor sink for Weights & Biases: scalars and histograms in a wandb run.

    import wandb
    from actlab.probes import Monitor, WandbSink

    run = wandb.init(project="my-project")          # or leave it to WandbSink
    with Monitor(model, every=100, sinks=[WandbSink(run)]) as monitor:
        ...

Keys are ``monitor/<statistic>/<layer>`` (``monitor/mean/fc1``,
``monitor/grad_norm/fc1.weight``, ``monitor/histogram/fc1``,
``monitor/weight_histogram/fc1.weight``), logged at the record's step with
``commit=False`` so that they join the step's other metrics instead of advancing wandb's
step counter; the monitor's histograms go in as ``wandb.Histogram(np_histogram=...)``
from their counts (nothing is recomputed). The ``wandb`` package is imported when the
sink starts (extra ``wandb``). Tested offline (``WANDB_MODE=offline``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["WandbSink"]

_ACTIVATION_SCALARS = ("mean", "std", "zero_centring", "saturated_fraction", "dead_fraction")
_PARAMETER_SCALARS = ("grad_norm", "update_ratio", "sign_coherence", "positive_grad_fraction")


class WandbSink:
    """Writes each record to a wandb run.

    Args:
        run: a ``wandb`` run (``wandb.init(...)``); None: the current ``wandb.run``, or
            one this sink starts with ``init_kwargs`` (and finishes on close).
        scalars, histograms: which to log.
        prefix: the keys' first part.
        **init_kwargs: for ``wandb.init`` when the sink starts the run.
    """

    def __init__(self, run: Any = None, *, scalars: bool = True, histograms: bool = True, prefix: str = "monitor",
                 **init_kwargs: Any) -> None:
        self.run, self._owned = run, False
        self.scalars, self.histograms, self.prefix = scalars, histograms, prefix
        self._init_kwargs = init_kwargs
        self.path = "wandb"

    def start(self, header: Mapping[str, Any]) -> None:
        import wandb

        self._wandb = wandb
        if self.run is None:
            self.run = wandb.run
        if self.run is None:
            self.run, self._owned = wandb.init(**self._init_kwargs), True
        self.path = f"wandb run {getattr(self.run, 'name', '')}".strip()
        if header.get("world_size", 1) > 1:
            self.prefix = f"{self.prefix}/rank{header.get('rank', 0)}" if header.get("rank", 0) else self.prefix

    def write(self, record: Mapping[str, Any]) -> None:
        if record.get("type") != "step" or self.run is None:
            return
        out: dict[str, Any] = {}
        pre = self.prefix
        for section, keys, hist_keys in (("activations", _ACTIVATION_SCALARS, (("histogram", "histogram_range"),)),
                                         ("parameters", _PARAMETER_SCALARS, (("weight_histogram", "weight_range"),
                                                                             ("grad_histogram", "grad_range")))):
            for name, stats in record.get(section, {}).items():
                if self.scalars:
                    for key in keys:
                        value = stats.get(key)
                        if isinstance(value, float) and math.isfinite(value):
                            out[f"{pre}/{key}/{name}"] = value
                if self.histograms:
                    for counts_key, range_key in hist_keys:
                        hist = self._histogram(stats.get(counts_key), stats.get(range_key))
                        if hist is not None:
                            out[f"{pre}/{counts_key}/{name}"] = hist
        loss = record.get("loss")
        if self.scalars and isinstance(loss, float) and math.isfinite(loss):
            out[f"{pre}/loss"] = loss
        if out:
            self.run.log(out, step=int(record["step"]), commit=False)

    def _histogram(self, counts: Any, rng: Any) -> Any:
        if not counts or not rng or not sum(counts):
            return None
        lo, hi = rng
        if not (isinstance(lo, float) and isinstance(hi, float) and math.isfinite(lo) and math.isfinite(hi) and hi > lo):
            return None
        width = (hi - lo) / len(counts)
        edges = [lo + i * width for i in range(len(counts) + 1)]
        return self._wandb.Histogram(np_histogram=(list(counts), edges))

    def close(self) -> None:
        if self._owned and self.run is not None:
            self.run.finish()
            self.run = None

    def __repr__(self) -> str:
        return f"WandbSink({self.path!r})"
