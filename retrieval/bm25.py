"""BM25 over the catalog's passages (``bm25s``): the lexical baseline of passage retrieval.

Built in memory from the catalog when opened (a few hundred milliseconds per thousand
passages), one unit per passage (title and text). It is the lexical baseline of evaluation and,
through ``search_keys``, the lexical list that ``retrieval.passage_search`` may fuse with the
dense one (``SearchConfig.lexical``). ``bm25s`` is imported here only; missing, it raises ``BackendUnavailable``.
"""

from __future__ import annotations

from typing import Any

from kg.base import Passage
from kg.catalog import Catalog
from kg.errors import BackendUnavailable


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:
        raise BackendUnavailable("the BM25 baseline needs bm25s: pip install 'kgqa[passages]'") from exc
    return bm25s


class BM25Passages:
    """BM25 search over whole passages."""

    def __init__(self, passages: list[Passage], keys: list[int] | None = None) -> None:
        self.passages = passages
        self.keys = keys if keys is not None else list(range(len(passages)))  # catalog keys, aligned
        self._bm25s = _bm25s()
        self._index = self._bm25s.BM25()
        if passages:
            texts = [f"{p.title}: {p.text}" if p.title else p.text for p in passages]
            self._index.index(self._bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    @classmethod
    def open(cls, catalog: Catalog) -> BM25Passages:
        keyed = catalog.keyed_passages()
        return cls(list(keyed.values()), list(keyed))

    def search(self, question: str, n: int) -> list[tuple[Passage, float]]:
        """The ``n`` best passages for ``question`` by BM25 (fewer when the corpus is smaller)."""
        return [(self.passages[i], s) for i, s in self._best(question, n)]

    def search_keys(self, question: str, n: int) -> list[tuple[int, float]]:
        """(catalog key, score) of the ``n`` best passages."""
        return [(self.keys[i], s) for i, s in self._best(question, n)]

    def _best(self, question: str, n: int) -> list[tuple[int, float]]:
        if not self.passages:
            return []
        tokens = self._bm25s.tokenize([question], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        k = min(n, len(self.passages))
        docs, scores = self._index.retrieve(tokens, k=k, show_progress=False)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
