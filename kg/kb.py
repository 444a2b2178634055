"""A knowledge base directory: its graph store, its catalog and the single-writer lock.

``KnowledgeBase.open`` is cheap; a writable open takes an exclusive lock file naming the
holder (pid and command), so a second writer gets a clear ``StoreLocked`` error, and it
reconciles the catalog with the store after an interrupted run.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

from kg.catalog import CATALOG_FILE, Catalog, SourceRecord
from kg.errors import BackendUnavailable, StoreLocked
from kg.ingest import Indexer, IndexReport
from kg.readers import ReaderOptions
from kg.stores import GraphStore, StoreStats, open_store

LOCK_FILE = "writer.lock"
CONFIG_FILE = "kb.json"


class KnowledgeBase:
    """The store, catalog and indexer of one knowledge base directory."""

    def __init__(self, directory: Path, store: GraphStore, catalog: Catalog, lock: IO[str] | None,
                 progress: bool = True, chunk_rows: int = 1_000_000) -> None:
        self.directory = directory
        self.store = store
        self.catalog = catalog
        self._lock = lock
        self.progress = progress
        self.indexer = Indexer(store, catalog, progress=progress, chunk_rows=chunk_rows)

    @classmethod
    def open(cls, directory: str | Path, backend: str | None = None, read_only: bool = False,
             progress: bool = True, chunk_rows: int = 1_000_000,
             **connection: str | None) -> KnowledgeBase:
        """Open (or, writable, create) the knowledge base in ``directory``.

        ``chunk_rows`` is how many triples go to the store in one change (one commit).
        The backend and connection are remembered in ``kb.json`` (never the password), so
        later opens need only the directory.

        Raises:
            StoreLocked: another process is writing to this knowledge base.
            BackendUnavailable: the store cannot be opened (see ``kg.stores.open_store``).
        """
        path = Path(directory).resolve()
        if read_only and not (path / CATALOG_FILE).exists():
            raise BackendUnavailable(f"no knowledge base at {path} (run `kgqa index PATH --kb {directory}`)")
        path.mkdir(parents=True, exist_ok=True)
        config = _config(path, backend, connection, write=not read_only)
        lock = None if read_only else _take_lock(path)
        try:
            store = open_store(config["backend"], path, read_only=read_only, uri=config.get("uri"),
                               user=config.get("user"), database=config.get("database"),
                               password=connection.get("password") or os.environ.get("NEO4J_PASSWORD"))
        except BaseException:
            if lock:
                lock.close()
            raise
        kb = cls(path, store, Catalog(path), lock, progress, chunk_rows)
        if not read_only:
            kb.indexer.recover()
        return kb

    def index(self, path: str | Path, fmt: str | None = None,
              options: ReaderOptions = ReaderOptions()) -> IndexReport:
        return self.indexer.index(Path(path), fmt, options)

    def remove(self, path: str | Path) -> IndexReport:
        return self.indexer.remove(Path(path))

    def sources(self) -> list[SourceRecord]:
        return self.catalog.sources()

    def stats(self) -> dict[str, object]:
        s: StoreStats = self.store.stats()
        return {"triples": s.triples, "entities": s.entities, "literals": s.literals,
                "relations": s.relations, "sources": len(self.catalog.sources()),
                "backend": self.store.name, "directory": str(self.directory)}

    def close(self) -> None:
        self.store.close()
        self.catalog.close()
        if self._lock:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _config(path: Path, backend: str | None, connection: dict[str, str | None], write: bool) -> dict[str, str]:
    file = path / CONFIG_FILE
    saved: dict[str, str] = json.loads(file.read_text()) if file.exists() else {}
    if backend and saved and backend != saved.get("backend"):
        raise BackendUnavailable(f"{path} holds a {saved['backend']} knowledge base, not {backend}")
    config = {"backend": backend or saved.get("backend") or "embedded"}
    for key in ("uri", "user", "database"):
        value = connection.get(key) or saved.get(key)
        if value:
            config[key] = value
    if write and config != saved:
        file.write_text(json.dumps(config, indent=1))
    return config


def _take_lock(path: Path) -> IO[str]:
    handle = (path / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise StoreLocked(f"the knowledge base at {path} is being written by {holder}; "
                          "wait for it to finish, or open it read-only") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} ({' '.join(sys.argv)[:200]})")
    handle.flush()
    return handle
