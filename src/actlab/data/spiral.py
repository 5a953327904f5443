"""The spiral toy dataset of the CS231n notes ("Neural Networks Case Study: Generating some data").

K classes, N points per class; class j is an arm with radius ``r = linspace(0, 1, N)``
and angle ``t = linspace(4j, 4(j + 1), N) + noise * randn(N)``, at ``(r sin t, r cos t)``.
The notes' defaults: N = 100, K = 3, noise 0.2. A linear classifier reaches only about
49% training accuracy on it; a 2-layer ReLU net about 98%.

With the same seed, the training split equals the notes' ``X, y`` after
``np.random.seed(seed)``: the draws are the same. The test split is a second, independent
draw of the same kind (the notes have none).
"""

from __future__ import annotations

import numpy as np

__all__ = ["make_spiral"]


def make_spiral(classes: int = 3, points_per_class: int = 100, noise: float = 0.2, *,
                seed: int | None = None, rng: np.random.RandomState | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spiral points ``(K * N, 2)`` float64 and labels ``(K * N,)`` int64, ordered by class.

    Args:
        classes: K, the number of arms (3).
        points_per_class: N (100).
        noise: standard deviation of the angle noise in radians (0.2).
        seed: seed of a legacy numpy generator, like ``np.random.seed`` in the notes (default 0).
        rng: draw from this generator instead (passing both is an error).

    Examples::

        >>> x, y = make_spiral()
        >>> x.shape, y.shape, int(y.max())
        ((300, 2), (300,), 2)
    """
    for name, value in (("classes", classes), ("points_per_class", points_per_class)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if rng is not None and seed is not None:
        raise ValueError("pass either seed or rng, not both")
    if rng is None:
        seed = 0 if seed is None else seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
            raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
        rng = np.random.RandomState(seed)
    n = points_per_class
    x = np.zeros((n * classes, 2))
    y = np.zeros(n * classes, dtype=np.int64)
    for j in range(classes):
        rows = slice(n * j, n * (j + 1))
        r = np.linspace(0.0, 1, n)                                         # radius
        t = np.linspace(j * 4, (j + 1) * 4, n) + rng.randn(n) * noise     # angle
        x[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = j
    return x, y
