"""kgqa as a LlamaIndex retriever and query engine, offline on the world KB."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.llms.mock import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine

from pipeline import KGQA
from pipeline.serve.llamaindex import KGQAQueryEngine, KGQARetriever

FRANCE = "What is the capital of France?"


@pytest.fixture()
def qa(kb_copy: Path) -> Iterator[KGQA]:
    with KGQA.open(kb_copy, progress=False, embedder="hashing", generator="off") as qa:
        yield qa


def test_the_retriever_returns_nodes_that_carry_citations(qa: KGQA) -> None:
    nodes = KGQARetriever(qa).retrieve(FRANCE)
    scores = [n.score or 0.0 for n in nodes]
    assert nodes and scores == sorted(scores, reverse=True)
    path = next(n for n in nodes if n.node.metadata["kind"] == "path" and n.node.metadata["cited"])
    triple = path.node.metadata["triples"][0]
    assert triple["source"] == "world.nt" and triple["line"] > 0 and "world.nt:" in path.node.metadata["where"]
    assert "Paris" in path.node.get_content() and path.node.metadata["answers"] == ["Paris"]
    assert "triples" not in path.node.get_content(metadata_mode="llm")  # type: ignore[arg-type]
    assert len(KGQARetriever(qa, top_k=2).retrieve(FRANCE)) == 2


def test_query_engines(qa: KGQA) -> None:
    own = KGQAQueryEngine(qa=qa).query(FRANCE)
    assert str(own).startswith("The answer is Paris [") and own.source_nodes
    other = RetrieverQueryEngine.from_args(KGQARetriever(qa), llm=MockLLM()).query(FRANCE)
    assert other.source_nodes and other.source_nodes[0].node.metadata["answer_id"]
