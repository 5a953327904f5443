"""Networks the claims share: an MLP and a small CNN with any zoo activation and init.

Init schemes (weights; biases are set to ``bias_init``, default 0, except for
``"default"``, which keeps PyTorch's own bias init unless ``bias_init`` is given):

* ``default``: PyTorch's ``nn.Linear`` init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
  (He et al.'s uniform with a = sqrt(5)).
* ``xavier``: Glorot & Bengio 2010, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
* ``he``: He et al. 2015, N(0, 2 / fan_in).
* ``lecun``: LeCun et al. 1998, N(0, 1 / fan_in).
* ``krizhevsky``: Krizhevsky et al. 2012, section 5: N(0, 0.01^2) for every layer, whatever its
  fan-in (before He and LeCun-style scaling was usual). Not in ``INITS`` (the standard inits that
  claims sweep by default); ``ALL_INITS`` has it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..activations import Activation, get

__all__ = ["INITS", "ALL_INITS", "KRIZHEVSKY_STD", "build_mlp", "build_cnn", "init_weights", "linear_layers", "activation_of"]

INITS = ("default", "xavier", "he", "lecun")
#: Krizhevsky et al. 2012, section 5: "from a zero-mean Gaussian distribution with standard deviation 0.01".
KRIZHEVSKY_STD = 0.01
ALL_INITS = (*INITS, "krizhevsky")


def activation_of(act: str | Activation) -> Activation:
    return act if isinstance(act, Activation) else get(act)


def _init_layer(layer: nn.Linear | nn.Conv2d, scheme: str, bias_init: float | None, generator: torch.Generator | None) -> None:
    w = layer.weight
    fan_out, fan_in = w.shape[0], w[0].numel()
    with torch.no_grad():
        if scheme == "default":
            bound = 1 / math.sqrt(fan_in)  # what reset_parameters() draws, from our generator
            w.uniform_(-bound, bound, generator=generator)
            if layer.bias is not None:
                layer.bias.uniform_(-bound, bound, generator=generator)
        elif scheme == "xavier":
            # fan_out of a conv counts the receptive field too
            fan_out_total = fan_out * w[0, 0].numel() if w.dim() > 2 else fan_out
            a = math.sqrt(6.0 / (fan_in + fan_out_total))
            w.uniform_(-a, a, generator=generator)
        elif scheme == "he":
            w.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)
        elif scheme == "lecun":
            w.normal_(0.0, math.sqrt(1.0 / fan_in), generator=generator)
        elif scheme == "krizhevsky":
            w.normal_(0.0, KRIZHEVSKY_STD, generator=generator)
        else:
            raise ValueError(f"init {scheme!r} is not one of {', '.join(ALL_INITS)}")
        if layer.bias is not None and (scheme != "default" or bias_init is not None):
            layer.bias.fill_(0.0 if bias_init is None else bias_init)


def init_weights(model: nn.Module, scheme: str = "default", bias_init: float | None = None,
                 generator: torch.Generator | None = None) -> nn.Module:
    """(Re-)initialise every Linear and Conv2d of ``model`` in place; returns ``model``."""
    if scheme not in ALL_INITS:
        raise ValueError(f"init {scheme!r} is not one of {', '.join(ALL_INITS)}")
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            _init_layer(m, scheme, bias_init, generator)
    return model


def build_mlp(
    in_features: int,
    width: int | Sequence[int],
    depth: int,
    out_features: int,
    activation: str | Activation,
    *,
    init: str = "default",
    bias_init: float | None = None,
    seed: int | None = None,
) -> nn.Sequential:
    """Linear -> act -> ... -> Linear: ``depth`` hidden layers of ``width`` units.

    ``depth`` counts hidden layers, so the net has ``depth + 1`` Linear layers; the
    last one (logits) has no activation after it. For maxout, each hidden Linear has
    ``width * k`` outputs, which the maxout pools to ``width`` (k times the parameters).
    With ``seed``, the weights are drawn from a generator seeded with it.
    """
    act = activation_of(activation)
    widths = [width] * depth if isinstance(width, int) else list(width)
    if depth < 1 or len(widths) != depth:
        raise ValueError(f"depth={depth} must be >= 1 and match the widths given ({len(widths)})")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"width {w!r} must be a positive integer")
    k = act.width_multiplier
    layers: list[nn.Module] = []
    d = in_features
    for w in widths:
        layers.append(nn.Linear(d, w * k))
        layers.append(act.module())
        d = w
    layers.append(nn.Linear(d, out_features))
    model = nn.Sequential(*layers)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return init_weights(model, init, bias_init, generator)


def build_cnn(
    in_channels: int,
    image_size: int,
    out_features: int,
    activation: str | Activation,
    *,
    channels: Sequence[int] = (16, 32),
    hidden: int = 64,
    init: str = "default",
    bias_init: float | None = None,
    seed: int | None = None,
) -> nn.Sequential:
    """A small CNN: [conv3x3 -> act -> maxpool2] per entry of ``channels``, then
    flatten -> Linear(hidden) -> act -> Linear(out_features).

    Input (N, in_channels, image_size, image_size); output (N, out_features).
    """
    act = activation_of(activation)
    if act.kind == "layer":
        raise ValueError(f"{act.name} is a layer activation; the CNN builder takes elementwise activations")
    layers: list[nn.Module] = []
    c, size = in_channels, image_size
    for out_c in channels:
        layers += [nn.Conv2d(c, out_c, 3, padding=1), act.module(), nn.MaxPool2d(2)]
        c, size = out_c, size // 2
    layers += [nn.Flatten(), nn.Linear(c * size * size, hidden), act.module(), nn.Linear(hidden, out_features)]
    model = nn.Sequential(*layers)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return init_weights(model, init, bias_init, generator)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The model's nn.Linear layers, in forward order for a Sequential."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]
