"""Dense passage retrieval: the catalog's passages, chunked, embedded into a FAISS index.

Passages are split into retrieval units with llama-index-core's ``SentenceSplitter`` (its
tokenizer data ships in the wheel, so it runs offline); each chunk's id is
``<passage key>:<chunk>``. ``sync`` brings the index in step with the catalog: chunks of new
passages are embedded and added, those of removed passages are removed.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from kg.base import Passage, Provenance
from kg.catalog import Catalog
from model.base import Embedder
from retrieval.dense import VectorIndex

log = logging.getLogger(__name__)
CHUNK_TOKENS = 200
CHUNK_OVERLAP = 20


def chunk(passage: Passage, tokens: int = CHUNK_TOKENS) -> list[Passage]:
    """The passage split into chunks of about ``tokens`` tokens (one chunk when short)."""
    if len(passage.text) < tokens * 3:
        return [passage]
    from llama_index.core.node_parser import SentenceSplitter

    parts = SentenceSplitter(chunk_size=tokens, chunk_overlap=CHUNK_OVERLAP).split_text(passage.text)
    base = passage.provenance or Provenance("")
    out, offset = [], base.offset or 0
    for i, text in enumerate(parts):
        found = passage.text.find(text[:40])
        out.append(replace(passage, id=f"{passage.id}#{i}", text=text,
                           provenance=Provenance(base.source, base.line, offset + max(found, 0))))
    return out


class DensePassages:
    """Searches the catalog's passages through a vector index."""

    def __init__(self, catalog: Catalog, index: VectorIndex, embedder: Embedder) -> None:
        self.catalog = catalog
        self.index = index
        self.embedder = embedder
        self._chunks: dict[str, Passage] = {}

    @classmethod
    def open(cls, catalog: Catalog, directory: Path, embedder: Embedder) -> DensePassages:
        """Open (or create) the index in ``directory`` and sync it with the catalog."""
        if (directory / "manifest.json").exists():
            index = VectorIndex.open(directory)
        else:
            index = VectorIndex.create(directory, embedder.dimension, embedder.name)
        found = cls(catalog, index, embedder)
        found.sync()
        return found

    def sync(self) -> tuple[int, int]:
        """Add chunks of new passages and remove those of removed passages; (added, removed)."""
        keyed = self.catalog.keyed_passages()
        self._chunks = {f"{key}:{i}": c for key, p in keyed.items() for i, c in enumerate(chunk(p))}
        have = set(self.index.ids())
        new = [cid for cid in self._chunks if cid not in have]
        gone = [cid for cid in have if cid not in self._chunks]
        if gone:
            self.index.remove(gone)
        if new:
            vectors = self.embedder.passage([_embed_text(self._chunks[c]) for c in new])
            self.index.add(new, vectors)
        if new or gone:
            self.index.save()
            log.info("passage index: +%d -%d chunks", len(new), len(gone))
        return len(new), len(gone)

    def search(self, question: str, n: int) -> list[tuple[Passage, float]]:
        if not len(self.index):
            return []
        hits = self.index.search(self.embedder.query([question]), n)[0]
        return [(self._chunks[cid], score) for cid, score in hits if cid in self._chunks]


def _embed_text(passage: Passage) -> str:
    return f"{passage.title}: {passage.text}" if passage.title else passage.text


