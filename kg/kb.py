"""A knowledge base directory: its graph store, its catalog and the single-writer lock.

``KnowledgeBase.open`` is cheap; a writable open takes an exclusive lock file naming the
holder (pid and command), so a second writer gets a clear ``StoreLocked`` error, and it
reconciles the catalog with the store after an interrupted run.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

from kg.catalog import CATALOG_FILE, Catalog, SourceRecord
from kg.consistency import REBUILD, heal_lost_store, quick_problems
from kg.errors import BackendUnavailable, CorruptState, KGQAError, StoreDamaged, StoreLocked
from kg.files import write_atomic
from kg.ingest import CHUNK_ROWS, Indexer, IndexReport
from kg.readers import ReaderOptions
from kg.stores import GraphStore, StoreStats, open_store
from kg.stores.embedded import GRAPH_FILE

log = logging.getLogger(__name__)
LOCK_FILE = "writer.lock"
CONFIG_FILE = "kb.json"


class KnowledgeBase:
    """The store, catalog and indexer of one knowledge base directory."""

    def __init__(self, directory: Path, store: GraphStore, catalog: Catalog, lock: IO[str] | None,
                 progress: bool = True, chunk_rows: int = CHUNK_ROWS, buffer_pool_mb: int | None = None) -> None:
        self.directory = directory
        self.buffer_pool_mb = buffer_pool_mb
        self.store = store
        self.catalog = catalog
        self._lock = lock
        self.read_only = lock is None
        self.progress = progress
        self.indexer = Indexer(store, catalog, progress=progress, chunk_rows=chunk_rows)

    @classmethod
    def open(cls, directory: str | Path, backend: str | None = None, read_only: bool = False,
             progress: bool = True, chunk_rows: int = CHUNK_ROWS, verify: bool = True,
             buffer_pool_mb: int | None = None, **connection: str | None) -> KnowledgeBase:
        """Open (or, writable, create) the knowledge base in ``directory``.

        ``chunk_rows`` is how many triples go to the store in one change (one commit);
        ``buffer_pool_mb`` the embedded store's buffer pool (None: 1 GB for a writer, see
        ``kg.stores.embedded.WRITER_BUFFER_POOL_MB``, LadybugDB's default for a reader).
        The backend and connection are remembered in ``kb.json`` (never the password), so
        later opens need only the directory. ``verify`` runs the cheap consistency check: a
        writable open whose store was lost (empty, the catalog listing triples) gets every
        source ready to be applied again, with one warning; any other disagreement is an error
        (``kgqa check`` opens with ``verify=False`` to look and repair).

        Raises:
            StoreLocked: another process is writing to this knowledge base.
            BackendUnavailable: the store cannot be opened (see ``kg.stores.open_store``).
            CorruptState: the catalog or ``kb.json`` is damaged, or the catalog and store disagree.
        """
        path = Path(directory).resolve()
        if read_only and not (path / CATALOG_FILE).exists():
            raise BackendUnavailable(f"no knowledge base at {path} (run `kgqa index PATH --kb {directory}`)")
        path.mkdir(parents=True, exist_ok=True)
        config = _config(path, backend, connection, write=not read_only)
        store_file = path / GRAPH_FILE
        if read_only and config["backend"] == "embedded" and not store_file.exists():
            raise StoreDamaged(store_file, "the graph store is missing, though the catalog is there; run "
                               f"`kgqa check --kb {directory} --repair` (or `kgqa index` its sources) to rebuild it")
        lock = None if read_only else _take_lock(path)
        try:
            store = open_store(config["backend"], path, read_only=read_only, uri=config.get("uri"),
                               user=config.get("user"), database=config.get("database"),
                               password=connection.get("password") or os.environ.get("NEO4J_PASSWORD"),
                               buffer_pool_mb=buffer_pool_mb)
        except BaseException:
            if lock:
                lock.close()
            raise
        try:
            kb = cls(path, store, Catalog.open(path), lock, progress, chunk_rows, buffer_pool_mb)
        except BaseException:
            store.close()
            if lock:
                lock.close()
            raise
        try:
            kb._verify(verify)
        except BaseException:
            kb.close()
            raise
        return kb

    def _verify(self, verify: bool) -> None:
        """Recover an interrupted run, then run the cheap consistency check (``kg.consistency``)."""
        if not self.read_only:
            self.indexer.recover()
        if not verify:
            return
        if not self.read_only and heal_lost_store(self.store, self.catalog, self.directory):
            return
        problems = quick_problems(self.store, self.catalog)
        if problems:
            message = "; ".join(p.message for p in problems)
            fix = f"; run `kgqa check --kb {self.directory} --repair`" if any(p.kind in REBUILD for p in problems) \
                else ""
            raise CorruptState(self.directory, f"the catalog and the store disagree: {message}{fix}")

    def reset_store(self) -> None:
        """Empty the graph store (for a rebuild from the sources; see ``kg.check.rebuild``).

        Raises:
            KGQAError: read-only, or a backend that cannot be emptied.
        """
        if self.read_only:
            raise KGQAError(f"cannot empty the store of {self.directory} opened read-only")
        clear = getattr(self.store, "clear", None)
        if self.store.name != "embedded":
            if clear is None:
                raise KGQAError(f"the {self.store.name} backend cannot be emptied by kgqa; empty it by hand")
            clear()
            self.catalog.set_applied(self.store.applied_seq())
            return
        self.store.close()
        for file in self.directory.glob(f"{GRAPH_FILE}*"):
            if ".damaged-" in file.name:  # set aside by `kgqa check --repair`: kept for inspection
                continue
            if file.is_dir():
                shutil.rmtree(file)
            else:
                file.unlink()
        self.store = open_store("embedded", self.directory, buffer_pool_mb=self.buffer_pool_mb)
        self.indexer.store = self.store
        self.catalog.set_applied(self.store.applied_seq())

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
                "relations": s.relations, "passages": sum(self.catalog.passage_counts().values()),
                "sources": len(self.catalog.sources()),
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
    saved = _saved_config(file)
    if backend and saved and backend != saved.get("backend"):
        raise BackendUnavailable(f"{path} holds a {saved['backend']} knowledge base, not {backend}")
    config = {"backend": backend or saved.get("backend") or "embedded"}
    for key in ("uri", "user", "database"):
        value = connection.get(key) or saved.get(key)
        if value:
            config[key] = value
    if write and config != saved:
        write_atomic(file, json.dumps(config, indent=1))
    return config


def _saved_config(file: Path) -> dict[str, str]:
    """The backend settings in ``kb.json``; a damaged file of an embedded KB is rewritten, with a warning.

    Raises:
        CorruptState: the file is damaged and the directory holds no embedded store to infer it from.
    """
    if not file.exists():
        return {}
    try:
        saved = json.loads(file.read_text(encoding="utf-8"))
        if isinstance(saved, dict) and isinstance(saved.get("backend"), str):
            return {str(k): str(v) for k, v in saved.items()}
        problem = "has no backend"
    except (ValueError, UnicodeDecodeError) as exc:
        problem = f"is not valid JSON ({exc})"
    if (file.parent / GRAPH_FILE).exists():
        log.warning("%s %s; the directory holds an embedded store, so it is rewritten for that", file, problem)
        return {"backend": "embedded"}
    raise CorruptState(file, f"the knowledge base's backend settings {problem}; write "
                       '{"backend": "neo4j", "uri": "bolt://..."} (or "embedded") into it, or delete it '
                       "to use the embedded default")


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
