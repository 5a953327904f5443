"""actlab: activation functions and gradient flow, measured.

* ``actlab.activations``: the zoo (functions, derivatives, modules, properties).
* ``actlab.probes``: the training :class:`Monitor` and its statistics.
* ``actlab.claims``: one module (or package) per textbook claim, ``run(config) -> Result``.
* the ``actlab`` command: ``actlab list``, ``show``, ``verify``, ``run``, ``report``, ``sweep``.
"""

from ._version import __version__
from .activations import get, make_module, names, register_activation
from .probes import Monitor

__all__ = ["__version__", "Monitor", "get", "make_module", "names", "register_activation"]
