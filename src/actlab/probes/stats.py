"""Per-tensor statistics: pure reductions that stay on the tensor's device.

Every function here takes tensors and returns tensors (0-d or 1-d), never Python
numbers, so that the :class:`~actlab.probes.Monitor` can call them inside hooks
without a host sync. The monitor sums the raw pieces (counts, sums) over the calls
of one step and finishes the arithmetic on the host, after the one transfer per flush.

Definitions (each has a slow reference in ``tests/test_probes_stats.py``):

* ``moments``: sum and sqrt(M2), M2 = sum (y - mean)^2 (two-pass, so a saturated sigmoid with
  mean 0.99 and std 1e-3 keeps its digits); std = sqrt(M2 / n), the population std. Both
  accumulate in float64 for tensors of at most ``FLOAT64_LIMIT`` values, so that finite
  float32 outputs near 3e38 give finite moments; larger tensors in float32 (see there).
* ``saturated_count``: elements with |f'(x)| < threshold; the monitor uses
  threshold = ``saturation_slope`` (5%) x max |f'| of the activation.
* ``unit_activity``: per unit, the max over the batch (and positions) of |f'(x)|; a
  unit whose value is exactly 0 passes no gradient for any example (is *dead* there).
* ``histogram_counts``: fixed bins over [lo, hi], values beyond the range counted in
  the first / last bin, NaNs in none.
* ``row_sign_counts`` / ``row_sign_coherence`` / ``RowSignCounter``: rows of a weight gradient (dim 0
  against the rest) whose non-zero entries share one sign; all-zero rows are left
  out (as in the ``sign-coherence`` claim).
* ``update_ratio``: ||w_after - w_before|| / ||w_before|| (CS231n notes, "ratio of
  weights:updates").
* ``SegmentHistogram``: per tensor of a list, a histogram over [-m, m] (m = its max |value|)
  of an even strided sample, and the share of sampled entries > 0, for all of them in a
  handful of ops (per-parameter weight and gradient histograms).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "moments",
    "saturated_count",
    "positive_count",
    "unit_sums",
    "default_unit_dim",
    "unit_activity",
    "accumulator",
    "FLOAT64_LIMIT",
    "histogram_counts",
    "sample_stride",
    "row_extremes",
    "row_sign_counts",
    "RowSignCounter",
    "row_sign_coherence",
    "update_ratio",
    "SegmentHistogram",
]


#: Tensors of at most this many values are summed in float64 (finite float32 outputs near
#: 3e38 then give finite moments); larger ones in their own dtype: on the CPU a float64
#: reduction of float32 converts every value first, 22x slower for a sum over a conv
#: activation's units (64x32x28x28: 4.8 ms against 0.22 ms) and 9x for a norm, the
#: largest cost of the monitor on a CNN. Their float32 sums are cascaded (accurate to
#: ~1e-7) and overflow only for outputs beyond ~1e33 (sums) or ~1e19 (the std's squares).
FLOAT64_LIMIT = 1 << 16


def accumulator(y: Tensor) -> torch.dtype | None:
    """The dtype to sum ``y`` in: float64 for small tensors, else None (its own)."""
    return torch.float64 if y.dtype != torch.float64 and y.numel() <= FLOAT64_LIMIT else None


def moments(y: Tensor, scratch: Tensor | None = None, total: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(sum, sqrt(M2)) of all elements of ``y``, both 0-d, where M2 = sum (y - mean)^2 and
    mean = sum / ``y.numel()``; the caller squares the second (on the host).

    Two passes (the sum first, then the norm of the centred values) instead of
    E[y^2] - E[y]^2, whose cancellation loses every digit of a small std next to a large
    mean. ``scratch``: a tensor of ``y``'s shape and dtype to hold y - mean; ``total``:
    the sum, if the caller has it already.
    """
    acc = accumulator(y)  # float32 sums of values near 3e38 overflow; float64 is for small tensors only
    if total is None:
        total = y.sum(dtype=acc)
    # y - mean in y's dtype (a 0-d mean does not promote it); the mean, not alpha x total:
    # the op would cast the float64 total to float32, where it may overflow
    mean = total / y.numel()
    centred = torch.sub(y, mean, out=scratch) if scratch is not None else torch.sub(y, mean)
    return total, torch.linalg.vector_norm(centred, dtype=acc)


def unit_sums(y: Tensor, unit_dim: int, out: Tensor | None = None, dtype: torch.dtype | None = None) -> Tensor:
    """Per unit, the sum over every other dimension: shape (units,), for ``y.ndim >= 2``
    (into ``out`` if given; accumulated and returned in ``dtype`` if given).

    For a non-negative ``y`` (a ReLU's output) a unit's sum is 0 exactly when it was 0
    for the whole batch, so this one pass gives both the dead units and the mean.
    """
    return torch.sum(y, dim=tuple(d for d in range(y.ndim) if d != unit_dim), dtype=dtype, out=out)


def saturated_count(derivative_abs: Tensor, threshold: float) -> Tensor:
    """Number of elements with |f'(x)| < ``threshold`` (0-d int64)."""
    return (derivative_abs < threshold).sum()


def positive_count(y: Tensor, scratch: Tensor | None = None) -> Tensor:
    """Number of elements > 0 of a non-negative ``y`` (0-d float; NaN if ``y`` has a NaN).

    ``sign(y).sum()``: far faster on the CPU than ``count_nonzero`` or a bool sum;
    exact below 2^24 elements, relative error ~1e-7 beyond. ``scratch``: as in ``moments``.
    """
    return torch.sign(y, out=scratch).sum() if scratch is not None else torch.sign(y).sum()


def default_unit_dim(ndim: int) -> int | None:
    """The dimension that indexes units: features of (N, C) and (N, T, C), channels of
    (N, C, H, W) and (N, C, D, H, W), every element of a 1-D tensor; None for a scalar.

    A Conv1d output (N, C, L) reads as (N, T, C) here: pass ``unit_dim=1`` to the
    monitor for those.
    """
    if ndim == 0:
        return None
    if ndim <= 2:
        return ndim - 1
    if ndim == 3:
        return 2
    return 1


def unit_activity(derivative_abs: Tensor, unit_dim: int) -> Tensor:
    """Per unit, the max of |f'(x)| over every other dimension: shape (units,).

    0 means the unit passed no gradient for any example of the batch.
    """
    if derivative_abs.ndim == 1:
        return derivative_abs.unsqueeze(0).amax(0)  # a copy: the input may be overwritten later
    dims = tuple(d for d in range(derivative_abs.ndim) if d != unit_dim)
    return derivative_abs.amax(dim=dims)


def histogram_counts(y: Tensor, lo: float, hi: float, bins: int, clamp: bool = True) -> Tensor:
    """Counts of ``y`` in ``bins`` equal bins over [lo, hi]: shape (bins,), ``y``'s dtype.

    Bin i holds lo + i w <= y < lo + (i + 1) w with w = (hi - lo) / bins; values below
    lo count in bin 0, values at or above hi (+-inf included) in bin bins - 1; NaNs in
    no bin (their number is ``y.numel() - counts.sum()``). Two ops (clamp, histc), or
    one with ``clamp=False`` for values known to lie in [lo, hi]; float counts are exact
    up to 2^24 per bin.
    """
    if y.is_cuda and torch.are_deterministic_algorithms_enabled():
        return _histogram_deterministic(y, lo, hi, bins)
    return torch.histc(y.clamp(lo, hi) if clamp else y, bins, lo, hi)


def _histogram_deterministic(y: Tensor, lo: float, hi: float, bins: int) -> Tensor:
    # torch.histc has no deterministic CUDA kernel. A 1-D scatter_add_ has one, and
    # (unlike bincount, which reads the largest index back to the host) no host sync.
    index = (y.reshape(-1) - lo).mul_(bins / (hi - lo))
    index.clamp_(0, bins - 1).nan_to_num_(nan=float(bins))  # NaNs to an extra last slot
    counts = torch.zeros(bins + 1, dtype=y.dtype, device=y.device)
    counts.scatter_add_(0, index.to(torch.int64), torch.ones_like(index))
    return counts[:bins]


def sample_stride(numel: int, row: int, cap: int) -> int:
    """The stride of an even, deterministic sample of at most ``cap`` of ``numel`` values.

    1 if ``numel <= cap``; else the smallest prime >= ceil(numel / cap) that does not
    divide ``row`` (the size of one example), so that ``flat[::stride]`` visits every
    unit and position rather than the same few columns of each example.
    """
    if numel <= cap:
        return 1
    stride = max(2, -(-numel // cap))
    while not _is_prime(stride) or (row > 0 and row % stride == 0):
        stride += 1
    return stride


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n**0.5) + 1))


def row_extremes(grad: Tensor) -> tuple[Tensor, Tensor]:
    """(max, min) of each row of ``grad`` flattened to (rows, -1): two (rows,) tensors.

    Rows are ``grad[i]``: an output unit's incoming weights, for a Linear or a Conv
    weight. A row is non-zero when max > 0 or min < 0, and its non-zero entries share
    one sign unless both hold.
    """
    rows = grad.reshape(grad.shape[0], -1)  # (out, in...)
    return rows.amax(dim=1), rows.amin(dim=1)


def row_sign_counts(grad: Tensor) -> Tensor:
    """Counts of rows (with a positive entry, with a negative entry, with both): (3,) int64.

    Non-zero rows = positive + negative - both; coherent rows (non-zero entries of one
    sign) = non-zero - both.
    """
    counter = RowSignCounter([grad.shape[0]], grad)
    counter.write(0, grad)
    return counter.counts()[0].round().long()


class RowSignCounter:
    """``row_sign_counts`` of several gradients in a handful of ops whatever their number.

    Gradient k's row maxima and minima go into its span of one (3, rows) buffer
    (``write``); ``counts`` turns them into flags in place and sums them per gradient
    from one cumulative sum over the rows (read at each gradient's last row, then
    differenced): memory and time are linear in the rows, whatever the number of
    gradients, and the result is deterministic on every device. Every view is made once: on a small model the cost of a step's
    reductions is mostly the number of ops, not their size.

    Args:
        sizes: the row count of each gradient (its ``shape[0]``), in order.
        like: a tensor with the gradients' device and dtype; flags are counted in
            float32 at least (exact below 2^24 rows in all).
    """

    def __init__(self, sizes: list[int], like: Tensor) -> None:
        dtype = like.dtype if like.dtype in (torch.float32, torch.float64) else torch.float32
        self.buffer = torch.empty(3, sum(sizes), dtype=dtype, device=like.device)
        # (gradients,): the index of each gradient's last row in the buffer
        self._ends = (torch.tensor(sizes, dtype=torch.long).cumsum(0) - 1).to(like.device)
        self._spans, start = [], 0
        for n in sizes:
            self._spans.append((self.buffer[0, start: start + n], self.buffer[1, start: start + n]))
            start += n
        self._max, self._min, self._both = self.buffer.unbind(0)
        self._columns = self.buffer.t()

    def write(self, k: int, grad: Tensor) -> None:
        """Store the row extremes of gradient ``k`` (rows: ``grad[i]``, flattened)."""
        mx, mn = self._spans[k]
        rows = grad if grad.ndim == 2 else grad.reshape(grad.shape[0], -1)
        if grad.dtype == mx.dtype and grad.device == mx.device:
            torch.amax(rows, dim=1, out=mx)
            torch.amin(rows, dim=1, out=mn)
        else:  # a model with mixed dtypes or devices
            mx.copy_(rows.amax(dim=1), non_blocking=True)
            mn.copy_(rows.amin(dim=1), non_blocking=True)

    def counts(self) -> Tensor:
        """(gradients, 3): rows with a positive entry, with a negative entry, with both,
        in the buffer's dtype. Overwrites the buffer; a gradient not written since the
        last call gets a meaningless row. NaN rows count as neither."""
        self._max.gt_(0)  # 1.0 / 0.0
        self._min.lt_(0)
        torch.mul(self._max, self._min, out=self._both)
        totals = torch.cumsum(self._columns, dim=0).index_select(0, self._ends)  # (gradients, 3), running
        return torch.diff(totals, dim=0, prepend=totals.new_zeros(1, 3))


def row_sign_coherence(grad: Tensor) -> Tensor:
    """Fraction of non-zero rows of ``grad`` whose non-zero entries share one sign (0-d).

    All-zero rows (e.g. of dead units) are left out; NaN if every row is zero.
    """
    positive, negative, both = row_sign_counts(grad).double()
    nonzero = positive + negative - both
    return (nonzero - both) / nonzero


def update_ratio(before: Tensor, after: Tensor) -> Tensor:
    """||after - before|| / ||before|| (0-d); inf if ``before`` is all zeros and it moved."""
    return torch.dist(after, before) / torch.linalg.vector_norm(before)


class SegmentHistogram:
    """Histograms of several tensors (a model's parameters, or their gradients) in a
    handful of ops whatever their number.

    Each tensor contributes an even strided sample of at most ``cap`` values
    (``sample_stride``: every value if it has no more), scaled by its own max |value| m
    into [-1, 1]; tensor k's values go into slots [k bins, (k + 1) bins) of one
    ``histc``. Bin i of tensor k covers [-m + i w, -m + (i + 1) w), w = 2 m / bins (m
    itself in the last bin); NaNs go in no bin. ``positive``: the share of the sampled
    entries > 0 (exact where the tensor has at most ``cap`` entries).

    Args:
        shapes: the tensors' shapes, in order.
        bins: bins per tensor.
        cap: the most sampled values per tensor.
        device: where the tensors live.
    """

    def __init__(self, shapes: list[tuple[int, ...]], bins: int, cap: int, device: torch.device | str) -> None:
        self.bins = bins
        self.strides, sizes = [], []
        for shape in shapes:
            n = 1
            for d in shape:
                n *= d
            stride = sample_stride(n, n // shape[0] if shape and shape[0] else n, cap)
            self.strides.append(stride)
            sizes.append((n - 1) // stride + 1 if n else 0)
        counts = torch.tensor(sizes, dtype=torch.long)
        owner = torch.repeat_interleave(torch.arange(len(sizes)), counts)  # (samples,): the tensor of each
        self._owner = owner.to(device)
        # tensor k's slots: value v -> (v / m + 1) bins / 2 + k bins, clamped into [k bins, (k + 1) bins)
        lo = (owner * bins).to(torch.float32)
        self._base = (lo + bins / 2).to(device)
        self._lo, self._hi = lo.to(device), (lo + bins * (1 - 1e-6)).to(device)
        self._ends = (counts.cumsum(0) - 1).clamp_min(0).to(device)
        self._sizes = counts.to(device=device, dtype=torch.float32)
        self.size = len(sizes)

    def sample(self, tensors: list[Tensor]) -> Tensor:
        """The samples of every tensor, end to end: (samples,) float32."""
        views = [t.reshape(-1)[::s] for t, s in zip(tensors, self.strides, strict=True)]
        return torch.cat(views).float()

    def __call__(self, tensors: list[Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """(counts (tensors, bins), max |value| (tensors,), positive share (tensors,))."""
        flat = self.sample(tensors)  # (samples,)
        scale = torch.zeros(self.size, dtype=flat.dtype, device=flat.device).scatter_reduce_(
            0, self._owner, flat.abs(), "amax")  # (tensors,): max |value| of the sample
        # (tensors,); an all-zero tensor (m = 0, or below 1e-30) puts its zeros in the middle bin
        half_over_m = torch.div(self.bins / 2, scale.clamp_min(1e-30))
        position = torch.addcmul(self._base, flat, half_over_m.index_select(0, self._owner))
        position = torch.clamp(position, self._lo, self._hi)  # m itself in the last bin
        counts = torch.histc(position, self.size * self.bins, 0, self.size * self.bins).view(self.size, self.bins)
        running = torch.cumsum(flat.gt(0), 0).index_select(0, self._ends)  # (tensors,) int64
        positive = torch.diff(running, prepend=running.new_zeros(1)) / self._sizes
        return counts, scale, positive
