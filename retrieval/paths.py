"""Graph path retrieval: relation paths around the topic entities, scored, then instantiated.

For each linked topic entity the relation paths of 1..``max_hops`` hops (both directions) are
scored against the question with the topic mention masked, by a ``PathScorer`` reading their
verbalized forms; the best ``beam`` paths are followed into concrete graph paths with
provenance, and their end entities become ranked answers.

The default search goes hop by hop (``search="beam"``): every one-hop path is scored (its text
is one relation name, so the relation vocabulary is all that is ever embedded for it); only the
``hop_keep`` best are extended by another hop; their extensions are ranked by a cheap pre-score
(the parent's score plus the one-hop score of the added relation, i.e. the question against the
sum of the two vectors) and only the ``hop_score`` best are scored. So a question scores at most
(one-hop paths) + ``hop_score`` per further hop, whatever the number of relations, and the
result does not depend on what was cached before. On MetaQA dev (450 questions, trained scorer)
the beam's best path equals the exhaustive one for every question down to hop_keep=5 and
hop_score=16. ``search="exhaustive"`` scores every relation path the source enumerates (up to
``max_candidates``), as before.
A source with ``search_paths`` (the ``GraphIndex``) enumerates hop by hop too; a plain store
enumerates all paths once and the beam only bounds the scoring.

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
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from kg.stores.base import GraphPath, PathCount, RelationPath, path_text
from model.base import PathScorer
from model.chinese import has_cjk
from model.prompts import VERBALIZATION, relation_name, verbalize
from retrieval.base import RankedAnswer, ScoredPath
from retrieval.lexical import stems

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
            zero-shot scorer, 0 for a trained one, which learns hop counts).
        coverage: weight of the score of a path's worst-matching single relation, added to
            its score (each hop must match the question on its own). None: the scorer's own
            ``coverage`` (0 unless set: measured, it helps some KBs and hurts others).
        lexical: added to a path's score times the share of its relations whose label shares a
            word stem with the question (entity masked). None: the scorer's own ``lexical``
            (0.05 for zero-shot scorers, 0 for trained ones). Measured with the zero-shot MiniLM
            scorer it lifts Hits@1 on the world questions 0.650 -> 0.669, the Wikidata sample's
            0.769 -> 0.792, MetaQA 1-hop 0.515 -> 0.555 and 2-hop 0.480 -> 0.487; Chinese
            character pairs are left out (hand-written zh questions with e5 fell 0.804 -> 0.750:
            "哪个国家" names the answer's type, and meets the relation 国家).
        search: ``beam`` (hop by hop, bounded work) or ``exhaustive`` (every enumerated path).
        hop_keep: relation paths of one hop extended by the next (beam search).
        hop_score: most relation paths of one hop (beyond the first) scored (beam search).
    """

    max_hops: int = 3
    beam: int = 3
    max_paths: int = 200
    exclude_topic: bool = False
    max_candidates: int = 2000
    hop_penalty: float | None = None
    coverage: float | None = None
    lexical: float | None = None
    search: Literal["beam", "exhaustive"] = "beam"
    hop_keep: int = 10
    hop_score: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.max_hops <= 3:
            raise ValueError("max_hops must be 1, 2 or 3")
        if self.beam < 1 or self.max_paths < 1:
            raise ValueError("beam and max_paths must be positive")
        if self.search not in ("beam", "exhaustive"):
            raise ValueError("search must be 'beam' or 'exhaustive'")
        if self.hop_keep < 1 or self.hop_score < 1:
            raise ValueError("hop_keep and hop_score must be positive")


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


class HopSource(Protocol):
    """A path source that can enumerate hop by hop (``GraphIndex.search_paths``)."""

    def search_paths(self, start: str, max_hops: int,
                     choose: Callable[[int, list[PathCount]], Sequence[int]]) -> None: ...


class PathRetriever:
    """Scores and instantiates relation paths around topic entities."""

    def __init__(self, store: PathSource, scorer: PathScorer, config: PathConfig = PathConfig(),
                 relation_labels: dict[str, str] | None = None) -> None:
        self.store = store
        self.scorer = scorer
        self.config = config
        self.labels = relation_labels or {}
        self._stems: dict[str, set[str]] = {}  # predicate -> stems of its label

    def score_paths(self, question: str, topic: str) -> list[ScoredPath]:
        """The relation paths around ``topic`` that were scored, best first (not yet instantiated)."""
        if self.config.search == "exhaustive":
            counts = self.store.relation_paths(topic, self.config.max_hops, self.config.max_candidates)
            found = self._score(question, [c for c in counts if self._usable(c)])
        else:
            beam = _Beam(self, question)
            search = getattr(self.store, "search_paths", None)
            if callable(search):
                search(topic, self.config.max_hops, beam)
            else:
                _replay(self.store.relation_paths(topic, self.config.max_hops, self.config.max_candidates), beam)
            found = beam.found
        # ties (a path and its reverse read alike) go as the store orders paths: more walks, then text
        ranked = sorted(found, key=lambda t: (-t[2], len(t[0].path), -t[0].paths, path_text(t[0].path)))
        return [ScoredPath(topic, c.path, float(s), text) for c, text, s in ranked]

    def _penalty(self) -> float:
        penalty = self.config.hop_penalty
        return self.scorer.hop_penalty if penalty is None else penalty

    def _weight(self, name: str) -> float:
        """A ``PathConfig`` weight (``coverage``, ``lexical``), else the scorer's own, else 0."""
        weight = getattr(self.config, name)
        return float(getattr(self.scorer, name, 0.0)) if weight is None else float(weight)

    def _words(self, predicate: str) -> set[str]:
        if predicate not in self._stems:
            self._stems[predicate] = stems(relation_name(predicate, self.labels))
        return self._stems[predicate]

    def _score(self, question: str, counts: Sequence[PathCount]) -> list[tuple[PathCount, str, float]]:
        """``counts`` with their texts and scores (hop penalty and coverage applied)."""
        if not counts:
            return []
        form = getattr(self.scorer, "verbalization", VERBALIZATION)  # a scorer reads its own form
        texts = [verbalize(c.path, self.labels, form) for c in counts]
        weight = self._weight("coverage")
        prior = self._prior(question)
        steps = list(dict.fromkeys(s for c in counts for s in c.path)) if weight else []
        singles = [verbalize((s,), self.labels, form) for s in steps]
        scores = list(self.scorer.score(question, texts + singles))  # one call: one question embedding
        one = dict(zip(steps, scores[len(texts):]))
        lexical, asked = self._weight("lexical"), {s for s in stems(question) if not has_cjk(s)}
        bonus = [lexical * sum(bool(asked & self._words(x.predicate)) for x in c.path) / len(c.path)
                 if lexical and asked else 0.0 for c in counts]
        return [(c, t, s + prior[len(c.path) - 1] + b + (weight * min(one[x] for x in c.path) if weight else 0.0))
                for c, t, s, b in zip(counts, texts, scores, bonus)]

    def _prior(self, question: str) -> list[float]:
        """Added to a path's score per hop count (index hops - 1): the configured penalty, else the
        scorer's own prior (``hop_prior``: fixed, or learned from the question's wording)."""
        hops = self.config.max_hops
        learned = getattr(self.scorer, "hop_prior", None)
        if self.config.hop_penalty is None and callable(learned):
            return [float(x) for x in learned(question, hops)]
        return [-self._penalty() * h for h in range(hops)]

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


class _Beam:
    """The hop-by-hop search for one question: scores the paths of each hop, picks what grows.

    ``found`` collects every scored path. The pre-score of an unscored path is its parent's
    score plus the one-hop score of its last relation (what "relations of hop 1 against the
    question" says about it); one-hop scores come from the first hop or one batched call.
    """

    def __init__(self, retriever: PathRetriever, question: str) -> None:
        self.retriever = retriever
        self.question = question
        self.config = retriever.config
        self.found: list[tuple[PathCount, str, float]] = []
        self.parents: dict[RelationPath, float] = {}
        self.relations: dict[str, float] = {}

    def __call__(self, hops: int, counts: list[PathCount]) -> list[int]:
        usable = [i for i, c in enumerate(counts) if c.ends > 0]
        if hops > 1:
            usable = self._prescreen(counts, usable)
        scored = self.retriever._score(self.question, [counts[i] for i in usable])
        self.found.extend(scored)
        if hops == 1:
            self.relations.update((t, s) for (c, t, s) in scored)
        order = sorted(range(len(scored)), key=lambda j: -scored[j][2])[: self.config.hop_keep]
        self.parents = {scored[j][0].path: scored[j][2] for j in order}
        return [usable[j] for j in order]

    def _prescreen(self, counts: list[PathCount], usable: list[int]) -> list[int]:
        """The ``hop_score`` paths of ``usable`` with the best pre-scores."""
        if len(usable) <= self.config.hop_score:
            return usable
        labels = self.retriever.labels
        form = getattr(self.retriever.scorer, "verbalization", VERBALIZATION)
        last = [verbalize(counts[i].path[-1:], labels, form) for i in usable]
        missing = sorted(set(last) - self.relations.keys())
        if missing:
            self.relations.update(zip(missing, self.retriever.scorer.score(self.question, missing)))
        pre = [self.parents.get(counts[i].path[:-1], 0.0) + self.relations[t] for i, t in zip(usable, last)]
        best = sorted(range(len(usable)), key=lambda j: -pre[j])[: self.config.hop_score]
        return [usable[j] for j in sorted(best)]


def _replay(counts: Sequence[PathCount], choose: Callable[[int, list[PathCount]], Sequence[int]]) -> None:
    """Feed all enumerated ``counts`` to a hop-by-hop ``choose``, hop by hop (for plain stores)."""
    kept: set[RelationPath] | None = None
    for hops in range(1, max((len(c.path) for c in counts), default=0) + 1):
        level = [c for c in counts if len(c.path) == hops and (kept is None or c.path[:-1] in kept)]
        if not level:
            return
        kept = {level[i].path for i in choose(hops, level)}


ANSWER_MARGIN = 0.02


def rank_answers(chosen: Sequence[ScoredPath], labels: dict[str, str],
                 exclude: Sequence[str] = (), margin: float = ANSWER_MARGIN,
                 round_trips: Collection[RelationPath] = ()) -> list[RankedAnswer]:
    """End entities of the best relation path (and of those within ``margin`` of its score).

    The other instantiated paths stay in the evidence but do not add answers: a relation path
    the scorer ranked clearly lower is a different question's answer. Ties keep the order of
    the relation paths; ``labels`` maps node ids to display labels.

    A concrete path that comes back to its start (``capital`` then ``capital of``) never makes
    the topic its own answer, unless its relation path is in ``round_trips`` (the relation
    paths a KB means to lead back, learned or configured for it); a relation path left with no
    other end gives no answer and does not set the best score.
    """
    kept = [(rank, sp, [gp for gp in sp.paths if gp.end not in exclude and _may_end(gp, sp.path, round_trips)])
            for rank, sp in enumerate(chosen)]
    top = max((sp.score for _, sp, paths in kept if paths), default=0.0)
    best: dict[str, tuple[float, int, list[GraphPath]]] = {}
    for rank, sp, paths in kept:
        if sp.score < top - margin:
            continue
        for gp in paths:
            score, first, found = best.get(gp.end, (sp.score, rank, []))
            found.append(gp)
            best[gp.end] = (max(score, sp.score), min(first, rank), found)
    ordered = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[1][1], labels.get(kv[0], kv[0])))
    return [RankedAnswer(node, labels.get(node, node), score) for node, (score, _, _) in ordered]


def _may_end(gp: GraphPath, path: RelationPath, round_trips: Collection[RelationPath]) -> bool:
    """Whether ``gp``'s end may be an answer: not its own start, unless the relation path means it."""
    return gp.end != gp.start or path in round_trips
