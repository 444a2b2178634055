"""The Neo4j backend: the official ``neo4j`` driver over Bolt, for graphs beyond one process.

Writes are batched ``UNWIND`` statements with parameters only, and idempotent: nodes and
edges are ``MERGE``d on their content-derived id and key, so a change that was cut off can be
sent again without duplicates. A change is written in batches of ``batch_size`` rows, each its
own transaction, and its sequence number is stored last (on a ``KGQAMeta`` node), so a change
whose number is not recorded is simply redone. Reads are the shared Cypher of
``kg.stores.cypher``. Tested against ArcadeDB's Bolt server and written for Neo4j 5.
Edges are deleted one key per statement: ArcadeDB does not use the relationship index
inside ``UNWIND``; Neo4j is fast either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Any

from kg.base import EntityKind
from kg.errors import BackendUnavailable
from kg.stores import cypher
from kg.stores.base import Change, GraphPath, Step, StoreSettings

log = logging.getLogger(__name__)

SCHEMA = (
    f"CREATE CONSTRAINT kgqa_entity_id IF NOT EXISTS FOR (e:{cypher.NODE}) REQUIRE e.id IS UNIQUE",
    f"CREATE CONSTRAINT kgqa_meta_k IF NOT EXISTS FOR (m:{cypher.META}) REQUIRE m.k IS UNIQUE",
    f"CREATE INDEX kgqa_rel_key IF NOT EXISTS FOR ()-[t:{cypher.REL}]-() ON (t.key)",
    f"CREATE INDEX kgqa_entity_label IF NOT EXISTS FOR (e:{cypher.NODE}) ON (e.label)",
)
_SET_FIELDS = ", ".join(f"e.{f} = r.{f}" for f in cypher.ENTITY_FIELDS if f != "id")


class Neo4jStore(cypher.CypherReads):
    """A ``GraphStore`` in a Neo4j (or Bolt-compatible) database."""

    name = "neo4j"

    def __init__(self, driver: Any, database: str | None, batch_size: int = 5000) -> None:
        self._driver = driver
        self._database = database
        self.batch_size = batch_size

    @classmethod
    def connect(cls, uri: str, user: str, password: str, database: str | None = None) -> Neo4jStore:
        """Connect, check the server answers, and create the constraints and indexes.

        Raises:
            BackendUnavailable: the ``neo4j`` extra is missing or the server cannot be reached.
        """
        try:
            import neo4j
        except ImportError as exc:
            raise BackendUnavailable("the neo4j backend needs the driver: pip install 'kgqa[neo4j]'") from exc
        driver = neo4j.GraphDatabase.driver(uri, auth=(user, password))
        try:
            driver.verify_connectivity()
            store = cls(driver, database)
            for statement in SCHEMA:
                store._rows(statement)
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            driver.close()
            raise BackendUnavailable(f"cannot use the Neo4j server at {uri}: {exc}") from exc
        return store

    def apply(self, change: Change) -> None:
        """Write ``change`` in batches of idempotent statements, then record its number."""
        for key in change.remove_keys.tolist():
            self._write([(f"MATCH ()-[t:{cypher.REL}]->() WHERE t.key = $key DELETE t", {"key": key})])
        for ids in _chunks(change.remove_nodes, self.batch_size):
            self._write([(f"UNWIND $ids AS i MATCH (e:{cypher.NODE} {{id: i}}) DETACH DELETE e", {"ids": ids})])
        rows = [cypher.entity_row(e) for e in change.records]
        for chunk in _chunks(rows, self.batch_size):
            self._write([(f"UNWIND $rows AS r MERGE (e:{cypher.NODE} {{id: r.id}}) SET {_SET_FIELDS}",
                          {"rows": chunk})])
        self._add_edges(change)
        self._write([(f"MERGE (m:{cypher.META} {{k: 'seq'}}) SET m.v = $seq", {"seq": change.seq})])

    def _add_edges(self, change: Change) -> None:
        for ids in _chunks(sorted(change.new_nodes), self.batch_size):
            bare = [{"id": i, "kind": _kind(i)} for i in ids]
            self._write([(f"UNWIND $rows AS r MERGE (e:{cypher.NODE} {{id: r.id}}) "
                          "ON CREATE SET e.kind = r.kind, e.aliases = []", {"rows": bare})])
        edges = [{"s": s, "o": o, "key": int(k), "p": p, "src": change.source, "line": line, "q": q}
                 for s, p, o, k, line, q in zip(change.subjects, change.predicates, change.objects,
                                                change.keys.tolist(), change.lines, change.qualifiers)]
        for chunk in _chunks(edges, self.batch_size):
            self._write([(f"UNWIND $rows AS r MATCH (s:{cypher.NODE} {{id: r.s}}) "
                          f"MATCH (o:{cypher.NODE} {{id: r.o}}) MERGE (s)-[t:{cypher.REL} {{key: r.key}}]->(o) "
                          "SET t.p = r.p, t.src = r.src, t.line = r.line, t.q = r.q", {"rows": chunk})])

    def shortest_paths(self, source: str, target: str, max_hops: int = 3) -> list[GraphPath]:
        query = (f"MATCH p = allShortestPaths((a:{cypher.NODE} {{id: $a}})-[:{cypher.REL}*..{int(max_hops)}]-"
                 f"(b:{cypher.NODE} {{id: $b}})) RETURN [n IN nodes(p) | n.id], "
                 "[r IN relationships(p) | [startNode(r).id, r.p, endNode(r).id, r.key, r.src, r.line, r.q]]")
        paths = []
        for ids, rels in self._rows(query, {"a": source, "b": target}):
            edges = tuple(cypher.edge(*r) for r in rels)
            steps = tuple(Step(e.predicate, e.subject == ids[i]) for i, e in enumerate(edges))
            paths.append(GraphPath(tuple(ids), edges, steps))
        return paths

    def clear(self) -> None:
        """Delete every kgqa node and edge (tests and ``kgqa`` re-creation use this)."""
        self._write([(f"MATCH (e:{cypher.NODE}) DETACH DELETE e", {}),
                     (f"MATCH (m:{cypher.META}) DELETE m", {})])

    def close(self) -> None:
        self._driver.close()

    def _write(self, statements: list[tuple[str, dict[str, Any]]]) -> None:
        def work(tx: Any) -> None:
            for query, params in statements:
                tx.run(query, params).consume()

        with self._driver.session(database=self._database) as session:
            session.execute_write(work)

    def _rows(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        with self._driver.session(database=self._database) as session:
            return [list(record.values()) for record in session.run(query, params or {})]


def _kind(node_id: str) -> str:
    kind = EntityKind.LITERAL if node_id.startswith("lit:") else EntityKind.ENTITY
    return str(kind.value)


def _chunks(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


def open_neo4j(settings: StoreSettings) -> Neo4jStore:
    """A Neo4j (or other Bolt) server's database (the ``neo4j`` backend).

    Raises:
        BackendUnavailable: no URI, the driver is missing, or the server cannot be reached.
    """
    if not settings.uri:
        raise BackendUnavailable("the neo4j backend needs a URI (--uri or NEO4J_URI)")
    return Neo4jStore.connect(settings.uri, settings.user or "neo4j", settings.password or "",
                              database=settings.database)
