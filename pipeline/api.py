"""The ``KGQA`` facade: the one front door of the Python API.

So far it opens a knowledge base and indexes, removes and inspects sources; question answering
arrives with the retrieval layer. Opening is cheap: no model is loaded.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from kg.base import Entity
from kg.catalog import SourceRecord
from kg.errors import EntityNotFound
from kg.ingest import IndexReport
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions
from kg.stores import Direction, Edge


class KGQA:
    """Question answering over one knowledge base directory."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    @classmethod
    def open(cls, directory: str | Path = "kb", backend: str | None = None, read_only: bool = False,
             progress: bool = True, uri: str | None = None, user: str | None = None,
             password: str | None = None, database: str | None = None) -> KGQA:
        """Open (or create) a knowledge base; ``backend`` is ``embedded`` (default) or ``neo4j``."""
        return cls(KnowledgeBase.open(directory, backend=backend, read_only=read_only, progress=progress,
                                      uri=uri, user=user, password=password, database=database))

    def index(self, path: str | Path, fmt: str | None = None,
              options: ReaderOptions = ReaderOptions()) -> IndexReport:
        """Add or re-index a source; only what changed since the last run is applied."""
        return self.kb.index(path, fmt, options)

    def remove(self, path: str | Path) -> IndexReport:
        """Remove exactly what a source contributed."""
        return self.kb.remove(path)

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
