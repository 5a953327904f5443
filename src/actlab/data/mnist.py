"""MNIST and Fashion-MNIST from their original IDX ``.gz`` files, as raw uint8 tensors.

:func:`read_image_split` finds and verifies the files (see :mod:`actlab.data.files`)
and decodes them. Decoded splits are kept in memory per process (about 55 MB of uint8
per dataset), keyed by the files' identity, so loading a dataset twice costs only the
float conversion; :func:`clear_cache` drops them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch
from torch import Tensor

from .errors import DataError
from .files import FILES, RemoteFile, clear_checks, fetch_file
from .idx import IMAGES_MAGIC, LABELS_MAGIC, read_idx

__all__ = ["IMAGE_DATASETS", "SPLIT_FILES", "FASHION_CLASSES", "read_image_split", "clear_cache"]

#: The IDX-backed datasets (folder names in a data folder).
IMAGE_DATASETS = ("mnist", "fashion-mnist")

#: split -> (images file, labels file), the same names for both datasets.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

#: Fashion-MNIST class names, by label (from the authors' README).
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def read_image_split(dataset: str, split: str, *, data_dir: str | os.PathLike[str] | None = None,
                     download: bool = True) -> tuple[Tensor, Tensor]:
    """``(images, labels)`` of one split: uint8 ``(N, 28, 28)`` pixels 0..255 and int64 ``(N,)`` labels 0..9.

    The returned tensors are shared with the in-process cache: do not modify them in
    place (the float conversion done by :func:`~actlab.data.load_dataset` makes a copy).

    Raises:
        DataError: a file is missing (and not downloadable), damaged, or inconsistent.
    """
    if dataset not in IMAGE_DATASETS:
        raise ValueError(f"{dataset!r} is not an IDX dataset; choose from {', '.join(IMAGE_DATASETS)}")
    if split not in SPLIT_FILES:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLIT_FILES)}")
    remotes = [FILES[dataset][name] for name in SPLIT_FILES[split]]
    # Locate and verify both files before decoding either: a damaged file fails in
    # milliseconds, not after a 0.3 s decompression of its partner.
    images_path, labels_path = (fetch_file(r, data_dir=data_dir, download=download) for r in remotes)
    images = _decode(images_path, IMAGES_MAGIC)  # (N, 28, 28) uint8
    labels = _decode(labels_path, LABELS_MAGIC)  # (N,) uint8
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path} holds images of {tuple(images.shape[1:])} pixels, not 28x28", images_path)
    if images.shape[0] != labels.shape[0]:
        raise DataError(f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
                        f"{labels.shape[0]} labels; replace them with the original files", labels_path)
    if labels.numel() and int(labels.max()) > 9:
        raise DataError(f"{labels_path} holds a label {int(labels.max())} outside 0..9; "
                        f"replace it with the original file", labels_path)
    return images, labels.to(torch.int64)


def _decode(path: Path, magic: int) -> Tensor:
    st = path.stat()
    real_path = os.path.realpath(path)
    try:
        return _decode_cached(real_path, st.st_size, st.st_mtime_ns, magic)
    except DataError as exc:  # name the path the caller knows, not a symlink's target
        raise DataError(str(exc).replace(real_path, str(path)), path) from None


# Per-process cache of decoded files (uint8 tensors), keyed by file identity (a replaced
# or touched file is read again; symlinks share their target's entry). 8 entries hold
# both datasets' four files.
@functools.lru_cache(maxsize=8)
def _decode_cached(real_path: str, size: int, mtime_ns: int, magic: int) -> Tensor:
    del size, mtime_ns  # part of the key only
    return torch.from_numpy(read_idx(real_path, expected_magic=magic))


def clear_cache() -> None:
    """Forget this process's decoded files and remembered checksum checks."""
    _decode_cached.cache_clear()
    clear_checks()


def remote_files(dataset: str) -> list[RemoteFile]:
    """The four published files of ``dataset`` (train images, train labels, test images, test labels)."""
    return [FILES[dataset][name] for pair in SPLIT_FILES.values() for name in pair]
