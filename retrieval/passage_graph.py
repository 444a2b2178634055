"""The passage graph: passages linked through the entities they mention, and Personalized PageRank.

Each passage is joined to the nodes it mentions: KB entities where the entity linker finds one
(exact or normalized matches only), otherwise mention nodes ``m:<normalized surface>`` from
spaCy NER (``retrieval.mentions``), plus the node of its own title (a passage is about its
title, so a passage that names "Lester Smith" reaches the passage titled "Lester Smith").
Numbers and dates are kept as spans for the reader but are not graph nodes: they would join
unrelated passages.

State is derived, kept in ``DIR/passage_graph/`` (``mentions.json``: NER spans by passage
content hash, so an unchanged passage is never re-read; ``graph.json``: passages, their title
and KB links, stamped with the store's applied change number). ``PassageGraph.open`` syncs it
when the stamp is stale: NER runs only on new content, links are recomputed (KB entities may have
changed). Files are replaced atomically. Deliberately left out: MENTIONS edges in the store itself
(see the report of issue 11), coreference, and relation extraction.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from tqdm import tqdm

from kg.base import Passage
from kg.catalog import Catalog
from kg.errors import BackendUnavailable
from kg.files import write_atomic
from retrieval.base import Mention
from retrieval.mentions import NerModel, RuleMentions, Span
from retrieval.passages import chunk

log = logging.getLogger(__name__)
VERSION = 1
GRAPH_LABELS = frozenset("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE".split())
MAX_GRAM = 6
LINK_SCORE = 0.5  # exact or normalized linker matches at least this good join a passage to a KB entity
_WORDS = re.compile(r"\w+")
STOP = frozenset("a an the of and or in on at to for is was are were who what which when where how".split())


def normal(text: str) -> str:
    """Lower case, accents kept, punctuation and a leading article / trailing 's dropped."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    words = _WORDS.findall(text)
    if words and words[0] in ("the", "a", "an") and len(words) > 1:
        words = words[1:]
    return " ".join(words)


def content_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


@dataclass(frozen=True)
class GraphConfig:
    """Personalized PageRank settings.

    Args:
        damping: probability of following an edge (1 - restart probability).
        iterations: power iterations.
        question_weight: share of the restart mass on the question's own nodes (the rest on
            the top dense passages).
    """

    damping: float = 0.7
    iterations: int = 20
    question_weight: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.damping < 1 or self.iterations < 1 or not 0 <= self.question_weight <= 1:
            raise ValueError("damping in (0, 1), iterations >= 1, question_weight in [0, 1]")


Linker = Callable[[str], list[Mention]]
Finder = NerModel | RuleMentions


class PassageGraph:
    """Passage <-> node adjacency with PPR, and the NER spans of each passage for the reader."""

    def __init__(self, passages: dict[int, tuple[str, str | None, list[tuple[str, str]]]], spans: dict[str, list[Span]],
                 chunks: dict[str, tuple[str, int, int]] | None = None, config: GraphConfig = GraphConfig()) -> None:
        self.config = config
        self.chunks = chunks or {}  # chunk content hash -> (passage content hash, start, end)
        self.passages = passages  # key -> (content hash, title, (KB entity id, surface) linked)
        self.spans = spans  # content hash -> NER spans
        self.keys = np.array(sorted(passages), dtype=np.int64)
        self.row = {int(k): i for i, k in enumerate(self.keys)}
        self.nodes: dict[str, int] = {}
        self.surface: dict[str, set[str]] = {}  # normalized surface -> nodes it names
        pairs = [(self.row[k], self._node(n, s)) for k in self.keys.tolist() for n, s in self._mentions(int(k))]
        self.adjacency = self._matrix(pairs)
        # the walk's two steps, transposed once here rather than at every iteration
        self._to_nodes = _stochastic(self.adjacency).T.tocsr()
        self._to_passages = _stochastic(self.adjacency.T.tocsr()).T.tocsr()

    def _mentions(self, key: int) -> list[tuple[str, str]]:
        digest, title, links = self.passages[key]
        linked = {normal(surface): e for e, surface in links}  # a mention the linker resolved is the entity
        names = [s.text for s in self.spans.get(digest, ()) if s.label in GRAPH_LABELS or s.label == "PROPER"]
        found = [(linked.get(normal(t), f"m:{normal(t)}"), t) for t in [*names, *([title] if title else [])]]
        found += [(e, surface) for e, surface in links]
        return [(n, s) for n, s in dict(found).items() if n != "m:"]

    def _node(self, node: str, surface: str) -> int:
        if node not in self.nodes:
            self.nodes[node] = len(self.nodes)
        form = normal(surface)
        if form and form not in STOP and len(form) > 2:
            self.surface.setdefault(form, set()).add(node)
        return self.nodes[node]

    def _matrix(self, pairs: list[tuple[int, int]]) -> sparse.csr_matrix:
        rows = np.array([p for p, _ in pairs], dtype=np.int64)
        cols = np.array([n for _, n in pairs], dtype=np.int64)
        shape = (len(self.keys), max(len(self.nodes), 1))
        return sparse.csr_matrix((np.ones(len(pairs), dtype=np.float32), (rows, cols)), shape=shape)

    def spans_of(self, text: str) -> list[Span]:
        """The NER spans of a stored passage or chunk text, offsets into ``text`` (else empty)."""
        digest = content_hash(text)
        if digest in self.spans:
            return self.spans[digest]
        whole, start, end = self.chunks.get(digest, ("", 0, 0))
        return [Span(s.text, s.label, s.start - start, s.end - start) for s in self.spans.get(whole, ())
                if start <= s.start and s.end <= end]

    def question_nodes(self, question: str, mentions: Sequence[Mention] = ()) -> list[str]:
        """Nodes whose surface form appears in ``question`` (longest first), plus linked entities."""
        words = normal(question).split()
        found: list[str] = [c.id for m in mentions for c in m.candidates[:1] if c.id in self.nodes]
        taken: set[int] = set()
        for size in range(min(MAX_GRAM, len(words)), 0, -1):
            for i in range(len(words) - size + 1):
                span = set(range(i, i + size))
                if span & taken:
                    continue
                nodes = self.surface.get(" ".join(words[i:i + size]))
                if nodes:
                    found.extend(sorted(nodes))
                    taken |= span
        return list(dict.fromkeys(found))

    def rank(self, seeds: dict[int, float], nodes: Sequence[str]) -> np.ndarray:
        """PPR score of every passage (aligned with ``self.keys``) from seed passages and nodes."""
        n_pass, n_node = self.adjacency.shape
        restart = np.zeros(n_pass + n_node, dtype=np.float64)
        dense_mass = 1.0 - (self.config.question_weight if nodes else 0.0)
        total = sum(seeds.values()) or 1.0
        for key, weight in seeds.items():
            if key in self.row:
                restart[self.row[key]] += dense_mass * weight / total
        for node in nodes:
            restart[n_pass + self.nodes[node]] += (1 - dense_mass) / len(nodes)
        if restart.sum() == 0:
            return np.zeros(n_pass)
        restart /= restart.sum()
        score = restart.copy()
        d = self.config.damping
        for _ in range(self.config.iterations):
            to_nodes = self._to_nodes @ score[:n_pass]
            to_pass = self._to_passages @ score[n_pass:]
            score = (1 - d) * restart + d * np.concatenate([to_pass, to_nodes])
        return np.asarray(score[:n_pass])

    # --- state on disk ---------------------------------------------------------------------

    @classmethod
    def open(cls, catalog: Catalog, directory: Path, seq: int, linker: Linker | None = None,
             ner: Finder | None = None, config: GraphConfig = GraphConfig(), progress: bool = True) -> PassageGraph:
        """Load the graph from ``directory``, syncing it first when the store has moved past its stamp."""
        graph_file, mentions_file = directory / "graph.json", directory / "mentions.json"
        state = _read(graph_file)
        spans = _spans(_read(mentions_file).get("spans", {}))
        if state.get("seq") == seq and state.get("version") == VERSION:
            passages = {int(k): (v[0], v[1], [(e, f) for e, f in v[2]]) for k, v in state["passages"].items()}
            chunks = {h: (w, int(a), int(b)) for h, (w, a, b) in state.get("chunks", {}).items()}
            return cls(passages, spans, chunks, config)
        passages, spans, chunks = _sync(catalog, spans, linker, ner or NerModel(), progress)
        directory.mkdir(parents=True, exist_ok=True)
        write_atomic(mentions_file, json.dumps({"version": VERSION, "spans": {
            h: [[s.text, s.label, s.start, s.end] for s in ss] for h, ss in spans.items()}}, ensure_ascii=False))
        write_atomic(graph_file, json.dumps({"version": VERSION, "seq": seq, "passages": {
            str(k): list(v) for k, v in passages.items()}, "chunks": chunks}, ensure_ascii=False))
        return cls(passages, spans, chunks, config)


def _stochastic(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    inverse = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sparse.csr_matrix(sparse.diags(inverse) @ matrix)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _spans(raw: object) -> dict[str, list[Span]]:
    if not isinstance(raw, dict):
        return {}
    return {str(h): [Span(str(t), str(lab), int(a), int(b)) for t, lab, a, b in ss] for h, ss in raw.items()}


def _sync(catalog: Catalog, cached: dict[str, list[Span]], linker: Linker | None, ner: Finder,
          progress: bool) -> tuple[dict[int, tuple[str, str | None, list[tuple[str, str]]]], dict[str, list[Span]],
                                   dict[str, tuple[str, int, int]]]:
    """Passages of the catalog with their hash and KB links, chunk hashes; NER on content not seen before."""
    stored = catalog.keyed_passages()
    digests = {key: content_hash(p.text) for key, p in stored.items()}
    new = sorted({h: key for key, h in digests.items() if h not in cached}.items())
    spans = {h: cached[h] for h in set(digests.values()) if h in cached}
    if new:
        log.info("passage graph: finding mentions in %d new passages (%d cached)", len(new), len(spans))
        spans.update(_ner(ner, [(h, stored[key].text) for h, key in new], progress))
    passages = {key: (digests[key], p.title, sorted(_links(linker, p))) for key, p in
                tqdm(stored.items(), desc="passage graph: linking", disable=not progress or linker is None,
                     leave=False)}
    return passages, spans, _chunk_map(stored.values())


def _chunk_map(passages: Iterable[Passage]) -> dict[str, tuple[str, int, int]]:
    out: dict[str, tuple[str, int, int]] = {}
    for p in passages:
        parts = chunk(p)
        if len(parts) > 1:
            whole = content_hash(p.text)
            for part in parts:
                start = max(p.text.find(part.text), 0)
                out[content_hash(part.text)] = (whole, start, start + len(part.text))
    return out


def _ner(ner: Finder, items: list[tuple[str, str]], progress: bool, batch: int = 256) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    try:
        with tqdm(total=len(items), desc="passage graph: mentions", unit=" passages", disable=not progress) as bar:
            for i in range(0, len(items), batch):
                part = items[i:i + batch]
                out.update(zip((h for h, _ in part), ner.find([t for _, t in part])))
                bar.update(len(part))
    except BackendUnavailable as exc:
        log.warning("passage graph with capitalized phrases as mentions instead of NER: %s", exc)
        out = dict(zip((h for h, _ in items), RuleMentions().find([t for _, t in items])))
    return out


def _links(linker: Linker | None, passage: Passage) -> Iterable[tuple[str, str]]:
    if linker is None:
        return ()
    return {(m.best.id, m.text) for m in linker(passage.text[:4000]) if m.best.match in ("exact", "normalized")
            and m.best.score >= LINK_SCORE}
