"""The activation zoo: functions, analytic derivatives, modules and properties.

Examples::

    >>> import torch
    >>> from actlab.activations import get, make_module, names
    >>> act = get("Swish")            # case-insensitive, aliases allowed
    >>> act.name
    'silu'
    >>> float(act.derivative(torch.tensor(0.0)))
    0.5
    >>> make_module("leaky_relu", negative_slope=0.1)
    LeakyReLU(negative_slope=0.1)
    >>> "mish" in names()
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from . import functional
from .curves import (
    SATURATION_SLOPE,
    SATURATION_TEXT,
    is_saturating,
    saturated_mask,
    saturation_threshold,
    unit_curve,
)
from .modules import Elementwise, LeCunTanh, Maxout, MaxoutPool, SigmoidCentered, TanhShifted
from .registry import (
    Activation,
    ActivationSpec,
    Param,
    Properties,
    Registry,
    UnknownActivationError,
    normalise_name,
)
from .verify import measure_properties, verify
from .zoo import populate

__all__ = [
    "REGISTRY",
    "Activation",
    "ActivationSpec",
    "Param",
    "Properties",
    "Registry",
    "UnknownActivationError",
    "Elementwise",
    "LeCunTanh",
    "Maxout",
    "MaxoutPool",
    "SigmoidCentered",
    "TanhShifted",
    "functional",
    "get",
    "names",
    "make_module",
    "register_activation",
    "unregister_activation",
    "parse_activation_list",
    "measure_properties",
    "verify",
    "normalise_name",
    "SATURATION_SLOPE",
    "SATURATION_TEXT",
    "saturation_threshold",
    "saturated_mask",
    "is_saturating",
    "unit_curve",
]

#: Installed packages add activations through this entry-point group (loaded on first lookup).
PLUGIN_GROUP = "actlab.activations"

#: The registry every part of actlab looks names up in (see Registry for why it is shared).
REGISTRY: Registry = populate(Registry(plugin_group=PLUGIN_GROUP))


def get(name: str, **params: Any) -> Activation:
    """The activation called ``name`` (case-insensitive, aliases allowed) with ``params`` bound.

    Raises:
        UnknownActivationError: no such name; the message lists the closest ones.
        TypeError: a parameter the activation does not have.
        ValueError: a parameter value that is invalid, with the reason.
    """
    return REGISTRY.get(name, **params)


def names() -> list[str]:
    """Canonical names of every registered activation, built-ins first."""
    return REGISTRY.names()


def make_module(act: str | Activation | type[nn.Module] | nn.Module | Callable[[Tensor], Tensor] | None,
                **params: Any) -> nn.Module:
    """A fresh activation module from a name, an Activation, a Module class or instance,
    a plain callable, or None (identity).

    Keyword ``params`` go to the activation (by name) or the class constructor; they
    are an error for an instance, a callable or None, which take none.
    """
    if isinstance(act, str):
        return get(act, **params).module()
    if isinstance(act, Activation):
        if params:
            raise TypeError("parameters are already bound in an Activation; pass a name to bind new ones")
        return act.module()
    if isinstance(act, type) and issubclass(act, nn.Module):
        return act(**params)
    if params:
        raise TypeError(f"make_module takes no parameters with {type(act).__name__}")
    if act is None:
        return nn.Identity()
    if isinstance(act, nn.Module):
        return act
    if callable(act):
        return Elementwise(act, name=getattr(act, "__name__", "elementwise"))
    raise TypeError(f"cannot make an activation module from {type(act).__name__}")


def register_activation(
    name: str,
    fn: Callable[..., Tensor],
    derivative: Callable[..., Tensor],
    properties: Properties | Callable[..., Properties],
    *,
    module: Callable[..., nn.Module] | None = None,
    params: tuple[Param, ...] = (),
    aliases: tuple[str, ...] = (),
    summary: str = "",
    formula: str = "",
    overwrite: bool = False,
) -> ActivationSpec:
    """Add your own activation; it is then found by name everywhere in actlab.

    Args:
        name: lower case with underscores.
        fn: ``fn(x, **params)``, elementwise.
        derivative: ``derivative(x, **params)``, df/dx elementwise.
        properties: the declared :class:`Properties` (check them with :func:`verify`).
        module: ``module(**params) -> nn.Module``; default wraps ``fn`` in :class:`Elementwise`.
        params: the parameters, with defaults and checks.
        aliases: other names.
        summary, formula: shown by ``actlab list``.
        overwrite: replace an entry of the same name.

    Examples::

        >>> import torch
        >>> from actlab.activations import register_activation, unregister_activation, get, verify
        >>> props = get("relu").properties
        >>> _ = register_activation("my_relu", lambda x: x.clamp(min=0),
        ...                         lambda x: (x > 0).to(x.dtype), props)
        >>> verify(get("my_relu"))
        []
        >>> unregister_activation("my_relu")
    """
    if module is None:
        def module(**kw: Any) -> nn.Module:
            return Elementwise(fn, name=name, **kw)
    spec = ActivationSpec(
        name=name, fn=fn, derivative=derivative, module=module, properties=properties,
        params=params, aliases=aliases, summary=summary, formula=formula,
    )
    return REGISTRY.register(spec, overwrite=overwrite)


def unregister_activation(name: str) -> None:
    """Remove a registered activation (built-ins included, until the next import)."""
    REGISTRY.unregister(name)


def parse_activation_list(text: str) -> list[str]:
    """'relu, Tanh,swish' -> ['relu', 'tanh', 'silu'] (canonical names, checked, no duplicates)."""
    out: list[str] = []
    for part in text.split(","):
        if part.strip():
            name = REGISTRY.resolve(part)
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError("the activation list is empty")
    return out
