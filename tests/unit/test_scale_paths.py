"""Relation-path search that scales with the schema: the hop-by-hop beam, the on-disk vector
cache of relation-path texts, and the GraphIndex saved in the KB directory."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from model.embedders import open_embedder
from model.scorer import ZeroShotPathScorer
from retrieval.graph_files import load, open_index, save
from retrieval.graph_index import GraphIndex
from retrieval.paths import PathConfig, PathRetriever
from retrieval.vector_cache import CachedEmbedder


def wide_graph(relations: int, edges: int = 3000, nodes: int = 300, seed: int = 3) -> GraphIndex:
    """A random graph over ``relations`` predicates named like Wikidata's."""
    rng = random.Random(seed)
    rows = {(f"Q{rng.randrange(nodes)}", f"P{rng.randrange(relations)}", f"Q{rng.randrange(nodes)}")
            for _ in range(edges)}
    s, p, o = zip(*sorted(rows))
    n = len(s)
    return GraphIndex.from_edges(s, p, o, np.arange(n), ["src"] * n, list(range(1, n + 1)), [None] * n)


class Counting:
    """A deterministic scorer that counts the path texts it is asked to score."""

    hop_penalty = 0.1

    def __init__(self) -> None:
        self.scored = 0

    def score(self, question: str, paths: Sequence[str]) -> list[float]:
        self.scored += len(paths)
        return [(hash((question, p)) % 1000) / 1000 for p in paths]


def labels_for(relations: int) -> dict[str, str]:
    words = ["born", "place", "country", "capital", "author", "genre", "member", "spouse", "award", "located"]
    return {f"P{i}": f"{words[i % 10]} {words[(i // 10) % 10]} {i}" for i in range(relations)}


def test_beam_scores_a_bounded_number_of_paths_whatever_the_schema() -> None:
    scored = {}
    for relations in (30, 300):
        graph = wide_graph(relations, edges=20 * relations, nodes=2 * relations)
        scorer = Counting()
        config = PathConfig(hop_keep=4, hop_score=40)
        ranked = PathRetriever(graph, scorer, config, labels_for(relations)).score_paths("q", "Q1")
        assert ranked and len({sp.path for sp in ranked}) == len(ranked)
        scored[relations] = scorer.scored
    # one-hop paths (at most the topic's degree) + at most hop_score per further hop + pre-scores
    assert scored[300] <= 2 * 300 + 2 * 40 + 300


def test_beam_finds_the_exhaustive_best_path_on_a_small_schema() -> None:
    graph = wide_graph(6, edges=400, nodes=60)
    labels = labels_for(6)
    scorer = ZeroShotPathScorer(open_embedder("hashing"))
    beam = PathRetriever(graph, scorer, PathConfig(), labels)
    full = PathRetriever(graph, scorer, PathConfig(search="exhaustive", max_candidates=100_000), labels)
    for question in ("place of born", "capital of country of author", "genre of award of member"):
        for topic in ("Q1", "Q7", "Q30"):
            b, f = beam.score_paths(question, topic), full.score_paths(question, topic)
            assert b[0].path == f[0].path and b[0].score == pytest.approx(f[0].score)
            counts = {sp.path: sp.score for sp in f}
            assert all(counts[sp.path] == pytest.approx(sp.score) for sp in b)  # same paths, same scores


def test_search_paths_gives_relation_paths_counts_for_what_it_extends() -> None:
    graph = wide_graph(8, edges=500, nodes=50)
    seen = []

    def everything(hops: int, counts: list) -> list[int]:  # type: ignore[type-arg]
        seen.extend(counts)
        return list(range(len(counts)))

    graph.search_paths("Q3", 3, everything)
    assert sorted(seen, key=str) == sorted(graph.relation_paths("Q3", 3, 10**9), key=str)
    few: list = []  # type: ignore[type-arg]

    def first_two(hops: int, counts: list) -> list[int]:  # type: ignore[type-arg]
        few.extend(counts)
        return [0, 1] if hops == 1 else []

    graph.search_paths("Q3", 3, first_two)
    grown = {c.path[:1] for c in few if len(c.path) == 2}
    assert len(grown) <= 2 and not [c for c in few if len(c.path) == 3]


def test_store_without_search_paths_gets_the_same_beam(tmp_path: Path) -> None:
    graph = wide_graph(10, edges=300, nodes=40)

    class PlainSource:  # relation_paths and follow only, like a Cypher store
        def relation_paths(self, start: str, max_hops: int = 3, limit: int = 10_000):  # type: ignore[no-untyped-def]
            return graph.relation_paths(start, max_hops, limit)

        def follow(self, start, path, limit=1000):  # type: ignore[no-untyped-def]
            return graph.follow(start, path, limit)

    scorer = ZeroShotPathScorer(open_embedder("hashing"))
    a = PathRetriever(graph, scorer, PathConfig(hop_keep=3, hop_score=20)).score_paths("p3 of p4", "Q2")
    b = PathRetriever(PlainSource(), scorer, PathConfig(hop_keep=3, hop_score=20)).score_paths("p3 of p4", "Q2")
    assert [sp.path for sp in a[:5]] == [sp.path for sp in b[:5]]


# -- vector cache ----------------------------------------------------------------------------


class Recording:
    name = "hashing"

    def __init__(self, salt: str = "") -> None:
        self.inner = open_embedder("hashing")
        self.dimension = self.inner.dimension
        self.salt = salt
        self.embedded: list[str] = []

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.query([self.salt + t for t in texts])

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return self.inner.passage([self.salt + t for t in texts])


def test_vector_cache_embeds_each_text_once_per_directory(tmp_path: Path) -> None:
    first = Recording()
    a = CachedEmbedder(first, tmp_path)
    va = a.passage(["born in", "capital of", "born in"])
    assert [t for t in first.embedded if not t.startswith("kgqa")] == ["born in", "capital of"]
    second = Recording()
    b = CachedEmbedder(second, tmp_path)  # another process, same KB and embedder
    vb = b.passage(["capital of", "born in", "author of"])
    assert [t for t in second.embedded if not t.startswith("kgqa")] == ["author of"]
    np.testing.assert_allclose(vb[:2], va[[1, 0]])
    assert b.contains(["author of", "spouse of"]) == [True, False]
    np.testing.assert_allclose(vb, second.inner.passage(["capital of", "born in", "author of"]), atol=1e-6)


def test_vector_cache_keeps_embedders_apart_by_behaviour(tmp_path: Path) -> None:
    CachedEmbedder(Recording(), tmp_path).passage(["x"])
    other = Recording(salt="adapter two ")  # same name, different vectors (another adapter)
    vec = CachedEmbedder(other, tmp_path).passage(["x"])
    assert "x" in other.embedded
    np.testing.assert_allclose(vec, other.passage(["x"]), atol=1e-6)


def test_vector_cache_drops_a_corrupt_segment_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    CachedEmbedder(Recording(), tmp_path).passage(["born in"])
    segment = next(tmp_path.rglob("seg-*"))
    (segment / "vectors.npy").write_bytes(b"garbage")
    again = Recording()
    with caplog.at_level(logging.WARNING):
        CachedEmbedder(again, tmp_path).passage(["born in"])
    assert "born in" in again.embedded and "unreadable" in caplog.text


def test_vector_cache_merges_segments_and_keeps_every_vector(tmp_path: Path) -> None:
    cache = CachedEmbedder(Recording(), tmp_path)
    texts = [f"relation {i}" for i in range(40)]
    for t in texts:
        cache.passage([t])
    assert cache.segments <= 17
    fresh = Recording()
    out = CachedEmbedder(fresh, tmp_path).passage(texts)
    assert [t for t in fresh.embedded if not t.startswith("kgqa")] == []
    np.testing.assert_allclose(out, fresh.inner.passage(texts), atol=1e-6)


# -- the saved graph index -------------------------------------------------------------------


class SeqStore:
    def __init__(self, graph: GraphIndex, seq: int) -> None:
        self.graph, self.seq, self.reads = graph, seq, 0

    def applied_seq(self) -> int:
        return self.seq

    def edges(self):  # type: ignore[no-untyped-def]
        self.reads += 1
        ids, predicates, sources, qualifiers, arrays = self.graph.parts()
        names = ids.to_pylist()
        n = len(arrays["key"])
        return _table([names[i] for i in arrays["subject"]], [predicates[i] for i in arrays["predicate"]],
                      [names[i] for i in arrays["object"]], arrays["key"], ["src"] * n, arrays["line"])


def _table(s, p, o, k, src, line):  # type: ignore[no-untyped-def]
    from kg.stores.base import edge_table

    return edge_table((s, p, o, np.asarray(k), src, [int(x) for x in line], [None] * len(s)))


def test_graph_index_is_saved_mapped_and_rebuilt_when_the_store_moves_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    graph = wide_graph(12, edges=400, nodes=50)
    store = SeqStore(graph, 5)
    built = open_index(store, tmp_path / "gi")  # type: ignore[arg-type]
    opened = open_index(store, tmp_path / "gi")  # type: ignore[arg-type]
    assert store.reads == 1
    assert opened.relation_paths("Q4", 3) == built.relation_paths("Q4", 3) == graph.relation_paths("Q4", 3)
    path = graph.relation_paths("Q4", 2)[-1].path
    assert opened.follow("Q4", path) == graph.follow("Q4", path)
    assert isinstance(opened.parts()[4]["half_key"], np.memmap)
    store.seq = 6
    open_index(store, tmp_path / "gi")  # type: ignore[arg-type]
    assert store.reads == 2
    with open(tmp_path / "gi" / "half_key.npy", "ab") as fh:
        fh.write(b"\0" * 8)
    with caplog.at_level(logging.WARNING):
        again = open_index(store, tmp_path / "gi")  # type: ignore[arg-type]
    assert store.reads == 3 and "unreadable" in caplog.text
    assert again.relation_paths("Q4", 3) == graph.relation_paths("Q4", 3)


def test_saved_index_keeps_provenance_and_qualifiers(tmp_path: Path) -> None:
    graph = GraphIndex.from_edges(["a", "b"], ["p", "q"], ["b", "c"], [10, 11], ["src", None], [3, None],
                                  ['{"P585": "2001"}', None])
    save(graph, tmp_path / "gi", 1)
    loaded = load(tmp_path / "gi", 1)
    path = graph.relation_paths("a", 2)[-1].path
    assert loaded.follow("a", path) == graph.follow("a", path)
