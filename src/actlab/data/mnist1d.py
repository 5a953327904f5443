"""MNIST-1D, generated locally (Greydanus & Kobak 2024, "Scaling down deep learning with MNIST-1D").

Ten hand-made 1-D templates (one per digit, 12 points each) are padded with zeros,
stretched, scaled, translated (circularly), filled with correlated noise where the
signal is zero, given i.i.d. noise, sheared, and subsampled to 40 points. The whole
set is then shuffled, centred and scaled to standard deviation 1 (over all samples),
and split 4000 / 1000.

The defaults, the templates and the order of every random draw follow the reference
implementation (github.com/greydanus/mnist1d, ``mnist1d/data.py: get_dataset_args,
get_templates, make_dataset`` and ``mnist1d/transform.py: transform``), so with the
same seed this module produces the reference's arrays (to floating-point rounding);
the tests check that. It needs only numpy: the reference's two scipy calls
(``gaussian_filter(noise, 2)`` and linear ``interp1d``) are written out below.

Examples::

    >>> from actlab.data.mnist1d import MNIST1DConfig, make_mnist1d
    >>> d = make_mnist1d(MNIST1DConfig())
    >>> d.x_train.shape, d.x_test.shape, d.y_train[:5].tolist()
    ((4000, 40), (1000, 40), [2, 6, 4, 5, 6])
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np

__all__ = ["MNIST1DConfig", "MNIST1DArrays", "templates", "make_mnist1d", "gaussian_filter1d_reflect"]


@dataclass(frozen=True)
class MNIST1DConfig:
    """Every setting of the generator, with the reference's defaults (``get_dataset_args``).

    Args:
        num_samples: total examples, train and test (5000); ``num_samples // 10`` per class.
        train_split: fraction that goes to the training split (0.8: 4000 / 1000).
        template_len: template length used for the dilated length (12).
        padding: (low, high) zeros appended to a template, drawn uniformly (36, 60).
        scale_coeff: amplitude scaled by ``1 + scale_coeff * (u - 1/2)`` (0.4).
        max_translation: circular shift drawn from ``0 .. max_translation - 1`` (48).
        corr_noise_scale: std of the noise, smoothed by a Gaussian of sigma 2, that fills
            the zeros (0.25).
        iid_noise_scale: std of the i.i.d. noise added everywhere (0.02).
        shear_scale: a linear ramp of slope ``shear_scale * (u - 1/2)`` is subtracted (0.75).
        shuffle_seq: also permute the 40 positions, the same way for every example (False).
        final_seq_length: points per example (40).
        seed: seed of the legacy numpy generator, as ``np.random.seed`` in the reference (42).
    """

    num_samples: int = 5000
    train_split: float = 0.8
    template_len: int = 12
    padding: tuple[int, int] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 2e-2
    shear_scale: float = 0.75
    shuffle_seq: bool = False
    final_seq_length: int = 40
    seed: int = 42

    def __post_init__(self) -> None:
        padding = tuple(self.padding)
        object.__setattr__(self, "padding", padding)
        if len(padding) != 2 or not all(_is_int(p) for p in padding) or not 0 <= padding[0] <= padding[1]:
            raise ValueError(f"padding must be two integers 0 <= low <= high, got {self.padding!r}")
        for name, low in (("num_samples", 10), ("template_len", 1), ("max_translation", 1),
                          ("final_seq_length", 2), ("seed", 0)):
            value = getattr(self, name)
            if not _is_int(value) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not 0.0 < float(self.train_split) < 1.0:
            raise ValueError(f"train_split must lie strictly between 0 and 1, got {self.train_split!r}")
        for name in ("scale_coeff", "corr_noise_scale", "iid_noise_scale", "shear_scale"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if not isinstance(self.shuffle_seq, bool):
            raise ValueError(f"shuffle_seq must be True or False, got {self.shuffle_seq!r}")
        n_train = int(self.num_samples // 10 * 10 * self.train_split)
        if not 0 < n_train < self.num_samples // 10 * 10:
            raise ValueError(f"num_samples={self.num_samples} with train_split={self.train_split} leaves a split empty")


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class MNIST1DArrays(NamedTuple):
    """The generated arrays: float64 signals ``(N, final_seq_length)``, int64 labels 0..9.

    ``t`` is the reference's spatial coordinate of the 40 points (for plotting signals
    as in the paper: ``plt.plot(x, t)``).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    t: np.ndarray


def templates() -> tuple[np.ndarray, np.ndarray]:
    """The ten digit templates ``(10, 12)`` and their coordinate ``t`` ``(12,)``, as in the reference."""
    digits = np.asarray([
        [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],       # 0
        [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],     # 1
        [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],   # 2
        [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],         # 3
        [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],       # 4
        [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],           # 5
        [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],       # 6
        [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],     # 7
        [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],         # 8
        [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],         # 9
    ])
    digits -= digits.mean(1, keepdims=True)  # whiten each template
    digits /= digits.std(1, keepdims=True)
    digits -= digits[:, :1]                  # start (and end) at 0
    t = np.linspace(-5, 5, digits.shape[1]) / 6.0
    return digits / 6.0, t


def gaussian_filter1d_reflect(x: np.ndarray, sigma: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing along the last axis with 'reflect' borders, as ``scipy.ndimage.gaussian_filter``.

    Same kernel (radius ``int(truncate * sigma + 0.5)``, normalised) and the same order of
    accumulation as scipy's symmetric-kernel path, so results agree to the last bit or so.
    """
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 / (sigma * sigma) * offsets ** 2)
    kernel = kernel / kernel.sum()
    # 'reflect' in scipy is (d c b a | a b c d | d c b a): numpy's 'symmetric'. The
    # reflection is repeated for signals shorter than the radius, as scipy does.
    pad_width = [(0, 0)] * (x.ndim - 1) + [(radius, radius)]
    padded = np.pad(x, pad_width, mode="symmetric")
    n = x.shape[-1]
    out = padded[..., radius:radius + n] * kernel[radius]
    for j in range(radius, 0, -1):  # scipy adds the outermost pair first
        out += (padded[..., radius - j:radius - j + n] + padded[..., radius + j:radius + j + n]) * kernel[radius + j]
    return out


def make_mnist1d(config: MNIST1DConfig | None = None) -> MNIST1DArrays:
    """Generate MNIST-1D as the reference's ``make_dataset`` does (about 0.1-0.3 s for the defaults).

    Results are cached per process by config; the returned arrays are read-only
    (copy them before changing them in place).
    """
    return _make_cached(MNIST1DConfig() if config is None else config)


@functools.lru_cache(maxsize=4)
def _make_cached(config: MNIST1DConfig) -> MNIST1DArrays:
    base, t = templates()                                            # (10, 12), (12,)
    rng = np.random.RandomState(config.seed)                         # = np.random.seed(seed)
    low, high = config.padding
    length = config.template_len + high                              # dilated length (72)
    grid = np.linspace(0, 1, length)
    per_class = config.num_samples // len(base)
    n = per_class * len(base)

    # Every (digit, padding) pair dilates to the same row: 10 x 25 rows by default, made once.
    dilated_table = np.empty((len(base), high - low + 1, length))
    for pad in range(low, high + 1):
        padded = np.concatenate([base + 1e-8, np.zeros((len(base), pad))], axis=1)  # +eps: never exactly 0
        source = np.linspace(0, 1, padded.shape[1])
        for label in range(len(base)):
            dilated_table[label, pad - low] = np.interp(grid, source, padded[label])

    pad_index = np.empty(n, dtype=np.int64)
    scale_u = np.empty(n)
    shift = np.empty(n, dtype=np.int64)
    corr = np.empty((n, length))
    iid = np.empty((n, length))
    shear_u = np.empty(n)
    labels = np.repeat(np.arange(len(base)), per_class)
    for i in range(n):
        # The random draws, in the reference's order (pad, scale, translate, correlated
        # noise, i.i.d. noise, shear); the arithmetic is done on all examples below.
        pad_index[i] = int(rng.rand() * (high - low + 1))
        scale_u[i] = rng.rand()
        shift[i] = rng.choice(config.max_translation)
        corr[i] = rng.randn(length)
        iid[i] = rng.randn(length)
        shear_u[i] = rng.rand()

    x = dilated_table[labels, pad_index]                                    # (n, 72)
    x = x * (1 + config.scale_coeff * (scale_u[:, None] - 0.5))             # scale
    # translate: the reference's concatenate([x[-k:], x[:-k]]) is a circular shift right
    # by k, and no shift at all when k >= length (possible only if max_translation > 72).
    shift = np.where(shift < length, shift, 0)
    cols = (np.arange(length)[None, :] - shift[:, None]) % length
    x = np.take_along_axis(x, cols, axis=1)
    smooth = gaussian_filter1d_reflect(config.corr_noise_scale * corr, 2.0)
    x = np.where(x != 0, x, smooth)                                         # noise fills the padding
    x = x + config.iid_noise_scale * iid
    x = x - (config.shear_scale * (shear_u[:, None] - 0.5)) * np.linspace(-0.5, 0.5, length)
    final = np.linspace(0, 1, config.final_seq_length)
    x = np.stack([np.interp(final, grid, row) for row in x])                # subsample, (n, 40)
    new_t = np.interp(final, grid, np.interp(grid, np.linspace(0, 1, len(t)), t))

    order = rng.permutation(n)                                             # shuffle the examples
    x, labels = x[order], labels[order]
    if config.shuffle_seq:
        x = x[:, rng.permutation(config.final_seq_length)]
    new_t = new_t / x.std()
    x = (x - x.mean()) / x.std()                                           # over the whole set

    split = int(n * config.train_split)
    arrays = MNIST1DArrays(x[:split], labels[:split].astype(np.int64), x[split:],
                           labels[split:].astype(np.int64), new_t)
    for array in arrays:
        array.flags.writeable = False  # shared by the cache
    return arrays


def config_fields() -> tuple[str, ...]:
    """Names of the :class:`MNIST1DConfig` settings (the options ``load_dataset('mnist1d')`` takes)."""
    return tuple(f.name for f in fields(MNIST1DConfig))
