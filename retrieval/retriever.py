"""Hybrid retrieval: link the question's entities, retrieve graph paths and passages, fuse them.

``HybridRetriever.retrieve`` returns a ``Retrieval``: the mentions with all their candidates
(so callers see ambiguity), the scored relation paths, the concrete paths, the passages, the
fused and numbered evidence, the prompt, the ranked answers and per-stage timings. It takes its
linker, path scorer and passage search as parts; ``pipeline`` wires the concrete ones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from kg.base import Passage
from kg.stores.base import Edge, GraphPath, GraphStore, Step
from model.prompts import build_prompt, relation_name
from retrieval.base import Evidence, Mention, RankedAnswer, Retrieval, ScoredPath
from retrieval.fusion import fuse, path_text
from retrieval.paths import PathConfig, PathRetriever, mask, rank_answers
from retrieval.reader import supported

MAX_QUESTION = 2000
T = TypeVar("T")


class Linker(Protocol):
    def link(self, question: str, k: int = 5) -> list[Mention]: ...


class PassageSearch(Protocol):
    def search(self, question: str, n: int) -> list[tuple[Passage, float]]: ...


class Reader(Protocol):
    def read(self, question: str, evidence: Sequence[Evidence]) -> list[RankedAnswer]: ...


@dataclass(frozen=True)
class RetrieverConfig:
    """Settings of hybrid retrieval.

    Args:
        evidence: pieces of evidence in the prompt.
        passages: passages retrieved densely (0 turns passage retrieval off).
        topics: linked mentions used as topic entities.
        candidates: candidates per mention followed (more than 1 explores ambiguity).
        paths: graph path retrieval settings.
        scorer: which path scorer the pipeline wires: ``auto`` (the shipped trained adapter
            when installed, else zero-shot), ``zero-shot``, or a trained adapter's directory.
        passage_search: ``ppr`` (dense hits seed PageRank over the passage graph) or ``dense``
            (one slot per passage, no graph); see ``retrieval.passage_search``.
        mentions: what finds the mentions in passages: ``spacy`` (NER) or ``rules``
            (capitalized phrases: no model, for tests).
        embed_with: who embeds new passages: ``local`` (this process) or ``ray`` (a Ray Data
            batch job on a local Ray; ``ray:ADDRESS`` joins a cluster), see model/ray_embedder.py.
    """

    evidence: int = 10
    passages: int = 5
    topics: int = 2
    candidates: int = 1
    paths: PathConfig = field(default_factory=PathConfig)
    scorer: str = "auto"
    passage_search: str = "ppr"
    mentions: str = "spacy"
    embed_with: str = "local"


class HybridRetriever:
    """Entity linking + graph paths + dense passages, fused into numbered evidence."""

    def __init__(self, store: GraphStore, linker: Linker, paths: PathRetriever,
                 passages: PassageSearch | None = None, config: RetrieverConfig = RetrieverConfig(),
                 reader: Reader | None = None) -> None:
        self.store = store
        self.linker = linker
        self.paths = paths
        self.passages = passages
        self.config = config
        self.reader = reader

    def link(self, question: str, k: int = 5) -> list[Mention]:
        """The entity mentions of ``question`` (offsets refer to it with surrounding spaces stripped)."""
        return self.linker.link(question.strip()[:MAX_QUESTION], k)

    def fit(self, question: str, entity: str) -> float:
        """The score of the best relation path around ``entity`` for ``question`` (-inf: none)."""
        scored = self.paths.score_paths(question, entity)
        return scored[0].score if scored else float("-inf")

    def relation_label(self, predicate: str) -> str:
        """A predicate's label, else a readable form of its id."""
        return relation_name(predicate, self.paths.labels)

    def retrieve(self, question: str, k: int | None = None, history: Sequence[tuple[str, str]] = (),
                 mentions: Sequence[Mention] | None = None) -> Retrieval:
        """Everything found for ``question``; ``k`` overrides the number of evidence items.

        ``mentions``, when given, replace the linker (a known topic entity, as in evaluation with
        the topic given); their offsets refer to the question with surrounding spaces stripped.
        """
        timings: dict[str, float] = {}
        text = question.strip()[:MAX_QUESTION]
        if not re.search(r"\w", text):
            return Retrieval(question, (), (), (), (), (), build_prompt(question, []), timings,
                             note="empty question")
        found = list(mentions) if mentions is not None else \
            self._timed(timings, "link", lambda: self.linker.link(text, 5))
        chosen = self._timed(timings, "paths", lambda: self._paths(text, found))
        passages = self._timed(timings, "passages", lambda: self._passages(text))
        start = time.perf_counter()
        ids = {n for sp in chosen for gp in sp.paths for n in gp.nodes}
        ids |= {s.predicate for sp in chosen for s in sp.path}
        labels = self._labels(ids)
        topics = [m.candidates[i].id for m in found[: self.config.topics]
                  for i in range(min(self.config.candidates, len(m.candidates)))]
        exclude = topics if self.config.paths.exclude_topic else []
        answers = rank_answers(chosen, labels, exclude)
        graph = [(gp, sp.score) for sp in chosen for gp in sp.paths]
        evidence = [whole(e) for e in fuse(graph, passages, lambda i: labels.get(i, i), k or self.config.evidence)]
        answers = cite(answers, evidence)
        timings["fuse"] = round((time.perf_counter() - start) * 1000, 2)
        reader = self.reader
        if not answers and reader is not None:  # no graph answer: read one out of the passages
            answers = self._timed(timings, "read", lambda: reader.read(text, evidence))
            if answers and not chosen:  # the triples of the KB entities the cited passages name join them
                evidence = evidence + self._about(evidence, answers, labels)
        note = None if found or answers else "no entity found"  # passages answered: no note
        prompt = build_prompt(question, [(e.number, e.content) for e in evidence], history)
        return Retrieval(question, tuple(found), tuple(chosen), tuple(answers), tuple(passages),
                         tuple(evidence), prompt, timings, note)

    def _about(self, evidence: Sequence[Evidence], answers: Sequence[RankedAnswer],
               labels: dict[str, str], per: int = 2, most: int = 4) -> list[Evidence]:
        """Path evidence (one triple each) about the KB entities the answers' passages name,
        numbered after ``evidence``: text and graph about the same entity, side by side."""
        cited = {n for a in answers for n in a.evidence}
        texts = [e.passage for e in evidence if e.number in cited and e.passage is not None]
        if not texts:
            return []
        found: list[Edge] = []
        for passage in texts:
            for m in self.linker.link(f"{passage.title or ''}. {passage.text}", 3):
                found += [e for e in self.store.neighbors(m.best.id, limit=per) if e not in found][:per]
        names = self._labels({x for e in found for x in (e.subject, e.object)} | {e.predicate for e in found})
        labels.update(names)
        out = []
        for n, edge in enumerate(found[:most], len(evidence) + 1):
            gp = GraphPath((edge.subject, edge.object), (edge,), (Step(edge.predicate, True),))
            out.append(Evidence(n, "path", path_text(gp, lambda i: names.get(i, i)), 0.0, path=gp))
        return out

    def _paths(self, question: str, mentions: list[Mention]) -> list[ScoredPath]:
        used = mentions[: self.config.topics]
        if not used:
            return []
        topics, questions = [], []
        for m in used:  # each topic reads the question with only its own mention masked
            masked = mask(question, [(m.start, m.end)]) or question
            for c in m.candidates[: self.config.candidates]:
                topics.append((c.id, c.score))
                questions.append(masked)
        return self.paths.retrieve(question, topics, questions)

    def _passages(self, question: str) -> list[tuple[Passage, float]]:
        if self.passages is None or self.config.passages == 0:
            return []
        return self.passages.search(question, self.config.passages)

    def _labels(self, ids: set[str]) -> dict[str, str]:
        found = self.store.entities(sorted(ids))
        return {i: (found[i].label or i) if i in found else self.paths.labels.get(i, i) for i in ids}

    @staticmethod
    def _timed(timings: dict[str, float], name: str, work: Callable[[], T]) -> T:
        start = time.perf_counter()
        result = work()
        timings[name] = round((time.perf_counter() - start) * 1000, 2)
        return result


def whole(e: Evidence) -> Evidence:
    """Passage evidence quoting the whole retrieved chunk, so a span read from it can be checked there."""
    if e.passage is None or e.passage.id.startswith("e:"):
        return e
    where = e.passage.provenance.source if e.passage.provenance else "?"
    title = f", {e.passage.title}" if e.passage.title else ""
    return replace(e, content=f'"{e.passage.text}" ({where}{title})')


def cite(answers: Sequence[RankedAnswer], evidence: Sequence[Evidence]) -> list[RankedAnswer]:
    """Attach to each answer the numbers of the path evidence that ends in it, then of the
    passages that name it (a mixed KB's answer cites the triple and the text that agree)."""
    ends: dict[str, list[int]] = {}
    for e in evidence:
        if e.path is not None:
            ends.setdefault(e.path.end, []).append(e.number)
    texts = [(e.number, e.passage.text) for e in evidence
             if e.passage is not None and not e.passage.id.startswith("e:")]
    out = []
    for a in answers:
        paths = ends.get(a.id, [])
        named = [n for n, text in texts if paths and len(a.label) > 2 and supported(a.label, text)]
        out.append(RankedAnswer(a.id, a.label, a.score, tuple(paths + named)))
    return out
