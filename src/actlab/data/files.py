"""Where the MNIST and Fashion-MNIST files come from: lookup, download, checksums.

A file ``<dataset>/<name>.gz`` is looked for in this order:

1. ``data_dir`` if given, else ``$ACTLAB_DATA_DIR`` if set: ``<dir>/<dataset>/<name>.gz``;
2. the cache folder (``$ACTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/actlab``, else
   ``~/.cache/actlab``), same layout;
3. if ``download`` is true and ``$ACTLAB_OFFLINE`` is not set to 1: downloaded into the
   cache folder from the public mirrors (or from ``$ACTLAB_DATA_MIRROR``, a base URL
   laid out like the data folder, which then replaces them).

Every file found or downloaded is checked against its known SHA-256 (and size) before
use; a check is remembered per process by (path, size, mtime), so a file is hashed once.
Downloads go to a temporary file in the cache folder and are renamed into place only
after the check passes, so a bad or interrupted download never lands in the cache.

A download says so on stderr ("downloading FILE from HOST", then its progress at most
every 2 s). Each mirror gets at most ``$ACTLAB_DOWNLOAD_TIMEOUT`` seconds in all (default
300; a server that answers one byte at a time cannot stretch it) and at most 30 s of
silence; a mirror that fails is named in one line and the next one is tried.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from .._datafolder import DataFolderError, check_named_data_folder, named_data_folder
from .._env import env_seconds
from .._version import __version__
from .errors import DataError

__all__ = [
    "RemoteFile",
    "FILES",
    "MIRRORS",
    "default_cache_dir",
    "offline",
    "fetch_file",
    "check_data_folder",
    "data_folder",
    "verify_file",
    "clear_checks",
    "download_timeout",
]

_READ_TIMEOUT_S = 30.0  # the longest silence a mirror may keep
_DOWNLOAD_TIMEOUT_S = 300.0  # one mirror's whole answer (ACTLAB_DOWNLOAD_TIMEOUT changes it)
_CHUNK = 1 << 16
_PROGRESS_EVERY_S = 2.0


@dataclass(frozen=True)
class RemoteFile:
    """One published dataset file: its folder, name, SHA-256 and size in bytes."""

    dataset: str
    name: str
    sha256: str
    size: int

    @property
    def relpath(self) -> str:
        """``<dataset>/<name>``, as laid out in a data folder and in the cache."""
        return f"{self.dataset}/{self.name}"


def _files(dataset: str, entries: Sequence[tuple[str, str, int]]) -> Mapping[str, RemoteFile]:
    return MappingProxyType({name: RemoteFile(dataset, name, sha, size) for name, sha, size in entries})


#: The published files, by folder and name. SHA-256 and sizes as in ../shared/data/SHA256SUMS
#: and its README (they are also the values TensorFlow Datasets publishes).
FILES: Mapping[str, Mapping[str, RemoteFile]] = MappingProxyType({
    "mnist": _files("mnist", [
        ("train-images-idx3-ubyte.gz", "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
        ("train-labels-idx1-ubyte.gz", "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
        ("t10k-images-idx3-ubyte.gz", "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
        ("t10k-labels-idx1-ubyte.gz", "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
    ]),
    "fashion-mnist": _files("fashion-mnist", [
        ("train-images-idx3-ubyte.gz", "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84", 26421880),
        ("train-labels-idx1-ubyte.gz", "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845", 29515),
        ("t10k-images-idx3-ubyte.gz", "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073", 4422102),
        ("t10k-labels-idx1-ubyte.gz", "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5", 5148),
    ]),
})

#: Public mirrors, tried in order (base URLs; the file name is appended).
MIRRORS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",       # torchvision's first mirror
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow Datasets'
        "http://yann.lecun.com/exdb/mnist/",                    # the original site
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # the authors' (torchvision's)
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras'
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
})


def default_cache_dir() -> Path:
    """``$ACTLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/actlab``, else ``~/.cache/actlab``."""
    if os.environ.get("ACTLAB_CACHE_DIR"):
        return Path(os.environ["ACTLAB_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "actlab"
    return Path.home() / ".cache" / "actlab"


def offline() -> bool:
    """True when ``$ACTLAB_OFFLINE`` is set to 1 (or true/yes/on): every download is then an error."""
    return os.environ.get("ACTLAB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _mirror_urls(remote: RemoteFile) -> list[str]:
    override = os.environ.get("ACTLAB_DATA_MIRROR", "").replace(",", " ").split()
    if override:
        return [f"{base.rstrip('/')}/{remote.relpath}" for base in override]
    return [base + remote.name for base in MIRRORS[remote.dataset]]


def data_folder(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str] | None:
    """The data folder the user named, and where it was named: ``(data_dir, "--data-dir")``, else
    ``($ACTLAB_DATA_DIR, "ACTLAB_DATA_DIR")``, else None (then only the cache folder is used)."""
    return named_data_folder(data_dir)


def check_data_folder(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The data folder the user named (:func:`data_folder`), checked: DataError naming it at once
    if it is missing, not a folder, or unreadable. A named folder is never silently passed over
    for the cache or a download. None when no folder was named."""
    try:
        return check_named_data_folder(data_dir)
    except DataFolderError as exc:
        raise DataError(str(exc), exc.path) from None


def _search_dirs(data_dir: str | os.PathLike[str] | None) -> list[Path]:
    dirs = []
    named = check_data_folder(data_dir)
    if named is not None:
        dirs.append(named)
    cache = default_cache_dir()
    if cache not in dirs:
        dirs.append(cache)
    return dirs


def fetch_file(remote: RemoteFile, *, data_dir: str | os.PathLike[str] | None = None,
               download: bool = True) -> Path:
    """The path of a verified local copy of ``remote``, downloading it into the cache if needed.

    Args:
        remote: an entry of :data:`FILES`, e.g. ``FILES["mnist"]["t10k-labels-idx1-ubyte.gz"]``.
        data_dir: folder with ``<dataset>/`` subfolders, looked in first; default
            ``$ACTLAB_DATA_DIR``.
        download: allow a download into the cache folder when no copy is found.

    Raises:
        DataError: missing and not downloadable (says where it looked and how to fix it),
            a copy that fails its checksum (truncated, corrupt or different; it is never
            replaced behind your back), or a download that failed on every mirror.
    """
    dirs = _search_dirs(data_dir)
    for folder in dirs:
        path = folder / remote.dataset / remote.name
        try:
            found = path.is_file()
        except OSError as exc:  # a data folder without read permission: a data error, at once
            raise DataError(f"cannot read {path} ({exc.strerror or exc}): give the data folder read permission "
                            f"(chmod -R u+rX {folder}), or set ACTLAB_DATA_DIR to a readable one", path) from None
        if found:
            verify_file(path, remote)
            return path
    cache = default_cache_dir()
    if download and not offline():
        return _download(remote, cache / remote.dataset)
    looked = ", ".join(_describe_dir(folder / remote.dataset) for folder in dirs)
    if download:
        why, allow = "downloads are disabled (ACTLAB_OFFLINE=1)", "unset ACTLAB_OFFLINE to download it"
    else:
        why, allow = "download=False", "pass download=True to download it"
    raise DataError(
        f"{remote.relpath} not found (looked in {looked}) and {why}: set ACTLAB_DATA_DIR (or data_dir, "
        f"--data-dir) to a folder holding {remote.relpath}, or {allow}{_misplaced_hint(dirs, remote)}",
        dirs[0] / remote.dataset / remote.name,
    )


def _describe_dir(folder: Path) -> str:
    return str(folder) if folder.is_dir() else f"{folder} [no such folder]"


def _misplaced_hint(dirs: list[Path], remote: RemoteFile) -> str:
    # A common slip: pointing the data folder at mnist/ itself rather than its parent.
    for folder in dirs:
        if (folder / remote.name).is_file():
            return f" (found {folder / remote.name}: the data folder is the parent of {remote.dataset}/)"
    return ""


def verify_file(path: str | os.PathLike[str], remote: RemoteFile) -> None:
    """Check ``path`` against the size and SHA-256 of ``remote``; DataError naming the file if it differs.

    A successful check is remembered for this process by (real path, size, mtime).
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}", path) from exc
    try:
        _verify_cached(os.path.realpath(path), st.st_size, st.st_mtime_ns, remote)
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}", path) from exc
    except _Mismatch as exc:
        raise DataError(f"{path} {exc}; {_fix(remote)}", path) from None


class _Mismatch(Exception):
    """A file is not the published one; the message says how it differs."""


# Remembers successful checks only (an exception is not cached): per process, keyed by
# file identity, so a replaced or touched file is checked again, and a symlink shares
# the check of its target.
@functools.lru_cache(maxsize=64)
def _verify_cached(real_path: str, size: int, mtime_ns: int, remote: RemoteFile) -> None:
    data = Path(real_path).read_bytes()
    if len(data) == remote.size and hashlib.sha256(data).hexdigest() == remote.sha256:
        return
    raise _Mismatch(_diagnose(data, remote))


def clear_checks() -> None:
    """Forget the checksum checks remembered in this process (every file is hashed again)."""
    _verify_cached.cache_clear()


def _diagnose(data: bytes, remote: RemoteFile) -> str:
    """Why ``data`` is not the published file, in a few words (only run once a check failed)."""
    digest = hashlib.sha256(data).hexdigest()
    for files in FILES.values():
        for other in files.values():
            if other.sha256 == digest and other != remote:
                return f"is the file {other.relpath}, not {remote.relpath} (a file in the wrong place)"
    if len(data) < remote.size and _complete_gzip(data):
        return (f"is a complete gzip file of {len(data)} bytes, not the {remote.size} bytes of {remote.name}: "
                "a different file, not a truncated one")
    if len(data) < remote.size:
        return f"is truncated ({len(data)} of {remote.size} bytes)"
    if len(data) > remote.size:
        return f"is {len(data)} bytes, not the expected {remote.size} (not the original file)"
    try:
        decompressor = zlib.decompressobj(wbits=31)
        decompressor.decompress(data)
        decompressor.flush()
        intact = decompressor.eof
    except zlib.error as exc:
        return f"is a corrupt gzip file ({exc})"
    if not intact:
        return "is a corrupt gzip file (its stream ends early)"
    return (f"fails its checksum (SHA-256 {hashlib.sha256(data).hexdigest()[:16]}..., expected "
            f"{remote.sha256[:16]}...: the content differs from the original)")


def _complete_gzip(data: bytes) -> bool:
    try:
        decompressor = zlib.decompressobj(wbits=31)
        decompressor.decompress(data)
        decompressor.flush()
        return decompressor.eof
    except zlib.error:
        return False


def _fix(remote: RemoteFile) -> str:
    return f"delete it and allow the download, or replace it with the original {remote.name} (SHA-256 {remote.sha256})"


def download_timeout() -> float:
    """Seconds one mirror may take in all: ``$ACTLAB_DOWNLOAD_TIMEOUT``, else 300."""
    return env_seconds("ACTLAB_DOWNLOAD_TIMEOUT", _DOWNLOAD_TIMEOUT_S, 86400, DataError)


def _say(line: str) -> None:
    print(f"actlab: {line}", file=sys.stderr, flush=True)


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _download(remote: RemoteFile, folder: Path) -> Path:
    dest = folder / remote.name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the cache folder {folder} for {remote.relpath} ({exc.strerror or exc}): "
                        f"set ACTLAB_CACHE_DIR to a writable folder, or ACTLAB_DATA_DIR to a folder holding "
                        f"{remote.relpath}", dest) from exc
    limit = download_timeout()
    urls = _mirror_urls(remote)
    failures = []
    for i, url in enumerate(urls):
        _say(f"downloading {remote.relpath} from {_host(url)} ({remote.size / 1e6:.1f} MB)")
        try:
            _fetch(url, dest, remote, limit)
        except _FetchFailed as exc:
            failures.append(f"{url}: {exc}")
            if i + 1 < len(urls):
                _say(f"{_host(url)} failed ({exc}); trying {_host(urls[i + 1])}")
            continue
        verify_file(dest, remote)  # cheap: records the check for later reads
        return dest
    raise DataError(f"could not download {remote.relpath} into {folder} ({'; '.join(failures)}): set "
                    f"ACTLAB_DATA_DIR to a folder holding {remote.relpath}, or try again later", dest)


class _FetchFailed(Exception):
    """One mirror failed (the reason is the message); the next one is tried."""


def _fetch(url: str, dest: Path, remote: RemoteFile, limit: float) -> None:
    # Stream into a temporary file beside `dest`, hashing as we go; rename only a verified
    # file into place (os.replace is atomic within one file system). The socket timeout
    # bounds each wait; the deadline bounds the whole answer (a trickle resets no clock).
    start = time.monotonic()
    deadline = start + limit
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        digest, received, shown = hashlib.sha256(), 0, start
        request = urllib.request.Request(url, headers={"User-Agent": f"actlab/{__version__}"})
        timeout = min(_READ_TIMEOUT_S, limit)
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            while True:
                if time.monotonic() > deadline:
                    raise _FetchFailed(f"only {received} of {remote.size} bytes within {limit:g}s "
                                       "(ACTLAB_DOWNLOAD_TIMEOUT sets the limit)")
                chunk = response.read1(_CHUNK)
                if not chunk:
                    break
                received += len(chunk)
                if received > remote.size:
                    raise _FetchFailed(f"more than the expected {remote.size} bytes")
                digest.update(chunk)
                out.write(chunk)
                now = time.monotonic()
                if now - shown >= _PROGRESS_EVERY_S:
                    shown = now
                    _say(f"downloading {remote.relpath} from {_host(url)}: {100 * received / remote.size:.0f}% "
                         f"({received / 1e6:.1f} of {remote.size / 1e6:.1f} MB)")
            out.flush()
            os.fsync(out.fileno())
        if received != remote.size:
            raise _FetchFailed(f"got {received} of {remote.size} bytes")
        if digest.hexdigest() != remote.sha256:
            raise _FetchFailed(f"checksum mismatch (SHA-256 {digest.hexdigest()[:16]}..., expected "
                               f"{remote.sha256[:16]}...)")
        os.replace(tmp, dest)
    except urllib.error.HTTPError as exc:
        raise _FetchFailed(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            raise _FetchFailed(f"no answer within {min(_READ_TIMEOUT_S, limit):g}s") from exc
        raise _FetchFailed(str(reason)) from exc
    except TimeoutError as exc:
        wait = min(_READ_TIMEOUT_S, limit)
        raise _FetchFailed(f"silent for {wait:g}s after {received} of {remote.size} bytes" if received else
                           f"no answer within {wait:g}s") from exc
    except (http.client.HTTPException, OSError, ValueError) as exc:
        raise _FetchFailed(str(exc) or type(exc).__name__) from exc
    finally:
        tmp.unlink(missing_ok=True)
