"""The two errors of ``actlab.data``, both ``ValueError`` subclasses."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DataError", "UnknownDatasetError"]


class DataError(ValueError):
    """A dataset file is missing, damaged, or cannot be fetched.

    The message is one line that names the file and says what to do. ``path`` is the
    file concerned (where it was, or would have been, read), or None.
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else Path(path)


class UnknownDatasetError(ValueError):
    """A dataset name that actlab does not know; the message lists the valid names."""
