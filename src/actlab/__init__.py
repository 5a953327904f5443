"""actlab: activation functions and gradient flow, measured.

* ``actlab.activations``: the zoo (functions, derivatives, modules, properties).
* ``actlab.experiments``: one module per textbook claim, ``run(config) -> Result``.
* the ``actlab`` command: ``actlab list``, ``actlab show``, ``actlab run``.
"""

from ._version import __version__
from .activations import get, make_module, names, register_activation

__all__ = ["__version__", "get", "make_module", "names", "register_activation"]
