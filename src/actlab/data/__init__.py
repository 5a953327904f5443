"""Datasets behind one loader: MNIST, Fashion-MNIST, MNIST-1D and the CS231n spiral.

``load_dataset(name, ...)`` returns a :class:`Dataset` with both splits in memory as
tensors (inputs float32, labels int64); :class:`BatchLoader` (or :func:`batches`)
cuts them into seeded minibatches.

* ``"mnist"``, ``"fashion-mnist"``: the original IDX ``.gz`` files, pixels scaled by
  1/255 to [0, 1]. Looked up in ``data_dir`` / ``$ACTLAB_DATA_DIR`` as
  ``<dir>/mnist/*.gz`` and ``<dir>/fashion-mnist/*.gz``, then in the cache folder
  (``$ACTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/actlab``, else ``~/.cache/actlab``), else
  downloaded there once from the public mirrors (``$ACTLAB_DATA_MIRROR``: your own base
  URL instead). Every file is checked against its published SHA-256.
  ``$ACTLAB_OFFLINE=1`` turns every download into an error (the tests set it).
* ``"mnist1d"``: generated locally with the reference's defaults (4000 train / 1000 test,
  40 points; see :mod:`actlab.data.mnist1d`).
* ``"spiral"``: the CS231n notes' spiral (3 classes x 100 points, angle noise 0.2).

Every failure to find or read a file is a :class:`DataError` (a ``ValueError``) whose
one-line message names the file and the fix.

Examples::

    >>> from actlab.data import load_dataset, BatchLoader
    >>> ds = load_dataset("mnist1d")
    >>> ds
    Dataset('mnist1d', train=4000, test=1000, input_shape=(40,), num_classes=10, device=cpu)
    >>> loader = BatchLoader(ds.x_train, ds.y_train, batch_size=100, seed=0)
    >>> xb, yb = next(iter(loader))
    >>> tuple(xb.shape), yb.dtype
    ((100, 40), torch.int64)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .batches import BatchLoader, batch_indices, batches
from .dataset import SPLITS, Dataset
from .errors import DataError, UnknownDatasetError
from .files import FILES, MIRRORS, RemoteFile, default_cache_dir, fetch_file, offline, verify_file
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx
from .mnist import FASHION_CLASSES, IMAGE_DATASETS, clear_cache, read_image_split, remote_files
from .mnist1d import MNIST1DArrays, MNIST1DConfig, config_fields, make_mnist1d
from .spiral import make_spiral

__all__ = [
    "DATASETS",
    "SPLITS",
    "Dataset",
    "DataError",
    "UnknownDatasetError",
    "load_dataset",
    "resolve_data",
    "dataset_names",
    "resolve_dataset_name",
    "BatchLoader",
    "batch_indices",
    "batches",
    "MNIST1DConfig",
    "MNIST1DArrays",
    "make_mnist1d",
    "make_spiral",
    "read_idx",
    "read_image_split",
    "fetch_file",
    "verify_file",
    "default_cache_dir",
    "offline",
    "clear_cache",
    "FILES",
    "MIRRORS",
    "RemoteFile",
    "IMAGES_MAGIC",
    "LABELS_MAGIC",
    "FASHION_CLASSES",
    "IMAGE_DATASETS",
]

#: The canonical dataset names, in the order ``actlab`` lists them.
DATASETS = ("mnist", "fashion-mnist", "mnist1d", "spiral", "cifar10")

_ALIASES = {
    "fashion": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
    "mnist-1d": "mnist1d",
    "cifar-10": "cifar10",
}

_SPIRAL_OPTIONS = ("classes", "points_per_class", "test_points_per_class", "noise", "seed")


def dataset_names() -> list[str]:
    """The canonical names ``load_dataset`` accepts."""
    return list(DATASETS)


def resolve_dataset_name(name: str) -> str:
    """'Fashion_MNIST' -> 'fashion-mnist': case-insensitive, '_' or ' ' for '-', a few aliases.

    Raises:
        UnknownDatasetError: not a dataset name; the message lists the valid ones.
    """
    if not isinstance(name, str):
        raise UnknownDatasetError(f"a dataset name must be a string, got {type(name).__name__}; "
                                  f"valid names: {', '.join(DATASETS)}")
    key = "-".join(name.strip().lower().replace("_", " ").replace("-", " ").split())
    key = _ALIASES.get(key, key)
    if key not in DATASETS:
        raise UnknownDatasetError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    return key


def resolve_data(name: str, data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Make sure dataset ``name`` can be read, before any work: its files, found (and checked
    against their SHA-256) or downloaded now where downloads are allowed. Generated datasets
    (mnist1d, spiral) need no file: ``[]``. DataError, naming the folder or file, otherwise."""
    from .cifar10 import locate_cifar10
    from .files import check_data_folder

    key = resolve_dataset_name(name)
    check_data_folder(data_dir)
    if key in ("mnist", "fashion-mnist"):
        return [fetch_file(remote, data_dir=data_dir) for remote in remote_files(key)]
    if key == "cifar10":
        return [locate_cifar10(data_dir)[0]]
    return []


def load_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    flatten: bool = True,
    standardize: bool = False,
    max_train: int | None = None,
    max_test: int | None = None,
    **options: Any,
) -> Dataset:
    """Load a dataset by name, both splits in memory: x float32, y int64.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"mnist1d"`` or ``"spiral"``
            (case-insensitive; ``fashion_mnist`` and ``mnist-1d`` work too).
        data_dir: folder holding ``mnist/`` and ``fashion-mnist/`` with the original
            ``.gz`` files; default ``$ACTLAB_DATA_DIR``. Used by the file-backed datasets only.
        download: allow downloading missing files into the cache folder (file-backed
            datasets only; ``$ACTLAB_OFFLINE=1`` forbids it regardless).
        flatten: one row per example: images ``(N, 784)``, MNIST-1D ``(N, 40)``. If False,
            channel-first for convolutions: ``(N, 1, 28, 28)``, ``(N, 1, 40)``. Spiral
            points are ``(N, 2)`` either way.
        standardize: after the scaling below, subtract the training split's mean and
            divide by its std (one scalar each, over all training values; recorded in
            ``info["mean"]``, ``info["std"]``) from both splits.
        max_train, max_test: keep only the first this many examples of a split (None: all);
            the training statistics are taken over the examples kept.
        **options: generator settings: for ``"mnist1d"`` the fields of
            :class:`MNIST1DConfig` (``seed=42``, ``num_samples=5000``, ...); for ``"spiral"``
            ``classes=3``, ``points_per_class=100``, ``test_points_per_class`` (default
            ``points_per_class``), ``noise=0.2``, ``seed=0``. The image datasets take none.

    Scaling: images are ``pixels / 255`` in [0, 1] (MNIST train mean 0.1307, std 0.3081);
    MNIST-1D is as the reference generates it (centred, std 1 over all 5000 examples);
    spiral points are raw coordinates in [-1, 1].

    Raises:
        UnknownDatasetError: an unknown name (a ValueError listing the valid names).
        TypeError: an option the dataset does not take.
        ValueError: a bad option value.
        DataError: a file missing (and not downloadable), damaged, or not downloadable.
    """
    key = resolve_dataset_name(name)
    for flag, value in (("download", download), ("flatten", flatten), ("standardize", standardize)):
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be True or False, got {value!r}")
    for what, limit in (("max_train", max_train), ("max_test", max_test)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
            raise ValueError(f"{what} must be a positive integer or None, got {limit!r}")
    raw = _LOADERS[key](options, data_dir=data_dir, download=download)
    x_train, y_train = _first(raw.x_train, raw.y_train, max_train, "max_train", key)
    x_test, y_test = _first(raw.x_test, raw.y_test, max_test, "max_test", key)

    info: dict[str, Any] = {"source": raw.source, "scaling": raw.scaling, "mean": None, "std": None,
                            "options": raw.options}
    if raw.files:
        info["files"] = raw.files
    if standardize:
        mean, std = _mean_std(x_train)
        if not std > 0:
            raise ValueError(f"cannot standardise {key}: the training inputs are constant (std 0)")
        info.update(mean=mean, std=std, scaling=f"{raw.scaling}; then (x - {mean:.4f}) / {std:.4f}, "
                                                  "the training split's mean and std")
    x_train, x_test = (_to_float(x, info) for x in (x_train, x_test))
    shape = raw.flat_shape if flatten else raw.channel_shape
    return Dataset(
        name=key,
        x_train=x_train.reshape(x_train.shape[0], *shape),
        y_train=y_train,
        x_test=x_test.reshape(x_test.shape[0], *shape),
        y_test=y_test,
        num_classes=len(raw.class_names),
        class_names=raw.class_names,
        info=info,
    )


class _Raw:
    """What a per-dataset loader hands back: unscaled arrays and how to describe them."""

    def __init__(self, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor, *,
                 class_names: tuple[str, ...], flat_shape: tuple[int, ...], channel_shape: tuple[int, ...],
                 source: str, scaling: str, options: dict[str, Any], files: tuple[str, ...] = ()) -> None:
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test
        self.class_names, self.flat_shape, self.channel_shape = class_names, flat_shape, channel_shape
        self.source, self.scaling, self.options, self.files = source, scaling, options, files


def _check_options(key: str, options: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) if allowed else "no options"
        raise TypeError(f"load_dataset({key!r}) got unexpected option(s) {', '.join(unknown)}; it takes {takes}")


def _load_images(key: str) -> Callable[..., _Raw]:
    def load(options: dict[str, Any], *, data_dir: str | os.PathLike[str] | None, download: bool) -> _Raw:
        _check_options(key, options, ())
        # Find and verify all four files before decoding any: a missing or damaged test
        # file is reported at once, not after the training images are decompressed.
        paths = [fetch_file(remote, data_dir=data_dir, download=download) for remote in remote_files(key)]
        x_train, y_train = read_image_split(key, "train", data_dir=data_dir, download=download)
        x_test, y_test = read_image_split(key, "test", data_dir=data_dir, download=download)
        names = FASHION_CLASSES if key == "fashion-mnist" else tuple(str(d) for d in range(10))
        source = ("MNIST (LeCun, Cortes, Burges), original IDX files" if key == "mnist" else
                  "Fashion-MNIST (Xiao, Rasul, Vollgraf 2017), original IDX files")
        return _Raw(x_train, y_train, x_test, y_test, class_names=names, flat_shape=(784,),
                    channel_shape=(1, 28, 28), source=source, scaling="pixels / 255, in [0, 1]",
                    options={}, files=tuple(str(p) for p in paths))

    return load


def _load_mnist1d(options: dict[str, Any], *, data_dir: str | os.PathLike[str] | None, download: bool) -> _Raw:
    _check_options("mnist1d", options, config_fields())
    config = MNIST1DConfig(**options)
    arrays = make_mnist1d(config)
    length = config.final_seq_length
    return _Raw(*(torch.from_numpy(np.array(a)) for a in arrays[:4]),
                class_names=tuple(str(d) for d in range(10)), flat_shape=(length,), channel_shape=(1, length),
                source="MNIST-1D (Greydanus & Kobak 2024), generated locally as the reference make_dataset",
                scaling="as generated: centred and scaled to std 1 over all examples, train and test",
                options={k: getattr(config, k) for k in config_fields()})


def _load_spiral(options: dict[str, Any], *, data_dir: str | os.PathLike[str] | None, download: bool) -> _Raw:
    _check_options("spiral", options, _SPIRAL_OPTIONS)
    settings = {"classes": 3, "points_per_class": 100, "noise": 0.2, "seed": 0, **options}
    settings.setdefault("test_points_per_class", settings["points_per_class"])
    seed = settings["seed"]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    rng = np.random.RandomState(seed)  # train first, then test, from one stream
    x_train, y_train = make_spiral(settings["classes"], settings["points_per_class"], settings["noise"], rng=rng)
    x_test, y_test = make_spiral(settings["classes"], settings["test_points_per_class"], settings["noise"], rng=rng)
    return _Raw(*(torch.from_numpy(a) for a in (x_train, y_train, x_test, y_test)),
                class_names=tuple(str(j) for j in range(settings["classes"])), flat_shape=(2,),
                channel_shape=(2,), source="spiral of the CS231n notes (Neural Networks Case Study)",
                scaling="raw coordinates in [-1, 1]", options=settings)


def _load_cifar10(options: dict[str, Any], *, data_dir: str | os.PathLike[str] | None, download: bool) -> _Raw:
    # a folder the user has (binary or python release), else the python archive downloaded on
    # request, MD5-checked as torchvision checks it: see actlab.data.cifar10
    from .cifar10 import CIFAR10_CLASSES, load_cifar10

    _check_options("cifar10", options, ())
    (x_train, y_train, x_test, y_test), folder = load_cifar10(data_dir, download=download)
    return _Raw(x_train, y_train, x_test, y_test, class_names=CIFAR10_CLASSES, flat_shape=(3072,),
                channel_shape=(3, 32, 32), source=f"CIFAR-10 (Krizhevsky 2009), {folder.name}",
                scaling="pixels / 255, in [0, 1]", options={}, files=(str(folder),))


_LOADERS: dict[str, Callable[..., _Raw]] = {
    "mnist": _load_images("mnist"),
    "fashion-mnist": _load_images("fashion-mnist"),
    "mnist1d": _load_mnist1d,
    "spiral": _load_spiral,
    "cifar10": _load_cifar10,
}


def _first(x: Tensor, y: Tensor, limit: int | None, what: str, key: str) -> tuple[Tensor, Tensor]:
    if limit is None:
        return x, y
    if limit > x.shape[0]:
        raise ValueError(f"{what}={limit} is more than the {x.shape[0]} examples of {key}")
    return x[:limit], y[:limit]


def _mean_std(x: Tensor) -> tuple[float, float]:
    """Mean and (population) std of all values of the training inputs, in float64, before scaling."""
    if x.dtype == torch.uint8:
        # Exact and cheap for pixels: a 256-bin histogram instead of a float64 copy.
        counts = torch.bincount(x.flatten(), minlength=256).to(torch.float64)
        values = torch.arange(256, dtype=torch.float64) / 255
        total = counts.sum()
        mean = float((counts * values).sum() / total)
        std = float(((counts * (values - mean) ** 2).sum() / total).sqrt())
        return mean, std
    x64 = x.to(torch.float64)
    return float(x64.mean()), float(x64.std(correction=0))


def _to_float(x: Tensor, info: dict[str, Any]) -> Tensor:
    """float32 inputs, scaled as ``info`` says; always a new tensor (the raw ones may be cached)."""
    if x.dtype == torch.uint8:
        out = x.to(torch.float32).div_(255)
    else:
        out = x.to(torch.float32, copy=True)
    if info["mean"] is not None:
        out.sub_(info["mean"]).div_(info["std"])
    return out
