"""Pure activation functions and their analytic derivatives, side by side.

Each activation is a pair ``name(x, ...)`` and ``name_grad(x, ...)``: the value
and the elementwise derivative df/dx, for a tensor of any shape ``(*)``.
Values call PyTorch's native kernels wherever PyTorch has one. Derivatives are
written out by hand (they are what the tests compare against autograd).

Conventions:

* At a kink, the derivative is the one PyTorch's autograd returns (``relu'(0) = 0``,
  ``hardtanh'(+-1) = 0``), so analytic and autograd gradients agree everywhere.
* Every function and derivative is finite for every finite input in float32 and
  float64 and returns the mathematical limit at +-inf. Some PyTorch kernels return
  NaN at +-inf (``F.gelu``, ``F.silu``, ``F.mish``, ``F.softsign``) or give a NaN
  gradient for huge finite inputs (``F.gelu(approximate="tanh")`` at 1e30 in
  float32); the functions here patch those points with ``torch.where``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "SELU_ALPHA",
    "SELU_SCALE",
    "LECUN_TANH_SCALE",
    "LECUN_TANH_GAIN",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "relu",
    "relu_grad",
    "leaky_relu",
    "leaky_relu_grad",
    "prelu",
    "prelu_grad",
    "elu",
    "elu_grad",
    "selu",
    "selu_grad",
    "gelu",
    "gelu_grad",
    "gelu_tanh",
    "gelu_tanh_grad",
    "silu",
    "silu_grad",
    "mish",
    "mish_grad",
    "softplus",
    "softplus_grad",
    "softsign",
    "softsign_grad",
    "hard_sigmoid",
    "hard_sigmoid_grad",
    "hard_tanh",
    "hard_tanh_grad",
    "lecun_tanh",
    "lecun_tanh_grad",
    "sigmoid_centered",
    "sigmoid_centered_grad",
    "tanh_shifted",
    "tanh_shifted_grad",
    "maxout",
    "maxout_grad",
]

# Klambauer et al. 2017, eq. 14: the fixed point (mean 0, variance 1).
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
# LeCun et al. 1998, "Efficient BackProp", section 4.4: f(x) = 1.7159 tanh(2x/3).
LECUN_TANH_SCALE = 1.7159
LECUN_TANH_GAIN = 2.0 / 3.0

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_TANH_C = 0.044715


def _limits(x: Tensor, y: Tensor, at_neg_inf: float, at_pos_inf: float) -> Tensor:
    """Replace y at x = -inf / +inf by the mathematical limits."""
    y = torch.where(x == -math.inf, torch.full_like(y, at_neg_inf), y)
    return torch.where(x == math.inf, torch.full_like(y, at_pos_inf), y)


# --- sigmoid family ---------------------------------------------------------


def sigmoid(x: Tensor) -> Tensor:
    """sigma(x) = 1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


def sigmoid_grad(x: Tensor) -> Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s)


def tanh(x: Tensor) -> Tensor:
    """tanh(x) = 2 sigma(2x) - 1."""
    return torch.tanh(x)


def tanh_grad(x: Tensor) -> Tensor:
    t = torch.tanh(x)
    return 1 - t * t


def sigmoid_centered(x: Tensor) -> Tensor:
    """sigma(x) - 1/2: sigmoid's gain, centred at zero (zig-zag ablation)."""
    return torch.sigmoid(x) - 0.5


def sigmoid_centered_grad(x: Tensor) -> Tensor:
    return sigmoid_grad(x)


def tanh_shifted(x: Tensor) -> Tensor:
    """tanh(x) + 1: tanh's gain, all-positive outputs (zig-zag ablation)."""
    return torch.tanh(x) + 1


def tanh_shifted_grad(x: Tensor) -> Tensor:
    return tanh_grad(x)


def lecun_tanh(x: Tensor) -> Tensor:
    """1.7159 tanh(2x/3) (LeCun et al. 1998)."""
    return LECUN_TANH_SCALE * torch.tanh(LECUN_TANH_GAIN * x)


def lecun_tanh_grad(x: Tensor) -> Tensor:
    t = torch.tanh(LECUN_TANH_GAIN * x)
    return (LECUN_TANH_SCALE * LECUN_TANH_GAIN) * (1 - t * t)


def softsign(x: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return _limits(x, F.softsign(x), -1.0, 1.0)


def softsign_grad(x: Tensor) -> Tensor:
    d = 1 + x.abs()
    return 1 / (d * d)


def hard_sigmoid(x: Tensor) -> Tensor:
    """PyTorch's hardsigmoid: relu6(x + 3) / 6 (slope 1/6 on (-3, 3))."""
    return F.hardsigmoid(x)


def hard_sigmoid_grad(x: Tensor) -> Tensor:
    inside = (x > -3) & (x < 3)
    return inside.to(x.dtype) / 6


def hard_tanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """clamp(x, min_val, max_val)."""
    return F.hardtanh(x, min_val, max_val)


def hard_tanh_grad(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return ((x > min_val) & (x < max_val)).to(x.dtype)


# --- rectifier family --------------------------------------------------------


def relu(x: Tensor) -> Tensor:
    """max(0, x)."""
    return torch.relu(x)


def relu_grad(x: Tensor) -> Tensor:
    return (x > 0).to(x.dtype)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    if negative_slope == 0:  # F.leaky_relu(-inf, 0) is 0 * -inf = NaN
        return torch.relu(x)
    return F.leaky_relu(x, negative_slope)


def leaky_relu_grad(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope))


def prelu(x: Tensor, weight: Tensor | float = 0.25) -> Tensor:
    """Leaky ReLU with a learned slope ``weight`` (He et al. 2015)."""
    if not isinstance(weight, Tensor):
        return leaky_relu(x, float(weight))  # same math; a float slope needs no tensor
    return F.prelu(x, weight)


def prelu_grad(x: Tensor, weight: Tensor | float = 0.25) -> Tensor:
    if not isinstance(weight, Tensor):
        return leaky_relu_grad(x, float(weight))
    if weight.numel() > 1 and x.dim() >= 2:
        # one slope per channel, channels on dim 1: (C,) -> (1, C, 1, ..., 1)
        weight = weight.reshape((1, -1) + (1,) * (x.dim() - 2))
    return torch.where(x > 0, torch.ones_like(x), weight.to(x.dtype).expand_as(x))


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (exp(x) - 1) otherwise (Clevert et al. 2016)."""
    return F.elu(x, alpha)


def elu_grad(x: Tensor, alpha: float = 1.0) -> Tensor:
    # exp of the clamped input: no overflow in the branch torch.where discards
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(x.clamp(max=0)))


def selu(x: Tensor) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return F.selu(x)


def selu_grad(x: Tensor) -> Tensor:
    return SELU_SCALE * elu_grad(x, SELU_ALPHA)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, linear once beta x > threshold."""
    return F.softplus(x, beta, threshold)


def softplus_grad(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return torch.where(beta * x > threshold, torch.ones_like(x), torch.sigmoid(beta * x))


# --- smooth rectifiers ---------------------------------------------------------


def gelu(x: Tensor) -> Tensor:
    """x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel 2016)."""
    return _limits(x, F.gelu(x), 0.0, math.inf)


def gelu_grad(x: Tensor) -> Tensor:
    cdf = 0.5 * (1 + torch.erf(x * _INV_SQRT_2))
    # x * pdf(x): clamp x so that -inf * 0 never happens; pdf is 0 past |x| ~ 40
    xc = x.clamp(-1e3, 1e3)
    return cdf + xc * torch.exp(-0.5 * xc * xc) * _INV_SQRT_2PI


def gelu_tanh(x: Tensor) -> Tensor:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return _limits(x, F.gelu(x, approximate="tanh"), 0.0, math.inf)


def gelu_tanh_grad(x: Tensor) -> Tensor:
    # clamp so that x^3 cannot overflow; past |x| = 1e3 the result is 0 or 1 exactly
    xc = x.clamp(-1e3, 1e3)
    t = torch.tanh(_SQRT_2_OVER_PI * (xc + _GELU_TANH_C * xc**3))
    du = _SQRT_2_OVER_PI * (1 + 3 * _GELU_TANH_C * xc * xc)
    return 0.5 * (1 + t) + 0.5 * xc * (1 - t * t) * du


def silu(x: Tensor) -> Tensor:
    """x sigma(x), also called swish (Ramachandran et al. 2017)."""
    return _limits(x, F.silu(x), 0.0, math.inf)


def silu_grad(x: Tensor) -> Tensor:
    s = torch.sigmoid(x)
    xc = x.clamp(-1e3, 1e3)  # sigma(x)(1 - sigma(x)) is 0 there; avoids inf * 0
    return s * (1 + xc * (1 - s))


def mish(x: Tensor) -> Tensor:
    """x tanh(softplus(x)) (Misra 2019)."""
    return _limits(x, F.mish(x), 0.0, math.inf)


def mish_grad(x: Tensor) -> Tensor:
    t = torch.tanh(F.softplus(x))
    xc = x.clamp(-1e3, 1e3)
    return t + xc * torch.sigmoid(x) * (1 - t * t)


# --- maxout ------------------------------------------------------------------------


def maxout(z: Tensor, k: int) -> Tensor:
    """Max over k linear pieces (Goodfellow et al. 2013).

    ``z``: (*, C * k), the pieces of unit c at columns c*k ... c*k + k-1.
    Returns (*, C).
    """
    *lead, width = z.shape
    if width % k:
        raise ValueError(f"maxout: last dimension {width} is not a multiple of k={k}")
    return z.reshape(*lead, width // k, k).max(dim=-1).values


def maxout_grad(z: Tensor, k: int) -> Tensor:
    """d maxout / dz: 1 at each unit's winning piece (the first one on ties), else 0.

    Same shape as ``z``. This is what autograd of ``max(dim=-1)`` returns.
    """
    *lead, width = z.shape
    pieces = z.reshape(*lead, width // k, k)  # (*, C, k)
    winner = pieces.argmax(dim=-1, keepdim=True)  # (*, C, 1)
    onehot = torch.zeros_like(pieces).scatter_(-1, winner, 1.0)
    return onehot.reshape(z.shape)
