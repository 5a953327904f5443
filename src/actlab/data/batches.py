"""Minibatches without a DataLoader: one seeded permutation per epoch, then slices.

The only per-batch work is slicing the permutation and gathering the rows
(``index_select``, several times faster than ``x[idx]`` for small batches on the CPU),
so an epoch over in-memory tensors costs little more than the gather itself. The permutation is drawn on the CPU from a ``torch.Generator``, so a seed
gives the same order on every device, and moved to the data's device once per epoch.

Examples::

    >>> import torch
    >>> from actlab.data import BatchLoader
    >>> x, y = torch.randn(10, 3), torch.arange(10)
    >>> loader = BatchLoader(x, y, batch_size=4, seed=0)
    >>> len(loader), [len(yb) for _, yb in loader]
    (3, [4, 4, 2])
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

__all__ = ["batch_indices", "batches", "BatchLoader"]


def _check_sizes(n: int, batch_size: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"the number of examples must be an integer >= 0, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def batch_indices(n: int, batch_size: int, *, shuffle: bool = True, generator: torch.Generator | None = None,
                  drop_last: bool = False, device: str | torch.device | None = None) -> Iterator[Tensor]:
    """One epoch of index tensors (int64) that cover ``range(n)`` once, ``batch_size`` at a time.

    Args:
        n: number of examples.
        batch_size: indices per batch (the last batch may be smaller unless ``drop_last``).
        shuffle: a random permutation (else ``0 .. n-1`` in order).
        generator: a CPU ``torch.Generator`` to draw the permutation from; None uses
            torch's global generator.
        drop_last: leave out a last, smaller batch.
        device: where the indices live (default CPU).
    """
    _check_sizes(n, batch_size)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    if device is not None:
        order = order.to(device)  # one transfer per epoch, not per batch
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]  # a view: no copy


def batches(x: Tensor, y: Tensor, batch_size: int, *, shuffle: bool = True,
            generator: torch.Generator | None = None, drop_last: bool = False) -> Iterator[tuple[Tensor, Tensor]]:
    """One epoch of ``(x[idx], y[idx])`` batches (see :func:`batch_indices` for the arguments).

    Without shuffling the batches are views (plain slices); with it, each is a gather
    (``x.index_select(0, idx)``, the same values as ``x[idx]``).
    """
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x has {x.shape[0]} examples but y has {y.shape[0]}")
    n = x.shape[0]
    if not shuffle:
        _check_sizes(n, batch_size)
        stop = n - n % batch_size if drop_last else n
        for start in range(0, stop, batch_size):
            yield x[start:start + batch_size], y[start:start + batch_size]
        return
    for idx in batch_indices(n, batch_size, shuffle=True, generator=generator, drop_last=drop_last,
                             device=x.device):
        yield x.index_select(0, idx), y.index_select(0, idx)


class BatchLoader:
    """Epoch after epoch of ``(x, y)`` minibatches in a seeded order.

    Each ``for xb, yb in loader`` is one epoch with a fresh permutation from a generator
    seeded once with ``seed``: the sequence of epochs is the same for the same seed, on
    any device.

    Args:
        x, y: inputs ``(N, ...)`` and labels ``(N,)``, on any one device.
        batch_size: examples per batch.
        seed: seed of the permutation generator.
        shuffle: shuffle each epoch (else the stored order, every epoch).
        drop_last: leave out a last, smaller batch.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, *, seed: int = 0, shuffle: bool = True,
                 drop_last: bool = False) -> None:
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"x has {x.shape[0]} examples but y has {y.shape[0]}")
        _check_sizes(x.shape[0], batch_size)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.epochs_started = 0

    def __len__(self) -> int:
        """Batches per epoch."""
        n = self.x.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        # The permutation is drawn here, not at the first batch, so epochs keep their
        # order however the iterators are interleaved.
        self.epochs_started += 1
        if not self.shuffle:
            return batches(self.x, self.y, self.batch_size, shuffle=False, drop_last=self.drop_last)
        order = torch.randperm(self.x.shape[0], generator=self.generator).to(self.x.device)
        return self._epoch(order)

    def _epoch(self, order: Tensor) -> Iterator[tuple[Tensor, Tensor]]:
        n = order.shape[0]
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield self.x.index_select(0, idx), self.y.index_select(0, idx)

    def __repr__(self) -> str:
        return (f"BatchLoader(n={self.x.shape[0]}, batch_size={self.batch_size}, seed={self.seed}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
