"""Graph store backends behind one registry; heavy drivers are imported only when used."""

from __future__ import annotations

from pathlib import Path

from kg.errors import BackendUnavailable
from kg.stores.base import Change, Direction, Edge, GraphPath, GraphStore, PathCount, Step, StoreStats

__all__ = ["BACKENDS", "Change", "Direction", "Edge", "GraphPath", "GraphStore", "PathCount", "Step",
           "StoreStats", "open_store"]

BACKENDS = ("embedded", "neo4j")


def open_store(backend: str, directory: Path, read_only: bool = False, uri: str | None = None,
               user: str | None = None, password: str | None = None,
               database: str | None = None) -> GraphStore:
    """Open the graph store of a knowledge base.

    Args:
        backend: ``embedded`` (LadybugDB in ``directory``) or ``neo4j`` (a Bolt server at ``uri``).
        directory: the knowledge base directory (the embedded store's files live there).
        read_only: open for reading only (the embedded store then allows other readers).
        uri, user, password, database: the Neo4j connection (``neo4j`` only).

    Raises:
        BackendUnavailable: unknown backend, a missing extra, or an unreachable server.
    """
    if backend == "embedded":
        from kg.stores.embedded import EmbeddedStore

        return EmbeddedStore.open(directory, read_only=read_only)
    if backend == "neo4j":
        if not uri:
            raise BackendUnavailable("the neo4j backend needs a URI (--uri or NEO4J_URI)")
        from kg.stores.neo4j import Neo4jStore

        return Neo4jStore.connect(uri, user or "neo4j", password or "", database=database)
    raise BackendUnavailable(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
