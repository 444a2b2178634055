"""Graph path retrieval: relation paths around the topic entities, scored, then instantiated.

For each linked topic entity the store enumerates the relation paths of 1..``max_hops`` hops
(both directions); a ``PathScorer`` scores their verbalized forms against the question with
the topic mention masked; the best ``beam`` paths are followed into concrete graph paths with
provenance, and their end entities become ranked answers.

Paths are verbalized by ``model.prompts.verbalize`` in the form the scorer names in its
``verbalization`` attribute (a trained adapter reads the form it was trained on; a scorer
without one reads ``model.prompts.VERBALIZATION``).

``exclude_topic`` is a per-KB rule: MetaQA's multi-hop questions ask about *other* entities
(the topic never counts as an answer, and paths through the topic are dropped), while on other
KBs the topic can be its own answer. The setting forces it; otherwise the scorer's card says
(``rules.topic_answers``, learned by ``kgqa adapt`` or recorded by training).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from kg.stores.base import GraphPath, PathCount, RelationPath
from model.base import PathScorer
from model.prompts import VERBALIZATION, verbalize
from retrieval.base import RankedAnswer, ScoredPath

TOPIC_EXCLUDED = "excluded on multi-hop walks"  # the rule value an adapter card records


@dataclass(frozen=True)
class PathConfig:
    """Settings of graph path retrieval.

    Args:
        max_hops: longest relation path (1..3).
        beam: how many best relation paths are instantiated.
        max_paths: concrete paths fetched per relation path.
        exclude_topic: drop paths that come back to the topic, and the topic as an answer.
        max_candidates: relation paths scored per topic (most frequent kept beyond this).
        hop_penalty: subtracted from a path's score per hop beyond the first; a verbalized
            multi-hop path repeats relation words and would otherwise outscore the one-hop
            path a question asks for. None: the scorer's own ``hop_penalty`` (0.1 for the
            zero-shot scorer, 0 for a trained one, which learns hop counts), else 0.1.
    """

    max_hops: int = 3
    beam: int = 3
    max_paths: int = 200
    exclude_topic: bool = False
    max_candidates: int = 2000
    hop_penalty: float | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_hops <= 3:
            raise ValueError("max_hops must be 1, 2 or 3")
        if self.beam < 1 or self.max_paths < 1:
            raise ValueError("beam and max_paths must be positive")


def mask(question: str, spans: Sequence[tuple[int, int]]) -> str:
    """The question with the topic mentions removed (what the scorer should not read)."""
    out, last = [], 0
    for start, end in sorted(spans):
        out.append(question[last:start])
        last = end
    out.append(question[last:])
    return re.sub(r"\s+", " ", re.sub(r"[\[\]]", " ", "".join(out))).strip()


class PathSource(Protocol):
    """Where relation paths come from: a ``GraphStore`` or the in-memory ``GraphIndex``."""

    def relation_paths(self, start: str, max_hops: int = 3, limit: int = 10_000) -> list[PathCount]: ...

    def follow(self, start: str, path: RelationPath, limit: int = 1000) -> list[GraphPath]: ...


class PathRetriever:
    """Scores and instantiates relation paths around topic entities."""

    def __init__(self, store: PathSource, scorer: PathScorer, config: PathConfig = PathConfig(),
                 relation_labels: dict[str, str] | None = None) -> None:
        self.store = store
        self.scorer = scorer
        self.config = config
        self.labels = relation_labels or {}

    def score_paths(self, question: str, topic: str) -> list[ScoredPath]:
        """Every relation path around ``topic``, best first (not yet instantiated)."""
        counts = self.store.relation_paths(topic, self.config.max_hops, self.config.max_candidates)
        counts = [c for c in counts if self._usable(c)]
        if not counts:
            return []
        form = getattr(self.scorer, "verbalization", VERBALIZATION)  # a scorer reads its own form
        texts = [verbalize(c.path, self.labels, form) for c in counts]
        penalty = self.config.hop_penalty
        if penalty is None:
            penalty = self.scorer.hop_penalty
        scores = [s - penalty * (len(c.path) - 1) for c, s in zip(counts, self.scorer.score(question, texts))]
        ranked = sorted(zip(counts, texts, scores), key=lambda t: (-t[2], len(t[0].path)))
        return [ScoredPath(topic, c.path, float(s), text) for c, text, s in ranked]

    def _usable(self, count: PathCount) -> bool:
        return count.ends > 0

    def excludes_topic(self, path: RelationPath) -> bool:
        """Whether walks of ``path`` may not come back through the topic: the setting, or the KB rule
        the scorer's card records (learned by ``kgqa adapt`` / training: "excluded on multi-hop walks")."""
        rules = getattr(self.scorer, "rules", {})
        return self.config.exclude_topic or (rules.get("topic_answers") == TOPIC_EXCLUDED and len(path) > 1)

    def instantiate(self, scored: ScoredPath) -> ScoredPath:
        """The same relation path with its concrete graph paths (topic exclusion applied)."""
        paths = self.store.follow(scored.topic, scored.path, self.config.max_paths)
        if self.excludes_topic(scored.path):
            paths = [p for p in paths if scored.topic not in p.nodes[1:]]
        return ScoredPath(scored.topic, scored.path, scored.score, scored.text, tuple(paths))

    def retrieve(self, question: str, topics: Sequence[tuple[str, float]],
                 questions: Sequence[str] | None = None) -> list[ScoredPath]:
        """The ``beam`` best relation paths over all topics (weighted by link score), instantiated.

        ``questions``, aligned with ``topics``, gives each topic its own masked question (only
        its own mention removed, so another mention's words, e.g. "director", stay readable).
        """
        pooled: list[ScoredPath] = []
        for i, (topic, weight) in enumerate(topics):
            asked = questions[i] if questions is not None else question
            for sp in self.score_paths(asked, topic)[: self.config.beam * 3]:
                pooled.append(ScoredPath(sp.topic, sp.path, sp.score * weight, sp.text))
        pooled.sort(key=lambda sp: -sp.score)
        chosen = []
        for sp in pooled:
            full = self.instantiate(sp)
            if full.paths:
                chosen.append(full)
            if len(chosen) >= self.config.beam:
                break
        return chosen


ANSWER_MARGIN = 0.02


def rank_answers(chosen: Sequence[ScoredPath], labels: dict[str, str],
                 exclude: Sequence[str] = (), margin: float = ANSWER_MARGIN) -> list[RankedAnswer]:
    """End entities of the best relation path (and of those within ``margin`` of its score).

    The other instantiated paths stay in the evidence but do not add answers: a relation path
    the scorer ranked clearly lower is a different question's answer. Ties keep the order of
    the relation paths; ``labels`` maps node ids to display labels.
    """
    best: dict[str, tuple[float, int, list[GraphPath]]] = {}
    top = max((sp.score for sp in chosen if sp.paths), default=0.0)
    for rank, sp in enumerate(chosen):
        if sp.score < top - margin:
            continue
        for gp in sp.paths:
            if gp.end in exclude:
                continue
            score, first, paths = best.get(gp.end, (sp.score, rank, []))
            paths.append(gp)
            best[gp.end] = (max(score, sp.score), min(first, rank), paths)
    ordered = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1], labels.get(kv[0], kv[0])))
    return [RankedAnswer(node, labels.get(node, node), score) for node, (score, _, _) in ordered]
