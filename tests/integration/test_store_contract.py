"""One contract suite for every GraphStore backend: LadybugDB (embedded) and Neo4j over Bolt.

The Neo4j runs use the session's real Bolt server (ArcadeDB from the ``arcadedb-embedded``
wheel, or the server that NEO4J_URI names). Each test starts from an empty knowledge base.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.base import EntityKind
from kg.kb import KnowledgeBase
from kg.stores import Direction, Step
from kg.stores.base import EDGE_SCHEMA, RelationPath
from retrieval.graph_index import GraphIndex
from tests.bolt_server import BoltServer

MOVIES = [
    ("Kismet", "directed_by", "William Dieterle"), ("Kismet", "release_year", "1944"),
    ("Kismet", "starred_actors", "Marlene Dietrich"), ("Dark City", "directed_by", "William Dieterle"),
    ("Dark City", "starred_actors", "Lizabeth Scott"), ("Juarez", "directed_by", "William Dieterle"),
    ("Juarez", "release_year", "1939"), ("Vamp", "directed_by", "Richard Wenk"),
    ("Golden Earrings", "starred_actors", "Marlene Dietrich"), ("Golden Earrings", "release_year", "1947"),
]
WORLD = """\
<http://x/France> <http://www.w3.org/2000/01/rdf-schema#label> "France"@en .
<http://x/France> <http://www.w3.org/2000/01/rdf-schema#label> "法国"@zh .
<http://x/France> <http://x/capital> <http://x/Paris> .
<http://x/France> <http://x/population> "66078000"^^<http://www.w3.org/2001/XMLSchema#integer> .
<http://x/Paris> <http://www.w3.org/2000/01/rdf-schema#label> "Paris"@en .
"""


@pytest.fixture(params=["embedded", pytest.param("neo4j", marks=pytest.mark.bolt)])
def kb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KnowledgeBase]:
    if request.param == "embedded":
        with KnowledgeBase.open(tmp_path / "kb", progress=False) as kb:
            yield kb
        return
    server: BoltServer = request.getfixturevalue("bolt_server")
    with KnowledgeBase.open(tmp_path / "kb", backend="neo4j", uri=server.uri, user=server.user,
                            password=server.password, database=server.database, progress=False) as kb:
        kb.store.clear()  # type: ignore[attr-defined]
        yield kb


def write_movies(path: Path, rows: list[tuple[str, str, str]] = MOVIES) -> Path:
    path.write_text("".join("|".join(r) + "\n" for r in rows))
    return path


def brute_force_paths(rows: list[tuple[str, str, str]], start: str, hops: int) -> dict[RelationPath, int]:
    """Every relation path of 1..hops from start that uses no edge twice, with its count."""
    adj = collections.defaultdict(list)
    for s, p, o in rows:
        adj[s].append((Step(p, True), o, (s, p, o)))
        adj[o].append((Step(p, False), s, (s, p, o)))
    counts: collections.Counter[RelationPath] = collections.Counter()

    def walk(node: str, path: RelationPath, used: frozenset[tuple[str, str, str]]) -> None:
        if path:
            counts[path] += 1
        if len(path) < hops:
            for step, other, e in adj[node]:
                if e not in used:
                    walk(other, (*path, step), used | {e})

    walk(start, (), frozenset())
    return dict(counts)


def test_index_and_stats(kb: KnowledgeBase, tmp_path: Path) -> None:
    report = kb.index(write_movies(tmp_path / "movies.txt"))
    assert (report.added, report.triples) == (10, 10)
    stats = kb.store.stats()
    assert (stats.triples, stats.entities, stats.relations) == (10, 12, 3)
    assert kb.store.applied_seq() >= 1


def test_neighbors_by_predicate_and_direction(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.index(write_movies(tmp_path / "movies.txt"))
    out = kb.store.neighbors("Kismet", direction=Direction.OUT)
    assert {(e.predicate, e.object) for e in out} == {("directed_by", "William Dieterle"),
                                                       ("release_year", "1944"),
                                                       ("starred_actors", "Marlene Dietrich")}
    incoming = kb.store.neighbors("William Dieterle", "directed_by", Direction.IN)
    assert sorted(e.subject for e in incoming) == ["Dark City", "Juarez", "Kismet"]
    assert all(e.provenance.source == "movies.txt" and e.provenance.line for e in incoming)
    assert kb.store.neighbors("nobody") == []
    assert len(kb.store.neighbors("William Dieterle", limit=2)) == 2


def test_follow_returns_concrete_paths_with_provenance(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.index(write_movies(tmp_path / "movies.txt"))
    path = (Step("directed_by"), Step("directed_by", False), Step("release_year"))
    found = kb.store.follow("Kismet", path)
    assert sorted(p.end for p in found) == ["1939"]  # Dark City has no year; Kismet's own edge is not reused
    only = found[0]
    assert only.nodes == ("Kismet", "William Dieterle", "Juarez", "1939")
    assert [e.provenance.line for e in only.edges] == [1, 6, 7]
    assert only.edges[1].subject == "Juarez" and only.relation_path == path
    assert kb.store.follow("Kismet", ()) == []


def test_relation_paths_match_brute_force(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.index(write_movies(tmp_path / "movies.txt"))
    for start in ("Kismet", "Marlene Dietrich", "William Dieterle"):
        got = {c.path: c.paths for c in kb.store.relation_paths(start, max_hops=3)}
        assert got == brute_force_paths(MOVIES, start, 3), start
    counts = kb.store.relation_paths("Kismet", max_hops=1)
    assert [c.path for c in counts][0] == (Step("directed_by"),) or all(c.paths == 1 for c in counts)
    assert all(len(c.path) == 1 for c in counts)


def test_shortest_paths(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.index(write_movies(tmp_path / "movies.txt"))
    paths = kb.store.shortest_paths("Kismet", "Lizabeth Scott")
    assert [p.nodes for p in paths] == [("Kismet", "William Dieterle", "Dark City", "Lizabeth Scott")]
    assert paths[0].relation_path == (Step("directed_by"), Step("directed_by", False), Step("starred_actors"))
    assert kb.store.shortest_paths("Kismet", "Richard Wenk") == []


def test_entities_find_and_literals(kb: KnowledgeBase, tmp_path: Path) -> None:
    nt = tmp_path / "world.nt"
    nt.write_text(WORLD)
    kb.index(nt)
    found = kb.store.entities(["http://x/France", "nope"])
    assert set(found) == {"http://x/France"}
    france = found["http://x/France"]
    assert france.label == "France" and france.label_in("zh") == "法国"
    assert [e.id for e in kb.store.find("paris")] == ["http://x/Paris"]
    population = next(e for e in kb.store.neighbors(france.id, "http://x/population"))
    literal = kb.store.entities([population.object])[population.object]
    assert literal.kind is EntityKind.LITERAL and literal.literal is not None
    assert literal.literal.value == "66078000" and literal.label == "66078000"


def test_reindex_and_remove_keep_shared_triples(kb: KnowledgeBase, tmp_path: Path) -> None:
    a = write_movies(tmp_path / "a.txt")
    b = write_movies(tmp_path / "b.txt", MOVIES[:3] + [("Vamp", "release_year", "1986")])
    kb.index(a)
    kb.index(b)
    assert kb.store.stats().triples == 11
    write_movies(a, MOVIES[1:])
    report = kb.index(a)
    assert (report.added, report.removed) == (0, 1)
    assert kb.store.stats().triples == 11  # the removed triple is still asserted by b
    kb.remove(b)
    assert kb.store.stats().triples == 9
    assert kb.store.neighbors("Kismet", "directed_by") == []
    assert kb.store.entities(["Vamp"]) and not kb.store.entities(["1986"])


def test_parameters_carry_hostile_text(kb: KnowledgeBase, tmp_path: Path) -> None:
    evil = "x'}) MATCH (n) DETACH DELETE n //"
    kb.index(write_movies(tmp_path / "movies.txt", MOVIES + [(evil, "directed_by", "Richard Wenk")]))
    assert kb.store.neighbors(evil)[0].object == "Richard Wenk"
    assert kb.store.find(evil)[0].id == evil
    assert kb.store.stats().triples == 11


def test_scan_entities_with_degrees(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.index(write_movies(tmp_path / "movies.txt"))
    batches = list(kb.store.scan_entities(batch_size=5))
    assert [len(b) for b in batches] == [5, 5, 2]
    degrees = {e.id: d for batch in batches for e, d in batch}
    assert degrees["William Dieterle"] == 3 and degrees["Vamp"] == 1 and degrees["Kismet"] == 3


def brute_force_follow(rows: list[tuple[str, str, str]], start: str, path: RelationPath) -> set[tuple[str, ...]]:
    """Node sequences of every path along ``path`` that uses no edge twice."""
    found: set[tuple[str, ...]] = set()

    def walk(nodes: tuple[str, ...], used: frozenset[tuple[str, str, str]]) -> None:
        if len(nodes) == len(path) + 1:
            found.add(nodes)
            return
        step = path[len(nodes) - 1]
        for e in rows:
            s, p, o = e
            if p != step.predicate or e in used:
                continue
            here, there = (s, o) if step.forward else (o, s)
            if here == nodes[-1]:
                walk((*nodes, there), used | {e})

    walk((start,), frozenset())
    return found


def test_follow_matches_brute_force_on_a_random_graph(kb: KnowledgeBase, tmp_path: Path) -> None:
    import random

    rng = random.Random(3)
    rows = sorted({(f"n{rng.randrange(12)}", f"p{rng.randrange(3)}", f"n{rng.randrange(12)}") for _ in range(60)})
    kb.index(write_movies(tmp_path / "random.txt", rows))
    for start in ("n0", "n1", "n5"):
        for count in kb.store.relation_paths(start, max_hops=3):
            got = {p.nodes for p in kb.store.follow(start, count.path, limit=10_000)}
            assert got == brute_force_follow(rows, start, count.path), (start, count.path)


def test_edges_is_the_whole_edge_table(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.index(write_movies(tmp_path / "movies.txt"))
    table = kb.store.edges()
    assert table.schema == EDGE_SCHEMA and table.num_rows == len(MOVIES)
    rows = set(zip(*(table.column(c).to_pylist() for c in ("subject", "predicate", "object"))))
    assert rows == set(MOVIES)
    lines = dict(zip(zip(table.column("subject").to_pylist(), table.column("predicate").to_pylist(),
                         table.column("object").to_pylist()), table.column("line").to_pylist()))
    assert lines[MOVIES[0]] == 1 and set(table.column("source").to_pylist()) == {"movies.txt"}
    keys = table.column("key").to_pylist()
    assert len(set(keys)) == len(keys)
    index = GraphIndex.from_store(kb.store)  # what retrieval builds from it, on every backend
    assert index.relation_paths("Kismet", 2) == kb.store.relation_paths("Kismet", 2)


def test_edge_batches_page_the_same_edges(kb: KnowledgeBase, tmp_path: Path) -> None:
    kb.index(write_movies(tmp_path / "movies.txt"))
    whole = kb.store.edges()
    pages = list(kb.store.edge_batches(nodes=2))  # a few subjects per page: many pages
    assert len(pages) > 1 and all(p.schema == EDGE_SCHEMA for p in pages)
    paged = [row for p in pages for row in zip(*(p.column(c).to_pylist() for c in EDGE_SCHEMA.names))]
    assert sorted(paged) == sorted(zip(*(whole.column(c).to_pylist() for c in EDGE_SCHEMA.names)))
