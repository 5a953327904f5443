"""Which modules and functions are activations, and what the monitor knows about each.

An *activation site* is one place in a forward pass where an activation runs: a call
of an activation module (``nn.ReLU``, ``nn.GELU``, actlab's ``LeCunTanh``, ...) or of
an activation function inside some module's ``forward`` (``F.relu``, ``torch.sigmoid``,
``x.tanh()``, ...). Both are mapped to an entry of the actlab registry, whose
analytic derivative and declared properties define the saturation and dead-unit
statistics:

* saturated: |f'(x)| < ``saturation_slope`` x max |f'| (5% by default, the band that
  ``actlab show`` shades), counted only for activations the registry declares
  saturating on at least one side; the others (leaky_relu, prelu, maxout) have no
  saturated region by definition and report 0;
* inactive (for dead units): f'(x) == 0 exactly, for the same activations.

Modules PyTorch ships that are not in the zoo (``nn.Hardswish``, ``nn.CELU``,
``nn.RReLU``, ``nn.LogSigmoid``) and ``nn.PReLU`` (whose slope is a learned tensor)
are sites with output statistics only: their saturation and dead fractions are null.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..activations import (
    REGISTRY,
    Activation,
    Elementwise,
    LeCunTanh,
    MaxoutPool,
    SigmoidCentered,
    TanhShifted,
)

__all__ = [
    "ActivationInfo",
    "activation_info",
    "module_activation",
    "FunctionalCall",
    "FUNCTIONAL_ACTIVATIONS",
    "MODULE_ACTIVATIONS",
]


@dataclass(frozen=True)
class ActivationInfo:
    """What the monitor needs to know about one activation (parameters bound).

    Attributes:
        label: the registry label, e.g. ``"relu"``, ``"elu(alpha=0.5)"``, or the
            module's class name for output-only sites.
        derivative: ``f'(x)``, elementwise; None where the monitor cannot compute it.
        saturation_threshold: |f'| below this is saturated (slope x max |f'|).
        saturating: declared saturating on at least one side (registry Properties).
        two_sided: declared saturating on both sides (sigmoid, tanh, softsign, ...).
        monotonic: f' >= 0 everywhere (then |f'| = f' and the abs is skipped).
        relu: the zero-gradient region is exactly where the output is 0, so the
            derivative statistics can be read off the output (fast path, in-place safe).
        output_range: (inf f, sup f), bounds of the fixed-bin histogram.
    """

    label: str
    derivative: Callable[[Tensor], Tensor] | None
    saturation_threshold: float
    saturating: bool
    two_sided: bool
    monotonic: bool
    relu: bool
    output_range: tuple[float, float]

    @property
    def has_derivative_stats(self) -> bool:
        """Saturation and dead units are defined (possibly as 0 by declaration)."""
        return self.derivative is not None or not self.saturating


def activation_info(act: Activation, saturation_slope: float) -> ActivationInfo:
    """The :class:`ActivationInfo` of a registry activation."""
    props = act.properties
    saturating = props.saturates_left or props.saturates_right
    if act.kind == "layer":
        saturating = False  # maxout: some piece always passes the gradient
    return ActivationInfo(
        label=act.label,
        derivative=act.derivative if saturating else None,
        saturation_threshold=saturation_slope * props.max_abs_derivative,
        saturating=saturating,
        two_sided=props.saturates_left and props.saturates_right,
        monotonic=props.monotonic,
        relu=act.name == "relu",
        output_range=tuple(props.output_range),  # type: ignore[arg-type]
    )


def _output_only(label: str) -> ActivationInfo:
    return ActivationInfo(label, None, math.nan, True, False, False, False, (-math.inf, math.inf))


# --- modules ---------------------------------------------------------------------------

def _hardtanh(m: nn.Hardtanh) -> tuple[str, dict]:
    if isinstance(m, nn.ReLU6):
        return "hard_tanh", {"min_val": 0.0, "max_val": 6.0}
    return "hard_tanh", {"min_val": float(m.min_val), "max_val": float(m.max_val)}


#: Module class -> (registry name, parameters). Checked with ``type(m) is cls`` first,
#: then ``isinstance`` (so subclasses of e.g. nn.ReLU are sites too).
MODULE_ACTIVATIONS: Mapping[type[nn.Module], Callable[[Any], tuple[str, dict]]] = MappingProxyType({
    nn.ReLU: lambda m: ("relu", {}),
    nn.Sigmoid: lambda m: ("sigmoid", {}),
    nn.Tanh: lambda m: ("tanh", {}),
    nn.LeakyReLU: lambda m: ("leaky_relu", {"negative_slope": float(m.negative_slope)}),
    nn.ELU: lambda m: ("elu", {"alpha": float(m.alpha)}),
    nn.SELU: lambda m: ("selu", {}),
    nn.GELU: lambda m: ("gelu_tanh" if m.approximate == "tanh" else "gelu", {}),
    nn.SiLU: lambda m: ("silu", {}),
    nn.Mish: lambda m: ("mish", {}),
    nn.Softplus: lambda m: ("softplus", {"beta": float(m.beta), "threshold": float(m.threshold)}),
    nn.Softsign: lambda m: ("softsign", {}),
    nn.Hardsigmoid: lambda m: ("hard_sigmoid", {}),
    nn.Hardtanh: _hardtanh,  # nn.ReLU6 is a subclass
    LeCunTanh: lambda m: ("lecun_tanh", {}),
    SigmoidCentered: lambda m: ("sigmoid_centered", {}),
    TanhShifted: lambda m: ("tanh_shifted", {}),
    MaxoutPool: lambda m: ("maxout", {"k": m.k}),
})

#: Activation modules outside the zoo: output statistics only.
_OUTPUT_ONLY_MODULES: tuple[type[nn.Module], ...] = (nn.PReLU, nn.Hardswish, nn.CELU, nn.RReLU, nn.LogSigmoid)


#: Hugging Face's activation modules (``transformers.activations``, the ``ACT2FN``
#: classes), by class name: what each computes, as a registry name, or ``None`` for an
#: activation outside the registry (output statistics only, labelled by the name given).
#: Matched by name and module, so that actlab never imports transformers. They are sites
#: themselves: the calls inside their forward (NewGELU's tanh) are not reported apart.
HF_ACTIVATIONS: Mapping[str, tuple[str, str | None]] = MappingProxyType({
    "GELUActivation": ("gelu", "gelu"),                  # F.gelu, or its erf formula in Python
    "NewGELUActivation": ("gelu_tanh", "gelu_tanh"),     # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    "FastGELUActivation": ("gelu_tanh", "gelu_tanh"),    # the same formula, factored
    "GELUTanh": ("gelu_tanh", "gelu_tanh"),
    "PytorchGELUTanh": ("gelu_tanh", "gelu_tanh"),
    "AccurateGELUActivation": ("gelu_tanh", "gelu_tanh"),  # tanh approximation with pi's constant
    "QuickGELUActivation": ("quick_gelu", None),         # x sigmoid(1.702 x)
    "ClippedGELUActivation": ("gelu_clipped", None),
    "SiLUActivation": ("silu", "silu"),
    "MishActivation": ("mish", "mish"),
    "ReLUSquaredActivation": ("relu_squared", None),
    "LaplaceActivation": ("laplace", None),
    "XIELUActivation": ("xielu", None),
})


def _hf_activation(module: nn.Module, saturation_slope: float) -> ActivationInfo | None:
    for cls in type(module).__mro__:
        if cls is nn.Module:
            return None
        entry = HF_ACTIVATIONS.get(cls.__name__)
        if entry is not None and cls.__module__.startswith("transformers."):
            label, name = entry
            if name is None:
                return _output_only(label)
            return activation_info(REGISTRY.get(name), saturation_slope)
    return None


def module_activation(module: nn.Module, saturation_slope: float) -> ActivationInfo | None:
    """The activation ``module`` computes, or None if it is not an activation module."""
    if type(module).__module__.startswith("transformers."):
        info = _hf_activation(module, saturation_slope)
        if info is not None:
            return info
    entry = MODULE_ACTIVATIONS.get(type(module))
    if entry is None:
        for cls, fn in MODULE_ACTIVATIONS.items():
            if isinstance(module, cls):
                entry = fn
                break
    if entry is not None:
        name, params = entry(module)
        try:
            return activation_info(REGISTRY.get(name, **params), saturation_slope)
        except (ValueError, TypeError):
            # parameters outside what the registry accepts (e.g. LeakyReLU(negative_slope=2))
            return _output_only(type(module).__name__)
    if isinstance(module, _OUTPUT_ONLY_MODULES):
        return _output_only(type(module).__name__.lower())
    if isinstance(module, Elementwise):
        if module.name in REGISTRY:
            try:
                return activation_info(REGISTRY.get(module.name, **module.params), saturation_slope)
            except (ValueError, TypeError):
                pass
        return _output_only(module.name)
    return None


# --- functions -------------------------------------------------------------------------


def _arg(args: tuple, kwargs: dict, index: int, key: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(key, default)


@dataclass(frozen=True)
class FunctionalCall:
    """How to read one activation function's call: registry name, parameters, in-place."""

    name: str
    params: Callable[[tuple, dict], tuple[tuple[str, Any], ...]] = lambda args, kwargs: ()
    inplace: Callable[[tuple, dict], bool] = lambda args, kwargs: False

    def input(self, args: tuple, kwargs: dict) -> Any:
        return _arg(args, kwargs, 0, "input", None)


def _plain(name: str) -> FunctionalCall:
    return FunctionalCall(name)


def _always_inplace(name: str) -> FunctionalCall:
    return FunctionalCall(name, inplace=lambda a, k: True)


def _inplace_at(name: str, index: int, params=lambda a, k: ()) -> FunctionalCall:
    return FunctionalCall(name, params=params, inplace=lambda a, k: bool(_arg(a, k, index, "inplace", False)))


def _gelu_call() -> FunctionalCall:
    def name_params(a: tuple, k: dict) -> tuple:
        return (("approximate", _arg(a, k, 1, "approximate", "none")),)
    return FunctionalCall("gelu", params=name_params)


def _elu_params(a: tuple, k: dict) -> tuple:
    return (("alpha", float(_arg(a, k, 1, "alpha", 1.0))),)


def _leaky_params(a: tuple, k: dict) -> tuple:
    return (("negative_slope", float(_arg(a, k, 1, "negative_slope", 0.01))),)


def _softplus_params(a: tuple, k: dict) -> tuple:
    return (("beta", float(_arg(a, k, 1, "beta", 1.0))), ("threshold", float(_arg(a, k, 2, "threshold", 20.0))))


def _hardtanh_params(a: tuple, k: dict) -> tuple:
    return (("min_val", float(_arg(a, k, 1, "min_val", -1.0))), ("max_val", float(_arg(a, k, 2, "max_val", 1.0))))


def _relu6_params(a: tuple, k: dict) -> tuple:
    return (("min_val", 0.0), ("max_val", 6.0))


def _functional_table() -> dict[Any, FunctionalCall]:
    T = torch.Tensor
    table: dict[Any, FunctionalCall] = {
        F.relu: _inplace_at("relu", 1),
        torch.relu: _plain("relu"),
        T.relu: _plain("relu"),
        torch.relu_: _always_inplace("relu"),
        T.relu_: _always_inplace("relu"),
        torch.sigmoid: _plain("sigmoid"),
        T.sigmoid: _plain("sigmoid"),
        torch.special.expit: _plain("sigmoid"),
        torch.sigmoid_: _always_inplace("sigmoid"),
        T.sigmoid_: _always_inplace("sigmoid"),
        torch.tanh: _plain("tanh"),
        T.tanh: _plain("tanh"),
        torch.tanh_: _always_inplace("tanh"),
        T.tanh_: _always_inplace("tanh"),
        F.gelu: _gelu_call(),
        F.silu: _inplace_at("silu", 1),
        F.mish: _inplace_at("mish", 1),
        F.elu: _inplace_at("elu", 2, _elu_params),
        F.elu_: FunctionalCall("elu", params=_elu_params, inplace=lambda a, k: True),
        F.selu: _inplace_at("selu", 1),
        torch.selu: _plain("selu"),
        torch.selu_: _always_inplace("selu"),
        F.leaky_relu: _inplace_at("leaky_relu", 2, _leaky_params),
        F.leaky_relu_: FunctionalCall("leaky_relu", params=_leaky_params, inplace=lambda a, k: True),
        F.softplus: FunctionalCall("softplus", params=_softplus_params),
        F.softsign: _plain("softsign"),
        F.hardsigmoid: _inplace_at("hard_sigmoid", 1),
        F.hardtanh: _inplace_at("hard_tanh", 3, _hardtanh_params),
        F.hardtanh_: FunctionalCall("hard_tanh", params=_hardtanh_params, inplace=lambda a, k: True),
        F.relu6: _inplace_at("hard_tanh", 1, _relu6_params),
    }
    return table


#: Function object (as a TorchFunctionMode sees it) -> how to read the call.
FUNCTIONAL_ACTIVATIONS: Mapping[Any, FunctionalCall] = MappingProxyType(_functional_table())


def functional_activation(call: FunctionalCall, args: tuple, kwargs: dict, saturation_slope: float) -> ActivationInfo:
    """The :class:`ActivationInfo` of one functional call (its parameters read from the call)."""
    params = dict(call.params(args, kwargs))
    name = call.name
    if name == "gelu":
        name = "gelu_tanh" if params.pop("approximate") == "tanh" else "gelu"
    try:
        return activation_info(REGISTRY.get(name, **params), saturation_slope)
    except (ValueError, TypeError):
        return _output_only(name)
