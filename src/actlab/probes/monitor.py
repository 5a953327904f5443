"""The training monitor: per-layer activation and gradient statistics, cheaply.

Usage (the whole API; ``examples/monitor_mlp.py`` runs it end to end)::

    from actlab.probes import Monitor

    with Monitor(model, every=50, jsonl="runs/monitor.jsonl", tensorboard="runs/tb") as monitor:
        for x, y in batches:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            monitor.step()                 # once per training step, after optimizer.step()
    for finding in monitor.findings():
        print(finding)

``monitor = Monitor(model).attach()`` / ``monitor.detach()`` do the same as the
``with`` block. ``Monitor(model, optimizer=opt)`` calls ``step()`` itself from
``opt.step()`` (a step post-hook); then do not call it yourself. Why an explicit
``step()``: the monitor needs the step boundary (the update ratio compares the
weights across one optimizer step, the schedule counts steps), and only the training
loop knows it when there is gradient accumulation, a GradScaler skipping steps, or
several forward passes per step.

How it works, and what it costs:

* Steps count from 0; ``schedule(step)`` (``every=N`` builds one; default every 100)
  decides which are *sampled*. On other steps the model has no monitor hook at all:
  the monitor's cost is one Python call in ``step()``.
* On a sampled step, hooks are installed for that step. Forward pre/post hooks on
  the outermost modules whose ``forward`` is not a known torch.nn layer (the root,
  for a model class of your own; none for an ``nn.Sequential`` of torch.nn layers)
  enter a ``TorchFunctionMode`` while they run: it sees ``F.relu``,
  ``torch.sigmoid``, ``x.tanh()``, ... called there, and torch.nn activation
  modules called there. Other activation modules get a forward hook (plus a
  pre-hook for in-place ones whose input is needed before it is overwritten). A
  post-accumulate-grad hook per parameter queues one reduction of all the
  gradients for the end of the backward pass. Root pre/post hooks mark the forward.
* A sampled step costs some 40 small tensor ops on a 3-layer MLP: the reductions
  are batched (``torch._foreach_*``, one matmul for every weight's sign counts) and
  their views made once, because on a small model the count of ops, not their size,
  sets the cost (``benchmarks/monitor_overhead.py``).
* Hooks reduce on the tensor's device into device tensors and never sync with the
  host; the one transfer is in :meth:`Monitor.flush` (every ``flush_every`` sampled
  steps, and in ``findings()``, ``history`` and ``detach()``). Arithmetic that needs
  no tensor (means from sums, fractions from counts) is finished on the host after it.
* The monitor reads tensors and never writes to the model's, draws no random
  numbers and changes no op: training with and without it is bit-identical.
* Forward passes in eval mode are not recorded (``training_only``), nor anything
  inside ``with monitor.paused():``.

Sites and statistics (``stats=``; default all):

* An activation *site* is one call place: a module call (named by the module;
  ``act#1``, ``act#2`` for the 2nd, 3rd call of a module reused in one forward) or a
  function call inside a module's forward (``block.relu()``, ``relu()`` at the root,
  ``#k`` likewise). Calls of the same site in several forward passes of one step
  (gradient accumulation) are pooled.
* ``mean``, ``std`` (population) and ``zero_centring`` = |mean| / std of the
  outputs; ``saturated_fraction``: share of elements with |f'(x)| < ``saturation_slope``
  x max |f'| (registry derivative; 0 for activations declared non-saturating);
  ``dead_fraction``: share of units with f'(x) == 0 for every example of the last
  ``window`` sampled steps (for ReLU: output exactly 0); ``histogram``: ``bins``
  fixed bins over the output range clipped to [-5, 5] (or ``histogram_range``),
  values beyond it in the edge bins, counted over an even strided sample of at most
  ``histogram_sample`` values per call (4096; ``None`` counts every value).
* ``grad_norm`` (L2, as the backward pass left it: before any clipping),
  ``sign_coherence`` (rows of a >= 2-D weight gradient whose non-zero entries share
  one sign, over non-zero rows) and ``update_ratio`` = ||w_after - w_before|| /
  ||w_before|| across this step's optimizer step, from a snapshot taken when a
  sampled step begins. ``depth`` orders parameters from the input (0) up, by the
  order their gradients arrive in (the backward pass runs the last layer first).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import difflib
import fnmatch
import functools
import math
import sys
import time
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .._version import __version__
from . import stats as S
from .findings import Finding, Thresholds, diagnose
from .schedules import Schedule, check_schedule
from .schedules import every as every_schedule
from .sinks import JsonlSink, Sink, TensorBoardSink
from .sites import (
    FUNCTIONAL_ACTIVATIONS,
    ActivationInfo,
    FunctionalCall,
    functional_activation,
    module_activation,
)

__all__ = ["Monitor", "ACTIVATION_STATS", "PARAMETER_STATS", "ALL_STATS", "DEFAULT_EVERY", "HISTOGRAM_LIMIT", "HISTOGRAM_SAMPLE"]

ACTIVATION_STATS = ("mean", "std", "zero_centring", "saturated_fraction", "dead_fraction", "histogram")
PARAMETER_STATS = ("grad_norm", "update_ratio", "sign_coherence")
ALL_STATS = ACTIVATION_STATS + PARAMETER_STATS
_STAT_GROUPS = {"all": ALL_STATS, "activations": ACTIVATION_STATS, "parameters": PARAMETER_STATS}

#: Default schedule: every 100th step (0, 100, 200, ...). A lone sampled step with
#: every statistic costs about one plain step of a small MLP on the CPU
#: (benchmarks/monitor_overhead.py); spread over 100 steps that is about 1%, within
#: the 2% budget.
DEFAULT_EVERY = 100
#: Default cap on the values per call that go into a histogram (an even strided sample).
HISTOGRAM_SAMPLE = 4096
#: Unbounded sides of an activation's histogram range are cut at -+5.
HISTOGRAM_LIMIT = 5.0

# The monitor attached to each model, so that a second Monitor on the same model (a
# notebook cell run again) detaches the first instead of piling hooks on top of it.
# Weak keys: a model that is garbage collected drops out.
_ATTACHED: weakref.WeakKeyDictionary[nn.Module, Monitor] = weakref.WeakKeyDictionary()

_CALL_IMPL_CODE = nn.Module._call_impl.__code__
# Runs a function when the current backward pass ends (what DDP uses to reduce gradients
# once they are all there). Private API: without it, gradients are reduced one by one.
_QUEUE_CALLBACK = getattr(getattr(torch.autograd.Variable, "_execution_engine", None), "queue_callback", None)
_LOW_PRECISION = (torch.float16, torch.bfloat16)
# Forwards of torch.nn activation modules that are one call of a function in
# sites.FUNCTIONAL_ACTIVATIONS (nn.ReLU.forward is F.relu(input, inplace=self.inplace)).
_MODE_FORWARDS = frozenset(cls.forward for cls in (
    nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.SiLU, nn.Mish, nn.ELU, nn.SELU, nn.LeakyReLU, nn.Softplus,
    nn.Softsign, nn.Hardsigmoid, nn.Hardtanh))
# Forwards of torch.nn modules that call no activation function: the TorchFunctionMode is
# not entered for them (it costs a Python call per torch function). Containers without a
# forward of their own (nn.ModuleList, nn.ModuleDict) count as such too.
_SAFE_FORWARDS = frozenset(
    [nn.Module.forward] + [cls.forward for name in (
        "Sequential", "Identity", "Linear", "Bilinear", "Flatten", "Unflatten",
        "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
        "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "RMSNorm",
        "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
        "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
        "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
        "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
        "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d",
        "Embedding", "EmbeddingBag", "Upsample", "PixelShuffle", "PixelUnshuffle",
        "ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
        "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
        "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
        "Softmax", "LogSoftmax", "Softmax2d",
    ) if (cls := getattr(nn, name, None)) is not None])


class _ActivationMode(TorchFunctionMode):
    """Sees every torch function called inside a mode region (``Monitor._mode_layout``)
    and hands the activation functions to the monitor. Inside ``__torch_function__`` the
    mode is off, so the monitor's own reductions do not come back here."""

    def __init__(self, monitor: Monitor) -> None:
        super().__init__()
        self._monitor = monitor

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if kwargs is None:
            kwargs = {}
        try:
            call = FUNCTIONAL_ACTIVATIONS.get(func)
        except TypeError:  # an unhashable callable: not one of ours
            call = None
        if call is None or not self._monitor._recording:
            return func(*args, **kwargs)
        return self._monitor._functional_call(func, call, args, kwargs)


class _Pack:
    """Collects a step's device tensors (0-d statistics, 1-d counts) and concatenates
    them into one float64 tensor, so that one transfer moves them all.

    ``scalar`` and ``vector`` return a reference; ``start(ref)`` is its position in the
    flat tensor once ``flat()`` has run. Scalars are stacked per dtype: stacking mixed
    dtypes takes a slow path on the CPU (one copy per element).
    """

    def __init__(self) -> None:
        self.scalars_by_dtype: dict[torch.dtype, list[Tensor]] = {}
        self.vectors: list[Tensor] = []
        self.offsets: dict[Any, int] = {}

    def scalar(self, t: Tensor) -> tuple[torch.dtype, int]:
        group = self.scalars_by_dtype.setdefault(t.dtype, [])
        group.append(t)
        return t.dtype, len(group) - 1

    def scalars(self, ts: list[Tensor]) -> list[tuple[torch.dtype, int]]:
        refs = []
        for t in ts:
            group = self.scalars_by_dtype.setdefault(t.dtype, [])
            group.append(t)
            refs.append((t.dtype, len(group) - 1))
        return refs

    def vector(self, t: Tensor) -> tuple[None, int]:
        self.vectors.append(t)
        return None, len(self.vectors) - 1

    def start(self, ref: tuple[Any, int]) -> int:
        key, index = ref
        return self.offsets[key] + (index if key is not None else self._vector_starts[index])

    def flat(self) -> Tensor | None:
        """One 1-D tensor; ``torch.cat`` promotes the dtypes (float32 statistics and int64
        counts give float32: counts stay exact below 2^24, fractions to ~1e-7 beyond)."""
        pieces, pos = [], 0
        for key, items in self.scalars_by_dtype.items():
            self.offsets[key] = pos
            pos += len(items)
            pieces.append(torch.stack(items))
        self.offsets[None] = pos
        starts = []
        for t in self.vectors:
            starts.append(pos - self.offsets[None])
            pos += t.numel()
        self._vector_starts = starts
        pieces += self.vectors
        if not pieces:
            return None
        try:
            return torch.cat(pieces)
        except RuntimeError:  # a model spread over devices: gather on the first one
            return torch.cat([p.to(pieces[0].device) for p in pieces])


class _Site:
    """One activation site: metadata, this step's device accumulators, the dead-unit window."""

    def __init__(self, name: str, module_name: str, info: ActivationInfo, call: str, order: int) -> None:
        self.name, self.module_name, self.info, self.call, self.order = name, module_name, info, call, order
        self.units: int | None = None
        self.ring: Tensor | None = None  # (window, units): per sampled step, max |f'| per unit
        self.ring_rows: tuple[Tensor, ...] = ()  # its rows
        self.ring_filled = 0
        self.ring_slot = 0
        self.hist_range: tuple[float, float] | None = None
        self.hist_clamp = True  # False: the outputs cannot leave hist_range
        self.reset()

    def reset(self) -> None:
        self.calls = 0
        self.numel = 0
        self.moments: list[tuple[int, Tensor, Tensor]] = []  # per call: (n, sum, sqrt(M2))
        self.saturated: list[tuple[int, Tensor, bool]] = []  # per call: (n, count, True if the count is of non-saturated)
        self.activity: Tensor | None = None  # (units,) max |f'| over this step's calls: this step's ring row
        self.hist: Tensor | None = None  # (bins,) counts over this step's calls
        self.hist_values = 0  # values that went into them (NaNs included)


class Monitor:
    """Watches a model's activations and gradients during training; see the module docstring.

    Args:
        model: any ``nn.Module`` (the root whose forward is a training step's forward).
        every: record every ``every``-th step (0, every, 2 every, ...). Default 100.
        schedule: a ``step -> bool`` function instead of ``every`` (not both).
        stats: ``"all"`` (default), ``"activations"``, ``"parameters"``, or names from
            ``ALL_STATS``.
        layers: which layers to watch: glob patterns (``"encoder.*"``) matched against
            module and parameter names and their parents, or a ``name -> bool``
            function. Default: all.
        optimizer: if given, ``step()`` runs from its ``step()`` (post-hook).
        jsonl: path of a JSONL log (one line per sampled step).
        tensorboard: a log folder or a ``SummaryWriter``.
        sinks: more sinks (objects with ``start``, ``write``, ``close``).
        window: sampled steps over which a unit must be inactive to count as dead.
        bins: histogram bins.
        histogram_range: ``(lo, hi)`` for every histogram; default per activation:
            its output range, unbounded sides cut at -+``HISTOGRAM_LIMIT``.
        histogram_sample: at most this many values per call go into the histogram,
            an even strided sample (``stats.sample_stride``); None: all of them. The
            other statistics always use every value. Default 4096.
        saturation_slope: saturated means |f'| < this x max |f'|. Default 0.05.
        unit_dim: the dimension of an activation that indexes units (default: last
            for 2-D and 3-D outputs, 1 for 4-D and 5-D; see ``stats.default_unit_dim``).
        thresholds: the :class:`Thresholds` ``findings()`` uses.
        training_only: record only forward passes in training mode (``model.training``),
            so evaluation passes do not mix in. Default True.
        functional: watch activation functions called inside ``forward`` (through a
            ``TorchFunctionMode`` on sampled steps, inside modules whose forward is not
            a known torch.nn layer). Default True.
        flush_every: transfer and write the records every this many sampled steps.
        keep: how many records ``history`` keeps in memory (the JSONL keeps all).
        start_step: the index of the first step (to continue a resumed run's numbering).

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, or another argument has a wrong type.
        ValueError: an unknown statistic, ``every`` < 1, a ``layers`` filter that
            matches nothing, or another invalid value (the message says which).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        every: int | None = None,
        schedule: Schedule | None = None,
        stats: str | Iterable[str] = "all",
        layers: str | Iterable[str] | Callable[[str], bool] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        jsonl: str | Path | None = None,
        tensorboard: Any = None,
        sinks: Sequence[Sink] = (),
        window: int = 5,
        bins: int = 32,
        histogram_range: tuple[float, float] | None = None,
        histogram_sample: int | None = HISTOGRAM_SAMPLE,
        saturation_slope: float = 0.05,
        unit_dim: int | None = None,
        thresholds: Thresholds | None = None,
        training_only: bool = True,
        functional: bool = True,
        flush_every: int = 1,
        keep: int = 1000,
        start_step: int = 0,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"Monitor watches an nn.Module, not {type(model).__name__}")
        if every is not None and schedule is not None:
            raise ValueError("give every= or schedule=, not both (union(every(n), ...) combines schedules)")
        self.model = model
        self.schedule: Schedule = (check_schedule(schedule) if schedule is not None
                                   else every_schedule(DEFAULT_EVERY if every is None else every))
        self.stats: frozenset[str] = _parse_stats(stats)
        # what the hooks compute, decided once (the hooks run on every sampled step)
        self._want_moments = bool(self.stats & {"mean", "std", "zero_centring"})
        self._want_hist = "histogram" in self.stats
        self._want_sat = "saturated_fraction" in self.stats
        self._want_dead = "dead_fraction" in self.stats
        self._want_grad_norm = "grad_norm" in self.stats
        self._want_signs = "sign_coherence" in self.stats
        self._want_activations = functional and bool(self.stats & set(ACTIVATION_STATS))  # enter the mode
        self._include = _parse_layers(layers)
        self._check_layers(layers)
        for name, value, minimum in (("window", window, 1), ("bins", bins, 1), ("flush_every", flush_every, 1),
                                     ("keep", keep, 1), ("start_step", start_step, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
        if not (isinstance(saturation_slope, (int, float)) and 0 < saturation_slope < 1):
            raise ValueError(f"saturation_slope={saturation_slope!r} must be a number in (0, 1), e.g. 0.05")
        if histogram_range is not None:
            try:
                lo, hi = (float(v) for v in histogram_range)
            except (TypeError, ValueError):
                lo = hi = math.nan
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"histogram_range={histogram_range!r} must be two finite numbers lo < hi")
            histogram_range = (lo, hi)
        if histogram_sample is not None and (isinstance(histogram_sample, bool) or not isinstance(histogram_sample, int)
                                             or histogram_sample < 1):
            raise ValueError(f"histogram_sample={histogram_sample!r} must be a positive integer or None (every value)")
        if unit_dim is not None and (isinstance(unit_dim, bool) or not isinstance(unit_dim, int)):
            raise ValueError(f"unit_dim={unit_dim!r} must be an integer dimension or None")
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise TypeError(f"thresholds must be an actlab.probes.Thresholds, not {type(thresholds).__name__}")
        if optimizer is not None and not hasattr(optimizer, "register_step_post_hook"):
            raise TypeError(f"optimizer= takes a torch.optim.Optimizer, not {type(optimizer).__name__}")
        self.window, self.bins, self.flush_every = window, bins, flush_every
        self.histogram_range = histogram_range
        self.histogram_sample = histogram_sample
        self._strides: dict[tuple[int, int], int] = {}
        self._scratch: dict[torch.dtype, Tensor] = {}
        self._scratch_views: dict[tuple, Tensor] = {}
        self.saturation_slope = float(saturation_slope)
        self.unit_dim = unit_dim
        self.thresholds = thresholds or Thresholds()
        self.training_only, self.functional = bool(training_only), bool(functional)
        self.optimizer = optimizer
        self.sinks: list[Sink] = list(sinks)
        if jsonl is not None:
            self.sinks.append(JsonlSink(jsonl))
        if tensorboard is not None:
            self.sinks.append(TensorBoardSink(tensorboard))
        for sink in self.sinks:
            if not all(callable(getattr(sink, m, None)) for m in ("start", "write", "close")):
                raise TypeError(f"sink {sink!r} needs start(header), write(record) and close() methods")
        # records, oldest first; an entry is a finished dict, or the pieces to finish it
        # from (finished when read: without sinks, a step's record costs nothing until then)
        self._history: collections.deque[Any] = collections.deque(maxlen=keep)
        self._step = start_step
        self._attached = False
        self._sampled = False
        self._paused = False
        self._handles: list[Any] = []
        self._optimizer_handle: Any = None
        self._in_optimizer_hook = False
        self._mode = _ActivationMode(self)
        self._mode_entered = False
        self._depth = 0
        self._mode_depth = 0  # nesting of mode regions in the forward in progress
        self._recording = False
        self._sites: dict[tuple, _Site] = {}
        self._calls: dict[tuple, int] = {}
        self._pre: dict[int, list[tuple[_Site, Tensor | None, Tensor | None]]] = {}
        self._info_cache: dict[tuple, ActivationInfo] = {}
        # per watched parameter (by index), this step: gradient norm; the weights whose
        # row extremes are in self._signs this step
        self._grad_norms: list[Tensor | None] = []
        self._signed: set[int] = set()
        # weights (>= 2-D parameters): parameter index -> their slot in the sign counter
        self._weight_slot: dict[int, int] = {}
        self._signs: S.RowSignCounter | None = None
        self._arrivals: dict[int, None] = {}  # indices, in the order their gradients arrived
        self._backward_batch: list[int] = []  # gradients of the backward pass in progress
        self._callback_queued = False
        self._snapshots: list[Tensor] | None = None
        self._snapshot_norms: list[Tensor] | None = None
        self._next_norms: list[Tensor] | None = None  # of the next step's snapshot, if measured
        self._asked: tuple[int, bool] | None = None  # the last (step, schedule(step))
        self._forwards = 0
        self._forwards_skipped = 0
        self._pending: list[tuple[dict[str, Any], _Pack, Tensor | None]] = []  # (raw record, its pack, flat)
        self._warned: set[str] = set()

    # --- lifecycle ---------------------------------------------------------------------

    def attach(self) -> Monitor:
        """Start watching (idempotent); returns ``self``. A monitor already attached to
        this model (or to a module inside it, or around it) is detached, with a warning."""
        if self._attached:
            return self
        for other_model, other in list(_ATTACHED.items()):
            if other is not self and _overlap(self.model, other_model):
                warnings.warn(
                    f"a Monitor was already attached to {type(other_model).__name__} (or a module around or inside it); "
                    "detached it so that hooks do not pile up. Detach monitors you are done with, or use "
                    "`with Monitor(...)`.", stacklevel=2)
                other.detach()
        self._scan()
        _ATTACHED[self.model] = self
        self._attached = True
        try:
            if self.optimizer is not None:
                self._optimizer_handle = self.optimizer.register_step_post_hook(self._on_optimizer_step)
            for sink in self.sinks:
                sink.start(self._header())
            self._begin_step()
        except BaseException:
            self.detach()
            raise
        return self

    def detach(self) -> None:
        """Stop watching: writes what is pending, removes every hook, closes the sinks.
        A sampled step whose ``step()`` has not run yet is dropped."""
        if not self._attached:
            return
        try:
            _ = self.history  # flushes, and finishes every record while the layout they refer to holds
        finally:
            self._remove_hooks()
            if self._optimizer_handle is not None:
                self._optimizer_handle.remove()
                self._optimizer_handle = None
            self._snapshots = self._snapshot_norms = self._next_norms = self._asked = None
            self._scratch, self._scratch_views = {}, {}
            self._signs = None
            for site in self._sites.values():
                site.reset()
            self._reset_grad_stats()
            self._attached = False
            if _ATTACHED.get(self.model) is self:
                del _ATTACHED[self.model]
            for sink in self.sinks:
                sink.close()

    def __enter__(self) -> Monitor:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    @property
    def attached(self) -> bool:
        return self._attached

    @property
    def current_step(self) -> int:
        """The index of the step in progress: ``start_step`` + the number of ``step()`` calls."""
        return self._step

    @property
    def sites(self) -> list[str]:
        """Activation sites seen so far, in the order of the forward pass."""
        return [s.name for s in sorted(self._sites.values(), key=lambda s: s.order)]

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Inside this block nothing is recorded (e.g. an evaluation pass in training mode)."""
        before, self._paused = self._paused, True
        try:
            yield
        finally:
            self._paused = before

    def step(self) -> None:
        """End the current training step: call once per step, after ``optimizer.step()``.

        On a sampled step this reduces the step's parameter statistics (the update
        ratio needs the weights after the optimizer step) and queues the record.
        """
        if not self._attached:
            raise RuntimeError("Monitor.step() on a monitor that is not attached: use `with Monitor(model) as monitor:` "
                               "or `monitor = Monitor(model).attach()`")
        if self.optimizer is not None and not self._in_optimizer_hook:
            raise RuntimeError("this Monitor was given optimizer= and steps itself on optimizer.step(); "
                               "do not call monitor.step() as well")
        if self._sampled:
            self._end_sampled_step()
        self._step += 1
        self._begin_step()

    def _on_optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._in_optimizer_hook = True
        try:
            self.step()
        finally:
            self._in_optimizer_hook = False

    # --- set-up ------------------------------------------------------------------------

    def _check_layers(self, layers: Any) -> None:
        if layers is None:
            return
        names = [n for n, _ in self.model.named_modules()] + [n for n, _ in self.model.named_parameters()]
        if not any(self._include(n) for n in names):
            sample = ", ".join(repr(n) for n in names[1:9]) or "none"
            raise ValueError(f"layers={layers!r} matches no module or parameter of {type(self.model).__name__}; "
                             f"names look like {sample}")

    def _scan(self) -> None:
        self._module_names: dict[int, str] = {}
        self._activation_modules: dict[int, tuple[str, nn.Module, ActivationInfo]] = {}
        self._included: set[int] = set()
        for name, module in self.model.named_modules():
            self._module_names[id(module)] = name
            if self._include(name):
                self._included.add(id(module))
            info = module_activation(module, self.saturation_slope)
            if info is not None:
                self._activation_modules[id(module)] = (name, module, info)
        # the forward code of activation module classes: a functional call made from one
        # of these is the module's own (e.g. nn.ReLU.forward calls F.relu)
        self._activation_forwards = frozenset(
            code for _, m, _ in self._activation_modules.values()
            if (code := getattr(getattr(type(m), "forward", None), "__code__", None)) is not None)
        self._mode_regions, self._mode_modules = self._mode_layout() if self._want_activations else ([], frozenset())
        self._params: list[tuple[str, nn.Parameter]] = [
            (n, p) for n, p in self.model.named_parameters() if p.requires_grad and self._include(n)]
        self._weight_slot = {i: k for k, i in enumerate(i for i, (_, p) in enumerate(self._params) if p.ndim >= 2)}
        self._signs = None  # made on first use, on the first weight gradient's device
        # norms of half-precision tensors are accumulated and returned in float32
        self._norm_dtype = torch.float32 if any(p.dtype in _LOW_PRECISION for _, p in self._params) else None
        wants_params = bool(self.stats & set(PARAMETER_STATS))
        if wants_params and not self._params and not (self.stats & set(ACTIVATION_STATS)):
            raise ValueError(f"{type(self.model).__name__} has no trainable parameter to watch (with this layers= "
                             f"filter), and stats={sorted(self.stats)} are parameter statistics only")
        if wants_params and not self._params:
            warnings.warn(f"{type(self.model).__name__} has no trainable parameter to watch: parameter statistics "
                          "will be empty", stacklevel=3)

    def _mode_layout(self) -> tuple[list[nn.Module], frozenset[int]]:
        """Where the TorchFunctionMode must be on to see functional activations, and which
        activation modules it records (so they need no hooks of their own).

        Regions: the outermost modules whose forward may call an activation function,
        i.e. is neither a known torch.nn layer (``_SAFE_FORWARDS``) nor an activation
        module's. An ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU`` has none: its
        activations are all modules, recorded by their hooks, and the mode is never
        entered. Mode modules: torch.nn activation modules whose forward is one
        activation function call (``_MODE_FORWARDS``) and that are only reachable
        inside regions: there the mode records them, and hooks would only add cost.
        """
        regions: list[nn.Module] = []
        outside: set[int] = set()
        seen: set[int] = set()
        stack = [self.model]
        while stack:
            m = stack.pop()
            if id(m) in seen:
                continue
            seen.add(id(m))
            if id(m) not in self._activation_modules and type(m).forward not in _SAFE_FORWARDS:
                regions.append(m)
                continue
            outside.add(id(m))
            stack.extend(m.children())
        inside = {id(sub) for r in regions for sub in r.modules()}
        mode_modules = frozenset(
            key for key, (_, m, _) in self._activation_modules.items()
            if key in inside and key not in outside and key in self._included and type(m).forward in _MODE_FORWARDS)
        return regions, mode_modules

    def _header(self) -> dict[str, Any]:
        return {
            "type": "header",
            "actlab_version": __version__,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "model": type(self.model).__name__,
            "schedule": getattr(self.schedule, "__qualname__", repr(self.schedule)),
            "start_step": self._step,
            "stats": sorted(self.stats),
            "window": self.window,
            "bins": self.bins,
            "saturation_slope": self.saturation_slope,
            "thresholds": dataclasses.asdict(self.thresholds),
            "activation_modules": {n: info.label for n, _, info in self._activation_modules.values()},
            "parameters": {n: list(p.shape) for n, p in self._params},
        }

    # --- hooks: installed on sampled steps only -------------------------------------------

    def _is_sampled(self, step: int) -> bool:
        """``schedule(step)``, checked, and asked once per step."""
        if self._asked is not None and self._asked[0] == step:
            return self._asked[1]
        sampled = self.schedule(step)
        if not isinstance(sampled, bool):
            raise TypeError(f"schedule({step}) returned {sampled!r}; a schedule must return a bool")
        self._asked = (step, sampled)
        return sampled

    def _begin_step(self) -> None:
        sampled = self._sampled = self._is_sampled(self._step)
        next_norms, self._next_norms = self._next_norms, None
        if not sampled:
            self._remove_hooks()
            self._snapshots = self._snapshot_norms = None
            return
        if not self._handles:
            self._install_hooks()
        self._forwards = self._forwards_skipped = 0
        self._reset_grad_stats()
        if "update_ratio" in self.stats and self._params:
            # the weights before this step's optimizer step, and their norms; the buffers
            # are reused while consecutive steps are sampled and freed after the last one
            params = [p for _, p in self._params]
            with torch.no_grad():
                if self._snapshots is None:
                    self._snapshots = [p.clone() for p in params]
                else:
                    torch._foreach_copy_(self._snapshots, params)
                # the last sampled step's end measured these weights already (_pack_params)
                self._snapshot_norms = (next_norms if next_norms is not None
                                        else torch._foreach_norm(self._snapshots, 2, dtype=self._norm_dtype))

    def _install_hooks(self) -> None:
        handles = self._handles
        if self.stats & set(ACTIVATION_STATS):
            needs_input = bool(self.stats & {"saturated_fraction", "dead_fraction"})
            for _, module, info in self._activation_modules.values():
                if id(module) not in self._included or id(module) in self._mode_modules:
                    continue
                if needs_input and getattr(module, "inplace", False) and info.derivative is not None and not info.relu:
                    # the forward hook would see the input already overwritten: read it first
                    handles.append(module.register_forward_pre_hook(self._inplace_pre_hook))
                handles.append(module.register_forward_hook(self._module_hook))
        for region in self._mode_regions:  # the TorchFunctionMode is on inside these
            handles.append(region.register_forward_pre_hook(self._region_pre_hook))
            handles.append(region.register_forward_hook(self._region_post_hook, always_call=True))
        # the root's hooks wrap everything else: pre-hook first, post-hook last
        handles.append(self.model.register_forward_pre_hook(self._root_pre_hook, prepend=True))
        handles.append(self.model.register_forward_hook(self._root_post_hook, always_call=True))
        if self._want_grad_norm or self._want_signs:
            for i, (_, p) in enumerate(self._params):
                handles.append(p.register_post_accumulate_grad_hook(functools.partial(self._grad_hook, i)))

    def _remove_hooks(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []
        if self._mode_entered:  # only after an exception escaped a forward before our post-hook
            self._mode.__exit__(None, None, None)
            self._mode_entered = False
        self._depth = self._mode_depth = 0
        self._recording = False

    def _root_pre_hook(self, module: nn.Module, args: Any) -> None:
        if self._depth == 0:
            self._recording = not self._paused and (module.training or not self.training_only)
            if self._recording:
                self._forwards += 1
                self._calls.clear()
                self._pre.clear()
            else:
                self._forwards_skipped += 1
        self._depth += 1

    def _root_post_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        self._depth = max(self._depth - 1, 0)
        if self._depth == 0:
            if self._mode_entered:  # a region's post-hook did not run
                self._mode.__exit__(None, None, None)
                self._mode_entered = False
            self._mode_depth = 0
            self._recording = False

    def _region_pre_hook(self, module: nn.Module, args: Any) -> None:
        if self._mode_depth:
            self._mode_depth += 1
        elif self._recording:
            self._mode.__enter__()
            self._mode_entered = True
            self._mode_depth = 1

    def _region_post_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if self._mode_depth:
            self._mode_depth -= 1
            if not self._mode_depth and self._mode_entered:
                self._mode.__exit__(None, None, None)
                self._mode_entered = False

    def _site_for(self, key: tuple, name: str, module_name: str, info: ActivationInfo, call: str) -> _Site | None:
        k = self._calls.get(key, 0)
        self._calls[key] = k + 1
        site = self._sites.get((key, k))
        if site is None:
            site = _Site(name if k == 0 else f"{name}#{k}", module_name, info, call, len(self._sites))
            self._sites[(key, k)] = site
        return site

    def _module_site(self, module: nn.Module) -> _Site | None:
        entry = self._activation_modules.get(id(module))
        if entry is None:
            return None
        name, _, info = entry
        return self._site_for((id(module),), name, name, info, "module")

    def _inplace_pre_hook(self, module: nn.Module, args: Any) -> None:
        if not self._recording or not args or not isinstance(args[0], Tensor):
            return
        site = self._module_site(module)
        grad = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)  # our reductions are not part of the model's graph
        try:
            with torch._C.DisableTorchFunction():  # ... and must not reach the TorchFunctionMode
                sat, act = self._derivative_stats(site, site.info, args[0])
        finally:
            torch._C._set_grad_enabled(grad)
        self._pre.setdefault(id(module), []).append((site, sat, act))

    def _module_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if not self._recording or not isinstance(output, Tensor):
            return
        stack = self._pre.get(id(module))
        if stack:
            site, sat, act = stack.pop()
            x, pre = None, (sat, act)
        else:
            site = self._module_site(module)
            x, pre = (args[0] if args and isinstance(args[0], Tensor) else None), None
        grad = torch.is_grad_enabled()
        torch._C._set_grad_enabled(False)  # our reductions are not part of the model's graph
        try:
            with torch._C.DisableTorchFunction():  # ... and must not reach the TorchFunctionMode
                self._observe(site, site.info, output, x, pre)
        finally:
            torch._C._set_grad_enabled(grad)

    def _functional_call(self, func: Callable, call: FunctionalCall, args: tuple, kwargs: dict) -> Any:
        module, own = self._enclosing_module()
        if module is None:
            return func(*args, **kwargs)
        x = call.input(args, kwargs)
        if not isinstance(x, Tensor) or not x.is_floating_point():
            return func(*args, **kwargs)
        if own:  # the activation module's own forward: a module site
            if id(module) not in self._mode_modules:
                return func(*args, **kwargs)  # its hook records it
            site = self._module_site(module)
            info = site.info
        else:
            if id(module) in self._activation_modules or id(module) not in self._included:
                return func(*args, **kwargs)  # outside the filter, or an activation module's hook records it
            info = self._functional_info(func, call, args, kwargs)
            module_name = self._module_names.get(id(module), "")
            base = info.label.split("(")[0]
            name = f"{module_name}.{base}()" if module_name else f"{base}()"
            site = self._site_for((id(module), base), name, module_name, info, "function")
        inplace = call.inplace(args, kwargs)
        grad = torch.is_grad_enabled()
        pre = None
        if inplace and not info.relu:
            torch._C._set_grad_enabled(False)  # read the input before the call overwrites it
            try:
                pre = self._derivative_stats(site, info, x)
            finally:
                torch._C._set_grad_enabled(grad)
        out = func(*args, **kwargs)
        if isinstance(out, Tensor):
            torch._C._set_grad_enabled(False)
            try:
                self._observe(site, info, out, None if inplace else x, pre)
            finally:
                torch._C._set_grad_enabled(grad)
        return out

    def _functional_info(self, func: Callable, call: FunctionalCall, args: tuple, kwargs: dict) -> ActivationInfo:
        key = (func, call.params(args, kwargs))
        info = self._info_cache.get(key)
        if info is None:
            info = self._info_cache[key] = functional_activation(call, args, kwargs, self.saturation_slope)
        return info

    def _enclosing_module(self) -> tuple[nn.Module | None, bool]:
        """(the module whose forward made this call, whether it is an activation module's
        own forward), or (None, False) outside any module. Only on sampled steps, once per
        activation call."""
        frame = sys._getframe(3)
        stop = self._activation_forwards
        while frame is not None:
            code = frame.f_code
            if code in stop:
                return frame.f_locals.get("self"), True
            if code is _CALL_IMPL_CODE:
                # the innermost Module._call_impl frame belongs to the calling module
                return frame.f_locals.get("self"), False
            frame = frame.f_back
        return None, False

    # --- reductions (device tensors only: no .item(), .tolist(), .cpu() or bool(tensor)) ---

    def _unit_dim(self, ndim: int) -> int | None:
        if self.unit_dim is None or ndim == 0:
            return S.default_unit_dim(ndim)
        if -ndim <= self.unit_dim < ndim:
            return self.unit_dim % ndim
        self._warn_once("unit_dim", f"unit_dim={self.unit_dim} does not exist in a {ndim}-D activation; "
                                    f"using dimension {S.default_unit_dim(ndim)} there")
        return S.default_unit_dim(ndim)

    def _derivative_stats(self, site: _Site, info: ActivationInfo, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        """(saturated count, per-unit max |f'|) from the input ``x``, or Nones where undefined.
        Call with grad mode off."""
        if info.derivative is None or not (self._want_sat or self._want_dead):
            return None, None
        if x.dtype in _LOW_PRECISION:
            x = x.float()
        d = info.derivative(x)
        if not info.monotonic:
            d = d.abs()
        sat = S.saturated_count(d, info.saturation_threshold) if self._want_sat else None
        act = None
        if self._want_dead:
            u = self._unit_dim(d.ndim)
            act = S.unit_activity(d, u) if u is not None else None
        return sat, act

    def _observe(self, site: _Site, info: ActivationInfo, y: Tensor, x: Tensor | None,
                 pre: tuple[Tensor | None, Tensor | None] | None) -> None:
        """Reduce one call's output ``y`` (and input ``x``) into the site's accumulators.
        Call with grad mode off, so that none of this is recorded by autograd."""
        n = y.numel()
        if n == 0 or not y.is_floating_point():
            return
        if y.dtype in _LOW_PRECISION:
            y = y.float()
        site.calls += 1
        site.numel += n
        scratch = self._scratch_for(y)
        sums = None  # ReLU: per-unit sums give the sum and the silent units in one pass
        if info.relu and pre is None and y.ndim >= 2 and (self._want_dead or self._want_moments):
            u = self._unit_dim(y.ndim)
            if u is not None:
                # the step's first call writes into its ring row of the dead-unit window
                first = self._want_dead and site.activity is None
                sums = S.unit_sums(y, u, out=self._activity_row(site, y.shape[u], y) if first else None)
        if self._want_moments:
            site.moments.append((n, *S.moments(y, scratch, sums.sum() if sums is not None else None)))
        if self._want_hist:
            if site.hist_range is None:
                site.hist_range = lo, hi = self._histogram_range(info)
                site.hist_clamp = not lo <= info.output_range[0] <= info.output_range[1] <= hi
            lo, hi = site.hist_range
            values = self._histogram_values(y)
            counts = S.histogram_counts(values, lo, hi, self.bins, site.hist_clamp)
            site.hist = counts if site.hist is None else site.hist.add_(counts)
            site.hist_values += values.numel()
        if not (self._want_sat or self._want_dead):
            return
        if pre is not None:
            sat, act = pre
        elif info.relu:
            # relu' = 0 exactly where the output is 0: read both off the output (in-place safe);
            # the per-unit max of y stands for max |f'| (both are 0 for the same units)
            sat = S.positive_count(y, scratch) if self._want_sat else None  # saturated = n - this
            if sums is not None:
                act = sums if self._want_dead else None  # y >= 0: a unit's sum is 0 iff it never fired
            else:
                u = self._unit_dim(y.ndim) if self._want_dead else None
                act = S.unit_activity(y, u) if u is not None else None
        elif x is not None:
            sat, act = self._derivative_stats(site, info, x)
        else:
            sat, act = None, None
        if sat is not None:
            site.saturated.append((n, sat, info.relu and pre is None))
        if act is None:
            return
        if site.activity is not None and site.activity.shape == act.shape and site.activity.dtype == act.dtype:
            if act is not site.activity:
                torch.maximum(site.activity, act, out=site.activity)
        else:  # the step's first call (or the units changed): act is, or goes into, the step's ring row
            row = self._activity_row(site, act.numel(), act)
            site.activity = row if act is row else row.copy_(act)

    def _activity_row(self, site: _Site, units: int, like: Tensor) -> Tensor:
        """This step's row of ``site``'s dead-unit window: a ring of (window, units) per-unit
        activities, zeros where not yet written; made anew (empty) when the units change."""
        ring = site.ring
        if ring is None or site.units != units or ring.dtype != like.dtype or ring.device != like.device:
            site.ring = ring = like.new_zeros((self.window, units))
            site.ring_rows = ring.unbind(0)  # views made once
            site.units, site.ring_filled, site.ring_slot = units, 0, 0
        return site.ring_rows[site.ring_slot]

    def _scratch_for(self, y: Tensor) -> Tensor | None:
        """A reusable buffer of ``y``'s shape for the reductions' temporaries, on the CPU.

        On the CPU every large temporary is a fresh allocation, and after the training
        step's own allocations, often a fresh set of page faults too; one buffer, grown
        to the largest activation and reused by every site, avoids both. Device
        allocators cache blocks already, so elsewhere this is None.
        """
        key = (y.dtype, y.shape, y.device.type)
        view = self._scratch_views.get(key)
        if view is not None or key[2] != "cpu":
            return view
        buf = self._scratch.get(y.dtype)
        if buf is None or buf.numel() < y.numel():
            buf = self._scratch[y.dtype] = torch.empty(y.numel(), dtype=y.dtype)
            self._scratch_views = {k: v for k, v in self._scratch_views.items() if k[0] != y.dtype}  # stale views
        view = self._scratch_views[key] = buf[: y.numel()].view(y.shape)
        return view

    def _histogram_values(self, y: Tensor) -> Tensor:
        n = y.numel()
        if self.histogram_sample is None or n <= self.histogram_sample:
            return y
        row = n // y.shape[0] if y.ndim > 1 else n
        stride = self._strides.get((n, row))
        if stride is None:
            stride = self._strides[(n, row)] = S.sample_stride(n, row, self.histogram_sample)
        if y.is_contiguous():  # y.reshape(-1)[::stride] in one op
            return y.as_strided(((n - 1) // stride + 1,), (stride,))
        return y.reshape(-1)[::stride]

    def _histogram_range(self, info: ActivationInfo) -> tuple[float, float]:
        if self.histogram_range is not None:
            return self.histogram_range
        lo, hi = info.output_range
        lo, hi = max(lo, -HISTOGRAM_LIMIT), min(hi, HISTOGRAM_LIMIT)
        return (lo, hi) if lo < hi else (-HISTOGRAM_LIMIT, HISTOGRAM_LIMIT)

    def _reset_grad_stats(self) -> None:
        self._grad_norms = [None] * len(getattr(self, "_params", ()))
        self._signed = set()
        self._arrivals, self._backward_batch, self._callback_queued = {}, [], False

    def _grad_hook(self, index: int, param: Tensor) -> None:
        """A gradient is accumulated: note it; the reductions run once the backward pass
        ends, for all its gradients at once (or here, without ``queue_callback``)."""
        if self._paused or param.grad is None:
            return
        self._arrivals.setdefault(index, None)
        self._backward_batch.append(index)
        if _QUEUE_CALLBACK is None:
            self._reduce_gradients()
        elif not self._callback_queued:
            self._callback_queued = True
            _QUEUE_CALLBACK(self._reduce_gradients)

    def _reduce_gradients(self) -> None:
        # latest backward wins: with gradient accumulation, the last one sees the summed gradients
        batch, self._backward_batch, self._callback_queued = self._backward_batch, [], False
        grads, indices = [], []
        for i in batch:
            g = self._params[i][1].grad
            if g is None:
                continue
            if g.is_sparse:
                self._warn_once(f"sparse:{i}", f"parameter {self._params[i][0]} has a sparse gradient; the monitor skips it")
                continue
            grads.append(g.detach() if g.requires_grad else g)  # a graph only after backward(create_graph=True)
            indices.append(i)
        if not grads:
            return
        with torch.no_grad():
            if self._want_grad_norm:
                for i, norm in zip(indices, torch._foreach_norm(grads, 2, dtype=self._norm_dtype), strict=True):
                    self._grad_norms[i] = norm
            if self._want_signs:
                self._row_extremes(indices, grads)

    def _row_extremes(self, indices: list[int], grads: list[Tensor]) -> None:
        """Each weight gradient's row max and min, into one buffer; the signs are counted
        at the step's end, for all weights at once."""
        for i, g in zip(indices, grads, strict=True):
            k = self._weight_slot.get(i)
            if k is None:
                continue
            if self._signs is None:
                self._signs = S.RowSignCounter([self._params[j][1].shape[0] for j in self._weight_slot], g)
            self._signs.write(k, g)
            self._signed.add(i)

    # --- the end of a sampled step -------------------------------------------------------

    def _end_sampled_step(self) -> None:
        step = self._step
        pack = _Pack()
        sites = [s for s in self._sites.values() if s.calls]  # creation order is forward order
        raw_sites = [self._pack_site(s, pack) for s in sites]
        raw_params = self._pack_params(pack)
        self._check_step(step, sites)
        for s in sites:
            s.reset()
        self._reset_grad_stats()
        raw = {"step": step, "forwards": self._forwards, "sites": raw_sites, "params": raw_params}
        self._pending.append((raw, pack, pack.flat()))
        if len(self._pending) >= self.flush_every:
            self.flush()

    def _pack_site(self, site: _Site, pack: _Pack) -> dict[str, Any]:
        raw: dict[str, Any] = {"site": site, "calls": site.calls, "numel": site.numel}
        raw["moments"] = [(n, pack.scalar(m), pack.scalar(m2)) for n, m, m2 in site.moments]
        raw["saturated"] = [(n, pack.scalar(c), complement) for n, c, complement in site.saturated]
        if site.hist is not None:
            raw["hist"] = pack.vector(site.hist)
            raw["hist_values"] = site.hist_values
        if site.activity is not None and site.ring is not None:  # the activity is the ring's current row
            units = site.activity.numel()
            site.ring_slot = (site.ring_slot + 1) % self.window
            site.ring_filled = min(site.ring_filled + 1, self.window)
            # rows not yet written are 0, and activities are >= 0: the max over the whole ring
            # is the max over the steps seen
            window_max = site.ring.amax(dim=0)  # (units,)
            raw["alive"] = pack.scalar(S.positive_count(window_max, window_max))
            raw["units"], raw["window"] = units, site.ring_filled
        return raw

    def _pack_params(self, pack: _Pack) -> dict[str, Any]:
        arrived = list(self._arrivals)
        depth = {i: len(arrived) - 1 - k for k, i in enumerate(arrived)}  # backward runs the last layer first
        raw: dict[str, Any] = {"depth": depth, "norms": {}, "signs": {}, "update": None}
        if self._snapshots is not None:
            # w_before - w_after, in place in the snapshot buffers (no allocation); foreach
            # ops take the whole list in one call
            # ops take the whole list in one call. If the next step is sampled too, the weights
            # now are its weights before: their norms come in the same call.
            params = [p for _, p in self._params]
            ahead = self._is_sampled(self._step + 1)
            with torch.no_grad():
                torch._foreach_sub_(self._snapshots, params)
                norms = torch._foreach_norm(self._snapshots + params if ahead else self._snapshots, 2,
                                            dtype=self._norm_dtype)
            moved, self._next_norms = norms[:len(params)], (norms[len(params):] if ahead else None)
            raw["update"] = (pack.scalars(moved), pack.scalars(self._snapshot_norms))
        norms = [(i, t) for i, t in enumerate(self._grad_norms) if t is not None]
        if norms:
            raw["norms"] = dict(zip((i for i, _ in norms), pack.scalars([t for _, t in norms]), strict=True))
        if self._signed and self._signs is not None:
            # (weights, 3): rows with a positive entry, a negative entry, both; rows of
            # weights without a gradient this step are not read
            ref = pack.vector(self._signs.counts().view(-1))
            raw["signs"] = {i: (ref, 3 * k) for i, k in self._weight_slot.items() if i in self._signed}
        return raw

    def _check_step(self, step: int, sites: list[_Site]) -> None:
        if self._forwards == 0:
            why = (f" ({self._forwards_skipped} forward pass(es) in eval mode were skipped: training_only=True)"
                   if self._forwards_skipped else "")
            self._warn_once("no_forward", f"no forward pass of {type(self.model).__name__} was recorded during sampled "
                                          f"step {step}{why}; call monitor.step() once per training step, after "
                                          "optimizer.step()")
            return
        if not sites and self.stats & set(ACTIVATION_STATS):
            known = "nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, ... modules or F.relu, torch.sigmoid, ... calls"
            self._warn_once("no_activation", f"the monitor saw no activation in {type(self.model).__name__}'s forward "
                                             f"at step {step} (it looks for {known}"
                                             f"{'; functional=False' if not self.functional else ''}"
                                             f"{'; layers= may exclude them' if self._include is not _all_layers else ''}); "
                                             "activation statistics will be empty")
        if self._params and (self._want_grad_norm or self._want_signs) and not self._arrivals:
            self._warn_once("no_grad", f"no gradient reached the watched parameters during sampled step {step}; "
                                       "call loss.backward() before monitor.step()")

    def flush(self) -> None:
        """Transfer the queued statistics to the host (one transfer), finish them into
        records, append those to ``history`` and write them to the sinks."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        flats = [f for _, _, f in pending if f is not None]
        # the one host sync per flush: every queued statistic in one transfer
        values = (flats[0] if len(flats) == 1 else torch.cat(flats)).tolist() if flats else []
        base = 0
        for raw, pack, flat in pending:
            if self.sinks:
                record = self._finish(raw, pack, values, base)
                self._history.append(record)
                for sink in self.sinks:
                    sink.write(record)
            else:
                self._history.append((raw, pack, values, base))
            base += flat.numel() if flat is not None else 0

    @property
    def history(self) -> collections.deque[dict[str, Any]]:
        """The records of the last ``keep`` sampled steps, oldest first (flushes first).

        A record: ``{"type": "step", "step", "forwards", "window", "activations": {site:
        {...}}, "parameters": {name: {...}}}``, the same dicts the JSONL file holds.
        """
        self.flush()
        h = self._history
        for i, entry in enumerate(h):
            if isinstance(entry, tuple):
                h[i] = self._finish(*entry)
        return h

    def _finish(self, raw: dict[str, Any], pack: _Pack, values: list[float], base: int) -> dict[str, Any]:
        def v(ref: tuple[Any, int]) -> float:  # a scalar's value
            return values[base + pack.start(ref)]

        def vec(ref: tuple[Any, int], length: int) -> list[float]:
            start = base + pack.start(ref)
            return values[start: start + length]

        activations: dict[str, Any] = {}
        for r in raw["sites"]:
            site: _Site = r["site"]
            out: dict[str, Any] = {"activation": site.info.label, "module": site.module_name, "call": site.call,
                                   "order": site.order, "calls": r["calls"], "numel": r["numel"],
                                   "two_sided": site.info.two_sided}
            if r["moments"]:
                n_total = sum(n for n, _, _ in r["moments"])
                mean = sum(v(t) for _, t, _ in r["moments"]) / n_total
                m2 = sum(v(q) ** 2 + n * (v(t) / n - mean) ** 2 for n, t, q in r["moments"])
                std = math.sqrt(m2 / n_total) if m2 >= 0 else math.nan
                for key, value in (("mean", mean), ("std", std), ("zero_centring", _ratio(abs(mean), std))):
                    if key in self.stats:
                        out[key] = value
            if "saturated_fraction" in self.stats:
                if r["saturated"]:
                    count = sum(n - v(c) if complement else v(c) for n, c, complement in r["saturated"])
                    out["saturated_fraction"] = count / sum(n for n, _, _ in r["saturated"])
                else:
                    out["saturated_fraction"] = 0.0 if not site.info.saturating else None
            if "dead_fraction" in self.stats:
                if "alive" in r:
                    out["dead_fraction"] = (r["units"] - v(r["alive"])) / r["units"]
                    out["units"], out["dead_window"] = r["units"], r["window"]
                else:
                    out["dead_fraction"] = 0.0 if not site.info.saturating else None
            if "hist" in r:
                counts = [int(c) for c in vec(r["hist"], self.bins)]
                out["histogram"], out["nan_count"] = counts, r["hist_values"] - sum(counts)
                out["histogram_range"] = list(site.hist_range)  # type: ignore[arg-type]
            activations[site.name] = out
        parameters: dict[str, Any] = {}
        rp = raw["params"]
        update = rp["update"]
        for i, (name, p) in enumerate(self._params):
            out = {"shape": list(p.shape), "depth": rp["depth"].get(i)}
            if i in rp["norms"]:
                out["grad_norm"] = v(rp["norms"][i])
            if i in rp["signs"]:
                ref, offset = rp["signs"][i]
                pos, neg, both = vec(ref, offset + 3)[offset:]
                nonzero = pos + neg - both
                out["sign_coherence"] = (nonzero - both) / nonzero if nonzero else None
                out["nonzero_rows"] = int(nonzero)
            if update is not None:
                moved, norm = v(update[0][i]), v(update[1][i])
                out["update_ratio"] = _ratio(moved, norm)
                out["weight_norm"] = norm
            parameters[name] = out
        return {"type": "step", "step": raw["step"], "forwards": raw["forwards"], "window": self.window,
                "activations": activations, "parameters": parameters}

    # --- results -------------------------------------------------------------------------

    def findings(self, thresholds: Thresholds | None = None) -> list[Finding]:
        """Plain-language diagnoses from the recent records (flushes first); see
        :func:`actlab.probes.findings.diagnose`."""
        self.flush()
        return diagnose(list(self.history), thresholds or self.thresholds)

    @property
    def latest(self) -> dict[str, Any] | None:
        """The newest record (flushes first), or None before the first sampled step ends."""
        history = self.history
        return history[-1] if history else None

    def summary(self) -> str:
        """A text table of the newest record: one line per activation site and parameter."""
        rec = self.latest
        if rec is None:
            return f"Monitor({type(self.model).__name__}): no sampled step recorded yet"
        names = list(rec["activations"]) + list(rec["parameters"])
        w = min(max([len(n) for n in names] + [16]), 48)
        lines = [f"step {rec['step']}",
                 f"{'activation site':{w}} {'activation':14} {'mean':>9} {'std':>9} {'|m|/s':>7} {'sat':>6} {'dead':>6}"]
        for name, a in rec["activations"].items():
            lines.append(f"{name[:w]:{w}} {a['activation'][:14]:14} {_fmt(a.get('mean'))} {_fmt(a.get('std'))} "
                         f"{_fmt(a.get('zero_centring'), 7)} {_fmt(a.get('saturated_fraction'), 6, pct=True)} "
                         f"{_fmt(a.get('dead_fraction'), 6, pct=True)}")
        lines.append(f"{'parameter':{w}} {'shape':14} {'grad norm':>9} {'upd/w':>9} {'coher':>7}")
        for name, p in rec["parameters"].items():
            shape = "x".join(map(str, p["shape"]))
            lines.append(f"{name[:w]:{w}} {shape[:14]:14} {_fmt(p.get('grad_norm'))} {_fmt(p.get('update_ratio'))} "
                         f"{_fmt(p.get('sign_coherence'), 7)}")
        return "\n".join(lines)

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"actlab Monitor: {message}", stacklevel=5)

    def __repr__(self) -> str:
        state = "attached" if self._attached else "detached"
        return (f"Monitor({type(self.model).__name__}, schedule={getattr(self.schedule, '__qualname__', '?')}, "
                f"stats={len(self.stats)}, {state}, step={self._step})")


# --- helpers -------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float | None:
    if b > 0:
        return a / b
    if b == 0:
        return math.inf if a > 0 else None
    return math.nan  # NaN in, NaN out


def _fmt(value: Any, width: int = 9, pct: bool = False) -> str:
    if value is None:
        return f"{'-':>{width}}"
    if pct:
        return f"{100 * value:>{width - 1}.1f}%"
    return f"{value:>{width}.3g}"


def _all_layers(name: str) -> bool:
    return True


def _parse_layers(layers: Any) -> Callable[[str], bool]:
    if layers is None:
        return _all_layers
    if callable(layers):
        return layers
    patterns = [layers] if isinstance(layers, str) else list(layers)
    if not patterns or not all(isinstance(p, str) for p in patterns):
        raise TypeError(f"layers= takes glob patterns (strings) or a function name -> bool, not {layers!r}")

    def include(name: str) -> bool:
        parts = name.split(".") if name else [""]
        prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
        return any(fnmatch.fnmatchcase(prefix, pat) for pat in patterns for prefix in prefixes)

    return include


def _parse_stats(stats: str | Iterable[str]) -> frozenset[str]:
    names = [stats] if isinstance(stats, str) else list(stats)
    if not names:
        raise ValueError(f"stats= is empty; choose from {', '.join(ALL_STATS)} (or 'all', 'activations', 'parameters')")
    out: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"stats= takes statistic names, not {name!r}")
        if name in _STAT_GROUPS:
            out.update(_STAT_GROUPS[name])
        elif name in ALL_STATS:
            out.add(name)
        else:
            close = difflib.get_close_matches(name, list(ALL_STATS) + list(_STAT_GROUPS), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ValueError(f"unknown statistic {name!r}{hint} (statistics: {', '.join(ALL_STATS)}; groups: "
                             f"{', '.join(_STAT_GROUPS)})")
    return frozenset(out)


def _overlap(a: nn.Module, b: nn.Module) -> bool:
    return a is b or any(m is b for m in a.modules()) or any(m is a for m in b.modules())
