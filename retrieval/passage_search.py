"""Multi-hop passage retrieval: dense hits seed Personalized PageRank over the passage graph.

``GraphPassages.search`` embeds the question once, takes the dense index's best chunk of each
passage (one slot per passage), and, when a passage graph is given, spreads from the top dense
passages and from the graph nodes the question names (``PassageGraph.question_nodes``) to the
passages that share entities with them, so a bridge passage the question does not name is
reached through the entity it shares with a first-hop passage. ``mode`` picks ``dense`` (one
slot per passage, no graph) or ``ppr``; both are measured in bench/passages.py.

Entity descriptions of a mixed KB keep the rank the dense search gave them. Deliberately left
out: re-ranking with a cross-encoder, and iterative (question-decomposing) retrieval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from kg.base import Passage
from kg.catalog import Catalog
from kg.errors import BackendUnavailable
from model.reader import shipped
from retrieval.bm25 import BM25Passages
from retrieval.dense import VectorIndex
from retrieval.linker import EntityLinker
from retrieval.mentions import open_mentions
from retrieval.passage_graph import PassageGraph
from retrieval.passages import DensePassages
from retrieval.reader import FEATURES, SpanReader

MODES = ("dense", "ppr")
log = logging.getLogger(__name__)


class Lexical(Protocol):
    def search_keys(self, question: str, n: int) -> list[tuple[int, float]]: ...


@dataclass(frozen=True)
class SearchConfig:
    """Settings of passage search.

    Args:
        mode: ``ppr`` (dense seeds + Personalized PageRank) or ``dense`` (one slot per passage).
        pool: passages taken from the dense index.
        seeds: top dense passages that seed PPR.
        temperature: seed weight ``exp((score - best) / temperature)``: lower trusts the top hit more.
        keep: the first ``keep`` dense passages keep their place ahead of the PPR ranking.
        dense_weight: weight of the dense cosine added to the PPR score (scaled to 1 at the top).
        lexical: BM25 passages that also seed PPR (0: none, and no BM25 index is built).
        lexical_weight: seed weight of the best BM25 passage (the top dense seed weighs 1);
            the one at BM25 rank r weighs ``lexical_weight / (1 + r)``.
        second: hits of a second dense query (question + the best passage's first
            ``second_chars`` characters) that also seed PPR, weighted like BM25's (0: no second query).
    """

    mode: str = "ppr"
    pool: int = 30
    seeds: int = 5
    temperature: float = 0.05
    keep: int = 1
    dense_weight: float = 0.0
    lexical: int = 0
    lexical_weight: float = 0.5
    second: int = 0
    second_weight: float = 0.5
    second_chars: int = 300

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.pool < 1 or self.seeds < 1 or self.temperature <= 0 or self.keep < 0 or self.lexical < 0:
            raise ValueError("pool and seeds >= 1, temperature > 0, keep and lexical >= 0")


class GraphPassages:
    """Passage search over the dense index and (optionally) the passage graph."""

    def __init__(self, dense: DensePassages, graph: PassageGraph | None = None,
                 config: SearchConfig = SearchConfig(), lexical: Lexical | None = None) -> None:
        self.dense = dense
        self.graph = graph
        self.config = config
        self.lexical = lexical  # BM25 over the passages, seeding PPR when config.lexical > 0

    @property
    def index(self) -> VectorIndex:
        """The dense index searched (passage chunks and entity descriptions)."""
        return self.dense.index

    def search(self, question: str, n: int) -> list[tuple[Passage, float]]:
        """The ``n`` best passages for ``question``, one slot per passage, best chunk shown."""
        if not len(self.dense.index):
            return []
        hits = self.dense.units(self.dense.embedder.query([question]), max(n, self.config.pool))
        chunks: dict[int, tuple[int, float]] = {}
        others: list[tuple[int, str, float]] = []  # (dense rank, unit id, score) of descriptions
        for rank, (uid, score) in enumerate(hits):
            kind, unit, rest = uid.split(":", 2)
            if kind == "p":
                chunks[int(unit)] = (int(rest), score)
            else:
                others.append((rank, uid, score))
        ranked = self._rank(question, chunks, self._second_hop(question, chunks))
        out: list[tuple[Passage, float]] = []
        for key, score in ranked[:n]:
            shown = self.dense.chunk_of(key, chunks.get(key, (0, 0.0))[0])
            if shown is not None:
                out.append((shown, score))
        for rank, uid, score in others:
            if rank < n:
                found = self.dense.resolve(uid)
                if found is not None:
                    out.insert(min(rank, len(out)), (found, score))
        return out[:n]

    def _second_hop(self, question: str, chunks: dict[int, tuple[int, float]]) -> dict[int, float]:
        """Seeds from a second dense query: the question followed by the best passage's opening,
        so that what the first hop says (the bridge entity) steers the search for the second."""
        if not self.config.second or self.graph is None or not chunks:
            return {}
        key, (number, _) = max(chunks.items(), key=lambda kv: kv[1][1])
        first = self.dense.chunk_of(key, number)
        if first is None:
            return {}
        query = f"{question} {first.title or ''}: {first.text[: self.config.second_chars]}"
        hits = self.dense.units(self.dense.embedder.query([query]), self.config.second)
        keys = [int(uid.split(":", 2)[1]) for uid, _ in hits if uid.startswith("p:")]
        return {k: self.config.second_weight / (1 + r) for r, k in enumerate(k for k in keys if k != key)}

    def _rank(self, question: str, chunks: dict[int, tuple[int, float]],
              extra: dict[int, float] | None = None) -> list[tuple[int, float]]:
        dense = sorted(((k, s) for k, (_, s) in chunks.items()), key=lambda t: -t[1])
        if self.config.mode == "dense" or self.graph is None or not dense:
            return dense
        best = dense[0][1]
        seeds = {k: float(np.exp((s - best) / self.config.temperature)) for k, s in dense[: self.config.seeds]}
        for k, weight in (extra or {}).items():
            seeds[k] = seeds.get(k, 0.0) + weight
        if self.lexical is not None and self.config.lexical:
            for rank, (k, _) in enumerate(self.lexical.search_keys(question, self.config.lexical)):
                seeds[k] = seeds.get(k, 0.0) + self.config.lexical_weight / (1 + rank)
        scores = self.graph.rank(seeds, self.graph.question_nodes(question))
        order = np.argsort(-scores, kind="stable")
        keys = self.graph.keys
        tie = {k: s for k, s in dense}
        top = float(scores[order[0]]) or 1.0
        floor = dense[-1][1]
        w = self.config.dense_weight
        ranked = [(int(keys[i]), float(scores[i]) / top + w * tie.get(int(keys[i]), floor))
                  for i in order[: self.config.pool * 2] if scores[i] > 0]
        ranked.sort(key=lambda t: (-t[1], -tie.get(t[0], -1.0)))
        head = dense[: self.config.keep]
        taken = {k for k, _ in head}
        return head + [(k, s) for k, s in ranked if k not in taken] + \
            [(k, s) for k, s in dense if k not in taken and k not in {r for r, _ in ranked}]


def open_passage_search(catalog: Catalog, dense: DensePassages, directory: Path, seq: int,
                        linker: EntityLinker | None, config: SearchConfig = SearchConfig(),
                        progress: bool = True, mentions: str = "spacy",
                        trained: bool = False) -> tuple[GraphPassages, SpanReader | None]:
    """Passage search and the span reader for a knowledge base (no graph, no reader without passages).

    The reader scores spans by its hand-weighted heuristic, or with the shipped trained model
    (``model.reader``) when ``trained`` and one matching the reader's features ships. The default
    is the heuristic: the trained model is no better on the held-out questions (its card).

    The passage graph lives in ``directory`` and is synced when ``seq`` (the store's applied change
    number) moved past its stamp; the linker links passages to KB entities when it has any.
    """
    if not catalog.passage_keys():
        return GraphPassages(dense, None, config), None
    link = linker.link if linker is not None and linker.entity_count else None
    graph = PassageGraph.open(catalog, directory, seq, (lambda text: link(text, 1)) if link else None,
                              open_mentions(mentions), progress=progress) if config.mode == "ppr" else None
    spans = graph.spans_of if graph is not None else (lambda text: [])
    reader = SpanReader(spans, model=shipped(FEATURES) if trained else None)
    return GraphPassages(dense, graph, config, _lexical(catalog, config)), reader


def _lexical(catalog: Catalog, config: SearchConfig) -> BM25Passages | None:
    """BM25 over the passages when the search fuses it (without bm25s: a warning, dense seeds only)."""
    if not config.lexical or config.mode != "ppr":
        return None
    try:
        return BM25Passages.open(catalog)
    except BackendUnavailable as exc:
        log.warning("passage search without BM25 seeds: %s", exc)
        return None
