"""Model-layer interfaces, defined once: text embedders, path scorers, text generators, and the
device choice shared by the torch models.

An ``Embedder`` turns texts into L2-normalised float32 vectors, so that a dot product is a
cosine similarity. A ``PathScorer`` scores verbalized relation paths against a question (the
zero-shot one in model/scorer.py, the trained one in model/path_scorer.py). A ``TextGenerator``
writes an answer from a prompt (gemma in model/generator.py, the scripted fake in
model/fakes.py). Concrete models live one per file; heavy libraries are imported only when one
is built. This module imports no model library.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


class PathScorer(Protocol):
    """Scores relation paths for a question; higher is better.

    ``hop_penalty`` is the scorer's own prior against longer paths, subtracted per hop beyond
    the first (a zero-shot scorer reads a multi-hop path as more matching words; a trained one
    has learned hop counts and needs none). ``retrieval.paths.PathConfig`` may override it.
    """

    hop_penalty: float

    def score(self, question: str, paths: Sequence[str]) -> Sequence[float]:
        """One score per verbalized path, for ``question`` (topic mention already masked)."""
        ...


class TextGenerator(Protocol):
    """Writes the answer for a prompt; ``stream`` yields the same text in pieces."""

    def generate(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> str: ...

    def stream(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> Iterator[str]: ...


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
