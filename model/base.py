"""Model-layer interfaces: text embedders (and, later, scorers and generators).

An ``Embedder`` turns texts into L2-normalised float32 vectors, so that a dot product is a
cosine similarity. Concrete embedders live one per file (``model/embedders.py``); heavy
libraries are imported only when one is built. This module imports no model library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Texts to unit vectors. ``query`` and ``passage`` differ for asymmetric models (E5)."""

    name: str
    dimension: int

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of questions, shape (len(texts), dimension), float32, unit length."""
        ...

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of documents (passages, labels, verbalized paths)."""
        ...
