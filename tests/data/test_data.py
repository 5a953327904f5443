"""actlab.data: the real MNIST / Fashion-MNIST files, damaged copies, downloads from a
local server, MNIST-1D against the reference implementation, the spiral, batching.

Nothing here touches the internet: ACTLAB_OFFLINE=1 (set by conftest and again below)
except in the download tests, which point ACTLAB_DATA_MIRROR at a server on 127.0.0.1.
"""

from __future__ import annotations

import gzip
import http.server
import os
import shutil
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from actlab.data import (
    FILES,
    IMAGES_MAGIC,
    LABELS_MAGIC,
    BatchLoader,
    DataError,
    MNIST1DConfig,
    UnknownDatasetError,
    batch_indices,
    batches,
    dataset_names,
    fetch_file,
    load_dataset,
    make_mnist1d,
    make_spiral,
    read_idx,
    resolve_dataset_name,
)

MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
               "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test: an empty cache folder of its own, downloads off, no mirror override."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("ACTLAB_CACHE_DIR", str(cache))
    monkeypatch.setenv("ACTLAB_OFFLINE", "1")
    monkeypatch.delenv("ACTLAB_DATA_MIRROR", raising=False)
    return cache


def make_data_dir(root: Path, data_dir: Path, dataset: str = "mnist", *, skip: tuple[str, ...] = ()) -> Path:
    """A data folder whose files are symlinks to the real ones (except those in ``skip``)."""
    folder = root / dataset
    folder.mkdir(parents=True)
    for name in MNIST_FILES:
        if name not in skip:
            (folder / name).symlink_to(data_dir / dataset / name)
    return folder


def one_line_error(excinfo: pytest.ExceptionInfo[DataError], *needles: str) -> str:
    message = str(excinfo.value)
    assert "\n" not in message, message
    assert isinstance(excinfo.value, ValueError)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ---------------------------------------------------------------- the real files


def test_mnist_real_files(data_dir: Path) -> None:
    ds = load_dataset("mnist")
    assert ds.name == "mnist" and ds.num_classes == 10
    assert ds.x_train.shape == (60000, 784) and ds.x_test.shape == (10000, 784)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert ds.input_shape == (784,) and ds.num_features == 784
    assert float(ds.x_train.min()) == 0.0 and float(ds.x_train.max()) == 1.0
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the famous first digits
    assert torch.bincount(ds.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(ds.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]

    # Independent reader: gzip + struct, on the test split.
    with gzip.open(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz") as f:
        magic, count = struct.unpack(">II", f.read(8))
        labels = list(f.read())
    assert (magic, count) == (2049, 10000) and ds.y_test.tolist() == labels
    with gzip.open(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz") as f:
        assert struct.unpack(">IIII", f.read(16)) == (2051, 10000, 28, 28)
        first = np.frombuffer(f.read(784 * 2), dtype=np.uint8).reshape(2, 784)
    assert torch.equal(ds.x_test[:2], torch.from_numpy(first.astype(np.float32)) / 255)


def test_mnist_layouts_and_standardisation(data_dir: Path) -> None:
    flat = load_dataset("mnist", max_train=1000, max_test=500)
    images = load_dataset("mnist", flatten=False, max_train=1000, max_test=500)
    assert images.x_train.shape == (1000, 1, 28, 28) and images.x_test.shape == (500, 1, 28, 28)
    assert torch.equal(images.x_train.reshape(1000, 784), flat.x_train)
    assert torch.equal(images.y_test, flat.y_test)

    ds = load_dataset("mnist", standardize=True)
    # The well-known MNIST statistics (as in torchvision's examples: 0.1307, 0.3081).
    assert ds.info["mean"] == pytest.approx(0.1307, abs=1e-4)
    assert ds.info["std"] == pytest.approx(0.3081, abs=1e-4)
    assert float(ds.x_train.mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(ds.x_train.std()) == pytest.approx(1.0, abs=1e-4)
    assert float(ds.x_test.min()) == pytest.approx(-0.1307 / 0.3081, abs=1e-3)  # test uses the train stats


def test_fashion_mnist_real_files(data_dir: Path) -> None:
    ds = load_dataset("Fashion_MNIST", data_dir=data_dir, flatten=False, standardize=True)
    assert ds.name == "fashion-mnist"
    assert ds.x_train.shape == (60000, 1, 28, 28) and ds.x_test.shape == (10000, 1, 28, 28)
    assert ds.y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert torch.bincount(ds.y_train).tolist() == [6000] * 10
    assert torch.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.class_names[9] == "Ankle boot" and ds.class_names[0] == "T-shirt/top"
    assert ds.info["mean"] == pytest.approx(0.2860, abs=1e-4)
    assert ds.info["std"] == pytest.approx(0.3530, abs=1e-4)


def test_data_dir_argument_beats_environment(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTLAB_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist")
    # a named folder that is missing is an error naming it, never passed over for the cache (issue 18)
    one_line_error(excinfo, f"data folder {tmp_path / 'nowhere'} (from ACTLAB_DATA_DIR) does not exist")
    ds = load_dataset("mnist", data_dir=data_dir, max_train=10)
    assert ds.y_train.tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def test_read_idx_real_file(data_dir: Path) -> None:
    images = read_idx(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz", expected_magic=IMAGES_MAGIC)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8 and images.flags.writeable
    labels = read_idx(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", expected_magic=LABELS_MAGIC)
    assert labels.shape == (10000,) and labels[0] == 7


def test_read_idx_other_types_and_uncompressed(tmp_path: Path) -> None:
    values = (np.arange(6).reshape(2, 3) - 3).astype(">i4")  # big-endian, as IDX stores it
    path = tmp_path / "small-idx2-int"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + struct.pack(">II", 2, 3) + values.tobytes())
    out = read_idx(path)
    assert out.dtype == np.int32 and out.dtype.isnative and out.tolist() == values.tolist()


# ---------------------------------------------------------------- damaged copies


@pytest.fixture
def copy_dir(data_dir: Path, tmp_path: Path) -> Path:
    """tmp/data with mnist/ holding symlinks to the real files, t10k-labels a real copy."""
    root = tmp_path / "data"
    folder = make_data_dir(root, data_dir, skip=("t10k-labels-idx1-ubyte.gz",))
    shutil.copyfile(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz")
    return root


def labels_path(root: Path) -> Path:
    return root / "mnist" / "t10k-labels-idx1-ubyte.gz"


def test_good_copy_loads(copy_dir: Path) -> None:
    ds = load_dataset("mnist", data_dir=copy_dir, max_train=5)
    assert ds.y_test[:3].tolist() == [7, 2, 1]
    assert str(labels_path(copy_dir)) in ds.info["files"]


def test_truncated_gz(copy_dir: Path) -> None:
    path = labels_path(copy_dir)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir)
    one_line_error(excinfo, str(path), "truncated", "2000 of 4542 bytes", "delete it")
    assert excinfo.value.path == path
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    one_line_error(excinfo, str(path), "truncated")


def test_corrupt_gzip(copy_dir: Path) -> None:
    path = labels_path(copy_dir)
    data = bytearray(path.read_bytes())
    for i in range(100, 4000, 97):  # flip bytes inside the deflate stream
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir)
    one_line_error(excinfo, str(path), "corrupt gzip")
    with pytest.raises(DataError) as excinfo:
        read_idx(path)
    one_line_error(excinfo, str(path), "corrupt gzip")


def test_wrong_checksum_with_valid_gzip(copy_dir: Path) -> None:
    path = labels_path(copy_dir)
    data = bytearray(path.read_bytes())
    data[4] ^= 0x01  # the gzip header's timestamp: still a valid gzip file, not the original
    path.write_bytes(bytes(data))
    assert gzip.decompress(bytes(data))[:4] == b"\x00\x00\x08\x01"
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir)
    one_line_error(excinfo, str(path), "fails its checksum", "SHA-256")
    assert read_idx(path).shape == (10000,)  # the format itself is fine


def test_checksum_rechecked_after_file_changes(copy_dir: Path) -> None:
    path = labels_path(copy_dir)
    load_dataset("mnist", data_dir=copy_dir, max_train=1)  # verified and remembered
    data = bytearray(path.read_bytes())
    data[5] ^= 0x01
    path.write_bytes(bytes(data))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # surely a new mtime
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir)
    one_line_error(excinfo, str(path), "checksum")


def test_missing_file(copy_dir: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = labels_path(copy_dir)
    path.unlink()
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir)
    one_line_error(excinfo, "mnist/t10k-labels-idx1-ubyte.gz not found", str(copy_dir / "mnist"),
                   str(isolated_env / "mnist"), "ACTLAB_DATA_DIR", "downloads are disabled (ACTLAB_OFFLINE=1)")
    monkeypatch.setenv("ACTLAB_OFFLINE", "0")
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir, download=False)
    one_line_error(excinfo, "t10k-labels-idx1-ubyte.gz", "download=False")


def test_data_dir_pointing_inside_dataset_folder(copy_dir: Path) -> None:
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir / "mnist")
    one_line_error(excinfo, "the data folder is the parent of mnist/")


def test_bad_idx_contents(tmp_path: Path) -> None:
    def write(name: str, payload: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(gzip.compress(payload))
        return path

    labels = bytes(range(10))
    good = write("good.gz", struct.pack(">II", LABELS_MAGIC, 10) + labels)
    assert read_idx(good, expected_magic=LABELS_MAGIC).tolist() == list(range(10))

    cases = {
        "magic.gz": (struct.pack(">II", 0x12345678, 10) + labels, "bad IDX magic number 0x12345678"),
        "kind.gz": (struct.pack(">II", IMAGES_MAGIC, 10) + labels, "expected 0x00000801"),
        "short.gz": (struct.pack(">II", LABELS_MAGIC, 11) + labels, "is missing data"),
        "long.gz": (struct.pack(">II", LABELS_MAGIC, 9) + labels, "has extra data"),
        "header.gz": (struct.pack(">I", LABELS_MAGIC) + b"\x00\x00", "truncated inside its IDX header"),
    }
    for name, (payload, needle) in cases.items():
        path = write(name, payload)
        with pytest.raises(DataError) as excinfo:
            read_idx(path, expected_magic=LABELS_MAGIC)
        one_line_error(excinfo, str(path), needle)

    not_gzip = tmp_path / "plain.gz"
    not_gzip.write_bytes(b"<html>Not Found</html>" * 3)
    with pytest.raises(DataError) as excinfo:
        read_idx(not_gzip)
    one_line_error(excinfo, str(not_gzip), "not a gzip file")


def test_bad_magic_in_place_of_a_real_file(copy_dir: Path) -> None:
    path = labels_path(copy_dir)
    path.write_bytes(gzip.compress(struct.pack(">II", 0x0803, 10000) + bytes(10000)))
    with pytest.raises(DataError) as excinfo:
        load_dataset("mnist", data_dir=copy_dir)
    one_line_error(excinfo, str(path))  # caught by the checksum, before it is parsed


# ---------------------------------------------------------------- downloads from 127.0.0.1


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def mirror(tmp_path: Path):
    """A static file server on 127.0.0.1 over tmp/srv; yields (base URL, folder, requested paths)."""
    root = tmp_path / "srv"
    root.mkdir()
    requested: list[str] = []

    class Handler(_Handler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            requested.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve(root: Path, data_dir: Path, name: str, content: bytes | None = None) -> None:
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    if content is None:
        (folder / name).symlink_to(data_dir / "mnist" / name)
    else:
        (folder / name).write_bytes(content)


def test_download_good_file_once(mirror, data_dir: Path, tmp_path: Path, isolated_env: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    base, root, requested = mirror
    serve(root, data_dir, "t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("ACTLAB_DATA_MIRROR", base)
    monkeypatch.setenv("ACTLAB_OFFLINE", "0")
    remote = FILES["mnist"]["t10k-labels-idx1-ubyte.gz"]
    (tmp_path / "empty").mkdir()  # a data folder without the file (a missing one is an error)
    path = fetch_file(remote, data_dir=tmp_path / "empty")
    assert path == isolated_env / "mnist" / "t10k-labels-idx1-ubyte.gz"
    assert path.read_bytes() == (data_dir / "mnist" / remote.name).read_bytes()
    assert requested == ["/mnist/t10k-labels-idx1-ubyte.gz"]
    assert fetch_file(remote, data_dir=tmp_path / "empty") == path  # from the cache now
    assert len(requested) == 1
    assert sorted(p.name for p in path.parent.iterdir()) == [remote.name]  # no temporary files left


def test_download_rejects_corrupt_and_truncated_files(mirror, data_dir: Path, isolated_env: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    base, root, requested = mirror
    monkeypatch.delenv("ACTLAB_DATA_DIR", raising=False)
    good = (data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
    monkeypatch.setenv("ACTLAB_DATA_MIRROR", base)
    monkeypatch.setenv("ACTLAB_OFFLINE", "0")
    remote = FILES["mnist"]["t10k-labels-idx1-ubyte.gz"]
    flipped = bytearray(good)
    flipped[1000] ^= 0xFF
    for content, needle in ((bytes(flipped), "checksum mismatch"), (good[:3000], "got 3000 of 4542 bytes"),
                            (good + b"extra", "more than the expected 4542 bytes")):
        serve(root, data_dir, remote.name, content)
        with pytest.raises(DataError) as excinfo:
            fetch_file(remote)
        one_line_error(excinfo, "could not download mnist/t10k-labels-idx1-ubyte.gz", needle, "ACTLAB_DATA_DIR")
        assert list((isolated_env / "mnist").iterdir()) == []  # nothing left in the cache
    (root / "mnist" / remote.name).unlink()
    with pytest.raises(DataError) as excinfo:
        fetch_file(remote)
    one_line_error(excinfo, "HTTP 404")
    assert len(requested) == 4


def test_download_falls_back_to_next_mirror(mirror, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, root, requested = mirror
    monkeypatch.delenv("ACTLAB_DATA_DIR", raising=False)
    serve(root / "good", data_dir, "t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("ACTLAB_DATA_MIRROR", f"{base}/missing, {base}/good")
    monkeypatch.setenv("ACTLAB_OFFLINE", "0")
    path = fetch_file(FILES["mnist"]["t10k-labels-idx1-ubyte.gz"])
    assert read_idx(path).shape == (10000,)
    assert requested == ["/missing/mnist/t10k-labels-idx1-ubyte.gz", "/good/mnist/t10k-labels-idx1-ubyte.gz"]


def test_download_whole_dataset_then_offline(mirror, data_dir: Path, tmp_path: Path, isolated_env: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    base, root, requested = mirror
    for name in MNIST_FILES:
        serve(root, data_dir, name)
    monkeypatch.setenv("ACTLAB_DATA_MIRROR", base)
    monkeypatch.setenv("ACTLAB_OFFLINE", "0")
    (tmp_path / "empty").mkdir()
    ds = load_dataset("mnist", data_dir=tmp_path / "empty", max_train=100, max_test=100)
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert sorted(requested) == sorted(f"/mnist/{name}" for name in MNIST_FILES)
    monkeypatch.setenv("ACTLAB_OFFLINE", "1")  # the cache serves it from now on
    again = load_dataset("mnist", data_dir=tmp_path / "empty", max_train=100, max_test=100)
    assert torch.equal(again.x_test, ds.x_test) and len(requested) == 4
    assert all(str(isolated_env) in p for p in again.info["files"])


def test_offline_never_requests(mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    base, _, requested = mirror
    monkeypatch.delenv("ACTLAB_DATA_DIR", raising=False)
    monkeypatch.setenv("ACTLAB_DATA_MIRROR", base)
    with pytest.raises(DataError) as excinfo:
        fetch_file(FILES["fashion-mnist"]["t10k-labels-idx1-ubyte.gz"])
    one_line_error(excinfo, "fashion-mnist/t10k-labels-idx1-ubyte.gz not found", "ACTLAB_OFFLINE=1")
    assert requested == []


# ---------------------------------------------------------------- MNIST-1D


def test_mnist1d_matches_reference_values() -> None:
    # Values produced by the reference (pip package mnist1d 0.0.2.post1,
    # mnist1d.data.make_dataset() with its default arguments).
    d = make_mnist1d()
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40) and d.t.shape == (40,)
    assert d.y_train[:20].tolist() == [2, 6, 4, 5, 6, 6, 6, 0, 3, 1, 6, 9, 4, 3, 4, 5, 1, 9, 0, 3]
    assert d.y_test[:10].tolist() == [2, 6, 3, 9, 4, 3, 1, 9, 5, 2]
    assert np.bincount(d.y_train).tolist() == [398, 396, 411, 394, 394, 402, 401, 404, 402, 398]
    np.testing.assert_allclose(d.x_train[0, :6], [-0.33200567, -0.47191037, -0.77869708, -1.00974083,
                                                  -0.88235257, 0.10393481], atol=1e-8)
    np.testing.assert_allclose([d.x_train.sum(), d.x_test.sum()], [-51.78746787509559, 51.78746787509192],
                               atol=1e-8)
    np.testing.assert_allclose(d.t[:3], [-5.38753507, -5.11125122, -4.83496737], atol=1e-8)


@pytest.mark.parametrize("settings", [{}, {"seed": 0, "shuffle_seq": True, "num_samples": 1000},
                                      {"seed": 3, "max_translation": 100, "padding": (0, 5), "num_samples": 300}])
def test_mnist1d_equals_reference_package(settings: dict) -> None:
    reference = pytest.importorskip("mnist1d.data", reason="the optional oracle (pip install mnist1d) is absent")
    args = reference.get_dataset_args()
    for key, value in settings.items():
        setattr(args, key, list(value) if key == "padding" else value)
    expected = reference.make_dataset(args)
    ours = make_mnist1d(MNIST1DConfig(**settings))
    np.testing.assert_allclose(ours.x_train, expected["x"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.x_test, expected["x_test"], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ours.y_train, expected["y"])
    np.testing.assert_array_equal(ours.y_test, expected["y_test"])


def test_mnist1d_gaussian_filter_matches_scipy() -> None:
    ndimage = pytest.importorskip("scipy.ndimage")
    from actlab.data.mnist1d import gaussian_filter1d_reflect

    rng = np.random.default_rng(0)
    for n in (72, 9, 3):
        x = rng.standard_normal((4, n))
        expected = np.stack([ndimage.gaussian_filter(row, 2) for row in x])
        np.testing.assert_allclose(gaussian_filter1d_reflect(x, 2.0), expected, rtol=0, atol=1e-14)


def test_mnist1d_dataset_defaults_and_determinism() -> None:
    ds = load_dataset("mnist1d")
    assert ds.x_train.shape == (4000, 40) and ds.x_test.shape == (1000, 40)
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert int(ds.y_train.min()) == 0 and int(ds.y_train.max()) == 9
    assert ds.info["options"]["seed"] == 42 and ds.info["options"]["final_seq_length"] == 40
    assert torch.equal(ds.x_train, torch.tensor(make_mnist1d().x_train, dtype=torch.float32))
    again = load_dataset("mnist1d", flatten=False)
    assert again.x_train.shape == (4000, 1, 40) and torch.equal(again.x_train[:, 0], ds.x_train)
    ds.x_train.zero_()  # a caller's in-place change does not reach the per-process cache
    assert torch.equal(load_dataset("mnist1d").x_train, again.x_train[:, 0])

    # A different seed, generated without the cache, twice: deterministic and different.
    from actlab.data.mnist1d import _make_cached

    config = MNIST1DConfig(seed=7, num_samples=500)
    a, b = _make_cached.__wrapped__(config), _make_cached.__wrapped__(config)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_test, b.y_test)
    assert a.x_train.shape == (400, 40) and not np.allclose(a.x_train[:10], make_mnist1d().x_train[:10])
    small = load_dataset("mnist1d", seed=7, num_samples=500, final_seq_length=20, standardize=True)
    assert small.x_train.shape == (400, 20) and small.x_test.shape == (100, 20)
    assert float(small.x_train.mean()) == pytest.approx(0.0, abs=1e-5)


def test_mnist1d_is_learnable_but_not_trivial() -> None:
    ds = load_dataset("mnist1d")
    centroids = torch.stack([ds.x_train[ds.y_train == k].mean(0) for k in range(10)])     # (10, 40)
    nearest_centroid = (torch.cdist(ds.x_test, centroids).argmin(1) == ds.y_test).float().mean()
    one_nn = (ds.y_train[torch.cdist(ds.x_test, ds.x_train).argmin(1)] == ds.y_test).float().mean()
    # chance is 0.10; measured 0.274 and 0.567 (the paper: logistic regression 32%, MLP 68%).
    assert 0.2 < float(nearest_centroid) < 0.5
    assert 0.45 < float(one_nn) < 0.75


def test_mnist1d_bad_settings() -> None:
    with pytest.raises(TypeError, match="unexpected option.*bogus"):
        load_dataset("mnist1d", bogus=1)
    for bad in ({"train_split": 1.5}, {"padding": (60, 36)}, {"num_samples": 5}, {"max_translation": 0},
                {"iid_noise_scale": -1.0}, {"seed": -1}):
        with pytest.raises(ValueError):
            MNIST1DConfig(**bad)


# ---------------------------------------------------------------- spiral


def cs231n_spiral(seed: int, n: int = 100, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The notes' code, verbatim but for the seeding (the oracle): it uses numpy's global generator."""
    np.random.seed(seed)  # noqa: NPY002 (the notes' own generator, on purpose)
    x = np.zeros((n * k, 2))
    y = np.zeros(n * k, dtype="uint8")
    for j in range(k):
        ix = range(n * j, n * (j + 1))
        r = np.linspace(0.0, 1, n)
        t = np.linspace(j * 4, (j + 1) * 4, n) + np.random.randn(n) * 0.2  # noqa: NPY002
        x[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[ix] = j
    return x, y


def test_spiral_matches_cs231n_notes() -> None:
    state = np.random.get_state()  # noqa: NPY002 (leave the global generator as it was)
    try:
        expected_x, expected_y = cs231n_spiral(seed=3)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    x, y = make_spiral(seed=3)
    np.testing.assert_array_equal(x, expected_x)
    np.testing.assert_array_equal(y, expected_y)


def test_spiral_dataset() -> None:
    ds = load_dataset("spiral")
    assert ds.x_train.shape == (300, 2) and ds.x_test.shape == (300, 2) and ds.num_classes == 3
    assert ds.x_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert torch.bincount(ds.y_train).tolist() == [100, 100, 100]
    assert float(ds.x_train.norm(dim=1).max()) <= 1.0 + 1e-6
    assert not torch.equal(ds.x_train, ds.x_test)  # an independent draw
    assert torch.equal(load_dataset("spiral").x_train, ds.x_train)
    big = load_dataset("spiral", classes=5, points_per_class=40, test_points_per_class=10, noise=0.1, seed=1,
                       flatten=False)
    assert big.x_train.shape == (200, 2) and big.x_test.shape == (50, 2) and big.num_classes == 5
    with pytest.raises(TypeError, match="spiral"):
        load_dataset("spiral", num_samples=10)
    with pytest.raises(ValueError, match="classes"):
        load_dataset("spiral", classes=0)


# ---------------------------------------------------------------- names, options, Dataset


def test_names_and_unknown_name() -> None:
    assert dataset_names() == ["mnist", "fashion-mnist", "mnist1d", "spiral", "cifar10"]
    assert resolve_dataset_name(" MNIST-1D ") == "mnist1d"
    assert resolve_dataset_name("fashion mnist") == "fashion-mnist"
    with pytest.raises(ValueError, match="valid names: mnist, fashion-mnist, mnist1d, spiral, cifar10") as excinfo:
        load_dataset("cifar100")
    assert isinstance(excinfo.value, UnknownDatasetError)
    with pytest.raises(TypeError, match="no options"):
        load_dataset("mnist", seed=1)


def test_limits_and_dataset_methods() -> None:
    ds = load_dataset("spiral", max_train=30, max_test=20)
    assert len(ds.y_train) == 30 and len(ds.y_test) == 20
    assert ds.split("test")[0] is ds.x_test
    with pytest.raises(ValueError, match="split"):
        ds.split("val")
    moved = ds.to("cpu")
    assert moved.x_train is ds.x_train and "spiral" in repr(moved)
    with pytest.raises(ValueError, match="max_train=301"):
        load_dataset("spiral", max_train=301)
    with pytest.raises(ValueError, match="max_test"):
        load_dataset("spiral", max_test=0)
    with pytest.raises(ValueError, match="flatten"):
        load_dataset("spiral", flatten="yes")


# ---------------------------------------------------------------- batching and examples


def test_batch_indices_cover_each_example_once() -> None:
    parts = list(batch_indices(10, 4, generator=torch.Generator().manual_seed(0)))
    assert [len(p) for p in parts] == [4, 4, 2]
    assert sorted(torch.cat(parts).tolist()) == list(range(10))
    again = list(batch_indices(10, 4, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a, b) for a, b in zip(parts, again, strict=True))
    assert [p.tolist() for p in batch_indices(5, 2, shuffle=False)] == [[0, 1], [2, 3], [4]]
    assert [len(p) for p in batch_indices(10, 4, drop_last=True)] == [4, 4]
    assert list(batch_indices(0, 4)) == []
    with pytest.raises(ValueError, match="batch_size"):
        list(batch_indices(10, 0))


def test_batches_keep_pairs_and_views() -> None:
    x = torch.arange(10, dtype=torch.float32).unsqueeze(1).repeat(1, 3)   # row i is i
    y = torch.arange(10)
    seen = []
    for xb, yb in batches(x, y, 3, generator=torch.Generator().manual_seed(1)):
        assert torch.equal(xb[:, 0].long(), yb)
        seen += yb.tolist()
    assert sorted(seen) == list(range(10)) and seen != list(range(10))
    plain = list(batches(x, y, 4, shuffle=False))
    assert plain[0][0].data_ptr() == x.data_ptr()  # a slice, not a copy
    with pytest.raises(ValueError, match="examples"):
        list(batches(x, y[:5], 2))


def test_batch_loader_epochs_are_seeded() -> None:
    x, y = torch.randn(103, 4), torch.arange(103)
    loader = BatchLoader(x, y, batch_size=10, seed=5)
    assert len(loader) == 11 and len(BatchLoader(x, y, 10, drop_last=True)) == 10
    epochs = [torch.cat([yb for _, yb in loader]) for _ in range(3)]
    assert all(sorted(e.tolist()) == list(range(103)) for e in epochs)
    assert not torch.equal(epochs[0], epochs[1])
    replay = BatchLoader(x, y, batch_size=10, seed=5)
    assert all(torch.equal(torch.cat([yb for _, yb in replay]), e) for e in epochs)
    first_x, first_y = next(iter(BatchLoader(x, y, batch_size=10, seed=5)))
    assert torch.equal(first_x, x[first_y])
    ordered = BatchLoader(x, y, batch_size=50, shuffle=False)
    assert [yb[0].item() for _, yb in ordered] == [0, 50, 100]
    assert loader.epochs_started == 3


@pytest.mark.parametrize("module", ["actlab.data", "actlab.data.dataset", "actlab.data.batches",
                                    "actlab.data.mnist1d", "actlab.data.spiral", "actlab.data.idx"])
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# ------------------------------------------------ slow mirrors, wrong files, unreadable folders (issue 14)


@pytest.fixture
def slow_mirror():
    """A server on 127.0.0.1 whose answer trickles: headers, then one byte every 0.2 s (or nothing, if silent)."""
    behaviour = {"silent": False}

    class Slow(_Handler):
        def do_GET(self) -> None:
            if behaviour["silent"]:
                time.sleep(5)  # accept, then say nothing
                return
            self.send_response(200)
            self.send_header("Content-Length", "4542")
            self.end_headers()
            for _ in range(4542):
                try:
                    self.wfile.write(b"\x00")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.2)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", behaviour
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("silent", [False, True], ids=["trickle", "silent"])
def test_a_slow_mirror_is_given_up_in_bounded_time_then_the_next_is_tried(
        silent, slow_mirror, mirror, data_dir: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    slow, behaviour = slow_mirror
    behaviour["silent"] = silent
    base, root, requested = mirror
    monkeypatch.delenv("ACTLAB_DATA_DIR", raising=False)
    serve(root, data_dir, "t10k-labels-idx1-ubyte.gz")
    monkeypatch.setenv("ACTLAB_DATA_MIRROR", f"{slow} {base}")
    monkeypatch.setenv("ACTLAB_OFFLINE", "0")
    monkeypatch.setenv("ACTLAB_DOWNLOAD_TIMEOUT", "1.5")
    started = time.monotonic()
    path = fetch_file(FILES["mnist"]["t10k-labels-idx1-ubyte.gz"])
    took = time.monotonic() - started
    assert read_idx(path).shape == (10000,)
    assert took < 6, f"{took:.1f}s"
    slow_host, good_host = slow.split("//")[1], base.split("//")[1]
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"actlab: downloading mnist/t10k-labels-idx1-ubyte.gz from {slow_host} (0.0 MB)"
    assert lines[1].startswith(f"actlab: {slow_host} failed (") and lines[1].endswith(f"); trying {good_host}")
    assert ("no answer within 1.5s" if silent else "within 1.5s (ACTLAB_DOWNLOAD_TIMEOUT") in lines[1]
    assert lines[-1] == f"actlab: downloading mnist/t10k-labels-idx1-ubyte.gz from {good_host} (0.0 MB)"


def test_a_t10k_file_in_the_train_files_place_is_named_as_such(copy_dir: Path) -> None:
    train = copy_dir / "mnist" / "train-labels-idx1-ubyte.gz"
    train.unlink()
    shutil.copy(copy_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", train)
    with pytest.raises(DataError) as excinfo:
        fetch_file(FILES["mnist"]["train-labels-idx1-ubyte.gz"], data_dir=copy_dir)
    message = one_line_error(excinfo, str(train), "is the file mnist/t10k-labels-idx1-ubyte.gz, not "
                                                  "mnist/train-labels-idx1-ubyte.gz")
    assert "truncated" not in message


def test_an_unreadable_data_folder_is_a_data_error(copy_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # (the tests may run as root, whom chmod does not stop: the folder's stat fails as it would for a user)
    real_stat = Path.stat

    def stat(self, *args, **kwargs):
        if str(self).startswith(str(copy_dir)):
            raise PermissionError(13, "Permission denied", str(self))
        return real_stat(self, *args, **kwargs)

    monkeypatch.setattr(Path, "stat", stat)
    with pytest.raises(DataError) as excinfo:
        fetch_file(FILES["mnist"]["t10k-labels-idx1-ubyte.gz"], data_dir=copy_dir)
    # the folder itself cannot be looked at: named at once, before any file in it
    one_line_error(excinfo, f"data folder {copy_dir} (from --data-dir) cannot be read (Permission denied)",
                   f"chmod -R u+rX {copy_dir}")
