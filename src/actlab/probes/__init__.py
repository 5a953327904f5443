"""Probes: per-tensor statistics (pure reductions) and the training :class:`Monitor`.

* :mod:`actlab.probes.stats`: the reductions, on the tensor's device.
* :class:`Monitor`: hooks them into any model on sampled steps; JSONL and TensorBoard
  sinks; :meth:`Monitor.findings` turns the records into diagnoses.
* :mod:`actlab.probes.schedules`: ``step -> bool`` schedules (``every``, ``at``, ``union``).

Examples::

    >>> import torch
    >>> from torch import nn
    >>> from actlab.probes import Monitor
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> with Monitor(model, every=1) as monitor:
    ...     for _ in range(3):
    ...         opt.zero_grad()
    ...         model(torch.randn(16, 4)).pow(2).mean().backward()
    ...         opt.step()
    ...         monitor.step()
    >>> monitor.sites
    ['1']
    >>> sorted(monitor.latest["parameters"])
    ['0.bias', '0.weight', '2.bias', '2.weight']
"""

from . import schedules, stats
from .findings import SEVERITIES, THRESHOLD_SOURCES, Finding, Findings, Thresholds, diagnose
from .monitor import (
    ACTIVATION_STATS,
    ALL_STATS,
    DEFAULT_EVERY,
    HISTOGRAM_LIMIT,
    HISTOGRAM_SAMPLE,
    PARAMETER_STATS,
    Monitor,
)
from .schedules import at, every, union
from .sinks import JsonlSink, Sink, TensorBoardSink, read_jsonl
from .wandb_sink import WandbSink

__all__ = [
    "Monitor",
    "Finding",
    "Thresholds",
    "THRESHOLD_SOURCES",
    "SEVERITIES",
    "diagnose",
    "ACTIVATION_STATS",
    "PARAMETER_STATS",
    "ALL_STATS",
    "DEFAULT_EVERY",
    "HISTOGRAM_LIMIT",
    "HISTOGRAM_SAMPLE",
    "JsonlSink",
    "TensorBoardSink",
    "WandbSink",
    "Findings",
    "Sink",
    "read_jsonl",
    "every",
    "at",
    "union",
    "schedules",
    "stats",
]
