"""Zero-shot relation-path scoring: cosine similarity of the question and the verbalized path.

No training: the embedder (MiniLM by default) reads the masked question as a query and each
verbalized relation path as a passage. Path embeddings are cached, since a KB has few distinct
relation paths. The trained scorer (a LoRA adapter) plugs into the same ``score`` interface.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.base import Embedder


class ZeroShotPathScorer:
    """Scores (question, path text) pairs by embedding cosine similarity."""

    hop_penalty = 0.1  # a verbalized multi-hop path repeats relation words: favour short paths

    def __init__(self, embedder: Embedder, cache_size: int = 100_000) -> None:
        self.embedder = embedder
        self.cache_size = cache_size
        self._cache: dict[str, np.ndarray] = {}

    def score(self, question: str, paths: Sequence[str]) -> list[float]:
        if not paths:
            return []
        missing = [p for p in dict.fromkeys(paths) if p not in self._cache]
        if missing:
            if len(self._cache) + len(missing) > self.cache_size:
                self._cache.clear()
            for text, vec in zip(missing, self.embedder.passage(missing)):
                self._cache[text] = vec
        q = self.embedder.query([question])[0]
        matrix = np.stack([self._cache[p] for p in paths])
        scores: list[float] = (matrix @ q).astype(float).tolist()
        return scores
