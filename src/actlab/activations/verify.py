"""Measure an activation against its own declarations.

:func:`verify` checks one :class:`~actlab.activations.registry.Activation`:

* the analytic derivative against autograd (float64, dense grid including 0 and
  |x| up to 50) and against central finite differences;
* finiteness in float32 and float64 at +-1e4, +-1e30, and the right limit at +-inf;
* every declared property, measured on a grid (see :func:`measure_properties`).

It returns a list of problems, empty when everything holds. The test-suite runs
it on every registered activation; users run it on their own entries
(``actlab.activations.verify(get("mine"))``) to get the same treatment.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from .curves import unit_curve
from .registry import Activation

__all__ = ["MeasuredProperties", "measure_properties", "verify", "check_derivative", "check_stability"]

# Tolerances, float64 unless said otherwise.
DERIVATIVE_RTOL = 1e-7  # analytic vs autograd: same math, different rounding
DERIVATIVE_ATOL = 1e-10
FD_STEP = 1e-6  # central differences, truncation error ~ h^2 f''' ~ 1e-12
FD_ATOL = 1e-6  # rounding error ~ eps * |f| / h ~ 1e-10 * |f|
ZERO_CENTRED_RATIO = 0.05  # |E f(z)| < 5% of sqrt(E f(z)^2), z ~ N(0, 1)
LIMIT_SLOPE = 1e-6  # |f'(+-1e4)| below this: f' -> 0 on that side (saturates_left/right)
KINK_PROBE_JUMP = 1e-6  # f'(x + 1e-9) - f'(x - 1e-9) larger than this at a probe: a kink
KINK_GRID_JUMP = 1e-2  # adjacent f' on the 1e-4 grid differ by |f''| * 1e-4 when smooth


def _grid(dtype: torch.dtype = torch.float64) -> Tensor:
    """Dense near zero, sparse far out: (N,), sorted, contains 0 and +-50."""
    inner = torch.linspace(-10, 10, 200_001, dtype=dtype)  # step 1e-4
    outer = torch.linspace(10, 50, 4_001, dtype=dtype)
    special = torch.tensor([0.0, 1.0, -1.0, 3.0, -3.0], dtype=dtype)
    return torch.cat([-outer.flip(0), inner, outer, special]).unique()


def _layer_input(act: Activation, n: int = 4096, scale: float = 3.0, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    k = act.width_multiplier
    return scale * torch.randn(n, 4 * k, generator=g, dtype=torch.float64)


@dataclass(frozen=True)
class MeasuredProperties:
    """Properties as measured on a grid, to compare with the declared ones."""

    output_min: float
    output_max: float
    mean_over_rms: float  # E f(z) / sqrt(E f(z)^2), z ~ N(0, 1)
    negative_outputs: bool
    monotonic: bool
    smooth: bool
    slope_at_minus_1e4: float
    slope_at_plus_1e4: float
    max_abs_derivative: float
    f0: float
    df0: float


def _gaussian_moments(act: Activation) -> tuple[float, float]:
    """(E f(z), E f(z)^2) for z ~ N(0, 1), by the trapezoid rule on [-12, 12]."""
    if act.kind == "layer":
        # maxout: E over k iid N(0, 1) pieces, by seeded sampling (4e6 draws).
        g = torch.Generator().manual_seed(0)
        z = torch.randn(4_000_000 // act.width_multiplier * act.width_multiplier, generator=g, dtype=torch.float64)
        y = act(z.reshape(1, -1))
        return float(y.mean()), float((y * y).mean())
    z = torch.linspace(-12, 12, 480_001, dtype=torch.float64)
    w = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    y = act(z)
    return float(torch.trapezoid(w * y, z)), float(torch.trapezoid(w * y * y, z))


def measure_properties(act: Activation) -> MeasuredProperties:
    """Measure what :class:`~actlab.activations.registry.Properties` declares."""
    mean, second = _gaussian_moments(act)
    rms = math.sqrt(max(second, 0.0))
    if act.kind == "layer":
        z = _layer_input(act)
        y, d = act(z), act.derivative(z)
        # monotonic is about one unit as a function of its input (what `actlab show` draws)
        _, d_unit = unit_curve(act, torch.linspace(-10, 10, 2001, dtype=torch.float64))
        big = torch.full((1, act.width_multiplier), 1e4, dtype=torch.float64)
        return MeasuredProperties(
            output_min=float(act(torch.full((1, act.width_multiplier), -1e6, dtype=torch.float64)).min()),
            output_max=float(act(torch.full((1, act.width_multiplier), 1e6, dtype=torch.float64)).max()),
            mean_over_rms=mean / rms if rms > 0 else 0.0,
            negative_outputs=bool((y < 0).any()),
            monotonic=bool((d_unit >= 0).all()),
            smooth=False,  # the max of pieces has a kink wherever two pieces tie
            slope_at_minus_1e4=float(act.derivative(-big).amax()),
            slope_at_plus_1e4=float(act.derivative(big).amax()),
            max_abs_derivative=float(d.abs().max()),
            f0=float(act(torch.zeros(1, act.width_multiplier, dtype=torch.float64)).squeeze()),
            df0=float(act.derivative(torch.zeros(1, act.width_multiplier, dtype=torch.float64)).max()),
        )
    x = _grid()
    far = torch.tensor([-1e6, -1e4, 1e4, 1e6], dtype=torch.float64)
    y, d = act(torch.cat([x, far])), act.derivative(x)
    # f' continuity: adjacent differences on the 1e-4 grid (|f''| * 1e-4 for
    # smooth f, under 2e-4 for the zoo) and one-sided probes at 0, +-1, +-3.
    inner = (x.abs() <= 10) & (x != 0)
    dd = d[inner].diff().abs().max()
    probes = torch.tensor([0.0, 1.0, -1.0, 3.0, -3.0], dtype=torch.float64)
    h = 1e-9
    jump = (act.derivative(probes + h) - act.derivative(probes - h)).abs().max()
    return MeasuredProperties(
        output_min=float(y.min()),
        output_max=float(y.max()),
        mean_over_rms=mean / rms if rms > 0 else 0.0,
        negative_outputs=bool((y < 0).any()),
        monotonic=bool((d >= -1e-12).all()),
        smooth=bool(float(dd) < KINK_GRID_JUMP and float(jump) < KINK_PROBE_JUMP),
        slope_at_minus_1e4=float(act.derivative(torch.tensor([-1e4], dtype=torch.float64)).abs()),
        slope_at_plus_1e4=float(act.derivative(torch.tensor([1e4], dtype=torch.float64)).abs()),
        max_abs_derivative=float(d.abs().max()),
        f0=float(act(torch.zeros(1, dtype=torch.float64))),
        df0=float(act.derivative(torch.zeros(1, dtype=torch.float64))),  # == autograd: check_derivative
    )


def _close(a: float, b: float, rtol: float, atol: float = 0.0) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= atol + rtol * abs(b)


def check_properties(act: Activation) -> list[str]:
    """Declared properties that the measurement contradicts."""
    p, m = act.properties, measure_properties(act)
    problems: list[str] = []

    def bad(what: str, declared: object, measured: object) -> None:
        problems.append(f"{act.label}: {what} declared {declared}, measured {measured}")

    lo, hi = p.output_range
    if m.output_min < lo - 1e-9 * (1 + abs(lo)) or (math.isfinite(lo) and m.output_min > lo + 1e-3 * (1 + abs(lo))):
        bad("output_range lower bound", lo, m.output_min)
    if math.isinf(lo) and m.output_min > -100:
        bad("output_range lower bound", lo, m.output_min)
    if m.output_max > hi + 1e-9 * (1 + abs(hi)) or (math.isfinite(hi) and m.output_max < hi - 1e-3 * (1 + abs(hi))):
        bad("output_range upper bound", hi, m.output_max)
    if math.isinf(hi) and m.output_max < 100:
        bad("output_range upper bound", hi, m.output_max)
    centred = abs(m.mean_over_rms) < ZERO_CENTRED_RATIO
    if centred != p.zero_centred:
        bad("zero_centred", p.zero_centred, f"{centred} (E f / rms f = {m.mean_over_rms:.4f} for z ~ N(0,1))")
    if m.negative_outputs != p.negative_outputs:
        bad("negative_outputs", p.negative_outputs, m.negative_outputs)
    if m.monotonic != p.monotonic:
        bad("monotonic", p.monotonic, m.monotonic)
    if m.smooth != p.smooth:
        bad("smooth (f' continuous)", p.smooth, m.smooth)
    if (m.slope_at_minus_1e4 < LIMIT_SLOPE) != p.saturates_left:
        bad("saturates_left", p.saturates_left, f"|f'(-1e4)| = {m.slope_at_minus_1e4:.3g}")
    if (m.slope_at_plus_1e4 < LIMIT_SLOPE) != p.saturates_right:
        bad("saturates_right", p.saturates_right, f"|f'(1e4)| = {m.slope_at_plus_1e4:.3g}")
    if not _close(m.max_abs_derivative, p.max_abs_derivative, rtol=1e-5):
        bad("max_abs_derivative", p.max_abs_derivative, m.max_abs_derivative)
    if not _close(m.f0, p.f0, rtol=1e-9, atol=1e-12):
        bad("f(0)", p.f0, m.f0)
    if not _close(m.df0, p.df0, rtol=1e-9, atol=1e-12):
        bad("f'(0)", p.df0, m.df0)
    return problems


def check_derivative(act: Activation) -> list[str]:
    """Analytic derivative vs autograd (dense grid) and vs central finite differences."""
    problems: list[str] = []
    x = _layer_input(act) if act.kind == "layer" else _grid()
    xg = x.clone().requires_grad_(True)
    (auto,) = torch.autograd.grad(act(xg).sum(), xg)
    mine = act.derivative(x)
    if mine.shape != x.shape:
        return [f"{act.label}: derivative has shape {tuple(mine.shape)}, input {tuple(x.shape)}"]
    err = (mine - auto).abs() - (DERIVATIVE_ATOL + DERIVATIVE_RTOL * auto.abs())
    if (err > 0).any():
        i = int(err.argmax())
        problems.append(
            f"{act.label}: derivative {float(mine.flatten()[i])!r} != autograd {float(auto.flatten()[i])!r} "
            f"at x = {float(x.flatten()[i])!r}"
        )
    if act.kind == "elementwise":
        # finite differences at points kept 1e-3 away from the kinks we know of
        pts = torch.linspace(-8, 8, 1601, dtype=torch.float64) + 0.00037
        fd = (act(pts + FD_STEP) - act(pts - FD_STEP)) / (2 * FD_STEP)
        mine_pts = act.derivative(pts)
        err = (fd - mine_pts).abs() - (FD_ATOL + 1e-6 * mine_pts.abs())
        if (err > 0).any():
            i = int(err.argmax())
            problems.append(
                f"{act.label}: derivative {float(mine_pts[i])!r} != finite difference {float(fd[i])!r} at x = {float(pts[i])!r}"
            )
    return problems


def check_gradcheck(act: Activation) -> list[str]:
    """``torch.autograd.gradcheck`` on the module, in float64."""
    module = act.module().double()
    g = torch.Generator().manual_seed(1)
    if act.kind == "layer":
        x = torch.randn(6, 3 * act.width_multiplier, generator=g, dtype=torch.float64)
    else:
        # (2, 3, 5), values kept 1e-3 away from 0 so no finite-difference probe straddles a kink
        x = torch.randn(2, 3, 5, generator=g, dtype=torch.float64) * 3
        x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)
    x.requires_grad_(True)
    try:
        ok = torch.autograd.gradcheck(module, (x,), eps=1e-6, atol=1e-6, rtol=1e-5, raise_exception=False)
    except Exception as exc:  # noqa: BLE001 - a user's module may fail in any way; report it
        return [f"{act.label}: gradcheck raised {type(exc).__name__}: {exc}"]
    return [] if ok else [f"{act.label}: gradcheck of {type(module).__name__} failed"]


def check_stability(act: Activation) -> list[str]:
    """f and f' at +-1e4, +-1e30, +-inf in float32 and float64.

    No NaN, no warning; f' finite everywhere; f finite for finite inputs; f(+-inf)
    the limit (f at +-1e30, or +-inf where f grows without bound).
    """
    problems: list[str] = []
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor([-math.inf, -1e30, -1e4, 1e4, 1e30, math.inf], dtype=dtype)
        if act.kind == "layer":
            x = x.repeat_interleave(act.width_multiplier).reshape(-1, act.width_multiplier)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                y, d = act(x), act.derivative(x)
            except Exception as exc:  # noqa: BLE001 - a warning turned error, or a crash
                problems.append(f"{act.label}: {dtype} raised {type(exc).__name__}: {exc}")
                continue
        y, d = y.flatten(), d.flatten()
        where = f"{act.label} in {str(dtype).replace('torch.', '')}"
        if y.isnan().any() or d.isnan().any():
            problems.append(f"{where}: NaN at +-1e4/1e30/inf (f={y.tolist()}, f'={d.tolist()})")
            continue
        if not d.isfinite().all():
            problems.append(f"{where}: f' not finite: {d.tolist()}")
        if not y[1:-1].isfinite().all():
            problems.append(f"{where}: f not finite for a finite input: {y.tolist()}")
        if act.kind == "elementwise":
            # the limit at +-inf: what f does at +-1e30, or +-inf if f grows like x there
            for at_inf, at_big in ((y[0], y[1]), (y[-1], y[-2])):
                big = float(at_big)
                want = math.copysign(math.inf, big) if abs(big) > 1e20 else big
                if not _close(float(at_inf), want, 1e-6, 1e-6):
                    problems.append(f"{where}: f(+-inf) = {float(at_inf)}, expected the limit {want}")
    return problems


def verify(act: Activation) -> list[str]:
    """Every check on ``act``: derivative, gradcheck, stability, declared properties.

    Returns a list of human-readable problems; empty when all hold.
    """
    return check_derivative(act) + check_gradcheck(act) + check_stability(act) + check_properties(act)
