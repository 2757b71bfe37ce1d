"""``python -m cifarlab``: the same as the ``cifarlab`` command (torchrun launches it this way)."""

import sys

from .cli.app import main

sys.exit(main())
