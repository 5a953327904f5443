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


# ------------------------------------------------------------------ the python release and its download

def make_py_archive(root: Path, per_file: int = 4) -> tuple[Path, dict[str, str], str]:
    """``root/cifar-10-python.tar.gz`` laid out as the official one (``cifar-10-batches-py/<batch>``,
    each a protocol-2 pickle of {"data": uint8 N x 3072, "labels": [...]}, plus batches.meta); returns
    (archive, MD5 per batch, MD5 of the archive)."""
    import io
    import pickle
    import tarfile

    from actlab.data.cifar10 import PY_FILES

    root.mkdir(parents=True, exist_ok=True)
    sums = {}
    path = root / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for f, name in enumerate((*PY_FILES, "batches.meta")):
            if name == "batches.meta":
                payload = pickle.dumps({"label_names": ["airplane"] * 10}, protocol=2)
            else:
                data = ((np.arange(per_file * 3072).reshape(per_file, 3072) + 7 * f) % 256).astype(np.uint8)
                payload = pickle.dumps({"data": data, "labels": [(f + j) % 10 for j in range(per_file)],
                                        "batch_label": name}, protocol=2)
                sums[name] = hashlib.md5(payload).hexdigest()
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return path, sums, hashlib.md5(path.read_bytes()).hexdigest()


def test_download_unpacks_and_checks_every_batch(tmp_path, capsys):
    from actlab.data.cifar10 import download_cifar10, read_cifar10_python

    archive, sums, archive_md5 = make_py_archive(tmp_path / "server")
    folder = download_cifar10(tmp_path / "cache", url=archive.as_uri(), archive_md5=archive_md5, md5=sums)
    assert folder == tmp_path / "cache" / "cifar10" / "cifar-10-batches-py"
    assert sorted(p.name for p in folder.iterdir()) == sorted(sums)  # the six batches only, no meta, no temp files
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []
    x_train, y_train, x_test, y_test = read_cifar10_python(folder, md5=sums)
    assert x_train.shape == (20, 3, 32, 32) and x_test.shape == (4, 3, 32, 32)
    # batch 1 (data_batch_2), record 3, channel 2, row 1, column 5: flat index 3*3072 + 2*1024 + 1*32 + 5
    assert int(x_train[4 + 3, 2, 1, 5]) == (3 * 3072 + 2 * 1024 + 32 + 5 + 7) % 256
    assert y_test.tolist() == [(5 + j) % 10 for j in range(4)]
    assert "downloading cifar-10-python.tar.gz" in capsys.readouterr().err


def test_download_refuses_an_archive_that_fails_torchvisions_md5(tmp_path):
    from actlab.data.cifar10 import CIFAR10_ARCHIVE_MD5, download_cifar10

    archive, sums, _ = make_py_archive(tmp_path / "server")
    with pytest.raises(DataError, match=f"fails its MD5 check \\(expected {CIFAR10_ARCHIVE_MD5}"):
        download_cifar10(tmp_path / "cache", url=archive.as_uri())  # the default: torchvision's sum
    assert list((tmp_path / "cache" / "cifar10").iterdir()) == []  # nothing kept


def test_a_batch_that_fails_its_md5_is_refused_before_it_is_unpickled(tmp_path):
    from actlab.data.cifar10 import download_cifar10, read_cifar10_python

    archive, sums, archive_md5 = make_py_archive(tmp_path / "server")
    wrong = {**sums, "data_batch_3": "0" * 32}
    with pytest.raises(DataError, match="data_batch_3 in cifar-10-python.tar.gz fail their MD5 check"):
        download_cifar10(tmp_path / "cache", url=archive.as_uri(), archive_md5=archive_md5, md5=wrong)
    assert not (tmp_path / "cache" / "cifar10" / "cifar-10-batches-py").exists()
    folder = download_cifar10(tmp_path / "cache", url=archive.as_uri(), archive_md5=archive_md5, md5=sums)
    with pytest.raises(DataError, match=r"data_batch_3 fails its MD5 check \(expected 0{32}"):
        read_cifar10_python(folder, md5=wrong)


def test_a_pickle_that_calls_anything_but_numpy_is_refused(tmp_path):
    import pickle

    from actlab.data.cifar10 import PY_FILES, read_cifar10_python

    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    sums = {}
    for name in PY_FILES:
        payload = pickle.dumps({"data": Evil(), "labels": [0]}, protocol=2)
        (folder / name).write_bytes(payload)
        sums[name] = hashlib.md5(payload).hexdigest()
    with pytest.raises(DataError, match=r"(__builtin__|builtins)\.print is not allowed"):
        read_cifar10_python(folder, md5=sums)


def test_load_reads_a_python_folder_the_user_has_and_never_downloads_offline(tmp_path, monkeypatch):
    import tarfile

    from actlab.data import cifar10

    archive, sums, _ = make_py_archive(tmp_path / "server")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "user", filter="data")
    monkeypatch.setattr(cifar10, "CIFAR10_PY_MD5", sums)
    monkeypatch.setenv("ACTLAB_OFFLINE", "1")
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(tmp_path / "cache"))
    (x_train, _, _, _), folder = cifar10.load_cifar10(tmp_path / "user")
    assert folder == tmp_path / "user" / "cifar-10-batches-py" and x_train.shape == (20, 3, 32, 32)
    with pytest.raises(DataError, match="downloads are disabled \\(ACTLAB_OFFLINE=1\\)"):
        cifar10.load_cifar10(tmp_path / "empty")
    assert not (tmp_path / "cache").exists()
