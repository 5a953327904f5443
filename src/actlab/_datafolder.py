"""The data folder the user named, checked without importing torch (``actlab run`` checks it
before it loads any claim): see :func:`actlab.data.files.check_data_folder`, which wraps it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DataFolderError", "named_data_folder", "check_named_data_folder"]


class DataFolderError(ValueError):
    """The named data folder is missing, not a folder, or unreadable; ``path`` is the folder."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def named_data_folder(data_dir: str | os.PathLike[str] | None = None) -> tuple[Path, str] | None:
    """The data folder the user named, and where it was named: ``(data_dir, "--data-dir")``, else
    ``($ACTLAB_DATA_DIR, "ACTLAB_DATA_DIR")``, else None (then only the cache folder is used)."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser(), "--data-dir"
    if os.environ.get("ACTLAB_DATA_DIR"):
        return Path(os.environ["ACTLAB_DATA_DIR"]).expanduser(), "ACTLAB_DATA_DIR"
    return None


def check_named_data_folder(data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The named data folder, checked: :class:`DataFolderError` naming it if it is missing, not a
    folder, or unreadable. None when no folder was named."""
    named = named_data_folder(data_dir)
    if named is None:
        return None
    folder, origin = named
    try:
        exists, is_dir = folder.exists(), folder.is_dir()
    except OSError as exc:
        raise DataFolderError(f"data folder {folder} (from {origin}) cannot be read ({exc.strerror or exc}): give "
                              f"it read permission (chmod -R u+rX {folder}) or point {origin} at a readable one",
                              folder) from None
    if not exists:
        raise DataFolderError(f"data folder {folder} (from {origin}) does not exist: point {origin} at the folder "
                              "holding mnist/ and fashion-mnist/, or unset it to use the cache (and downloads)",
                              folder)
    if not is_dir:
        raise DataFolderError(f"data folder {folder} (from {origin}) is a file, not a folder: point {origin} at "
                              "the folder holding mnist/ and fashion-mnist/", folder)
    if not os.access(folder, os.R_OK | os.X_OK):
        raise DataFolderError(f"data folder {folder} (from {origin}) is not readable: give it read permission "
                              f"(chmod -R u+rX {folder}) or point {origin} at a readable one", folder)
    return folder
