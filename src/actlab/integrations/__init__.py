"""The monitor in the training loops people use: a PyTorch Lightning ``Callback``
(:mod:`actlab.integrations.lightning`) and a Hugging Face ``TrainerCallback``
(:mod:`actlab.integrations.transformers`).

Both need the optional extra: ``pip install -e ".[integrations]"``. Importing this
package imports neither library; each submodule imports its own. What both share is in
:mod:`actlab.integrations.scalars`.
"""

from .scalars import ScalarSink, scalars

__all__ = ["ScalarSink", "scalars"]
