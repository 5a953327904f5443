"""The ``actlab`` command (:mod:`.main`)."""

from .main import main

__all__ = ["main"]
