"""Graph store backends behind one registry; heavy drivers are imported only when used.

``BACKENDS`` maps a backend name to the module that implements it, the function there that opens
a store from a ``StoreSettings``, and the extra that installs its driver (named in the error
when the import fails), like the readers' ``FORMATS``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from kg.errors import BackendUnavailable
from kg.stores.base import (
    Change,
    Direction,
    Edge,
    GraphPath,
    GraphStore,
    PathCount,
    PathQueries,
    PathStore,
    Step,
    StoreSettings,
    StoreStats,
)

__all__ = ["BACKENDS", "Backend", "Change", "Direction", "Edge", "GraphPath", "GraphStore", "PathCount",
           "PathQueries", "PathStore", "Step", "StoreSettings", "StoreStats", "open_store"]


@dataclass(frozen=True)
class Backend:
    """Where a backend lives: ``module.opener(settings)`` opens its store; ``extra`` installs its driver."""

    module: str
    opener: str
    extra: str | None = None


BACKENDS: dict[str, Backend] = {
    "embedded": Backend("kg.stores.embedded", "open_embedded"),
    "neo4j": Backend("kg.stores.neo4j", "open_neo4j", "neo4j"),
}


def open_store(backend: str, directory: Path, read_only: bool = False, uri: str | None = None,
               user: str | None = None, password: str | None = None,
               database: str | None = None, buffer_pool_mb: int | None = None) -> PathStore:
    """Open the graph store of a knowledge base.

    Args:
        backend: a name in ``BACKENDS``: ``embedded`` (LadybugDB in ``directory``) or ``neo4j``
            (a Bolt server at ``uri``).
        directory: the knowledge base directory (the embedded store's files live there).
        read_only: open for reading only (the embedded store then allows other readers).
        uri, user, password, database: the server connection (``neo4j`` only).
        buffer_pool_mb: the embedded store's buffer pool in MB (None: its default, see
            ``kg.stores.embedded.WRITER_BUFFER_POOL_MB``).

    Raises:
        BackendUnavailable: unknown backend, a missing extra, or an unreachable server.
    """
    spec = BACKENDS.get(backend)
    if spec is None:
        raise BackendUnavailable(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        hint = f": pip install 'kgqa[{spec.extra}]'" if spec.extra else ""
        raise BackendUnavailable(f"the {backend} backend cannot be loaded ({exc}){hint}") from exc
    store: PathStore = getattr(module, spec.opener)(
        StoreSettings(directory, read_only, uri, user, password, database, buffer_pool_mb))
    return store
