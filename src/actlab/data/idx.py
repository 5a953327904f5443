"""Read IDX files (the format of MNIST and Fashion-MNIST), gzip-compressed or not.

An IDX file is a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then ``ndim``
big-endian uint32 sizes, then the values, big-endian, row-major. MNIST uses
``0x00000803`` (2051: unsigned bytes, 3 dimensions) for images and ``0x00000801``
(2049: unsigned bytes, 1 dimension) for labels.

Every problem (truncated or corrupt gzip, bad magic number, sizes that disagree
with the data) is a :class:`~actlab.data.errors.DataError` naming the file.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np

from .errors import DataError

__all__ = ["IMAGES_MAGIC", "LABELS_MAGIC", "read_idx", "parse_idx", "gunzip"]

#: Magic number of an IDX file of unsigned bytes in 3 dimensions (MNIST images).
IMAGES_MAGIC = 0x00000803
#: Magic number of an IDX file of unsigned bytes in 1 dimension (MNIST labels).
LABELS_MAGIC = 0x00000801

# IDX type byte -> numpy dtype (big-endian, as the format stores them).
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_REPLACE = "replace it with an intact copy of the original file"


def read_idx(path: str | os.PathLike[str], *, expected_magic: int | None = None) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (gunzipped first if it ends in ``.gz``).

    Args:
        path: an ``.idx*`` or ``.gz`` file.
        expected_magic: if given, the magic number the file must have
            (:data:`IMAGES_MAGIC` or :data:`LABELS_MAGIC` for MNIST).

    Returns:
        A writable array in native byte order with the shape the header gives.

    Raises:
        DataError: the file cannot be read, is a truncated or corrupt gzip stream,
            has a bad magic number, or holds more or fewer values than its header says.

    Examples::

        >>> labels = read_idx("mnist/train-labels-idx1-ubyte.gz")  # doctest: +SKIP
        >>> labels.shape, labels[:3]                                # doctest: +SKIP
        ((60000,), array([5, 0, 4], dtype=uint8))
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}", path) from exc
    if path.suffix == ".gz":
        raw = gunzip(raw, path)
    return parse_idx(raw, path, expected_magic=expected_magic)


def gunzip(data: bytes, path: str | os.PathLike[str]) -> bytes:
    """Decompress a whole gzip file's bytes; DataError naming ``path`` if it is truncated or corrupt."""
    if len(data) < 18:  # a gzip header (10 bytes) and trailer (8 bytes) at the least
        raise DataError(f"{path} is truncated ({len(data)} bytes, too short for a gzip file); {_REPLACE}", path)
    if data[:2] != b"\x1f\x8b":
        raise DataError(f"{path} is not a gzip file (it starts with {data[:2].hex()}, not 1f8b); {_REPLACE}", path)
    # zlib with wbits=31 reads the gzip header and trailer and checks the CRC-32 and
    # length; it is a little faster than gzip.decompress on these 10-50 MB files.
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(data)
        out += decompressor.flush()
    except zlib.error as exc:
        raise DataError(f"{path} is a corrupt gzip file ({exc}); {_REPLACE}", path) from exc
    if not decompressor.eof:
        raise DataError(f"{path} is truncated (the gzip stream ends early); {_REPLACE}", path)
    if decompressor.unused_data:
        raise DataError(f"{path} has {len(decompressor.unused_data)} unexpected bytes after its gzip stream; {_REPLACE}",
                        path)
    return out


def parse_idx(data: bytes, path: str | os.PathLike[str] = "<bytes>", *,
              expected_magic: int | None = None) -> np.ndarray:
    """The array in the (already decompressed) IDX bytes ``data``; ``path`` is for messages."""
    if len(data) < 4:
        raise DataError(f"{path} is not an IDX file (only {len(data)} bytes after decompression); {_REPLACE}", path)
    magic = int.from_bytes(data[:4], "big")
    zero, type_code, ndim = magic >> 16, data[2], data[3]
    if zero != 0 or type_code not in _IDX_TYPES or ndim == 0:
        raise DataError(f"{path} has a bad IDX magic number 0x{magic:08x} (not 0x0000TTNN with a known type TT); "
                        f"{_REPLACE}", path)
    if expected_magic is not None and magic != expected_magic:
        raise DataError(f"{path} has IDX magic number 0x{magic:08x}, expected 0x{expected_magic:08x} "
                        f"(wrong file in this place?); {_REPLACE}", path)
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"{path} is truncated inside its IDX header ({len(data)} of {header_len} bytes); {_REPLACE}",
                        path)
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        what = "is missing data" if actual < expected else "has extra data"
        raise DataError(f"{path} {what}: its IDX header promises shape {shape} ({expected} bytes of values) "
                        f"but {actual} bytes follow; {_REPLACE}", path)
    # frombuffer gives a read-only view of `data`; one copy makes it writable and native-endian.
    values = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=True)
