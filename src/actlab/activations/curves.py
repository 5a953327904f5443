"""An activation as a curve of one input, and the one definition of "saturated".

Both are shared by everything that talks about an activation's shape: ``actlab show``
draws :func:`unit_curve` and shades :func:`saturated_mask`; ``verify`` measures the
declared properties on the same curve; the monitor, the claims and the report use
:data:`SATURATION_SLOPE` and :func:`saturation_threshold`.

Saturated, everywhere in actlab: **|f'(x)| < 5% of the activation's max |f'|**, for an
activation declared saturating on at least one side (sigmoid, tanh, softsign, elu, ...).
Relative to max |f'|, so that sigmoid (max |f'| = 0.25) and tanh (max |f'| = 1) are
judged alike: a sigmoid unit with |f'| < 0.0125 passes 5% of the gradient its best input
would. ReLU's flat side counts too (f' = 0 there; a unit that stays there for every
input is also "dead"); leaky_relu and maxout never saturate (some gradient always passes).

Examples::

    >>> import torch
    >>> from actlab.activations import get
    >>> from actlab.activations.curves import saturated_mask, saturation_threshold
    >>> saturation_threshold(get("sigmoid"))
    0.0125
    >>> saturated_mask(get("tanh"), torch.tensor([0.0, 3.0])).tolist()
    [False, True]
"""

from __future__ import annotations

import torch
from torch import Tensor

from .registry import Activation, Properties

__all__ = ["SATURATION_SLOPE", "SATURATION_TEXT", "saturation_threshold", "is_saturating", "saturated_mask",
           "unit_curve", "UNIT_CURVE_NOTE"]

#: Saturated means |f'| < SATURATION_SLOPE x max |f'| (the monitor's default ``saturation_slope``).
SATURATION_SLOPE = 0.05
#: The definition in words, for figure labels and report prose.
SATURATION_TEXT = "|f'| < 5% of max |f'|"
#: How :func:`unit_curve` draws a layer activation (maxout), for a figure's legend.
UNIT_CURVE_NOTE = "one unit, pieces a*x with slopes a evenly in [-1, 1]"


def _properties(act: Activation | Properties) -> Properties:
    return act if isinstance(act, Properties) else act.properties


def is_saturating(act: Activation) -> bool:
    """Declared saturating on at least one side; maxout (a layer) never is."""
    p = act.properties
    return act.kind == "elementwise" and (p.saturates_left or p.saturates_right)


def saturation_threshold(act: Activation | Properties, slope: float = SATURATION_SLOPE) -> float:
    """|f'| below this is saturated: ``slope`` x the declared max |f'|."""
    if not 0 < slope < 1:
        raise ValueError(f"slope={slope!r} must be in (0, 1), e.g. {SATURATION_SLOPE}")
    return slope * _properties(act).max_abs_derivative


def saturated_mask(act: Activation, x: Tensor, slope: float = SATURATION_SLOPE) -> Tensor:
    """Where ``act`` is saturated at the inputs ``x`` (bool, shape of :func:`unit_curve`'s output).

    All False for an activation declared non-saturating (relu, leaky_relu, maxout, ...).
    """
    _, d = unit_curve(act, x)
    if not is_saturating(act):
        return torch.zeros_like(d, dtype=torch.bool)
    return d.abs() < saturation_threshold(act, slope)


def unit_curve(act: Activation, x: Tensor) -> tuple[Tensor, Tensor]:
    """(f(x), df/dx) of one unit fed the scalar inputs ``x`` (shape (N,)).

    Elementwise activations: ``act(x)`` and ``act.derivative(x)``. Maxout (``kind="layer"``)
    is a max of k affine pieces of its input; one unit is drawn with pieces ``a_j * x``, the
    slopes ``a_j`` evenly in [-1, 1] (k = 2 and k = 3 give |x|): a convex function, not a
    monotonic one, which is what its declared properties describe.
    """
    if act.kind != "layer":
        return act(x), act.derivative(x)
    k = act.width_multiplier
    slopes = torch.linspace(-1, 1, k, dtype=x.dtype)
    pieces = x[:, None] * slopes[None, :]  # (N, k): the k pieces of one unit
    y = act(pieces).squeeze(-1)  # (N,)
    d = (act.derivative(pieces) * slopes).sum(-1)  # chain rule: d max / d piece * d piece / dx
    return y, d
