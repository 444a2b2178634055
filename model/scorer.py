"""Zero-shot relation-path scoring: cosine similarity of the question and the verbalized path.

No training: the embedder (MiniLM by default) reads the masked question as a query and each
verbalized relation path as a passage. Path embeddings are cached, since a KB has few distinct
relation paths. The trained scorer (a LoRA adapter) plugs into the same ``score`` interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from model.base import Embedder
from model.prompts import VERBALIZATION

HOP_PENALTY = 0.1  # a verbalized multi-hop path repeats relation words: favour short paths


class ZeroShotPathScorer:
    """Scores (question, path text) pairs by embedding cosine similarity.

    ``verbalization`` names the form (model.prompts.VERBALIZERS) the retriever writes paths in
    for this scorer; ``hop_penalty`` is its prior against longer paths.
    """

    def __init__(self, embedder: Embedder, cache_size: int = 100_000, verbalization: str = VERBALIZATION,
                 hop_penalty: float = HOP_PENALTY) -> None:
        self.embedder = embedder
        self.cache_size = cache_size
        self.verbalization = verbalization
        self.hop_penalty = hop_penalty
        self.about = "zero-shot"  # which scorer this is and why it was chosen (``auto`` says; for --explain)
        self.rules: dict[str, Any] = {}  # KB rules an adapter card records (topic answers, answer types)
        self._cache: dict[str, np.ndarray] = {}

    def score(self, question: str, paths: Sequence[str]) -> list[float]:
        if not paths:
            return []
        missing = [p for p in dict.fromkeys(paths) if p not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > self.cache_size:
                self._cache.clear()
            for text, vec in zip(missing, self.path_vectors(missing)):
                self._cache[text] = vec
        q = self.question_vector(question)
        matrix = np.stack([self._cache[p] for p in paths])
        scores: list[float] = (matrix @ q).astype(float).tolist()
        return scores

    def path_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of verbalized paths (cached by ``score``); a subclass may map them."""
        return self.embedder.passage(texts)

    def question_vector(self, question: str) -> np.ndarray:
        """The unit vector of a (masked) question; a subclass may map it."""
        vector: np.ndarray = self.embedder.query([question])[0]
        return vector
