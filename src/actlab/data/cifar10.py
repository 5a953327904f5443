"""CIFAR-10 from a folder in its standard binary layout (``cifar-10-batches-bin``).

actlab never downloads CIFAR-10 (170 MB); a user who has it points ``--data-dir`` (or
``$ACTLAB_DATA_DIR``) at a folder that holds ``cifar-10-batches-bin/`` (as the
official ``cifar-10-binary.tar.gz`` unpacks), or at that folder itself. Its files:

* ``data_batch_1.bin`` .. ``data_batch_5.bin`` (training, 10000 images each) and
  ``test_batch.bin`` (10000 images);
* each is a sequence of 3073-byte records: 1 label byte (0..9), then 3072 pixel bytes,
  1024 red, 1024 green, 1024 blue, each plane row-major 32x32 (Krizhevsky's
  "Learning Multiple Layers of Features from Tiny Images", the dataset page).

Checks, before any decoding: every file present; its size a whole number of records
(30,730,000 bytes for the official files); its SHA-256 equal to the expected sum when
one is known: ``checksums`` given by the caller, else a ``SHA256SUMS`` file in the
folder (``sha256sum *.bin > SHA256SUMS``, the layout of ``../shared/data``), else
:data:`CIFAR10_SHA256`. Labels outside 0..9 are an error. Every failure is a
:class:`~actlab.data.errors.DataError` naming the file and the fix.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import DataError

__all__ = ["FOLDER", "TRAIN_FILES", "TEST_FILES", "RECORD_BYTES", "IMAGES_PER_FILE", "CIFAR10_CLASSES",
           "CIFAR10_SHA256", "find_cifar10", "read_cifar10", "sha256_of"]

FOLDER = "cifar-10-batches-bin"
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
RECORD_BYTES = 1 + 3 * 32 * 32
IMAGES_PER_FILE = 10_000
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: Expected SHA-256 per file of the official release. Left empty on purpose: the sums of
#: the unpacked files were not at hand offline when this loader was written, and a made-up
#: sum would reject the real files. Until they are filled in, a folder's own SHA256SUMS (or
#: the ``checksums`` argument) is what is checked, and the record-size check always runs.
CIFAR10_SHA256: Mapping[str, str] = {}


def find_cifar10(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The ``cifar-10-batches-bin`` folder under ``data_dir`` / ``$ACTLAB_DATA_DIR`` (or that folder itself)."""
    base = data_dir if data_dir is not None else os.environ.get("ACTLAB_DATA_DIR")
    if base is None:
        raise DataError("CIFAR-10 is not downloaded by actlab: unpack cifar-10-binary.tar.gz from "
                        "https://www.cs.toronto.edu/~kriz/cifar.html and pass --data-dir DIR (the folder "
                        f"holding {FOLDER}/) or set ACTLAB_DATA_DIR")
    base = Path(base)
    for candidate in (base / FOLDER, base / "cifar10" / FOLDER, base):
        if (candidate / TEST_FILES[0]).is_file() or (candidate / TRAIN_FILES[0]).is_file():
            return candidate
    raise DataError(f"no CIFAR-10 folder under {base}: expected {base / FOLDER}/data_batch_1.bin .. test_batch.bin "
                    "(unpack cifar-10-binary.tar.gz there)", base / FOLDER)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_sums(folder: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    path = folder / "SHA256SUMS"
    if path.is_file():
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) == 2:
                sums[parts[1].lstrip("*").split("/")[-1]] = parts[0].lower()
    return sums


def _check(path: Path, expected: str | None) -> int:
    """Number of records in ``path`` after the presence, size and checksum checks."""
    if not path.is_file():
        raise DataError(f"{path} is missing: the CIFAR-10 binary folder needs {', '.join(TRAIN_FILES + TEST_FILES)}",
                        path)
    size = path.stat().st_size
    if size == 0 or size % RECORD_BYTES:
        raise DataError(f"{path} is {size} bytes, not a whole number of {RECORD_BYTES}-byte records "
                        f"(the official files are {RECORD_BYTES * IMAGES_PER_FILE}): truncated or not CIFAR-10; "
                        "unpack cifar-10-binary.tar.gz again", path)
    if expected is not None and sha256_of(path) != expected.lower():
        raise DataError(f"{path} fails its SHA-256 check (expected {expected[:12]}...): damaged or a different "
                        "file; unpack cifar-10-binary.tar.gz again", path)
    return size // RECORD_BYTES


def _decode(path: Path, n: int) -> tuple[Tensor, Tensor]:
    raw = np.fromfile(path, dtype=np.uint8, count=n * RECORD_BYTES).reshape(n, RECORD_BYTES)
    labels = raw[:, 0].astype(np.int64)
    if labels.size and int(labels.max()) > 9:
        raise DataError(f"{path} holds a label {int(labels.max())} outside 0..9: not a CIFAR-10 file", path)
    images = raw[:, 1:].reshape(n, 3, 32, 32)  # (N, C, H, W): planes R, G, B, rows of 32
    return torch.from_numpy(images.copy()), torch.from_numpy(labels)


def read_cifar10(data_dir: str | os.PathLike[str] | None = None,
                 checksums: Mapping[str, str] | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train, y_train, x_test, y_test)``: uint8 ``(N, 3, 32, 32)`` pixels and int64 labels.

    Every file is checked (see the module docstring) before any is decoded.

    Raises:
        DataError: the folder or a file is missing, truncated, fails its checksum or holds a bad label.
    """
    folder = find_cifar10(data_dir)
    sums = dict(checksums) if checksums is not None else (_read_sums(folder) or dict(CIFAR10_SHA256))
    counts = {name: _check(folder / name, sums.get(name)) for name in TRAIN_FILES + TEST_FILES}
    train = [_decode(folder / name, counts[name]) for name in TRAIN_FILES]
    x_test, y_test = _decode(folder / TEST_FILES[0], counts[TEST_FILES[0]])
    return torch.cat([x for x, _ in train]), torch.cat([y for _, y in train]), x_test, y_test
