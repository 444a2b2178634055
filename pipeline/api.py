"""The ``KGQA`` facade: the one front door of the Python API.

It opens a knowledge base, indexes, removes and inspects sources, and retrieves evidence and
ranked answers for questions. Opening is cheap: the embedder, the entity linker and the passage
index are loaded (or built and saved in the knowledge base directory) on the first question,
and rebuilt when the store has changed since they were built.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from kg.base import Entity
from kg.catalog import SourceRecord
from kg.errors import EntityNotFound
from kg.ingest import IndexReport
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions
from kg.stores import Direction, Edge
from retrieval.base import Mention, Retrieval
from retrieval.retriever import HybridRetriever, RetrieverConfig


class KGQA:
    """Question answering over one knowledge base directory."""

    def __init__(self, kb: KnowledgeBase, embedder: str = "minilm",
                 config: RetrieverConfig = RetrieverConfig()) -> None:
        self.kb = kb
        self.embedder_name = embedder
        self.config = config
        self._retriever: HybridRetriever | None = None

    @classmethod
    def open(cls, directory: str | Path = "kb", backend: str | None = None, read_only: bool = False,
             progress: bool = True, uri: str | None = None, user: str | None = None,
             password: str | None = None, database: str | None = None, embedder: str = "minilm",
             config: RetrieverConfig = RetrieverConfig()) -> KGQA:
        """Open (or create) a knowledge base; ``backend`` is ``embedded`` (default) or ``neo4j``.

        ``embedder`` names the text embedder (``minilm``, ``e5`` for Chinese and other
        languages, ``hashing`` for tests); ``config`` tunes retrieval.
        """
        kb = KnowledgeBase.open(directory, backend=backend, read_only=read_only, progress=progress,
                                uri=uri, user=user, password=password, database=database)
        return cls(kb, embedder, config)

    def retriever(self) -> HybridRetriever:
        """The hybrid retriever, built on first use (see ``retrieval.retriever``)."""
        if self._retriever is None:
            from pipeline.wiring import build_retriever  # models load only when a question comes

            self._retriever = build_retriever(self.kb, self.embedder_name, self.config, self.kb.progress)
        return self._retriever

    def retrieve(self, question: str, k: int | None = None, history: Sequence[tuple[str, str]] = (),
                  mentions: Sequence[Mention] | None = None) -> Retrieval:
        """Linked entities, scored relation paths, concrete paths, passages, fused evidence,
        the prompt, ranked answers and timings for ``question``; ``mentions`` replace the linker."""
        return self.retriever().retrieve(question, k, history, mentions)

    def index(self, path: str | Path, fmt: str | None = None,
              options: ReaderOptions = ReaderOptions()) -> IndexReport:
        """Add or re-index a source; only what changed since the last run is applied."""
        report = self.kb.index(path, fmt, options)
        self._retriever = None  # the linker and passage index catch up on the next question
        return report

    def remove(self, path: str | Path) -> IndexReport:
        """Remove exactly what a source contributed."""
        report = self.kb.remove(path)
        self._retriever = None
        return report

    def sources(self) -> list[SourceRecord]:
        return self.kb.sources()

    def stats(self) -> dict[str, object]:
        return self.kb.stats()

    def entity(self, name: str) -> Entity:
        """The entity with this id, or else the best one with this label or alias.

        Raises:
            EntityNotFound: nothing has that id, label or alias.
        """
        found = self.kb.store.entities([name]).get(name) or next(iter(self.kb.store.find(name)), None)
        if found is None:
            raise EntityNotFound(f"no entity with id, label or alias {name!r}")
        return found

    def neighbors(self, name: str, predicate: str | None = None, direction: Direction = Direction.BOTH,
                  limit: int = 100) -> list[Edge]:
        """The edges at an entity (by id, label or alias)."""
        return self.kb.store.neighbors(self.entity(name).id, predicate, direction, limit)

    def labels(self, ids: list[str]) -> dict[str, str]:
        """Display labels for node ids (the id itself where there is no label)."""
        found = self.kb.store.entities(ids)
        return {i: found[i].label or i if i in found else i for i in ids}

    def close(self) -> None:
        self.kb.close()

    def __enter__(self) -> KGQA:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
