"""GraphIndex against the embedded store and a brute-force walker; MetaQA speed when present."""

from __future__ import annotations

import collections
import itertools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from kg.errors import KGQAError
from kg.kb import KnowledgeBase
from kg.stores import GraphPath, GraphStore, Step
from kg.stores.base import RelationPath
from kg.stores.cypher import CypherReads
from retrieval.graph_index import GraphIndex, IndexLimits
from tests.conftest import index_kb
from tests.movies import rows_text

Row = tuple[str, str, str]
# Parallel edges (Kismet directed and wrote), a loop (Vamp) and shared neighbours, so that walks
# can come back over the edge they took or over their first edge.
ROWS: list[Row] = [
    ("Kismet", "directed_by", "William Dieterle"), ("Kismet", "written_by", "William Dieterle"),
    ("Kismet", "release_year", "1944"), ("Kismet", "starred_actors", "Marlene Dietrich"),
    ("Dark City", "directed_by", "William Dieterle"), ("Dark City", "starred_actors", "Lizabeth Scott"),
    ("Juarez", "directed_by", "William Dieterle"), ("Juarez", "release_year", "1939"),
    ("Golden Earrings", "starred_actors", "Marlene Dietrich"), ("Golden Earrings", "release_year", "1947"),
    ("Vamp", "directed_by", "Richard Wenk"), ("Vamp", "remake_of", "Vamp"),
    ("Vamp", "starred_actors", "Marlene Dietrich"),
]


def walks(rows: list[Row], start: str, hops: int) -> dict[RelationPath, set[tuple[tuple[str, ...], tuple[Row, ...]]]]:
    """Every walk of 1..hops from ``start`` that uses no edge twice, as (nodes, edges) per relation path."""
    adj = collections.defaultdict(list)
    for s, p, o in rows:
        adj[s].append((Step(p, True), o, (s, p, o)))
        adj[o].append((Step(p, False), s, (s, p, o)))
    found: dict[RelationPath, set[tuple[tuple[str, ...], tuple[Row, ...]]]] = collections.defaultdict(set)

    def walk(nodes: tuple[str, ...], path: RelationPath, used: tuple[Row, ...]) -> None:
        if path:
            found[path].add((nodes, used))
        if len(path) < hops:
            for step, other, edge in adj[nodes[-1]]:
                if edge not in used:
                    walk((*nodes, other), (*path, step), (*used, edge))

    walk((start,), (), ())
    return dict(found)


def concrete(paths: list[GraphPath]) -> set[tuple[tuple[str, ...], tuple[Row, ...]]]:
    return {(p.nodes, tuple((e.subject, e.predicate, e.object) for e in p.edges)) for p in paths}


def by_keys(paths: list[GraphPath]) -> set[tuple[tuple[str, ...], tuple[int, ...]]]:
    return {(p.nodes, tuple(e.key for e in p.edges)) for p in paths}


def index_of(rows: list[Row], limits: IndexLimits | None = None) -> GraphIndex:
    n = len(rows)
    return GraphIndex.from_edges([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                 list(range(n)), ["test"] * n, list(range(1, n + 1)), [None] * n,
                                 limits or IndexLimits())


def random_rows(seed: int, nodes: int = 10, edges: int = 28) -> list[Row]:
    rng = random.Random(seed)
    rows: set[Row] = set()
    while len(rows) < edges:
        rows.add((f"n{rng.randrange(nodes)}", rng.choice("abc"), f"n{rng.randrange(nodes)}"))
    return sorted(rows)


@pytest.fixture()
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    with KnowledgeBase.open(index_kb(tmp_path, {"movies.txt": rows_text(ROWS)}), progress=False) as kb:
        yield kb


def test_relation_paths_equal_the_store_and_brute_force(kb: KnowledgeBase) -> None:
    index = GraphIndex.from_store(kb.store)
    assert (index.node_count, index.edge_count) == (12, len(ROWS))
    for start in sorted({r[0] for r in ROWS} | {r[2] for r in ROWS}):
        got = index.relation_paths(start, max_hops=3)
        assert got == kb.store.relation_paths(start, max_hops=3), start
        expected = walks(ROWS, start, 3)
        assert {c.path: c.paths for c in got} == {p: len(w) for p, w in expected.items()}, start
        assert {c.path: c.ends for c in got} == {p: len({n[-1] for n, _ in w}) for p, w in expected.items()}
    assert index.relation_paths("Kismet", max_hops=1) == kb.store.relation_paths("Kismet", max_hops=1)
    assert index.relation_paths("Kismet", limit=5) == kb.store.relation_paths("Kismet", limit=5)


def test_follow_equals_the_store_with_provenance(kb: KnowledgeBase) -> None:
    index = GraphIndex.from_store(kb.store)
    checked = 0
    for start in ("Kismet", "William Dieterle", "Marlene Dietrich", "Vamp"):
        for count in kb.store.relation_paths(start, max_hops=3):
            mine, theirs = index.follow(start, count.path), kb.store.follow(start, count.path)
            assert by_keys(mine) == by_keys(theirs), (start, count.path)
            assert sorted(map(repr, mine)) == sorted(map(repr, theirs))  # edges, provenance, relation path
            assert len(mine) == count.paths
            checked += any(not step.forward for step in count.path)
    assert checked > 20
    path = (Step("directed_by"), Step("directed_by", False), Step("release_year"))
    [only] = index.follow("Kismet", path)  # Kismet's own directed_by edge is not taken back
    assert only.nodes == ("Kismet", "William Dieterle", "Juarez", "1939")
    assert [e.provenance.line for e in only.edges] == [1, 7, 8] and only.edges[0].provenance.source == "movies.txt"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_graphs_with_loops_match_brute_force(seed: int) -> None:
    rows = random_rows(seed)
    index = index_of(rows)
    steps = [Step(p, forward) for p in "abc" for forward in (True, False)]
    for start in sorted({r[0] for r in rows})[:5]:
        expected = walks(rows, start, 3)
        got = index.relation_paths(start)
        assert {c.path: c.paths for c in got} == {p: len(w) for p, w in expected.items()}
        assert [len(c.path) for c in got] == sorted(len(c.path) for c in got)
        for path in itertools.product(steps, repeat=2):
            assert concrete(index.follow(start, path)) == expected.get(path, set())
        for path in list(expected)[:40]:
            assert concrete(index.follow(start, path)) == expected[path]
            assert len(index.follow(start, path, limit=2)) == min(2, len(expected[path]))


def test_from_edges_values_and_edge_cases() -> None:
    index = GraphIndex.from_edges(["a", "b"], ["p", "q"], ["b", "c"], [10, 11], ["src", None], [3, None],
                                  ['{"x": 1}', None])
    [path] = index.follow("a", (Step("p"), Step("q")))
    first, second = path.edges
    assert (first.key, first.provenance.source, first.provenance.line, first.qualifiers) == (10, "src", 3, '{"x": 1}')
    assert (second.subject, second.object, second.provenance.source, second.provenance.line) == ("b", "c", "", None)
    assert path.relation_path == (Step("p"), Step("q")) and path.end == "c"
    assert [(str(c.path[0]), c.paths, c.ends) for c in index.relation_paths("b", max_hops=1)] == [("^p", 1, 1),
                                                                                               ("q", 1, 1)]
    assert index.relation_paths("nobody") == [] and index.follow("nobody", (Step("p"),)) == []
    assert index.relation_paths("a", max_hops=0) == [] and index.relation_paths("a", limit=0) == []
    assert index.follow("a", ()) == [] and index.follow("a", (Step("unknown"),)) == []
    assert index.follow("a", (Step("p"),), limit=0) == []
    empty = GraphIndex.from_edges([], [], [], [], [], [], [])
    assert empty.relation_paths("a") == [] and empty.follow("a", (Step("p"),)) == []


def test_follow_stops_at_limit_on_a_hub() -> None:
    rows = [(f"film{i}", "genre", "Drama") for i in range(5000)] + [(f"film{i}", "year", "1999") for i in range(5000)]
    index = index_of(rows)
    found = index.follow("film0", (Step("genre"), Step("genre", False), Step("year")), limit=7)
    assert len(found) == 7 and all(p.nodes[2] != "film0" and p.end == "1999" for p in found)
    [count] = [c for c in index.relation_paths("film0") if str(c.path[-1]) == "year" and len(c.path) == 3
               and c.path[0].predicate == "genre"]
    assert (count.paths, count.ends) == (4999, 1)


def test_limits_keep_large_frontiers_from_growing() -> None:
    rows = [("hub", "p", f"leaf{i}") for i in range(5)] + [("leaf0", "q", "x")]
    capped = index_of(rows, IndexLimits(max_frontier=4)).relation_paths("hub")
    assert [str(c.path[0]) for c in capped] == ["p"]  # reaches 5 nodes: counted, not extended
    assert len(index_of(rows).relation_paths("hub")) > 1
    budget = index_of(rows, IndexLimits(max_rows=1)).relation_paths("hub")
    assert [len(c.path) for c in budget] == [1]
    with pytest.raises(ValueError):
        IndexLimits(max_frontier=0)


class RowStore(CypherReads):
    """A Cypher store that answers with rows only, as the Neo4j backend does."""

    def __init__(self, rows: list[list[Any]]) -> None:
        self.rows = rows

    def _rows(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:
        assert query.startswith("MATCH (a:Entity)-[r:REL]->(b:Entity)")
        return self.rows


def test_from_store_reads_rows_from_other_backends() -> None:
    rows = [["a", "p", "b", 7, "s", 1, None], ["b", "p", "c", 8, None, None, None]]
    index = GraphIndex.from_store(cast(GraphStore, RowStore(rows)))
    [path] = index.follow("a", (Step("p"), Step("p")))
    assert [e.key for e in path.edges] == [7, 8] and path.edges[1].provenance.source == ""
    assert GraphIndex.from_store(cast(GraphStore, RowStore([]))).edge_count == 0
    with pytest.raises(KGQAError):
        GraphIndex.from_store(cast(GraphStore, object()))


def _reach_brute_force(rows: list[Row], start: str, path: RelationPath, exclude_start: bool) -> set[str]:
    """The end sets of weak supervision the way they were made before: per-node dicts of sets."""
    found = {start}
    for step in path:
        found = {o if step.forward else s for s, p, o in rows for n in found
                 if p == step.predicate and (s if step.forward else o) == n}
        if exclude_start:
            found.discard(start)
    return found


@pytest.mark.parametrize("seed", range(4))
def test_reach_equals_the_end_sets_of_every_path(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [f"n{i}" for i in range(12)]
    rows = list({(rng.choice(nodes), rng.choice("pqr"), rng.choice(nodes)) for _ in range(40)})
    index = index_of(rows)
    assert index.node_ids() == sorted({x for s, _, o in rows for x in (s, o)})
    for start in index.node_ids():
        memo: dict[RelationPath, Any] = {}
        for exclude in (False, True):
            for count in index.relation_paths(start, 3):
                got = set(index.names(index.reach(start, count.path, exclude, memo if not exclude else None)))
                assert got == _reach_brute_force(rows, start, count.path, exclude), (start, count.path, exclude)
    assert len(index.reach("nobody", (Step("p", True),))) == 0
    assert len(index.reach(rows[0][0], (Step("no such predicate", True),))) == 0
    objects = {p: set(index.names(v)) for p, v in index.objects().items()}
    assert objects == {p: {o for s, q, o in rows if q == p} for p in {q for _, q, _ in rows}}
