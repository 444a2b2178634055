"""LlamaIndex's own graph retrieval over a kgqa knowledge base: the peer kgqa is compared with.

``LlamaIndexPeer`` fills a LlamaIndex ``PropertyGraphIndex`` from the store's edges (one
``EntityNode`` per entity, named by its label; one ``Relation`` per edge, named by the
predicate's readable name), embeds the entity nodes with kgqa's own embedder wrapped as a
LlamaIndex ``BaseEmbedding`` (``KGQAEmbedding``), and retrieves with LlamaIndex's
``VectorContextRetriever`` through its ``PGRetriever``: the entity nodes nearest to the question
(``similarity_top_k``), their triplets expanded ``path_depth`` hops by the store's
``get_rel_map``, ranked by the similarity of the matched node. Its answers are the entities of
the retrieved triplets other than the best-matched node (the question's entity as LlamaIndex
sees it), in retrieval order; the top one is its Hits@1 answer. With the topic given, the topic
node's own vector is the query, so the topic is the best match and its triplets come first.

Two pieces stand in for LlamaIndex's in-memory defaults, which scan everything on every call
(3 to 7 s per question on MetaQA's 134k edges): ``IndexedGraphStore`` is a
``SimplePropertyGraphStore`` whose lookups read an adjacency index (the same triplets; ties in
a stable hash order instead of the hash order of a Python set, so runs are reproducible), and
``ArrayVectorStore`` is an exact inner-product vector store over one numpy matrix (the same
neighbours as ``SimpleVectorStore``'s cosine on unit vectors). Node vectors are cached in the
knowledge base directory (``retrieval.baselines.cached_vectors``).

No LLM is involved: no LLM object is created, and ``Settings`` (whose lazy defaults would
reach for OpenAI) is never asked for a model; everything is passed explicitly. Deliberately
left out: LlamaIndex's LLM synonym and text-to-Cypher retrievers, and answer synthesis.
"""

from __future__ import annotations

import heapq
import logging
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.graph_stores.simple_labelled import SimplePropertyGraphStore
from llama_index.core.graph_stores.types import EntityNode, LabelledNode, Relation, Triplet
from llama_index.core.indices.property_graph import PropertyGraphIndex, VectorContextRetriever
from llama_index.core.indices.property_graph.transformations import ImplicitPathExtractor
from llama_index.core.schema import BaseNode, QueryBundle
from llama_index.core.vector_stores.types import BasePydanticVectorStore, VectorStoreQuery, VectorStoreQueryResult
from pydantic import PrivateAttr

from kg.errors import KGQAError
from kg.stores.base import GraphStore
from model.base import Embedder
from model.prompts import relation_name
from retrieval.baselines import cached_vectors, labeled_triples

log = logging.getLogger(__name__)
_Entry = tuple[int, str, str, str]  # (stable hash, subject, relation, object) of one triplet
ARROW = " -> "  # how LlamaIndex writes a retrieved triplet: "subject -> relation -> object"


@dataclass(frozen=True)
class PeerConfig:
    """Settings of LlamaIndex's ``VectorContextRetriever`` (its defaults, but two hops deep).

    Args:
        similarity_top_k: entity nodes matched to the question by vector search.
        path_depth: hops of graph expansion around the matched nodes (1 or 2).
        limit: the most triplets the expansion returns.
    """

    similarity_top_k: int = 4
    path_depth: int = 2
    limit: int = 30

    def __post_init__(self) -> None:
        if self.similarity_top_k < 1 or self.limit < 1 or self.path_depth not in (1, 2):
            raise KGQAError("similarity_top_k and limit must be positive, path_depth 1 or 2")


@dataclass(frozen=True)
class PeerAnswer:
    """What the peer retrieved for one question: answer ids (best first), triplets, matched ids."""

    answers: tuple[str, ...]
    triplets: tuple[str, ...]  # "subject -> relation -> object", in retrieval order
    matched: tuple[str, ...]  # the entity ids the vector search matched, best first


class KGQAEmbedding(BaseEmbedding):
    """A kgqa ``Embedder`` as a LlamaIndex embedding model (queries and texts, all local)."""

    _embedder: Embedder = PrivateAttr()

    def __init__(self, embedder: Embedder, embed_batch_size: int = 256) -> None:
        super().__init__(model_name=embedder.name, embed_batch_size=embed_batch_size)
        self._embedder = embedder

    @classmethod
    def class_name(cls) -> str:
        return "KGQAEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return _floats(self._embedder.query([query])[0])

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return _floats(self._embedder.passage([text])[0])

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [_floats(row) for row in self._embedder.passage(texts)]


def _floats(row: np.ndarray) -> list[float]:
    return [float(x) for x in row]


class IndexedGraphStore(SimplePropertyGraphStore):
    """``SimplePropertyGraphStore`` with an adjacency index behind its lookups.

    ``get`` and ``get_triplets`` by node ids or entity names return what the base class finds
    by scanning every node or triplet, the triplets ordered by a stable hash of each (the base
    class: the hash order of a Python set). ``get_rel_map`` returns exactly the base class's
    triplets, but stops once ``limit`` are found (the base class expands every level in full,
    and one more than ``depth``, before it truncates). Other filters fall back to the scan.
    """

    def __init__(self) -> None:
        super().__init__()
        self._adjacency: dict[str, list[_Entry]] = {}

    def upsert_relations(self, relations: list[Relation]) -> None:
        known = self.graph.triplets
        fresh = [r for r in relations if (r.source_id, r.label, r.target_id) not in known]
        super().upsert_relations(relations)
        for r in fresh:
            entry = (zlib.crc32(f"{r.source_id}\t{r.label}\t{r.target_id}".encode()), r.source_id, r.label,
                     r.target_id)
            self._adjacency.setdefault(r.source_id, []).append(entry)
            if r.target_id != r.source_id:
                self._adjacency.setdefault(r.target_id, []).append(entry)

    def get(self, properties: dict[str, Any] | None = None, ids: list[str] | None = None) -> list[LabelledNode]:
        if properties or not ids:
            return super().get(properties, ids)
        nodes = self.graph.nodes
        return [nodes[i] for i in dict.fromkeys(ids) if i in nodes]

    def get_triplets(self, entity_names: list[str] | None = None, relation_names: list[str] | None = None,
                     properties: dict[str, Any] | None = None, ids: list[str] | None = None) -> list[Triplet]:
        if relation_names or properties or bool(entity_names) == bool(ids):
            return super().get_triplets(entity_names, relation_names, properties, ids)
        return self._triplets(sorted(self._entries(entity_names or ids or [])))

    def get_rel_map(self, graph_nodes: list[LabelledNode], depth: int = 2, limit: int = 30,
                    ignore_rels: list[str] | None = None) -> list[Triplet]:
        ignore = set(ignore_rels or [])
        out: list[Triplet] = []
        level = self._entries([n.id for n in graph_nodes])
        seen: set[_Entry] = set()
        for step in range(depth):
            if not level:
                break
            if step:  # the base class drops repeats from the second level on
                level -= seen
                seen |= level
            kept = [e for e in level if e[2] not in ignore]
            out += self._triplets(heapq.nsmallest(limit - len(out), kept))
            if len(out) >= limit:  # deeper levels would be cut anyway
                break
            level = self._entries(e[3] for e in level)  # the base class follows objects only
        return out[:limit]

    def _entries(self, names: Iterable[str]) -> set[_Entry]:
        triplets = self.graph.triplets
        return {e for name in dict.fromkeys(names) for e in self._adjacency.get(name, ()) if e[1:] in triplets}

    def _triplets(self, entries: Iterable[_Entry]) -> list[Triplet]:
        nodes, relations = self.graph.nodes, self.graph.relations
        return [(nodes[s], relations[f"{s}_{r}_{o}"], nodes[o]) for _, s, r, o in entries]


class ArrayVectorStore(BasePydanticVectorStore):
    """An exact inner-product vector store over one matrix of unit rows (ids, no text)."""

    stores_text: bool = False
    _ids: list[str] = PrivateAttr(default_factory=list)
    _matrix: np.ndarray = PrivateAttr(default_factory=lambda: np.empty((0, 0), dtype=np.float32))
    _positions: dict[str, int] = PrivateAttr(default_factory=dict)

    @classmethod
    def from_vectors(cls, ids: Sequence[str], vectors: np.ndarray) -> ArrayVectorStore:
        store = cls()
        store._ids = list(ids)
        store._matrix = np.ascontiguousarray(vectors, dtype=np.float32)
        return store

    @property
    def client(self) -> Any:
        return None

    def add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        rows = np.asarray([n.get_embedding() for n in nodes], dtype=np.float32)
        self._matrix = rows if not self._ids else np.vstack([self._matrix, rows])
        self._ids += [n.node_id for n in nodes]
        self._positions = {}
        return [n.node_id for n in nodes]

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        keep = [i for i, node_id in enumerate(self._ids) if node_id != ref_doc_id]
        self._ids = [self._ids[i] for i in keep]
        self._matrix = self._matrix[keep]
        self._positions = {}

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        if query.query_embedding is None or not self._ids:
            return VectorStoreQueryResult(ids=[], similarities=[])
        scores = self._matrix @ np.asarray(query.query_embedding, dtype=np.float32)
        k = min(query.similarity_top_k, len(self._ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.lexsort((top, -scores[top]))]  # best first, ties by position
        return VectorStoreQueryResult(ids=[self._ids[i] for i in top], similarities=[float(scores[i]) for i in top])

    def vector(self, node_id: str) -> list[float] | None:
        """The stored vector of ``node_id`` (``None`` when it has none)."""
        if len(self._positions) != len(self._ids):  # emptied by every change
            self._positions = {node_id: i for i, node_id in enumerate(self._ids)}
        at = self._positions.get(node_id)
        return None if at is None else _floats(self._matrix[at])


class LlamaIndexPeer:
    """LlamaIndex's property-graph retrieval over a filled index (see ``from_store``).

    Args:
        index: the filled ``PropertyGraphIndex`` (its vector store an ``ArrayVectorStore``).
        embed_model: the embedding model of the index.
        node_of: the LlamaIndex node id of each kgqa entity id.
        config: the retriever's settings.
    """

    def __init__(self, index: PropertyGraphIndex, embed_model: KGQAEmbedding, node_of: dict[str, str],
                 config: PeerConfig = PeerConfig()) -> None:
        if not isinstance(index.vector_store, ArrayVectorStore):
            raise KGQAError("the LlamaIndex peer needs an ArrayVectorStore behind its property graph index")
        self.index = index
        self.vectors = index.vector_store
        self.embed_model = embed_model
        self.node_of = node_of
        self.entity_of: dict[str, str] = {}
        for entity, node in node_of.items():  # entities sharing a label: the first one answers
            self.entity_of.setdefault(node, entity)
        self.config = config
        sub = VectorContextRetriever(index.property_graph_store, include_text=False, embed_model=embed_model,
                                     vector_store=self.vectors, similarity_top_k=config.similarity_top_k,
                                     path_depth=config.path_depth, limit=config.limit)
        self.retriever = index.as_retriever(sub_retrievers=[sub], include_text=False, use_async=False)

    @classmethod
    def from_store(cls, store: GraphStore, embedder: Embedder, cache: Path | None = None,
                   config: PeerConfig = PeerConfig(), progress: bool = False) -> LlamaIndexPeer:
        """Fill a property graph index from every edge of a Cypher store (embedded or Neo4j).

        Entities that share a label share one LlamaIndex node (its identity is the name).
        With ``cache`` (a ``.npy`` file), node vectors are reused while the store's applied
        change number and the embedder are the ones they were embedded with.
        """
        triples = labeled_triples(store)
        found = store.entities(sorted({t[1] for t in triples}))
        relations = {p: relation_name(p, {i: e.label for i, e in found.items() if e.label}) for p in found}
        graph, node_of = _fill(triples, relations)
        embed_model = KGQAEmbedding(embedder)
        names = list(graph.graph.nodes)
        key = {"embedder": embedder.name, "dimension": embedder.dimension, "seq": store.applied_seq()}
        vectors = cached_vectors(cache, key, names, lambda texts: _embed(embed_model, texts, progress))
        index = PropertyGraphIndex.from_existing(
            graph, vector_store=ArrayVectorStore.from_vectors(names, vectors), embed_model=embed_model,
            kg_extractors=[ImplicitPathExtractor()], use_async=False)  # never the LLM path extractor
        return cls(index, embed_model, node_of, config)

    def answer(self, question: str, topic: str | None = None) -> PeerAnswer:
        """Retrieve triplets for ``question`` and rank the entities in them.

        Args:
            question: the question as asked.
            topic: an entity id; when it has a node, that node's vector is the query.
        """
        node = self.node_of.get(topic) if topic is not None else None
        embedding = self.vectors.vector(node) if node is not None else None
        if embedding is None:
            embedding = self.embed_model.get_query_embedding(question)
        hits = self.vectors.query(VectorStoreQuery(query_embedding=embedding,
                                                   similarity_top_k=self.config.similarity_top_k))
        matched = list(hits.ids or [])
        found = self.retriever.retrieve(QueryBundle(question, embedding=embedding))
        triplets = [n.node.get_content() for n in found]
        answers = _entities((self._ends(t) for t in triplets), set(matched[:1]))
        return PeerAnswer(tuple(self.entity_of.get(a, a) for a in answers), tuple(triplets),
                          tuple(self.entity_of.get(m, m) for m in matched))

    def _ends(self, text: str) -> tuple[str, str]:
        """The subject and object node ids of ``"s -> r -> o"`` (names may contain the arrow)."""
        parts = text.split(ARROW)
        for i in range(1, len(parts) - 1):
            subject, obj = ARROW.join(parts[:i]), ARROW.join(parts[i + 1:])
            if subject in self.entity_of and obj in self.entity_of:
                return subject, obj
        return parts[0], parts[-1]


def _fill(triples: Sequence[tuple[str, str, str, str, str]],
          relations: dict[str, str]) -> tuple[IndexedGraphStore, dict[str, str]]:
    """The graph store of the labeled triples, and the node id of each kgqa entity id."""
    nodes: dict[str, EntityNode] = {}
    node_of: dict[str, str] = {}
    edges = []
    for s, p, o, s_label, o_label in triples:
        for entity, label in ((s, s_label), (o, o_label)):
            if entity not in node_of:
                node = nodes.setdefault(label, EntityNode(name=label))
                node_of[entity] = node.id
        edges.append(Relation(label=relations.get(p) or relation_name(p), source_id=node_of[s],
                              target_id=node_of[o]))
    graph = IndexedGraphStore()
    graph.upsert_nodes(list(nodes.values()))
    graph.upsert_relations(edges)
    return graph, node_of


def _embed(model: KGQAEmbedding, names: Sequence[str], progress: bool) -> np.ndarray:
    log.info("embedding %d entity nodes for the LlamaIndex peer", len(names))
    rows = model.get_text_embedding_batch(list(names), show_progress=progress)
    return np.asarray(rows, dtype=np.float32).reshape(len(names), -1)


def _entities(ends: Iterable[tuple[str, str]], matched: set[str]) -> list[str]:
    """Distinct triplet ends in order, leaving out the best-matched node (the question's entity)."""
    out: dict[str, None] = {}
    for subject, obj in ends:
        for node in (subject, obj):
            if node not in matched:
                out.setdefault(node, None)
    return list(out)
