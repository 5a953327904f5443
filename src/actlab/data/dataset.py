"""``Dataset``: a train and a test split held as tensors in memory."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

__all__ = ["Dataset", "SPLITS"]

#: The split names every dataset has.
SPLITS = ("train", "test")


@dataclass(frozen=True, eq=False)
class Dataset:
    """Both splits of a dataset: inputs float32, labels int64 in ``0 .. num_classes - 1``.

    Attributes:
        name: canonical dataset name (``"mnist"``, ``"fashion-mnist"``, ``"mnist1d"``, ``"spiral"``).
        x_train, y_train: ``(N, *input_shape)`` float32 and ``(N,)`` int64.
        x_test, y_test: the same for the test split.
        num_classes: number of classes.
        class_names: one name per label.
        info: how the inputs were made: ``source``, ``scaling`` (in words), ``mean`` and
            ``std`` (the training statistics used to standardise, or None), options.

    Examples::

        >>> from actlab.data import load_dataset
        >>> ds = load_dataset("spiral")
        >>> ds.x_train.shape, ds.y_train.dtype, ds.num_classes
        (torch.Size([300, 2]), torch.int64, 3)
        >>> x, y = ds.split("test")
    """

    name: str
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int
    class_names: tuple[str, ...]
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "info", MappingProxyType(dict(self.info)))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one example: ``(784,)``, ``(1, 28, 28)``, ``(40,)``, ``(1, 40)`` or ``(2,)``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_features(self) -> int:
        """Number of input values per example (784, 40 or 2)."""
        return math.prod(self.input_shape)

    def split(self, which: str) -> tuple[Tensor, Tensor]:
        """``(x, y)`` of the ``"train"`` or ``"test"`` split."""
        if which == "train":
            return self.x_train, self.y_train
        if which == "test":
            return self.x_test, self.y_test
        raise ValueError(f"split {which!r} is not one of {', '.join(SPLITS)}")

    def to(self, device: str | torch.device) -> Dataset:
        """The same dataset with its tensors on ``device`` (no copy if they are there already)."""
        return replace(self, x_train=self.x_train.to(device), y_train=self.y_train.to(device),
                       x_test=self.x_test.to(device), y_test=self.y_test.to(device))

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
                f"input_shape={self.input_shape}, num_classes={self.num_classes}, "
                f"device={self.x_train.device.type})")
