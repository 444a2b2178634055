"""The kgqa pipeline: the ``KGQA`` facade and the ``kgqa`` command line."""

from __future__ import annotations

from pipeline.api import KGQA

__all__ = ["KGQA"]
