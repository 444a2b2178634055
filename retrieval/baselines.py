"""Baselines to compare kgqa against: a dense-only RAG over verbalized triples.

``DenseBaseline`` turns every triple into a sentence (``subject predicate object`` with labels),
embeds the sentences with the same embedder kgqa uses into an exact FAISS index, and answers a
question with the entity of the best retrieved sentence that the question does not name. It
takes its triples as plain tuples ``(subject, predicate, object, subject_label, object_label)``;
``labeled_triples`` reads them from a graph store (every edge, labels from the store's
entities). ``cached_vectors`` keeps embeddings in a ``.npy`` file next to a small JSON manifest
(format, embedder, store change number, a hash of the texts), so a knowledge base that has not
changed is never embedded twice; the LlamaIndex peer (``retrieval.llamaindex_peer``) uses it too.

Deliberately left out: passages, multi-hop reasoning and generation; it is the "just embed the
graph" strawman that graph retrieval should beat.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kg.stores.base import GraphStore
from model.base import Embedder
from model.prompts import relation_name

log = logging.getLogger(__name__)

LabeledTriple = tuple[str, str, str, str, str]  # subject, predicate, object, subject label, object label
CACHE_FORMAT = 1


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


def labeled_triples(store: GraphStore) -> list[LabeledTriple]:
    """Every edge of a Cypher graph store (embedded or Neo4j) with the labels of both ends, sorted.

    Sorted because a store returns its edges in no fixed order, and the order decides what a
    cache of their vectors matches and how ties between equal scores break.
    """
    edges = store.edges()
    subjects = edges.column("subject").to_pylist()
    predicates = edges.column("predicate").to_pylist()
    objects = edges.column("object").to_pylist()
    found = store.entities(sorted(set(subjects) | set(objects)))
    labels = {i: e.label or i for i, e in found.items()}
    return sorted((s, p, o, labels.get(s, s), labels.get(o, o)) for s, p, o in zip(subjects, predicates, objects))


def cached_vectors(cache: Path | None, key: dict[str, object], texts: Sequence[str],
                   embed: Callable[[Sequence[str]], np.ndarray]) -> np.ndarray:
    """The vectors of ``texts``: read from ``cache`` when its manifest matches, else embedded.

    The manifest (``cache`` with a ``.json`` suffix) holds ``key`` (the embedder, the store's
    applied change number), the number of texts and a hash of them; any difference re-embeds
    and rewrites both files (the vectors first, so a crash leaves no matching manifest).
    """
    manifest = {"format": CACHE_FORMAT, **key, "count": len(texts), "texts": _digest(texts)}
    meta = cache.with_suffix(".json") if cache is not None else None
    if cache is not None and meta is not None and cache.exists() and meta.exists():
        try:
            if json.loads(meta.read_text()) == manifest:
                vectors: np.ndarray = np.load(cache)
                return vectors
        except (OSError, ValueError) as exc:
            log.warning("re-embedding: cannot read %s: %s", cache, exc)
    vectors = embed(texts)
    if cache is not None and meta is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with cache.open("wb") as fh:  # np.save on a path would append ".npy"
            np.save(fh, vectors)
        partial = meta.with_suffix(".json.tmp")
        partial.write_text(json.dumps(manifest))
        os.replace(partial, meta)
    return vectors


def _digest(texts: Sequence[str]) -> str:
    h = hashlib.blake2b(digest_size=16)
    for text in texts:
        h.update(text.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()


class DenseBaseline:
    """Dense-only RAG over verbalized triples (same embedder as kgqa, exact inner-product FAISS).

    Args:
        embedder: the text embedder (``query`` and ``passage``).
        triples: ``(subject, predicate, object, subject_label, object_label)`` tuples.
        cache: a ``.npy`` file holding the sentence vectors (see ``cached_vectors``).
        depth: sentences retrieved per question before an answer is picked.
        key: what else the cache must match (``from_store`` adds the store's change number).
    """

    def __init__(self, embedder: Embedder, triples: Sequence[LabeledTriple], cache: Path | None = None,
                 depth: int = 5, key: dict[str, object] | None = None) -> None:
        import faiss

        self.embedder = embedder
        self.triples = list(triples)
        self.sentences = [sentence(t) for t in self.triples]
        self.depth = depth
        vectors = cached_vectors(cache, {"embedder": embedder.name, "dimension": embedder.dimension, **(key or {})},
                                 self.sentences, self._embed)
        self.index = faiss.IndexFlatIP(int(vectors.shape[1]))
        if len(self.sentences):
            self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def _embed(self, sentences: Sequence[str]) -> np.ndarray:
        log.info("embedding %d verbalized triples for the dense baseline", len(sentences))
        if not sentences:
            return np.empty((0, self.embedder.dimension), dtype=np.float32)
        return self.embedder.passage(sentences)

    @classmethod
    def from_store(cls, store: GraphStore, embedder: Embedder, cache: Path | None = None) -> DenseBaseline:
        """The baseline over every edge of a Cypher graph store (embedded or Neo4j).

        With ``cache``, the vectors are reused while the store's applied change number is the
        one they were embedded at.
        """
        return cls(embedder, labeled_triples(store), cache, key={"seq": store.applied_seq()})

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
