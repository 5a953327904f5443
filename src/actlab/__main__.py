"""``python -m actlab``: the ``actlab`` command."""

import sys

from .cli.main import main

sys.exit(main())
