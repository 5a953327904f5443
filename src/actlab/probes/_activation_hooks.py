"""Activation sites: the hooks, the ``TorchFunctionMode`` and their reductions.

Part of :class:`~actlab.probes.Monitor` (a mixin: it reads and writes the monitor's
state; see the monitor's module docstring for what is recorded and when). Hooks are
installed on sampled steps only; every reduction stays on the tensor's device.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from . import stats as S
from ._compile import is_compiling
from .sites import FUNCTIONAL_ACTIVATIONS, ActivationInfo, FunctionalCall, functional_activation

__all__: list[str] = []  # private: the Monitor's pieces

#: Unbounded sides of an activation's histogram range are cut at -+5.
HISTOGRAM_LIMIT = 5.0

_CALL_IMPL_CODE = nn.Module._call_impl.__code__
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



# Weight layers, whose inputs the not-zero-centred finding is about: an activation site
# "feeds" a weight layer when its output (or a view of it, or that after dropout) is
# the layer's input. Gates (multiplied, not fed to a weight) and a final activation feed none.
_WEIGHT_MODULES = tuple(cls for name in ("Linear", "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d",
                                         "ConvTranspose2d", "ConvTranspose3d", "LazyLinear")
                        if (cls := getattr(nn, name, None)) is not None)
_PASS_THROUGH = tuple(cls for name in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "Flatten", "Identity")
                      if (cls := getattr(nn, name, None)) is not None)
# weight functions the TorchFunctionMode sees (inside regions): (input, weight) by position
_WEIGHT_FUNCTIONS = frozenset([torch.nn.functional.linear, torch.matmul, torch.mm, torch.Tensor.__matmul__,
                               torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d,
                               torch.Tensor.matmul, torch.Tensor.mm])


class _ActivationMode(TorchFunctionMode):
    """Sees every torch function called inside a mode region (``Monitor._mode_layout``)
    and hands the activation functions to the monitor. Inside ``__torch_function__`` the
    mode is off, so the monitor's own reductions do not come back here."""

    def __init__(self, monitor: ActivationHooks) -> None:
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
            if func in _WEIGHT_FUNCTIONS and self._monitor._recording and self._monitor._produced:
                self._monitor._weight_call(args)
            return func(*args, **kwargs)
        return self._monitor._functional_call(func, call, args, kwargs)




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
        self.feeds: dict[Any, str] = {}  # the weight layers its output is the input of: key -> label
        self.reset()

    def reset(self) -> None:
        self.calls = 0
        self.numel = 0
        self.moments: list[tuple[int, Tensor, Tensor]] = []  # per call: (n, sum, sqrt(M2))
        self.saturated: list[tuple[int, Tensor, bool]] = []  # per call: (n, count, True if the count is of non-saturated)
        self.activity: Tensor | None = None  # (units,) max |f'| over this step's calls: this step's ring row
        self.hist: Tensor | None = None  # (bins,) counts over this step's calls
        self.hist_values = 0  # values that went into them (NaNs included)




class ActivationHooks:
    """The activation side of the Monitor: where the mode is on, the forward hooks,
    one site per call place, and each call's reductions into the site's accumulators."""

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


    def _install_activation_hooks(self, handles: list[Any]) -> None:
        """Hooks on activation modules and mode regions (the root's come from the monitor)."""
        if self._want_any_activation:
            needs_input = self._want_sat or self._want_dead
            for _, module, info in self._activation_modules.values():
                if id(module) not in self._included or id(module) in self._mode_modules:
                    continue
                if needs_input and getattr(module, "inplace", False) and info.derivative is not None and not info.relu:
                    # the forward hook would see the input already overwritten: read it first
                    handles.append(module.register_forward_pre_hook(self._inplace_pre_hook))
                handles.append(module.register_forward_hook(self._module_hook))
        if self._track_feeds:
            for key, module in self._weight_modules.items():
                if key in self._included:
                    handles.append(module.register_forward_pre_hook(self._weight_pre_hook))
            for module in self._pass_modules:
                handles.append(module.register_forward_hook(self._pass_hook))
        for region in self._mode_regions:  # the TorchFunctionMode is on inside these
            handles.append(region.register_forward_pre_hook(self._region_pre_hook))
            handles.append(region.register_forward_hook(self._region_post_hook, always_call=True))

    def _weight_pre_hook(self, module: nn.Module, args: Any) -> None:
        if is_compiling():
            return
        if self._recording and self._produced and args and isinstance(args[0], Tensor):
            site = self._produced.get(args[0].data_ptr())
            if site is not None and id(module) not in site.feeds:
                site.feeds[id(module)] = self._layer_label(module)

    def _pass_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if is_compiling():
            return
        if self._recording and self._produced and args and isinstance(args[0], Tensor) and isinstance(output, Tensor):
            site = self._produced.get(args[0].data_ptr())
            if site is not None:
                self._produced[output.data_ptr()] = site

    def _weight_call(self, args: tuple) -> None:
        """A weight function (F.linear, x @ W, F.conv2d) called inside a mode region."""
        if len(args) < 2 or not isinstance(args[0], Tensor) or not isinstance(args[1], Tensor):
            return
        x, w = args[0], args[1]
        if isinstance(x, nn.Parameter) and not isinstance(w, nn.Parameter):  # W @ x
            x, w = w, x
        site = self._produced.get(x.data_ptr())
        if site is None or not isinstance(w, nn.Parameter):
            return
        owner = self._param_owners.get(id(w))
        if owner is not None and id(owner) in self._weight_modules:  # F.linear inside nn.Linear.forward
            if id(owner) not in site.feeds:
                site.feeds[id(owner)] = self._layer_label(owner)
            return
        name = self._param_names.get(id(w))
        if name is not None and ("param", name) not in site.feeds:
            site.feeds[("param", name)] = f"{name} ({'x'.join(map(str, w.shape))})"

    def _layer_label(self, module: nn.Module) -> str:
        name = self._module_names.get(id(module), "?")
        if isinstance(module, nn.Linear):
            return f"{name} (Linear {module.in_features}->{module.out_features})"
        if hasattr(module, "in_channels") and hasattr(module, "out_channels"):
            return f"{name} ({type(module).__name__} {module.in_channels}->{module.out_channels})"
        return f"{name} ({type(module).__name__})"

    def _enter_forward(self, module: nn.Module) -> None:
        """Open a forward region that the root's hooks do not see (a LightningModule's
        ``training_step`` calling its submodules directly); ``_exit_forward`` closes it."""
        if self._sampled and not self._outer_forward:
            self._outer_forward = True
            self._root_pre_hook(module, ())
            if any(r is module for r in self._mode_regions):  # its activations are the mode's to see
                self._region_pre_hook(module, ())

    def _exit_forward(self) -> None:
        if self._outer_forward:
            self._outer_forward = False
            if self._mode_depth:
                self._region_post_hook(self.model, (), None)
            self._root_post_hook(self.model, (), None)

    def _root_pre_hook(self, module: nn.Module, args: Any) -> None:
        if is_compiling():  # Dynamo traces this forward: stay out of its graph (see _compile.py)
            self._traced = True
            return
        if self._compiled is not None:  # hooks kept in place under torch.compile do nothing
            return
        if self._depth == 0:
            # not under torch.inference_mode(): tensors made there (the dead-unit window, the
            # scratch buffer) could never be updated in place by a later training step
            self._recording = (not self._paused and (module.training or not self.training_only)
                               and not torch.is_inference_mode_enabled())
            if self._recording:
                self._forwards += 1
                self._calls.clear()
                self._pre.clear()
                self._produced.clear()
            else:
                self._forwards_skipped += 1
        self._depth += 1

    def _root_post_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if is_compiling() or self._compiled is not None:
            return
        self._depth = max(self._depth - 1, 0)
        if self._depth == 0:
            if self._mode_entered:  # a region's post-hook did not run
                self._mode.__exit__(None, None, None)
                self._mode_entered = False
            self._mode_depth = 0
            self._recording = False

    def _region_pre_hook(self, module: nn.Module, args: Any) -> None:
        if is_compiling():
            self._traced = True
            return
        if self._mode_depth:
            self._mode_depth += 1
        elif self._recording:
            self._mode.__enter__()
            self._mode_entered = True
            self._mode_depth = 1

    def _region_post_hook(self, module: nn.Module, args: Any, output: Any) -> None:
        if is_compiling():
            return
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
        if is_compiling():
            return
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
        if is_compiling():
            return
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
        if self._track_feeds:
            self._produced[y.data_ptr()] = site  # a weight layer that takes y as input: the site feeds it
        scratch = self._scratch_for(y)
        sums = None  # ReLU: per-unit sums give the sum and the silent units in one pass
        if info.relu and pre is None and y.ndim >= 2 and (self._want_dead or self._want_moments):
            u = self._unit_dim(y.ndim)
            if u is not None:
                # the step's first call writes into its ring row of the dead-unit window
                first = self._want_dead and site.activity is None
                # float64 sums for small tensors: float32 outputs near 3e38 would overflow a
                # float32 sum; large ones in float32 (S.FLOAT64_LIMIT: float64 is 22x slower there)
                acc = S.accumulator(y)
                sums = S.unit_sums(y, u, out=self._activity_row(site, y.shape[u], y, acc) if first else None,
                                   dtype=acc)
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

    def _activity_row(self, site: _Site, units: int, like: Tensor, dtype: torch.dtype | None = None) -> Tensor:
        """This step's row of ``site``'s dead-unit window: a ring of (window, units) per-unit
        activities, zeros where not yet written; made anew (empty) when the units change."""
        ring = site.ring
        if ring is None or site.units != units or ring.dtype != (dtype or like.dtype) or ring.device != like.device:
            site.ring = ring = like.new_zeros((self.window, units), dtype=dtype or like.dtype)
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

