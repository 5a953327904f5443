"""The built-in entries of the zoo: one ``ActivationSpec`` per activation.

Adding an activation is one function and its derivative in ``functional.py`` and
one entry here. Every number in a ``Properties`` is a claim that
``tests/test_activation_properties.py`` measures.
"""

from __future__ import annotations

import math

from torch import nn

from . import functional as AF
from .modules import LeCunTanh, MaxoutPool, SigmoidCentered, TanhShifted
from .registry import ActivationSpec, Param, Properties, Registry

__all__ = ["builtin_specs", "populate"]

INF = math.inf


def _finite(v: object) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return "it must be a finite number"
    return None


def _slope(v: object) -> str | None:
    return _finite(v) or (None if 0 <= v < 1 else "the negative-side slope must be in [0, 1)")  # type: ignore[operator]


def _positive(v: object) -> str | None:
    return _finite(v) or (None if v > 0 else "it must be > 0")  # type: ignore[operator]


def _scale(v: object) -> str | None:
    # A scale beyond 1e4 either way overflows float32 (alpha * exp) or divides by ~0 (1 / beta).
    return _positive(v) or (None if 1e-4 <= v <= 1e4 else "it must be from 1e-4 to 1e4")  # type: ignore[operator]


def _threshold(v: object) -> str | None:
    # exp(beta * x) is computed below the threshold: past 80 it overflows float32.
    return _positive(v) or (None if v <= 80 else "it must be <= 80 (exp overflows float32 beyond it)")  # type: ignore[operator]


def _pieces(v: object) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 2:
        return "k is the number of pieces and must be an integer >= 2"
    if v > 1024:
        return "k is the number of pieces and must be <= 1024"
    return None


def _count(v: object) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        return "it must be an integer >= 1"
    return None


# --- properties that depend on parameters ---------------------------------------


def _leaky_props(negative_slope: float = 0.01, reference: str = "") -> Properties:
    return Properties(
        output_range=(-INF if negative_slope > 0 else 0.0, INF),
        zero_centred=False,
        negative_outputs=negative_slope > 0,
        monotonic=True,
        smooth=False,
        saturates_left=negative_slope == 0,
        saturates_right=False,
        max_abs_derivative=1.0,
        f0=0.0,
        df0=negative_slope,
        reference=reference or "Maas, Hannun, Ng 2013, 'Rectifier nonlinearities improve neural network acoustic models'",
    )


def _prelu_props(init: float = 0.25, num_parameters: int = 1) -> Properties:
    return _leaky_props(init, "He, Zhang, Ren, Sun 2015, 'Delving deep into rectifiers' (PReLU; slope learned, 0.25 at init)")


def _elu_props(alpha: float = 1.0) -> Properties:
    return Properties(
        output_range=(-alpha, INF),
        zero_centred=False,
        negative_outputs=True,
        monotonic=True,
        smooth=alpha == 1.0,
        saturates_left=True,
        saturates_right=False,
        max_abs_derivative=max(1.0, alpha),
        f0=0.0,
        df0=alpha,
        reference="Clevert, Unterthiner, Hochreiter 2016, 'Fast and accurate deep network learning by ELUs'",
    )


def _softplus_props(beta: float = 1.0, threshold: float = 20.0) -> Properties:
    return Properties(
        output_range=(0.0, INF),
        zero_centred=False,
        negative_outputs=False,
        monotonic=True,
        smooth=True,
        saturates_left=True,
        saturates_right=False,
        max_abs_derivative=1.0,
        f0=math.log(2.0) / beta,
        df0=0.5,
        reference="Dugas et al. 2001, 'Incorporating second-order functional knowledge for better option pricing'",
    )


def _hard_tanh_props(min_val: float = -1.0, max_val: float = 1.0) -> Properties:
    return Properties(
        output_range=(min_val, max_val),
        zero_centred=min_val == -max_val,
        negative_outputs=min_val < 0,
        monotonic=True,
        smooth=False,
        saturates_left=True,
        saturates_right=True,
        max_abs_derivative=1.0,
        f0=min(max(0.0, min_val), max_val),
        df0=1.0 if min_val < 0 < max_val else 0.0,
        reference="Collobert 2004, 'Large scale machine learning' (PhD thesis)",
    )


def _maxout_props(k: int = 2) -> Properties:
    return Properties(
        output_range=(-INF, INF),
        zero_centred=False,  # E[max of k iid N(0,1)] > 0
        negative_outputs=True,
        # As a function of its input a unit is a max of affine pieces: convex, monotonic only
        # when every slope has one sign (pieces +-x give |x|, as `actlab show maxout` draws).
        # It is non-decreasing in each piece, but "monotonic" is about f(x), as for the others.
        monotonic=False,
        smooth=False,
        saturates_left=False,
        saturates_right=False,
        max_abs_derivative=1.0,
        f0=0.0,
        df0=1.0,  # d max / d (winning piece)
        reference="Goodfellow, Warde-Farley, Mirza, Courville, Bengio 2013, 'Maxout networks'",
    )


def _hard_tanh_check(params: dict) -> str | None:
    if not params["min_val"] < params["max_val"]:
        return f"min_val={params['min_val']} must be < max_val={params['max_val']}"
    return None


def _props(**kw) -> Properties:
    return Properties(**kw)


def builtin_specs() -> list[ActivationSpec]:
    """The zoo, in the order ``actlab list`` shows it."""
    return [
        ActivationSpec(
            name="sigmoid",
            fn=AF.sigmoid,
            derivative=AF.sigmoid_grad,
            module=nn.Sigmoid,
            aliases=("logistic",),
            summary="squashes to (0, 1); slope at most 0.25; not zero-centred",
            formula="1 / (1 + exp(-x))",
            properties=_props(
                output_range=(0.0, 1.0), zero_centred=False, negative_outputs=False, monotonic=True,
                smooth=True, saturates_left=True, saturates_right=True, max_abs_derivative=0.25,
                f0=0.5, df0=0.25,
                reference="Rumelhart, Hinton, Williams 1986; CS231n lecture 6 (2017)",
            ),
        ),
        ActivationSpec(
            name="tanh",
            fn=AF.tanh,
            derivative=AF.tanh_grad,
            module=nn.Tanh,
            summary="zero-centred, still saturates; tanh(x) = 2 sigmoid(2x) - 1",
            formula="(exp(x) - exp(-x)) / (exp(x) + exp(-x))",
            properties=_props(
                output_range=(-1.0, 1.0), zero_centred=True, negative_outputs=True, monotonic=True,
                smooth=True, saturates_left=True, saturates_right=True, max_abs_derivative=1.0,
                f0=0.0, df0=1.0,
                reference="LeCun, Bottou, Orr, Mueller 1998, 'Efficient BackProp'",
            ),
        ),
        ActivationSpec(
            name="relu",
            fn=AF.relu,
            derivative=AF.relu_grad,
            module=nn.ReLU,
            summary="max(0, x); no saturation for x > 0, cheap; can die",
            formula="max(0, x)",
            properties=_props(
                output_range=(0.0, INF), zero_centred=False, negative_outputs=False, monotonic=True,
                smooth=False, saturates_left=True, saturates_right=False, max_abs_derivative=1.0,
                f0=0.0, df0=0.0,
                reference="Nair & Hinton 2010; Glorot, Bordes, Bengio 2011; Krizhevsky, Sutskever, Hinton 2012",
            ),
        ),
        ActivationSpec(
            name="leaky_relu",
            fn=AF.leaky_relu,
            derivative=AF.leaky_relu_grad,
            module=nn.LeakyReLU,
            params=(Param("negative_slope", 0.01, "slope for x < 0", _slope),),
            aliases=("lrelu",),
            summary="ReLU with a small slope (0.01) for x < 0: cannot die",
            formula="x if x > 0 else negative_slope * x",
            properties=_leaky_props,
        ),
        ActivationSpec(
            name="prelu",
            fn=lambda x, init=0.25, num_parameters=1: AF.prelu(x, init),
            derivative=lambda x, init=0.25, num_parameters=1: AF.prelu_grad(x, init),
            module=lambda init=0.25, num_parameters=1: nn.PReLU(num_parameters, init),
            params=(
                Param("init", 0.25, "initial slope for x < 0 (learned)", _slope),
                Param("num_parameters", 1, "1, or one slope per channel", _count),
            ),
            summary="leaky ReLU whose slope is learned (0.25 at init)",
            formula="x if x > 0 else a * x, a learned",
            properties=_prelu_props,
        ),
        ActivationSpec(
            name="elu",
            fn=AF.elu,
            derivative=AF.elu_grad,
            module=lambda alpha=1.0: nn.ELU(alpha),
            params=(Param("alpha", 1.0, "negative saturation value is -alpha", _scale),),
            summary="exponential for x < 0: mean activations closer to zero",
            formula="x if x > 0 else alpha * (exp(x) - 1)",
            properties=_elu_props,
        ),
        ActivationSpec(
            name="selu",
            fn=AF.selu,
            derivative=AF.selu_grad,
            module=nn.SELU,
            summary="scaled ELU with the self-normalising constants",
            formula="1.0507 * (x if x > 0 else 1.6733 * (exp(x) - 1))",
            properties=_props(
                output_range=(-AF.SELU_SCALE * AF.SELU_ALPHA, INF), zero_centred=True,
                negative_outputs=True, monotonic=True, smooth=False, saturates_left=True,
                saturates_right=False, max_abs_derivative=AF.SELU_SCALE * AF.SELU_ALPHA,
                f0=0.0, df0=AF.SELU_SCALE * AF.SELU_ALPHA,
                reference="Klambauer, Unterthiner, Mayr, Hochreiter 2017, 'Self-normalizing neural networks'",
            ),
        ),
        ActivationSpec(
            name="gelu",
            fn=AF.gelu,
            derivative=AF.gelu_grad,
            module=nn.GELU,
            summary="x * Phi(x), the exact (erf) form",
            formula="x * Phi(x), Phi the standard normal CDF",
            properties=_props(
                output_range=(-0.16997120747940211, INF), zero_centred=False, negative_outputs=True,
                monotonic=False, smooth=True, saturates_left=True, saturates_right=False,
                # sup f' at x = sqrt(2): Phi(sqrt 2) + sqrt(2) phi(sqrt 2)
                max_abs_derivative=0.5 * (1 + math.erf(1.0)) + math.sqrt(2) * math.exp(-1.0) / math.sqrt(2 * math.pi),
                f0=0.0, df0=0.5,
                reference="Hendrycks & Gimpel 2016, 'Gaussian error linear units (GELUs)'",
            ),
        ),
        ActivationSpec(
            name="gelu_tanh",
            fn=AF.gelu_tanh,
            derivative=AF.gelu_tanh_grad,
            module=lambda: nn.GELU(approximate="tanh"),
            aliases=("gelu_approx", "approx_gelu"),
            summary="GELU, tanh approximation (as in BERT and GPT-2)",
            formula="0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))",
            properties=_props(
                output_range=(-0.17004075057081885, INF), zero_centred=False, negative_outputs=True,
                monotonic=False, smooth=True, saturates_left=True, saturates_right=False,
                max_abs_derivative=1.128993068655481, f0=0.0, df0=0.5,
                reference="Hendrycks & Gimpel 2016, 'Gaussian error linear units (GELUs)', eq. for the tanh approximation",
            ),
        ),
        ActivationSpec(
            name="silu",
            fn=AF.silu,
            derivative=AF.silu_grad,
            module=nn.SiLU,
            aliases=("swish",),
            summary="x * sigmoid(x), also called swish",
            formula="x * sigmoid(x)",
            properties=_props(
                output_range=(-0.2784645427588263, INF), zero_centred=False, negative_outputs=True,
                monotonic=False, smooth=True, saturates_left=True, saturates_right=False,
                max_abs_derivative=1.0998393201285284, f0=0.0, df0=0.5,
                reference="Elfwing, Uchibe, Doya 2018; Ramachandran, Zoph, Le 2017, 'Searching for activation functions'",
            ),
        ),
        ActivationSpec(
            name="mish",
            fn=AF.mish,
            derivative=AF.mish_grad,
            module=nn.Mish,
            summary="x * tanh(softplus(x))",
            formula="x * tanh(log(1 + exp(x)))",
            properties=_props(
                output_range=(-0.30884341301705354, INF), zero_centred=False, negative_outputs=True,
                monotonic=False, smooth=True, saturates_left=True, saturates_right=False,
                max_abs_derivative=1.0884981612515674, f0=0.0, df0=0.6,
                reference="Misra 2019, 'Mish: a self regularized non-monotonic activation function'",
            ),
        ),
        ActivationSpec(
            name="softplus",
            fn=AF.softplus,
            derivative=AF.softplus_grad,
            module=lambda beta=1.0, threshold=20.0: nn.Softplus(beta, threshold),
            params=(
                Param("beta", 1.0, "sharpness", _scale),
                Param("threshold", 20.0, "linear once beta * x exceeds it", _threshold),
            ),
            summary="smooth ReLU, log(1 + exp(x)); derivative is sigmoid",
            formula="log(1 + exp(beta x)) / beta",
            properties=_softplus_props,
        ),
        ActivationSpec(
            name="softsign",
            fn=AF.softsign,
            derivative=AF.softsign_grad,
            module=nn.Softsign,
            summary="x / (1 + |x|): like tanh, but saturates polynomially",
            formula="x / (1 + |x|)",
            properties=_props(
                output_range=(-1.0, 1.0), zero_centred=True, negative_outputs=True, monotonic=True,
                smooth=True, saturates_left=True, saturates_right=True, max_abs_derivative=1.0,
                f0=0.0, df0=1.0,
                reference="Bergstra et al. 2009; Glorot & Bengio 2010, 'Understanding the difficulty of training deep feedforward neural networks'",
            ),
        ),
        ActivationSpec(
            name="hard_sigmoid",
            fn=AF.hard_sigmoid,
            derivative=AF.hard_sigmoid_grad,
            module=nn.Hardsigmoid,
            summary="piecewise-linear sigmoid, relu6(x + 3) / 6 (PyTorch's form)",
            formula="min(1, max(0, x / 6 + 1/2))",
            properties=_props(
                output_range=(0.0, 1.0), zero_centred=False, negative_outputs=False, monotonic=True,
                smooth=False, saturates_left=True, saturates_right=True, max_abs_derivative=1 / 6,
                f0=0.5, df0=1 / 6,
                reference="Courbariaux, Bengio, David 2015 (BinaryConnect); Howard et al. 2019 (MobileNetV3) for the x/6 + 1/2 form",
            ),
        ),
        ActivationSpec(
            name="hard_tanh",
            fn=AF.hard_tanh,
            derivative=AF.hard_tanh_grad,
            module=lambda min_val=-1.0, max_val=1.0: nn.Hardtanh(min_val, max_val),
            check=_hard_tanh_check,
            params=(
                Param("min_val", -1.0, "lower clip value", _finite),
                Param("max_val", 1.0, "upper clip value", _finite),
            ),
            summary="clip to [-1, 1]",
            formula="min(max_val, max(min_val, x))",
            properties=_hard_tanh_props,
        ),
        ActivationSpec(
            name="lecun_tanh",
            fn=AF.lecun_tanh,
            derivative=AF.lecun_tanh_grad,
            module=LeCunTanh,
            aliases=("scaled_tanh",),
            summary="1.7159 tanh(2x/3): f(+-1) = +-1",
            formula="1.7159 * tanh(2x / 3)",
            properties=_props(
                output_range=(-AF.LECUN_TANH_SCALE, AF.LECUN_TANH_SCALE), zero_centred=True,
                negative_outputs=True, monotonic=True, smooth=True, saturates_left=True,
                saturates_right=True, max_abs_derivative=AF.LECUN_TANH_SCALE * AF.LECUN_TANH_GAIN,
                f0=0.0, df0=AF.LECUN_TANH_SCALE * AF.LECUN_TANH_GAIN,
                reference="LeCun, Bottou, Orr, Mueller 1998, 'Efficient BackProp', sec. 4.4",
            ),
        ),
        ActivationSpec(
            name="maxout",
            fn=AF.maxout,
            derivative=AF.maxout_grad,
            module=MaxoutPool,
            params=(Param("k", 2, "linear pieces per unit", _pieces),),
            kind="layer",
            summary="max of k linear pieces; k times the parameters",
            formula="max_j (w_j . x + b_j), j < k",
            properties=_maxout_props,
        ),
        ActivationSpec(
            name="sigmoid_centered",
            fn=AF.sigmoid_centered,
            derivative=AF.sigmoid_centered_grad,
            module=SigmoidCentered,
            aliases=("sigmoid_centred",),
            summary="ablation: sigmoid - 1/2 (sigmoid's gain, zero-centred)",
            formula="sigmoid(x) - 1/2",
            properties=_props(
                output_range=(-0.5, 0.5), zero_centred=True, negative_outputs=True, monotonic=True,
                smooth=True, saturates_left=True, saturates_right=True, max_abs_derivative=0.25,
                f0=0.0, df0=0.25,
                reference="actlab ablation for the zig-zag study (centring without changing gain)",
            ),
        ),
        ActivationSpec(
            name="tanh_shifted",
            fn=AF.tanh_shifted,
            derivative=AF.tanh_shifted_grad,
            module=TanhShifted,
            summary="ablation: tanh + 1 (tanh's gain, all-positive outputs)",
            formula="tanh(x) + 1",
            properties=_props(
                output_range=(0.0, 2.0), zero_centred=False, negative_outputs=False, monotonic=True,
                smooth=True, saturates_left=True, saturates_right=True, max_abs_derivative=1.0,
                f0=1.0, df0=1.0,
                reference="actlab ablation for the zig-zag study (gain without centring)",
            ),
        ),
    ]


def populate(registry: Registry) -> Registry:
    """Register every built-in entry in ``registry``."""
    for spec in builtin_specs():
        registry.register(spec)
    return registry
