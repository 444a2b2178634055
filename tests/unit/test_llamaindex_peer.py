"""The LlamaIndex peer on the tiny movie KB with the hashing embedder: answers from the graph, offline."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.graph_stores.simple_labelled import SimplePropertyGraphStore
from llama_index.core.vector_stores.types import VectorStoreQuery

from kg.errors import KGQAError
from model.embedders import HashingEmbedder
from pipeline import KGQA
from retrieval.llamaindex_peer import ArrayVectorStore, KGQAEmbedding, LlamaIndexPeer, PeerConfig, _fill
from tests.movies import MOVIES


@pytest.fixture()
def qa(tmp_path: Path) -> Iterator[KGQA]:
    (tmp_path / "movies.txt").write_text(MOVIES)
    with KGQA.open(tmp_path / "kb", progress=False, embedder="hashing") as qa:
        qa.index(tmp_path / "movies.txt")
        yield qa


@pytest.fixture()
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the LlamaIndex peer tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    for var in ("OPENAI_API_KEY", "OPENAI_API_BASE"):
        monkeypatch.delenv(var, raising=False)


def test_answers_come_from_the_graph_without_any_llm(qa: KGQA, offline: None) -> None:
    from llama_index.core import Settings

    peer = LlamaIndexPeer.from_store(qa.kb.store, HashingEmbedder())
    found = peer.answer("who directed Kismet")
    assert found.matched[0] == "Kismet" and "Kismet" not in found.answers
    assert set(found.answers[:3]) == {"William Dieterle", "1944", "Marlene Dietrich"}  # Kismet's neighbours first
    assert "Kismet -> directed by -> William Dieterle" in found.triplets[:3]
    vamp = peer.answer("when was Vamp released")
    assert vamp.matched[0] == "Vamp" and set(vamp.answers[:2]) == {"1986", "Richard Wenk"}
    assert Settings._llm is None and Settings._embed_model is None  # never resolved (no OpenAI default)


def test_topic_given_queries_with_the_topics_vector(qa: KGQA) -> None:
    peer = LlamaIndexPeer.from_store(qa.kb.store, HashingEmbedder())
    found = peer.answer("what about it", topic="Dark City")
    assert found.matched[0] == "Dark City" and set(found.answers[:2]) == {"William Dieterle", "1950"}
    assert peer.answer("what about it", topic="no such entity").answers  # falls back to the question


def test_node_vectors_are_cached(qa: KGQA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = HashingEmbedder.passage
    monkeypatch.setattr(HashingEmbedder, "passage", lambda self, texts: calls.append(len(texts)) or real(self, texts))
    cache = tmp_path / "cache" / "llamaindex-hashing.npy"
    first = LlamaIndexPeer.from_store(qa.kb.store, HashingEmbedder(), cache).answer("who directed Vamp")
    again = LlamaIndexPeer.from_store(qa.kb.store, HashingEmbedder(), cache).answer("who directed Vamp")
    assert sum(calls) == 9 and first == again  # 9 entity nodes, embedded once
    assert set(first.answers[:2]) == {"Richard Wenk", "1986"}  # Vamp's neighbours, in LlamaIndex's order


def test_indexed_store_returns_what_the_base_class_scans(qa: KGQA) -> None:
    from retrieval.baselines import labeled_triples

    graph, node_of = _fill(labeled_triples(qa.kb.store), {})
    assert node_of["Kismet"] == "Kismet" and len(graph.graph.nodes) == 9
    for ids in (["Kismet"], ["William Dieterle", "1986"], ["Vamp", "nobody"]):
        nodes = graph.get(ids=ids)
        assert {n.id for n in nodes} == {n.id for n in SimplePropertyGraphStore.get(graph, ids=ids)}
        for depth in (1, 2):
            for limit in (2, 30):
                mine = graph.get_rel_map(nodes, depth, limit)
                base = SimplePropertyGraphStore.get_rel_map(graph, nodes, depth, limit)
                assert [str(t) for t in mine] == [str(t) for t in base]
        scanned = SimplePropertyGraphStore.get_triplets(graph, ids=ids)
        assert sorted(map(str, graph.get_triplets(ids=ids))) == sorted(map(str, scanned))
    assert graph.get_triplets(relation_names=["release year"])  # other filters: the base class's scan


def test_array_vector_store_is_exact_inner_product() -> None:
    vectors = np.eye(3, dtype=np.float32)
    store = ArrayVectorStore.from_vectors(["a", "b", "c"], vectors)
    found = store.query(VectorStoreQuery(query_embedding=[0.1, 0.9, 0.5], similarity_top_k=2))
    assert found.ids == ["b", "c"] and found.similarities == pytest.approx([0.9, 0.5])
    assert store.vector("c") == [0.0, 0.0, 1.0] and store.vector("z") is None
    store.delete("b")
    assert store.query(VectorStoreQuery(query_embedding=[0.1, 0.9, 0.5], similarity_top_k=5)).ids == ["c", "a"]


def test_embedding_wrapper_and_config() -> None:
    model = KGQAEmbedding(HashingEmbedder())
    row = model.get_query_embedding("Kismet")
    assert len(row) == 256 and row == model.get_text_embedding("Kismet")
    assert len(model.get_text_embedding_batch(["a", "b", "c"])) == 3
    with pytest.raises(KGQAError):
        PeerConfig(path_depth=3)
