"""The CIFAR-10 loader on small fabricated folders in the official binary layout."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from actlab.data import DataError, load_dataset
from actlab.data.cifar10 import (
    FOLDER,
    RECORD_BYTES,
    TEST_FILES,
    TRAIN_FILES,
    find_cifar10,
    read_cifar10,
)


def make_cifar_folder(root: Path, per_file: int = 7, sums: bool = True, seed: int = 0) -> Path:
    """``root/cifar-10-batches-bin/`` with 6 files of ``per_file`` records each (and SHA256SUMS).

    Record j of file f: label (f + j) % 10; pixel value of channel c, row r, column k is
    (f + 3 * j + 5 * c + r + k) % 256, so the decoded layout can be checked exactly.
    """
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for f, name in enumerate(TRAIN_FILES + TEST_FILES):
        c, r, k = np.meshgrid(np.arange(3), np.arange(32), np.arange(32), indexing="ij")
        recs = []
        for j in range(per_file):
            pixels = ((f + 3 * j + 5 * c + r + k) % 256).astype(np.uint8)
            recs.append(np.concatenate([[np.uint8((f + j) % 10)], pixels.ravel()]))
        data = np.stack(recs).astype(np.uint8).tobytes()
        (folder / name).write_bytes(data)
        lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}")
    if sums:
        (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")
    return root


def test_decodes_labels_and_planes_exactly(tmp_path):
    root = make_cifar_folder(tmp_path)
    x_train, y_train, x_test, y_test = read_cifar10(root)
    assert x_train.shape == (35, 3, 32, 32) and x_test.shape == (7, 3, 32, 32) and x_train.dtype == torch.uint8
    assert y_train.dtype == torch.int64 and y_train[:7].tolist() == list(range(7))
    assert y_test.tolist() == [(5 + j) % 10 for j in range(7)]
    # file 1 (data_batch_2), record 2: channel 1 (green), row 3, column 4
    assert int(x_train[7 + 2, 1, 3, 4]) == (1 + 6 + 5 + 3 + 4) % 256
    assert int(x_test[0, 2, 31, 0]) == (5 + 0 + 10 + 31 + 0) % 256


def test_load_dataset_registration_flat_and_channel_first(tmp_path):
    root = make_cifar_folder(tmp_path)
    ds = load_dataset("CIFAR-10", data_dir=root)
    assert ds.name == "cifar10" and ds.x_train.shape == (35, 3072) and ds.num_classes == 10
    assert float(ds.x_train.max()) <= 1.0 and ds.class_names[0] == "airplane"
    img = load_dataset("cifar10", data_dir=root, flatten=False, max_train=5)
    assert img.x_train.shape == (5, 3, 32, 32)
    assert torch.equal(img.x_train.reshape(5, -1), ds.x_train[:5])


def test_folder_itself_or_its_parent(tmp_path):
    root = make_cifar_folder(tmp_path)
    assert find_cifar10(root) == root / FOLDER
    assert find_cifar10(root / FOLDER) == root / FOLDER
    with pytest.raises(DataError, match="no CIFAR-10 folder"):
        find_cifar10(tmp_path / "nowhere")


def test_truncated_file_is_a_clear_error(tmp_path):
    root = make_cifar_folder(tmp_path, sums=False)
    path = root / FOLDER / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataError, match=r"data_batch_3\.bin is .* not a whole number of 3073-byte records"):
        read_cifar10(root)


def test_checksum_mismatch_names_the_file(tmp_path):
    root = make_cifar_folder(tmp_path)
    path = root / FOLDER / "test_batch.bin"
    data = bytearray(path.read_bytes())
    data[RECORD_BYTES + 5] ^= 0xFF  # one pixel changed, size unchanged
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"test_batch\.bin fails its SHA-256 check"):
        read_cifar10(root)
    # sums given by the caller take precedence over the folder's
    with pytest.raises(DataError, match="SHA-256"):
        read_cifar10(root, checksums={"data_batch_1.bin": "0" * 64})


def test_missing_file_and_bad_label(tmp_path):
    root = make_cifar_folder(tmp_path, sums=False)
    (root / FOLDER / "data_batch_5.bin").unlink()
    with pytest.raises(DataError, match=r"data_batch_5\.bin is missing"):
        read_cifar10(root)
    root2 = make_cifar_folder(tmp_path / "b", sums=False)
    path = root2 / FOLDER / "data_batch_1.bin"
    data = bytearray(path.read_bytes())
    data[0] = 12
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="label 12 outside 0..9"):
        read_cifar10(root2)
