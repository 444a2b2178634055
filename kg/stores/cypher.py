"""Cypher shared by the Cypher-speaking backends (LadybugDB and Neo4j): query text and reads.

Only the *shape* of a query (hop count, directions) is spelled into the text; every value
(ids, predicates, keys) is a parameter. Nothing here runs a query.
"""

from __future__ import annotations

import itertools
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa

from kg.base import Entity, EntityKind, Literal, Provenance, ValueType
from kg.stores.base import (
    EDGE_COLUMNS,
    Direction,
    Edge,
    GraphPath,
    PathCount,
    RelationPath,
    Step,
    StoreStats,
    edge_table,
)

NODE = "Entity"
REL = "REL"
META = "KGQAMeta"


def hop(i: int, forward: bool) -> str:
    """The pattern text of hop ``i`` (1-based) towards node ``n{i}``."""
    return f"-[r{i}:{REL}]->(n{i})" if forward else f"<-[r{i}:{REL}]-(n{i})"


def chain(directions: tuple[bool, ...]) -> str:
    """``(n0:Entity {id: $start})-[r1:REL]->(n1)...`` for the given hop directions."""
    return f"(n0:{NODE} {{id: $start}})" + "".join(hop(i, d) for i, d in enumerate(directions, 1))


def distinct_edges(hops: int) -> str:
    """A predicate that no edge is used twice in a path (Neo4j's relationship isomorphism).

    Written as ``NOT (a = b OR ...)`` and applied after ``WITH *``: LadybugDB 0.22 pushes
    filters on relationship properties into multi-hop pattern matching wrongly (it returned
    paths that reuse an edge, and missed valid ones); filtering after the match is correct.
    """
    pairs = [f"r{i}.key = r{j}.key" for i, j in itertools.combinations(range(1, hops + 1), 2)]
    return f"NOT ({' OR '.join(pairs)})" if pairs else "true"


def follow_query(path: RelationPath) -> str:
    """Concrete paths from ``$start`` along ``path``, with predicates ``$p1..$pn``."""
    n = len(path)
    where = " AND ".join([f"r{i}.p = $p{i}" for i in range(1, n + 1)] + [distinct_edges(n)])
    cols = ", ".join([f"n{i}.id" for i in range(n + 1)]
                     + [f"r{i}.key, r{i}.src, r{i}.line, r{i}.q" for i in range(1, n + 1)])
    return f"MATCH {chain(tuple(s.forward for s in path))} WITH * WHERE {where} RETURN {cols} LIMIT $limit"


def path_count_query(directions: tuple[bool, ...]) -> str:
    """Relation paths of one direction pattern from ``$start``, with counts."""
    n = len(directions)
    preds = ", ".join(f"r{i}.p AS p{i}" for i in range(1, n + 1))
    return (f"MATCH {chain(directions)} WITH * WHERE {distinct_edges(n)} "
            f"RETURN {preds}, count(*) AS npaths, count(DISTINCT n{n}.id) AS nends")


def direction_patterns(max_hops: int) -> Iterator[tuple[bool, ...]]:
    """Every tuple of hop directions of length 1..max_hops."""
    for n in range(1, max_hops + 1):
        yield from itertools.product((True, False), repeat=n)


ENTITY_FIELDS = ("id", "label", "kind", "description", "aliases", "labels", "literal", "src", "line")


def entity_row(entity: Entity) -> dict[str, object]:
    """The stored properties of an entity node (nested values as JSON text)."""
    lit = entity.literal
    prov = entity.provenance
    return {
        "id": entity.id, "label": entity.label, "kind": entity.kind.value,
        "description": entity.description, "aliases": list(entity.aliases),
        "labels": json.dumps(entity.labels, ensure_ascii=False) if entity.labels else None,
        "literal": json.dumps([lit.value, lit.type.value, lit.lang, lit.unit, lit.precision],
                              ensure_ascii=False) if lit else None,
        "src": prov.source if prov else None, "line": prov.line if prov else None,
    }


def entity_from_row(row: dict[str, Any]) -> Entity:
    """The inverse of ``entity_row``."""
    lit = None
    if row.get("literal"):
        value, vtype, lang, unit, precision = json.loads(row["literal"])
        lit = Literal(value, ValueType(vtype), lang, unit, precision)
    prov = Provenance(row["src"], row.get("line")) if row.get("src") else None
    labels = tuple((a, b) for a, b in json.loads(row["labels"])) if row.get("labels") else ()
    return Entity(row["id"], row.get("label"), tuple(row.get("aliases") or ()), row.get("description"),
                  labels, EntityKind(row.get("kind") or "entity"), lit, prov)


def edge(subject: str, predicate: str, obj: str, key: int, src: str | None, line: int | None,
         qualifiers: str | None) -> Edge:
    return Edge(subject, predicate, obj, int(key), Provenance(src or "", line), qualifiers)


def paths_from_rows(rows: list[list[Any]], path: RelationPath) -> list[GraphPath]:
    """GraphPaths from rows of ``follow_query``: node ids, then (key, src, line, q) per hop."""
    n = len(path)
    out = []
    for row in rows:
        nodes = tuple(row[: n + 1])
        edges = []
        for i, step in enumerate(path):
            key, src, line, q = row[n + 1 + 4 * i: n + 5 + 4 * i]
            s, o = (nodes[i], nodes[i + 1]) if step.forward else (nodes[i + 1], nodes[i])
            edges.append(edge(s, step.predicate, o, key, src, line, q))
        out.append(GraphPath(nodes, tuple(edges), path))
    return out


def _directions(direction: Direction) -> tuple[bool, ...]:
    return {Direction.OUT: (True,), Direction.IN: (False,), Direction.BOTH: (True, False)}[direction]


_COLS = ", ".join(f"e.{f}" for f in ENTITY_FIELDS)
EDGE_QUERY = "MATCH (a:Entity)-[r:REL]->(b:Entity) RETURN a.id, r.p, b.id, r.key, r.src, r.line, r.q"


class CypherReads(ABC):
    """The read half of ``GraphStore`` in Cypher that LadybugDB and Neo4j both accept.

    A backend supplies ``_rows(query, params)`` returning rows as lists.
    """

    @abstractmethod
    def _rows(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        """Run ``query`` with ``params`` and return every row."""

    def edges(self) -> pa.Table:
        """Every edge as rows, turned into the edge table (a backend may hand over Arrow directly)."""
        rows = self._rows(EDGE_QUERY)
        return edge_table(list(zip(*rows)) if rows else [()] * len(EDGE_COLUMNS))

    def edge_batches(self, nodes: int = 20_000) -> Iterator[pa.Table]:
        """Every edge, as edge tables of the out-edges of ``nodes`` subjects at a time (by id).

        Memory is bounded by the page (and the largest out-degree), not the graph: what an
        export of a 10M-triple store needs. Pages follow node ids with a cursor, not SKIP.
        """
        after = ""
        while True:
            ids = [r[0] for r in self._rows(f"MATCH (a:{NODE}) WHERE a.id > $after RETURN a.id ORDER BY a.id "
                                            "LIMIT $n", {"after": after, "n": nodes})]
            if not ids:
                return
            table = self._edges_of(ids)
            if len(table):
                yield table
            after = ids[-1]

    def _edges_of(self, ids: list[str]) -> pa.Table:
        rows = self._rows(f"UNWIND $ids AS i MATCH (a:{NODE} {{id: i}})-[r:{REL}]->(b:{NODE}) "
                          "RETURN a.id, r.p, b.id, r.key, r.src, r.line, r.q", {"ids": ids})
        return edge_table(list(zip(*rows)) if rows else [()] * len(EDGE_COLUMNS))

    def applied_seq(self) -> int:
        rows = self._rows(f"MATCH (m:{META} {{k: 'seq'}}) RETURN m.v")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def entities(self, ids: Sequence[str]) -> dict[str, Entity]:
        rows = self._rows(f"UNWIND $ids AS i MATCH (e:{NODE} {{id: i}}) RETURN {_COLS}", {"ids": list(ids)})
        found = (entity_from_row(dict(zip(ENTITY_FIELDS, r))) for r in rows)
        return {e.id: e for e in found}

    def find(self, name: str, limit: int = 10) -> list[Entity]:
        rows = self._rows(f"MATCH (e:{NODE}) WHERE e.id = $name OR toLower(e.label) = toLower($name) "
                          f"OR $name IN e.aliases RETURN {_COLS} LIMIT $limit", {"name": name, "limit": limit})
        found = [entity_from_row(dict(zip(ENTITY_FIELDS, r))) for r in rows]
        return sorted(found, key=lambda e: (e.id != name, e.label != name, e.id))

    def scan_entities(self, batch_size: int = 50_000) -> Iterator[list[tuple[Entity, int]]]:
        after = ""
        while True:
            rows = self._rows(f"MATCH (e:{NODE}) WHERE e.id > $after AND e.kind <> 'literal' "
                              f"RETURN {_COLS} ORDER BY e.id LIMIT $n", {"after": after, "n": batch_size})
            if not rows:
                return
            entities = [entity_from_row(dict(zip(ENTITY_FIELDS, r))) for r in rows]
            ids = [e.id for e in entities]
            degree = dict(self._rows(f"UNWIND $ids AS i MATCH (e:{NODE} {{id: i}})-[r:{REL}]-() "
                                     "RETURN e.id, count(r)", {"ids": ids}))
            yield [(e, int(degree.get(e.id, 0))) for e in entities]
            after = ids[-1]

    def neighbors(self, entity: str, predicate: str | None = None,
                  direction: Direction = Direction.BOTH, limit: int = 100) -> list[Edge]:
        edges: list[Edge] = []
        params: dict[str, Any] = {"start": entity, "limit": limit}
        if predicate is not None:
            params["p"] = predicate
        for forward in _directions(direction):
            where = "WHERE r1.p = $p " if predicate is not None else ""
            query = (f"MATCH {chain((forward,))} {where}"
                     "RETURN n1.id, r1.p, r1.key, r1.src, r1.line, r1.q ORDER BY r1.p, n1.id LIMIT $limit")
            for other, p, key, src, line, q in self._rows(query, params):
                s, o = (entity, other) if forward else (other, entity)
                edges.append(edge(s, p, o, key, src, line, q))
        return edges[:limit]

    def follow(self, start: str, path: RelationPath, limit: int = 1000) -> list[GraphPath]:
        if not path:
            return []
        params: dict[str, Any] = {"start": start, "limit": limit}
        params.update({f"p{i}": s.predicate for i, s in enumerate(path, 1)})
        return paths_from_rows(self._rows(follow_query(path), params), path)

    def relation_paths(self, start: str, max_hops: int = 3, limit: int = 10_000) -> list[PathCount]:
        found: list[PathCount] = []
        for directions in direction_patterns(max_hops):
            n = len(directions)
            for row in self._rows(path_count_query(directions), {"start": start}):
                steps = tuple(Step(p, d) for p, d in zip(row[:n], directions))
                found.append(PathCount(steps, int(row[n]), int(row[n + 1])))
        found.sort(key=lambda c: (len(c.path), -c.paths, "/".join(map(str, c.path))))
        return found[:limit]

    def stats(self) -> StoreStats:
        triples = self._rows(f"MATCH ()-[r:{REL}]->() RETURN count(r)")[0][0]
        kinds = {k: v for k, v in self._rows(f"MATCH (e:{NODE}) RETURN e.kind, count(*)")}
        relations = self._rows(f"MATCH ()-[r:{REL}]->() RETURN count(DISTINCT r.p)")[0][0]
        return StoreStats(int(triples), int(kinds.get(EntityKind.ENTITY.value, 0)),
                          int(kinds.get(EntityKind.LITERAL.value, 0)), int(relations))
