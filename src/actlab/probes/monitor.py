"""The training monitor: per-layer activation and gradient statistics, cheaply.

Usage (the whole API; ``examples/monitor_mlp.py`` runs it end to end)::

    from actlab.probes import Monitor

    with Monitor(model, every=50, jsonl="runs/monitor.jsonl", tensorboard="runs/tb") as monitor:
        for x, y in batches:
            optimizer.zero_grad()
            (loss := loss_fn(model(x), y)).backward()
            optimizer.step()
            monitor.step(loss=loss)        # once per training step, after optimizer.step()
    for finding in monitor.findings:       # or monitor.findings(), or monitor.print_findings()
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
* ``weight_histogram``, ``grad_histogram``: per parameter, ``bins`` bins over [-m, m]
  (m: the largest |value| of the sample) of an even strided sample of at most 1024
  values (``PARAMETER_HISTOGRAM_SAMPLE``; every value with ``histogram_sample=None``),
  of the weights after the step's update and of the gradients as the optimizer used
  them (at ``step()``); ``positive_grad_fraction``: the share of that sample > 0.
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
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from . import stats as S
from ._activation_hooks import (
    _LOW_PRECISION,
    _PASS_THROUGH,
    _WEIGHT_MODULES,
    HISTOGRAM_LIMIT,
    ActivationHooks,
    _ActivationMode,
    _Site,
)
from ._compile import CompileGuard
from ._distributed import dist_rank
from ._model_scan import compiled_module, contains, overlap, unseen_parts
from ._options import (
    ACTIVATION_STATS,
    ALL_STATS,
    DEFAULT_EVERY,
    HISTOGRAM_SAMPLE,
    PARAMETER_STATS,
    check_numbers,
    parse_layers,
    parse_stats,
)
from ._parameter_stats import ParameterStats
from ._records import Records, _Pack
from ._signals import TrainingSignals
from ._summary import summary_table
from .findings import Finding, Findings, Thresholds, diagnose
from .schedules import Schedule, check_schedule
from .schedules import every as every_schedule
from .sinks import JsonlSink, Sink, TensorBoardSink
from .sites import ActivationInfo, module_activation

__all__ = ["Monitor", "ACTIVATION_STATS", "PARAMETER_STATS", "ALL_STATS", "DEFAULT_EVERY", "HISTOGRAM_LIMIT", "HISTOGRAM_SAMPLE"]

# The monitor attached to each model, so that a second Monitor on the same model (or on
# a module inside it or around it) is refused with a message naming the first, instead
# of piling hooks on top of it. Weak keys: a model that is garbage collected drops out.
_ATTACHED: weakref.WeakKeyDictionary[nn.Module, Monitor] = weakref.WeakKeyDictionary()



class Monitor(ActivationHooks, ParameterStats, Records, TrainingSignals, CompileGuard):
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
        self.stats: frozenset[str] = parse_stats(stats)
        # what the hooks compute, decided once (the hooks run on every sampled step)
        self._want_moments = bool(self.stats & {"mean", "std", "zero_centring"})
        self._want_hist = "histogram" in self.stats
        self._want_sat = "saturated_fraction" in self.stats
        self._want_dead = "dead_fraction" in self.stats
        self._want_grad_norm = "grad_norm" in self.stats
        self._want_signs = "sign_coherence" in self.stats
        self._want_weight_hist = "weight_histogram" in self.stats
        self._want_grad_hist = bool(self.stats & {"grad_histogram", "positive_grad_fraction"})
        self._want_any_activation = bool(self.stats & set(ACTIVATION_STATS))
        self._want_activations = functional and bool(self.stats & set(ACTIVATION_STATS))  # enter the mode
        self._include = parse_layers(layers)
        self._filtered = layers is not None
        self._check_layers(layers)
        histogram_range = check_numbers(window=window, bins=bins, flush_every=flush_every, keep=keep,
                                        start_step=start_step, saturation_slope=saturation_slope,
                                        histogram_range=histogram_range, histogram_sample=histogram_sample,
                                        unit_dim=unit_dim)
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
        self._entered = 0  # depth of `with` blocks on this monitor
        self._detached_at: int | None = None
        self._sampled = False
        self._paused = False
        self._handles: list[Any] = []  # module hooks
        self._grad_handles: list[Any] = []  # parameter hooks
        self._traced = False  # a hook ran while Dynamo traced it (the model is compiled)
        self._frozen_hooks = False  # compiled after the hooks went in: they stay until detach
        self._live_sinks: list[Sink] = []  # the sinks that have not failed since attach
        self._optimizer_handle: Any = None
        self._in_optimizer_hook = False
        self._mode = _ActivationMode(self)
        self._mode_entered = False
        self._depth = 0
        self._outer_forward = False  # inside _enter_forward / _exit_forward
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
        self._loss: Any = None  # the loss given to step() on a sampled step
        self._next_loss: Any = None  # the loss the callbacks hand over for the optimizer's step
        self.rank, self.world_size = 0, 1
        self._grads_at_step = False

    # --- lifecycle ---------------------------------------------------------------------

    def attach(self) -> Monitor:
        """Start watching (idempotent); returns ``self``.

        Raises:
            RuntimeError: another monitor is attached to this model (or to a module
                inside it, or around it): two monitors would record each other's hooks
                and function modes, so the second is refused; the message names the
                first and how to detach it.
        """
        if self._attached:
            return self
        for other_model, other in list(_ATTACHED.items()):
            if other is not self and other.attached and overlap(self.model, other_model):
                where = ("this model" if other_model is self.model else
                         f"{type(other_model).__name__} (a module {'inside' if contains(self.model, other_model) else 'around'} "
                         f"this {type(self.model).__name__})")
                raise RuntimeError(
                    f"{other!r} is already attached to {where}; a second Monitor on the same model is refused (the two "
                    "would record each other's hooks). Use that monitor, or detach it first: "
                    "`Monitor.attached_to(model).detach()` (or leave its `with` block).")
        self._scan()
        # under DDP: gradients read at step(), after the all-reduce (_distributed.py)
        self.rank, self.world_size = dist_rank()
        self._grads_at_step = self.world_size > 1
        self._find_optimizer()
        _ATTACHED[self.model] = self
        self._attached = True
        try:
            if self.optimizer is not None:
                self._optimizer_handle = self.optimizer.register_step_post_hook(self._on_optimizer_step)
            self._live_sinks = list(self.sinks)
            header = self._header()
            for sink in list(self._live_sinks):
                self._to_sink(sink, "start", header)
            with torch.inference_mode(False):
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
            self._remove_hooks(everything=True)
            self._frozen_hooks = False
            self._stop_optimizer_search()
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
            self._entered = 0
            self._detached_at = self._step
            if _ATTACHED.get(self.model) is self:
                del _ATTACHED[self.model]
            for sink in self._live_sinks:
                self._to_sink(sink, "close")
            self._live_sinks = []

    def __enter__(self) -> Monitor:
        # re-entry (`with mon: ... with mon:`) is counted: only the outermost exit detaches
        self.attach()
        self._entered += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._entered = max(self._entered - 1, 0)
        if not self._entered:
            self.detach()

    @staticmethod
    def attached_to(model: nn.Module) -> Monitor | None:
        """The monitor attached to ``model`` (or to a module inside it or around it), or None."""
        for other_model, other in list(_ATTACHED.items()):
            if other.attached and overlap(model, other_model):
                return other
        return None

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

    def step(self, loss: Any = None) -> None:
        """End the current training step: call once per step, after ``optimizer.step()``.

        On a sampled step this reduces the step's parameter statistics (the update
        ratio needs the weights after the optimizer step) and queues the record.
        ``loss``: this step's loss (a tensor, read without a host sync, or a number);
        sampled steps keep it, and the findings tell a loss that does not move or diverges.
        """
        if not self._attached:
            if self._detached_at is not None:
                raise RuntimeError(f"Monitor.step() on a monitor that was detached at step {self._detached_at} (by "
                                   "detach() or the end of its `with` block); attach it again to go on recording")
            raise RuntimeError("Monitor.step() on a monitor that is not attached: use `with Monitor(model) as monitor:` "
                               "or `monitor = Monitor(model).attach()`")
        if self.optimizer is not None and not self._in_optimizer_hook:
            raise RuntimeError("this Monitor was given optimizer= and steps itself on optimizer.step(); "
                               "do not call monitor.step() as well")
        # a step() called inside an inference_mode block must not make the snapshots and
        # buffers inference tensors (a later training step's in-place update would raise)
        with torch.inference_mode(False) if torch.is_inference_mode_enabled() else contextlib.nullcontext():
            if self._sampled:
                self._loss = loss
                self._end_sampled_step()
            self._step += 1
            self._begin_step()

    def _on_optimizer_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self._in_optimizer_hook = True
        try:
            self.step(self._next_loss)
        finally:
            self._in_optimizer_hook = False
            self._next_loss = None  # the next step's micro-batches add up from nothing

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
        self._compiled = compiled_module(self.model)
        if self._compiled is not None:
            self._parameters_only(self._compiled)
        self._mode_regions, self._mode_modules = self._mode_layout() if self._want_activations else ([], frozenset())
        # where an activation's output goes (the not-zero-centred finding needs it)
        self._track_feeds = self._want_any_activation and bool(self.stats & {"mean", "std", "zero_centring"})
        self._weight_modules = {id(m): m for _, m in self.model.named_modules() if isinstance(m, _WEIGHT_MODULES)}
        self._pass_modules = [m for m in self.model.modules() if isinstance(m, _PASS_THROUGH)]
        self._param_names = {id(p): n for n, p in self.model.named_parameters()}
        self._param_owners = {id(p): mod for mod in self.model.modules() for p in mod.parameters(recurse=False)}
        self._produced = {}
        self._unseen = unseen_parts(self.model)
        for message in self._unseen:
            warnings.warn(f"actlab Monitor: {message}", stacklevel=3)
        self._params: list[tuple[str, nn.Parameter]] = [
            (n, p) for n, p in self.model.named_parameters() if p.requires_grad and self._include(n)]
        self._weight_slot = {i: k for k, i in enumerate(i for i, (_, p) in enumerate(self._params) if p.ndim >= 2)}
        self._embedding_params = [i for i, (_, p) in enumerate(self._params)
                                  if isinstance(self._param_owners.get(id(p)), (nn.Embedding, nn.EmbeddingBag))]
        self._signs = None  # made on first use, on the first weight gradient's device
        self._param_hists: dict[tuple, S.SegmentHistogram] = {}  # by (kind, parameter indices)
        # norms of half-precision tensors are accumulated and returned in float32
        self._norm_dtype = torch.float32 if any(p.dtype in _LOW_PRECISION for _, p in self._params) else None
        wants_params = bool(self.stats & set(PARAMETER_STATS))
        if wants_params and not self._params and not (self.stats & set(ACTIVATION_STATS)):
            lists = [m for m in self._unseen if "plain Python" in m]
            raise ValueError(f"{type(self.model).__name__} has no trainable parameter to watch (with this layers= "
                             f"filter), and stats={sorted(self.stats)} are parameter statistics only"
                             + (f"; {lists[0]}" if lists else ""))
        if wants_params and not self._params:
            lists = [m for m in self._unseen if "plain Python" in m]
            why = f" ({lists[0].split(':')[0]})" if lists else ""
            warnings.warn(f"{type(self.model).__name__} has no trainable parameter to watch{why}: parameter statistics "
                          "will be empty", stacklevel=3)

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
        if self._handles and not self._frozen_hooks:
            self._check_compiled()  # before the module hooks go: Dynamo may have traced them
        if not sampled:
            self._remove_hooks()
            self._snapshots = self._snapshot_norms = None
            return
        self._check_compiled(full=True)
        self._install_hooks()
        self._forwards = self._forwards_skipped = 0
        self._reset_grad_stats()
        self._take_snapshot(next_norms)

    def _install_hooks(self) -> None:
        handles = self._handles
        if not handles and self._compiled is None:  # no module hook on a compiled model (_compile.py)
            self._install_activation_hooks(handles)
            # the root's hooks wrap everything else: pre-hook first, post-hook last
            handles.append(self.model.register_forward_pre_hook(self._root_pre_hook, prepend=True))
            handles.append(self.model.register_forward_hook(self._root_post_hook, always_call=True))
        if not self._grad_handles:
            self._install_grad_hooks(self._grad_handles)

    def _remove_hooks(self, everything: bool = False) -> None:
        for h in self._grad_handles:
            h.remove()
        self._grad_handles = []
        if everything or not self._frozen_hooks:
            for h in self._handles:
                h.remove()
            self._handles = []
        if self._mode_entered:  # only after an exception escaped a forward before our post-hook
            self._mode.__exit__(None, None, None)
            self._mode_entered = False
        self._depth = self._mode_depth = 0
        self._recording = self._outer_forward = False

    # --- results -------------------------------------------------------------------------

    @property
    def findings(self) -> Findings:
        """Plain-language diagnoses from the recent records (flushes first); see
        :func:`actlab.probes.findings.diagnose`. A list that can also be called:
        ``monitor.findings()`` (or ``monitor.findings(thresholds)``) and
        ``monitor.findings`` are the same, as on the callbacks."""
        return Findings(self._diagnose(None), self._diagnose)

    def _diagnose(self, thresholds: Thresholds | None) -> list[Finding]:
        self.flush()
        return diagnose(list(self.history), thresholds or self.thresholds)

    def print_findings(self, file: Any = None) -> Findings:
        """Print the findings, on rank 0 only under distributed training (every rank
        gets them back)."""
        found = self.findings
        if self.rank == 0:
            print(found.report(), file=file)
        return found

    @property
    def latest(self) -> dict[str, Any] | None:
        """The newest record (flushes first), or None before the first sampled step ends."""
        history = self.history
        return history[-1] if history else None

    def summary(self) -> str:
        """A text table of the newest record: one line per activation site and parameter."""
        return summary_table(self.latest, type(self.model).__name__)

    def __repr__(self) -> str:
        state = "attached" if self._attached else "detached"
        return (f"Monitor({type(self.model).__name__}, schedule={getattr(self.schedule, '__qualname__', '?')}, "
                f"stats={len(self.stats)}, {state}, step={self._step})")
