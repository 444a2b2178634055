"""Model-layer interfaces: text embedders, and the device choice shared by the torch models.

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


def pick_device(device: str | None) -> str:
    """``cuda`` when torch sees a GPU and no device was named, else ``cpu``; the named one if usable.

    Raises:
        BackendUnavailable: a CUDA device was named but torch sees none.
    """
    import torch  # only when a torch model is built

    from kg.errors import BackendUnavailable

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"device {device!r} was asked for, but torch sees no CUDA device "
                                 f"(torch {torch.__version__}); use device='cpu'")
    return device
