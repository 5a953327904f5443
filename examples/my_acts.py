"""An activation of your own for ``--plugin``: ``actlab verify --plugin examples/my_acts.py mine``,
``actlab compare --plugin examples/my_acts.py mine,relu,gelu --quick``.

actlab runs this file as your own code, with your rights, in its process and in every worker
process (docs/COMPARE.md, "Trust model"). It must call ``register_activation``.
"""

import torch
import torch.nn.functional as F

from actlab.activations import get, register_activation

# A leaky ReLU with slope 0.01, written by hand: the value, its derivative, and what is true of it
# (here the same as the zoo's leaky_relu; `actlab verify` measures every declared property).
register_activation("mine", lambda x: F.leaky_relu(x, 0.01),
                    lambda x: torch.where(x > 0, torch.ones_like(x), torch.full_like(x, 0.01)),
                    get("leaky_relu").properties, summary="leaky ReLU (0.01), from examples/my_acts.py")
