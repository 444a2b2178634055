"""Baselines to compare kgqa against: a dense-only RAG over verbalized triples.

``DenseBaseline`` turns every triple into a sentence (``subject predicate object`` with labels),
embeds the sentences with the same embedder kgqa uses into an exact FAISS index, and answers a
question with the entity of the best retrieved sentence that the question does not name. It
takes its triples as plain tuples ``(subject, predicate, object, subject_label, object_label)``;
``DenseBaseline.from_store`` reads them from a graph store (every edge, labels from the
store's entities). Deliberately left out: passages, multi-hop reasoning and generation; it is
the "just embed the graph" strawman that graph retrieval should beat.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kg.stores.base import GraphStore
from model.base import Embedder
from retrieval.graph_index import read_edges
from retrieval.paths import relation_name

log = logging.getLogger(__name__)

LabeledTriple = tuple[str, str, str, str, str]  # subject, predicate, object, subject label, object label


@dataclass(frozen=True)
class DenseAnswer:
    """The baseline's answer: the entity id, its label, and the sentence it came from."""

    id: str
    label: str
    sentence: str
    score: float


def sentence(triple: LabeledTriple) -> str:
    """``Kismet directed by William Dieterle``: a triple as the text that is embedded."""
    _, p, _, s_label, o_label = triple
    return f"{s_label} {relation_name(p)} {o_label}"


class DenseBaseline:
    """Dense-only RAG over verbalized triples (same embedder as kgqa, exact inner-product FAISS).

    Args:
        embedder: the text embedder (``query`` and ``passage``).
        triples: ``(subject, predicate, object, subject_label, object_label)`` tuples.
        cache: a ``.npy`` file holding the sentence vectors; written when absent.
        depth: sentences retrieved per question before an answer is picked.
    """

    def __init__(self, embedder: Embedder, triples: Sequence[LabeledTriple], cache: Path | None = None,
                 depth: int = 5) -> None:
        import faiss

        self.embedder = embedder
        self.triples = list(triples)
        self.sentences = [sentence(t) for t in self.triples]
        self.depth = depth
        if cache is not None and cache.exists():
            vectors = np.load(cache)
        else:
            log.info("embedding %d verbalized triples for the dense baseline", len(self.sentences))
            vectors = embedder.passage(self.sentences)
            if cache is not None:
                np.save(cache, vectors)
        self.index = faiss.IndexFlatIP(int(vectors.shape[1]))
        if len(self.sentences):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def from_store(cls, store: GraphStore, embedder: Embedder, cache: Path | None = None) -> DenseBaseline:
        """The baseline over every edge of a Cypher graph store (embedded or Neo4j)."""
        edges = read_edges(store)
        subjects = edges.column("subject").to_pylist()
        predicates = edges.column("predicate").to_pylist()
        objects = edges.column("object").to_pylist()
        found = store.entities(sorted(set(subjects) | set(objects)))
        labels = {i: e.label or i for i, e in found.items()}
        triples = [(s, p, o, labels.get(s, s), labels.get(o, o)) for s, p, o in zip(subjects, predicates, objects)]
        return cls(embedder, triples, cache)

    def answer(self, question: str) -> DenseAnswer | None:
        """The entity of the best sentence that names one end in the question but not the other.

        Falls back to the object of the best sentence; ``None`` when there are no triples.
        """
        if not self.triples:
            return None
        query = np.ascontiguousarray(self.embedder.query([question]), dtype=np.float32)
        scores, idx = self.index.search(query, min(self.depth, len(self.triples)))
        lowered = question.lower()
        for score, i in zip(scores[0], idx[0]):
            s, _, o, s_label, o_label = self.triples[i]
            if s_label.lower() in lowered and o_label.lower() not in lowered:
                return DenseAnswer(o, o_label, self.sentences[i], float(score))
            if o_label.lower() in lowered and s_label.lower() not in lowered:
                return DenseAnswer(s, s_label, self.sentences[i], float(score))
        best = int(idx[0][0])
        return DenseAnswer(self.triples[best][2], self.triples[best][4], self.sentences[best], float(scores[0][0]))
