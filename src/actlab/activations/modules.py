"""nn.Modules for the activations PyTorch does not ship.

The zoo uses ``torch.nn``'s own module wherever PyTorch has one (``nn.Sigmoid``,
``nn.ReLU``, ``nn.GELU``, ...), so models built with actlab look like any other
PyTorch model to hooks, exporters and the monitor. The modules here follow the
same pattern: a thin class that calls the functional form.
"""

from __future__ import annotations

from collections.abc import Callable

import torch  # noqa: F401  (used by the docstring examples, run as doctests)
from torch import Tensor, nn

from . import functional as AF

__all__ = ["LeCunTanh", "SigmoidCentered", "TanhShifted", "MaxoutPool", "Maxout", "Elementwise"]


class LeCunTanh(nn.Module):
    r"""Scaled tanh of LeCun et al. (1998): :math:`1.7159 \tanh(2x/3)`.

    Chosen so that f(+-1) = +-1 and the effective gain near 0 is about 1.14.
    Reference: LeCun, Bottou, Orr, Mueller, "Efficient BackProp" (1998), sec. 4.4.

    Shape:
        - Input: :math:`(*)`, any shape.
        - Output: :math:`(*)`, same shape as the input.

    Examples::

        >>> m = LeCunTanh()
        >>> round(float(m(torch.tensor(1.0))), 4)
        1.0
    """

    def forward(self, x: Tensor) -> Tensor:
        return AF.lecun_tanh(x)


class SigmoidCentered(nn.Module):
    r"""Sigmoid shifted to be zero-centred: :math:`\sigma(x) - 1/2`.

    An ablation for the zig-zag study: sigmoid's gain (max slope 0.25) with
    outputs of both signs. Note :math:`\sigma(x) - 1/2 = \tanh(x/2)/2`.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape.

    Examples::

        >>> float(SigmoidCentered()(torch.tensor(0.0)))
        0.0
    """

    def forward(self, x: Tensor) -> Tensor:
        return AF.sigmoid_centered(x)


class TanhShifted(nn.Module):
    r"""tanh shifted to be all-positive: :math:`\tanh(x) + 1`.

    An ablation for the zig-zag study: tanh's gain (max slope 1) with outputs in
    (0, 2), never negative, like sigmoid. Note :math:`\tanh(x) + 1 = 2\sigma(2x)`.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape.

    Examples::

        >>> float(TanhShifted()(torch.tensor(0.0)))
        1.0
    """

    def forward(self, x: Tensor) -> Tensor:
        return AF.tanh_shifted(x)


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ValueError(f"maxout k={k!r} is invalid: k is the number of pieces and must be an integer >= 2")
    return k


class MaxoutPool(nn.Module):
    r"""The max over groups of k consecutive features: the maxout nonlinearity.

    Put it after a layer with ``k`` times as many outputs as the units you want:
    ``nn.Linear(d_in, width * k)`` then ``MaxoutPool(k)`` gives ``width`` maxout
    units, each :math:`\max_j (w_j^\top x + b_j)` (Goodfellow et al. 2013).

    Args:
        k: pieces per unit, at least 2. Default: 2.

    Shape:
        - Input: :math:`(*, C k)`. Output: :math:`(*, C)`.

    Examples::

        >>> MaxoutPool(2)(torch.tensor([[1.0, -2.0, 0.5, 3.0]])).tolist()
        [[1.0, 3.0]]
    """

    def __init__(self, k: int = 2) -> None:
        super().__init__()
        self.k = _check_k(k)

    def forward(self, z: Tensor) -> Tensor:
        return AF.maxout(z, self.k)

    def extra_repr(self) -> str:
        return f"k={self.k}"


class Maxout(nn.Module):
    r"""A maxout layer: ``out_features`` units, each the max of ``k`` affine pieces.

    :math:`y_c = \max_{j<k} (W_{cj} x + b_{cj})`. It has k times the parameters of
    ``nn.Linear(in_features, out_features)``; it neither saturates nor dies, since
    some piece is always active (Goodfellow, Warde-Farley, Mirza, Courville,
    Bengio, "Maxout Networks", ICML 2013).

    Args:
        in_features: size of each input sample.
        out_features: number of maxout units.
        k: pieces per unit, at least 2. Default: 2.
        bias: learn an additive bias per piece. Default: ``True``.

    Shape:
        - Input: :math:`(*, H_{in})`. Output: :math:`(*, H_{out})`.

    Examples::

        >>> m = Maxout(20, 30, k=3)
        >>> m(torch.randn(128, 20)).shape
        torch.Size([128, 30])
    """

    def __init__(self, in_features: int, out_features: int, k: int = 2, bias: bool = True) -> None:
        super().__init__()
        self.k = _check_k(k)
        self.linear = nn.Linear(in_features, out_features * self.k, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        return AF.maxout(self.linear(x), self.k)

    def extra_repr(self) -> str:
        return f"k={self.k}"


class Elementwise(nn.Module):
    """Wraps a user's elementwise function ``fn(x, **params)`` as a module.

    Used for activations registered without a module of their own.

    Args:
        fn: the function, tensor in, tensor of the same shape out.
        name: shown in ``repr``.
        **params: keyword arguments passed to ``fn`` on every call.

    Shape:
        - Input: :math:`(*)`. Output: :math:`(*)`, same shape.

    Examples::

        >>> m = Elementwise(lambda x, a: a * x, name="scale", a=2.0)
        >>> float(m(torch.tensor(3.0)))
        6.0
    """

    def __init__(self, fn: Callable[..., Tensor], name: str = "elementwise", **params: float) -> None:
        super().__init__()
        self.fn = fn
        self.name = name
        self.params = dict(params)

    def forward(self, x: Tensor) -> Tensor:
        return self.fn(x, **self.params)

    def extra_repr(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})" if args else self.name
