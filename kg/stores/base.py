"""The ``GraphStore`` contract: what every graph backend reads and writes.

Writes arrive as one ``Change`` (records to upsert, triples to add, keys and nodes to remove)
applied atomically or idempotently, stamped with a sequence number so that the catalog can
tell, after a crash, whether the change reached the store. Reads return frozen values with
provenance. Relation paths are sequences of ``Step``s (a predicate and a direction); the Cypher
for a path is built from that shape only, and every value travels as a query parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from kg.base import Entity, Provenance


class Direction(str, Enum):
    """Which way an edge is followed from the entity at hand."""

    OUT = "out"
    IN = "in"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class Step:
    """One hop of a relation path: a predicate followed forwards (subject to object) or back."""

    predicate: str
    forward: bool = True

    def __str__(self) -> str:
        return self.predicate if self.forward else f"^{self.predicate}"


RelationPath = tuple[Step, ...]


def path_text(path: RelationPath) -> str:
    """A compact form such as ``directed_by/^directed_by`` (``^`` marks a reversed hop)."""
    return "/".join(str(step) for step in path)


@dataclass(frozen=True, slots=True)
class Edge:
    """A stored triple with the provenance of the source that first asserted it."""

    subject: str
    predicate: str
    object: str
    key: int
    provenance: Provenance
    qualifiers: str | None = None


@dataclass(frozen=True, slots=True)
class GraphPath:
    """A concrete path: the nodes visited from ``nodes[0]`` and the edges between them."""

    nodes: tuple[str, ...]
    edges: tuple[Edge, ...]
    relation_path: RelationPath

    @property
    def start(self) -> str:
        return self.nodes[0]

    @property
    def end(self) -> str:
        return self.nodes[-1]


@dataclass(frozen=True, slots=True)
class PathCount:
    """A relation path around an entity, with how many concrete paths and end nodes it has."""

    path: RelationPath
    paths: int
    ends: int


@dataclass(frozen=True, slots=True)
class StoreStats:
    triples: int
    entities: int
    literals: int
    relations: int


@dataclass
class Change:
    """One atomic unit of writing, built by the indexer from a diff against the catalog.

    Args:
        seq: the catalog's sequence number for this change; stored with it.
        records: entities to create or update (label, names, description, literal value).
        subjects/predicates/objects/keys/lines/qualifiers: triples to add; their endpoints are
            created as bare nodes when they do not exist yet.
        source: the source id recorded as the provenance of added triples.
        remove_keys: keys of triples to delete.
        remove_nodes: ids of nodes to delete with any edges still attached.
        new_nodes: the ids the catalog believes are not in the store yet. Every other endpoint
            and record is taken to exist already; a backend checks only these ids, so a
            batch costs what is new in it, not its size.
    """

    seq: int
    source: str = ""
    records: list[Entity] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    predicates: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    lines: list[int] = field(default_factory=list)
    qualifiers: list[str | None] = field(default_factory=list)
    remove_keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    remove_nodes: list[str] = field(default_factory=list)
    new_nodes: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.records or self.subjects or len(self.remove_keys) or self.remove_nodes)


@dataclass(frozen=True)
class StoreSettings:
    """Where a knowledge base's store is: its directory (embedded) or a server (uri, user, ...).

    ``buffer_pool_mb`` is the embedded store's page cache and working memory in MB; None means
    the backend's default for the mode (see ``kg.stores.embedded``). Servers ignore it.
    """

    directory: Path
    read_only: bool = False
    uri: str | None = None
    user: str | None = None
    password: str | None = None
    database: str | None = None
    buffer_pool_mb: int | None = None

    def __post_init__(self) -> None:
        if self.buffer_pool_mb is not None and self.buffer_pool_mb < 1:
            raise ValueError("buffer_pool_mb must be positive")


EDGE_COLUMNS = ("subject", "predicate", "object", "key", "source", "line", "qualifiers")
EDGE_SCHEMA = pa.schema([("subject", pa.string()), ("predicate", pa.string()), ("object", pa.string()),
                         ("key", pa.int64()), ("source", pa.string()), ("line", pa.int64()),
                         ("qualifiers", pa.string())])


def edge_table(columns: Sequence[Sequence[Any] | np.ndarray]) -> pa.Table:
    """The edge table (``EDGE_SCHEMA``) of seven equally long columns, in ``EDGE_COLUMNS`` order."""
    return pa.table([pa.array(list(c), f.type) for c, f in zip(columns, EDGE_SCHEMA)], schema=EDGE_SCHEMA)


class GraphStore(Protocol):
    """A property graph of entities and triples, embedded or behind a server: what every backend does.

    The path queries (``follow``, ``relation_paths``, ``shortest_paths``) are the optional
    ``PathQueries``; both shipped backends have them, and an in-memory ``GraphIndex`` built from
    ``edges()`` answers them for any store.
    """

    name: str

    def apply(self, change: Change) -> None:
        """Write ``change`` as one unit and record ``change.seq`` as the last applied."""
        ...

    def applied_seq(self) -> int:
        """The sequence number of the last change that reached the store (0 for none)."""
        ...

    def entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        """The stored entities among ``ids`` (missing ids are left out)."""
        ...

    def find(self, name: str, limit: int = 10) -> list[Entity]:
        """Entities whose id, label or alias equals ``name`` (case-insensitive), best known first."""
        ...

    def scan_entities(self, batch_size: int = 50_000) -> Iterator[list[tuple[Entity, int]]]:
        """Every entity and relation node (not literals) with its degree, in batches by id."""
        ...

    def neighbors(self, entity: str, predicate: str | None = None,
                  direction: Direction = Direction.BOTH, limit: int = 100) -> list[Edge]:
        """Edges at ``entity``, optionally of one predicate and direction."""
        ...

    def edges(self) -> pa.Table:
        """Every edge as one Arrow table with ``EDGE_SCHEMA`` (what in-memory indices are built from)."""
        ...

    def edge_batches(self, nodes: int = 20_000) -> Iterator[pa.Table]:
        """Every edge, as ``EDGE_SCHEMA`` tables of the out-edges of ``nodes`` subjects at a time."""
        ...

    def stats(self) -> StoreStats:
        ...

    def close(self) -> None:
        ...


class PathQueries(Protocol):
    """Path reads over a graph; a store or a ``GraphIndex`` may answer them."""

    def follow(self, start: str, path: RelationPath, limit: int = 1000) -> list[GraphPath]:
        """Concrete paths from ``start`` along ``path`` (at most ``limit``)."""
        ...

    def relation_paths(self, start: str, max_hops: int = 3, limit: int = 10_000) -> list[PathCount]:
        """The relation paths of 1..max_hops around ``start`` with their counts, most frequent first.

        A path never walks straight back over the edge it just took.
        """
        ...


class PathStore(GraphStore, PathQueries, Protocol):
    """A store that also answers path queries itself (both shipped backends)."""

    def shortest_paths(self, source: str, target: str, max_hops: int = 3) -> list[GraphPath]:
        """All shortest paths (<= max_hops, any direction) between two entities."""
        ...
