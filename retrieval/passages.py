"""Dense passage retrieval: passages and entity descriptions, embedded into a FAISS index.

Two kinds of retrieval unit share one ``VectorIndex``:

- chunks of the catalog's passages, split with llama-index-core's ``SentenceSplitter`` (its
  tokenizer data ships in the wheel, so it runs offline), id ``p:<passage key>:<chunk>``;
- entity descriptions from the graph ("France: country in Western Europe"), id
  ``e:<description hash>:<entity id>``, so a changed description gets a new id.

``sync`` brings the index in step with the catalog and the store, embedding only what is new
and removing what is gone; it runs when the store's applied change number has moved since the
last sync (stamped in the index folder). The index is derived state: damaged, or built with
another embedder, it is rebuilt with one warning. A hit is resolved to its text when it is returned, so
nothing but the index is held in memory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from kg.base import Passage, Provenance
from kg.catalog import Catalog
from kg.errors import KGQAError
from kg.files import read_json_or_none, write_atomic
from kg.stores.base import GraphStore
from model.base import Embedder
from retrieval.dense import VectorIndex

log = logging.getLogger(__name__)
CHUNK_TOKENS = 200
CHUNK_OVERLAP = 20
STAMP = "synced_at_seq.json"
LOUD = 1000  # embedding this many units takes minutes on a small CPU: say so


@lru_cache(maxsize=4)
def _splitter(tokens: int) -> Any:
    from llama_index.core.node_parser import SentenceSplitter  # building one loads a tokenizer: once

    return SentenceSplitter(chunk_size=tokens, chunk_overlap=CHUNK_OVERLAP)


def chunk(passage: Passage, tokens: int = CHUNK_TOKENS) -> list[Passage]:
    """The passage split into chunks of about ``tokens`` tokens (one chunk when short)."""
    if len(passage.text) < tokens * 3:
        return [passage]
    parts = _splitter(tokens).split_text(passage.text)
    base = passage.provenance or Provenance("")
    out = []
    for i, text in enumerate(parts):
        found = max(passage.text.find(text[:40]), 0)
        out.append(replace(passage, id=f"{passage.id}#{i}", text=text,
                           provenance=Provenance(base.source, base.line, (base.offset or 0) + found)))
    return out


def description_id(entity_id: str, label: str, description: str) -> str:
    digest = hashlib.blake2b(f"{label}\x1f{description}".encode(), digest_size=6).hexdigest()
    return f"e:{digest}:{entity_id}"


class DensePassages:
    """Searches passage chunks and entity descriptions through a vector index."""

    def __init__(self, catalog: Catalog, store: GraphStore, index: VectorIndex, embedder: Embedder) -> None:
        self.catalog = catalog
        self.store = store
        self.index = index
        self.embedder = embedder
        self._chunks: dict[int, list[Passage]] = {}  # resolved passages' chunks, so a hit costs no split

    @classmethod
    def open(cls, catalog: Catalog, store: GraphStore, directory: Path, embedder: Embedder) -> DensePassages:
        """Open (or create) the index in ``directory`` and sync it if the store has moved on.

        The index is derived state: one that is damaged, or was built with another embedder or
        dimension, is rebuilt from the catalog and the store, with one warning.
        """
        index = _open_or_rebuild(directory, embedder)
        found = cls(catalog, store, index, embedder)
        stamp, seq = directory / STAMP, store.applied_seq()
        saved = read_json_or_none(stamp)
        if saved is None or saved.get("seq") != seq:
            found.sync()
            write_atomic(stamp, json.dumps({"seq": seq}))
        return found

    def sync(self) -> tuple[int, int]:
        """Embed new units and remove gone ones; returns (added, removed)."""
        have = set(self.index.ids())
        keys = self.catalog.passage_keys()
        have_keys = {int(i.split(":")[1]) for i in have if i.startswith("p:")}
        units: dict[str, str] = {}
        for key, passage in self.catalog.keyed_passages(sorted(keys - have_keys)).items():
            units.update((f"p:{key}:{i}", _embed_text(c)) for i, c in enumerate(chunk(passage)))
        descriptions = {description_id(e.id, e.label or e.id, e.description): f"{e.label or e.id}: {e.description}"
                        for batch in self.store.scan_entities() for e, _ in batch if e.description}
        units.update((i, text) for i, text in descriptions.items() if i not in have)
        gone = [i for i in have if (i.startswith("p:") and int(i.split(":")[1]) not in keys)
                or (i.startswith("e:") and i not in descriptions)]
        if gone:
            self.index.remove(gone)
        if units:
            ids = list(units)
            (log.warning if len(ids) >= LOUD else log.info)(
                "dense index: embedding %d new passage chunks and entity descriptions (once; cached)", len(ids))
            self.index.add(ids, self.embedder.passage([units[i] for i in ids]))
        if units or gone:
            self.index.save()
            log.info("dense index: +%d -%d units", len(units), len(gone))
        return len(units), len(gone)

    def search(self, question: str, n: int) -> list[tuple[Passage, float]]:
        """The ``n`` best passages (one slot each, its best chunk shown) and entity descriptions."""
        if not len(self.index):
            return []
        hits = self.units(self.embedder.query([question]), n)
        return [(p, score) for p, score in ((self._resolve(uid), score) for uid, score in hits) if p is not None]

    def units(self, vector: np.ndarray, n: int, pool: int = 4) -> list[tuple[str, float]]:
        """The ``n`` best unit ids for a query vector, keeping only the best chunk of each passage."""
        best: dict[str, tuple[str, float]] = {}
        for uid, score in self.index.search(vector, n * pool)[0]:
            owner = uid.rsplit(":", 1)[0] if uid.startswith("p:") else uid
            if owner not in best:
                best[owner] = (uid, score)
        return list(best.values())[:n]

    def chunk_of(self, key: int, number: int = 0) -> Passage | None:
        """Chunk ``number`` of the stored passage ``key`` (chunks are cached once split)."""
        if key not in self._chunks:
            found = self.catalog.keyed_passages([key]).get(key)
            if len(self._chunks) > 10_000:
                self._chunks.clear()
            self._chunks[key] = chunk(found) if found else []
        chunks = self._chunks[key]
        return chunks[number] if number < len(chunks) else None

    def resolve(self, uid: str) -> Passage | None:
        """The passage chunk or entity description a unit id stands for (None when gone)."""
        return self._resolve(uid)

    def _resolve(self, uid: str) -> Passage | None:
        kind, key, rest = uid.split(":", 2)
        if kind == "p":
            return self.chunk_of(int(key), int(rest))
        entity = self.store.entities([rest]).get(rest)
        if entity is None or not entity.description:
            return None
        prov = entity.provenance or Provenance("graph")
        return Passage(uid, f"{entity.label or entity.id}: {entity.description}", entity.label, (entity.id,),
                       Provenance(prov.source, prov.line))


def _open_or_rebuild(directory: Path, embedder: Embedder) -> VectorIndex:
    if VectorIndex.exists(directory):
        try:
            index = VectorIndex.open(directory)
            manifest = index.manifest
            if (manifest.model, manifest.dimension) == (embedder.name, embedder.dimension):
                return index
            reason = f"it was built with {manifest.model} ({manifest.dimension}-d), not {embedder.name}"
        except KGQAError as exc:
            reason = str(exc)
        log.warning("rebuilding the passage index in %s: %s", directory, reason)
        shutil.rmtree(directory)
    return VectorIndex.create(directory, embedder.dimension, embedder.name)


def _embed_text(passage: Passage) -> str:
    return f"{passage.title}: {passage.text}" if passage.title else passage.text
