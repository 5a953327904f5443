"""The ``actlab`` command: ``main`` parses (:mod:`.main`), one module per command runs it.

``python -m actlab.cli`` and ``python -m actlab`` run the same :func:`main`.
"""

from .main import main

__all__ = ["main"]
