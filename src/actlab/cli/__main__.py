"""``python -m actlab.cli``: the ``actlab`` command."""

import sys

from .main import main

sys.exit(main())
