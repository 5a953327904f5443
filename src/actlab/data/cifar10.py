"""CIFAR-10: a folder the user has, or the python archive downloaded on request.

Where it comes from, in this order (:func:`load_cifar10`):

1. a folder the user already has, under ``--data-dir`` / ``$ACTLAB_DATA_DIR`` (or that folder
   itself): ``cifar-10-batches-bin/`` (the binary release, read by :func:`read_cifar10`) or
   ``cifar-10-batches-py/`` (the python release, :func:`read_cifar10_python`);
2. the cache folder (``$ACTLAB_CACHE_DIR``, ...; see :mod:`actlab.data.files`):
   ``cifar10/cifar-10-batches-py/`` from an earlier download;
3. when the user asks for CIFAR-10 (``--dataset cifar10``) and ``$ACTLAB_OFFLINE`` is not 1:
   ``cifar-10-python.tar.gz`` (about 170 MB) downloaded from :data:`CIFAR10_URL` (or
   ``$ACTLAB_DATA_MIRROR/cifar10/cifar-10-python.tar.gz``) into the cache, checked against the MD5
   sum torchvision checks (:data:`CIFAR10_ARCHIVE_MD5`) before it is opened, its six batches
   extracted (nothing else, no path outside the folder) and each checked against torchvision's MD5
   (:data:`CIFAR10_PY_MD5`). The sums are those of ``torchvision/datasets/cifar.py``
   (pytorch/vision, class ``CIFAR10``: ``tgz_md5``, ``train_list``, ``test_list``).

The python batches are pickles; they are read only after their MD5 check passes, with an
unpickler that admits nothing but numpy's array reconstruction (a pickle can run code).

The binary release (``cifar-10-batches-bin``), its files:

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
import pickle
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .errors import DataError

__all__ = ["FOLDER", "TRAIN_FILES", "TEST_FILES", "RECORD_BYTES", "IMAGES_PER_FILE", "CIFAR10_CLASSES",
           "CIFAR10_SHA256", "find_cifar10", "read_cifar10", "sha256_of", "PY_FOLDER", "PY_FILES", "CIFAR10_URL",
           "ARCHIVE", "CIFAR10_ARCHIVE_MD5", "CIFAR10_PY_MD5", "md5_of", "read_cifar10_python", "download_cifar10",
           "load_cifar10"]

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

#: The python release: its folder, files, archive and where it is published.
PY_FOLDER = "cifar-10-batches-py"
PY_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")
ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
#: MD5 sums as torchvision checks them (torchvision/datasets/cifar.py, class CIFAR10: tgz_md5,
#: train_list, test_list), copied from pytorch/vision, not computed here.
CIFAR10_ARCHIVE_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_PY_MD5: Mapping[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
}
_MAX_ARCHIVE_BYTES = 200_000_000   # the archive is about 170 MB: a longer answer is not it
_READ_TIMEOUT_S = 30.0


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


# ----------------------------------------------------------------------- the python release


def md5_of(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _ArrayUnpickler(pickle.Unpickler):
    """Admits numpy's array reconstruction and nothing else: a CIFAR batch needs no more."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"),
                ("_codecs", "encode")}  # how Python 3 pickles bytes at protocol 2 (encodes a str: no side effect)

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR-10 batch")
        return super().find_class(module, name)


def _find_py(base: Path) -> Path | None:
    for candidate in (base / PY_FOLDER, base / "cifar10" / PY_FOLDER, base):
        if (candidate / PY_FILES[-1]).is_file() or (candidate / PY_FILES[0]).is_file():
            return candidate
    return None


def read_cifar10_python(folder: str | os.PathLike[str], md5: Mapping[str, str] | None = None
                        ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x_train, y_train, x_test, y_test)`` from a ``cifar-10-batches-py`` folder, every batch
    checked against ``md5`` (default :data:`CIFAR10_PY_MD5`) before it is unpickled."""
    folder = Path(folder)
    sums = CIFAR10_PY_MD5 if md5 is None else md5
    parts = []
    for name in PY_FILES:
        path = folder / name
        if not path.is_file():
            raise DataError(f"{path} is missing: {PY_FOLDER} needs {', '.join(PY_FILES)}", path)
        got = md5_of(path)
        if got != sums[name]:
            raise DataError(f"{path} fails its MD5 check (expected {sums[name]}, the sum torchvision checks; got "
                            f"{got}): damaged or a different file; delete {folder} and run again to download it",
                            path)
        try:
            with open(path, "rb") as fh:
                entry = _ArrayUnpickler(fh, encoding="latin1").load()
            data = np.asarray(entry["data"], dtype=np.uint8)
            labels = np.asarray(entry["labels"], dtype=np.int64)
        except (pickle.UnpicklingError, KeyError, TypeError, ValueError, EOFError) as exc:
            raise DataError(f"{path} is not a CIFAR-10 batch ({exc})", path) from None
        if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
            raise DataError(f"{path} holds data of shape {data.shape} with {len(labels)} labels, not N x 3072", path)
        if labels.size and (labels.min() < 0 or labels.max() > 9):
            raise DataError(f"{path} holds a label outside 0..9: not a CIFAR-10 file", path)
        parts.append((torch.from_numpy(data.reshape(-1, 3, 32, 32).copy()), torch.from_numpy(labels)))
    x_train = torch.cat([x for x, _ in parts[:-1]])
    y_train = torch.cat([y for _, y in parts[:-1]])
    return x_train, y_train, parts[-1][0], parts[-1][1]


def _say(line: str) -> None:
    print(f"actlab: {line}", file=sys.stderr, flush=True)


def download_cifar10(cache_dir: str | os.PathLike[str], *, url: str | None = None,
                     archive_md5: str = CIFAR10_ARCHIVE_MD5, md5: Mapping[str, str] | None = None,
                     timeout_s: float | None = None) -> Path:
    """Download and unpack ``cifar-10-python.tar.gz`` into ``cache_dir/cifar10/``; its batch folder.

    The archive goes to a temporary file, is checked against ``archive_md5`` (torchvision's) and
    only then opened; only the six batches are extracted, each checked against ``md5``. A failed
    check deletes what was written and is a :class:`DataError`; nothing half-made stays in the cache.
    """
    from .files import download_timeout

    root = Path(cache_dir) / "cifar10"
    root.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get("ACTLAB_DATA_MIRROR", "").replace(",", " ").split()
    url = url or (f"{mirror[0].rstrip('/')}/cifar10/{ARCHIVE}" if mirror else CIFAR10_URL)
    limit = timeout_s if timeout_s is not None else download_timeout()
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=f".{ARCHIVE}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        _say(f"downloading {ARCHIVE} (about 170 MB) from {url}")
        digest, received, start = hashlib.md5(usedforsecurity=False), 0, time.monotonic()
        request = urllib.request.Request(url, headers={"User-Agent": "actlab"})
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=_READ_TIMEOUT_S) as response:
                while chunk := response.read(1 << 16):
                    received += len(chunk)
                    if received > _MAX_ARCHIVE_BYTES or time.monotonic() - start > limit:
                        raise DataError(f"the download of {ARCHIVE} from {url} took over {limit:g}s or "
                                        f"{_MAX_ARCHIVE_BYTES} bytes: try again, or unpack it yourself into "
                                        f"{root / PY_FOLDER}", tmp)
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as exc:
            raise DataError(f"could not download {ARCHIVE} from {url} ({exc}): check the network, or put "
                            f"{PY_FOLDER}/ (or cifar-10-batches-bin/) under --data-dir", tmp) from None
        if digest.hexdigest() != archive_md5:
            raise DataError(f"{ARCHIVE} from {url} fails its MD5 check (expected {archive_md5}, the sum torchvision "
                            f"checks; got {digest.hexdigest()}, {received} bytes): not the CIFAR-10 release; "
                            "nothing was kept", tmp)
        folder = root / PY_FOLDER
        staging = Path(tempfile.mkdtemp(dir=root, prefix=".unpack."))
        try:
            with tarfile.open(tmp, "r:gz") as tar:
                members = {Path(m.name).name: m for m in tar.getmembers()
                           if m.isfile() and Path(m.name).parent.name == PY_FOLDER and Path(m.name).name in PY_FILES}
                missing = [n for n in PY_FILES if n not in members]
                if missing:
                    raise DataError(f"{ARCHIVE} lacks {', '.join(missing)}", tmp)
                for name, member in members.items():
                    src = tar.extractfile(member)
                    if src is None:
                        raise DataError(f"{ARCHIVE}: {member.name} is not a file", tmp)
                    (staging / name).write_bytes(src.read())
            read_check = {n: md5_of(staging / n) for n in PY_FILES}
            sums = CIFAR10_PY_MD5 if md5 is None else md5
            bad = [n for n in PY_FILES if read_check[n] != sums[n]]
            if bad:
                raise DataError(f"{', '.join(bad)} in {ARCHIVE} fail their MD5 check (the sums torchvision checks)",
                                tmp)
            if folder.exists():
                for old in folder.iterdir():
                    old.unlink()
                folder.rmdir()
            staging.rename(folder)
        finally:
            if staging.exists():
                for f in staging.iterdir():
                    f.unlink()
                staging.rmdir()
        _say(f"CIFAR-10 checked and unpacked into {folder}")
        return folder
    finally:
        tmp.unlink(missing_ok=True)


def locate_cifar10(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True) -> tuple[Path, str]:
    """Where CIFAR-10 is, without reading it: ``(folder, "bin" | "py")``; a user's folder first,
    then the cache, then the python archive downloaded now (where allowed). DataError otherwise."""
    from .files import default_cache_dir, offline

    base = data_dir if data_dir is not None else os.environ.get("ACTLAB_DATA_DIR")
    if base is not None:
        base = Path(base)
        for candidate in (base / FOLDER, base / "cifar10" / FOLDER, base):
            if (candidate / TEST_FILES[0]).is_file() or (candidate / TRAIN_FILES[0]).is_file():
                return candidate, "bin"
        py = _find_py(base)
        if py is not None:
            return py, "py"
    cache = default_cache_dir()
    cached = cache / "cifar10" / PY_FOLDER
    if (cached / PY_FILES[-1]).is_file():
        return cached, "py"
    where = f"{base} or {cache / 'cifar10'}" if base is not None else str(cache / "cifar10")
    if not download or offline():
        why = "downloads are disabled (ACTLAB_OFFLINE=1)" if download else "download=False"
        raise DataError(f"CIFAR-10 not found (looked for {FOLDER}/ or {PY_FOLDER}/ in {where}) and {why}: unset "
                        f"ACTLAB_OFFLINE to download {ARCHIVE} (about 170 MB, MD5-checked), or pass --data-dir DIR "
                        f"holding {FOLDER}/ or {PY_FOLDER}/", cached)
    return download_cifar10(cache), "py"


def load_cifar10(data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
                 ) -> tuple[tuple[Tensor, Tensor, Tensor, Tensor], Path]:
    """The CIFAR-10 tensors and the folder they came from (see the module docstring for the order)."""
    folder, kind = locate_cifar10(data_dir, download=download)
    return (read_cifar10(folder) if kind == "bin" else read_cifar10_python(folder)), folder
