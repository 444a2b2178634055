"""``python -m pipeline.cli``: the same as the ``kgqa`` command."""

from __future__ import annotations

import sys

from pipeline.cli import main

sys.exit(main())
