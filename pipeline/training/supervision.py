"""Weak supervision: (masked question, relation path) examples from QA pairs, and templated ones.

A QA pair names its topic entity (MetaQA's ``[brackets]``, or the topic column of a TSV) and its
answers, but not the relation path. Weak supervision finds it: every relation path of 1..3 hops
around the topic (those the retriever would score) is followed to its set of end entities, and
the paths whose end set best matches the gold answers (F1, at least ``MIN_F1``) are the
positives (the shortest of them when the questions' hop count is not known); the other paths
around the same topic are the negatives, and questions worded alike vote on ties (``vote``).
Questions are masked as at answer time (the topic mention removed) and paths verbalized by
``model.prompts.verbalize``.

Only the ``train`` part of the split in pipeline/questions.py is used; a slice of it (never the
held-out part) is the validation set for early stopping. Needs no ``KGQA``: it reads the store.
"""

from __future__ import annotations

import logging
import random
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kg.base import EntityKind
from kg.stores.base import GraphStore, RelationPath
from model.path_scorer import PathExample
from model.prompts import VERBALIZATION, verbalize
from pipeline.questions import Question, only, read_questions
from retrieval.graph_index import GraphIndex
from retrieval.paths import mask

log = logging.getLogger(__name__)
MIN_F1 = 0.5


class EndSets:
    """Where a relation path leads from an entity, as sets, read off a ``GraphIndex``: its arrays
    (memory-mapped when it was opened from the KB directory), no Python object per edge (dicts
    of sets per node took 11 GB for a 10M-triple graph)."""

    def __init__(self, index: GraphIndex) -> None:
        self.index = index

    def __len__(self) -> int:
        """Nodes with an edge."""
        return self.index.node_count

    def nodes(self) -> list[str]:
        return self.index.node_ids()

    def ends(self, start: str, path: RelationPath, exclude_start: bool,
             memo: dict[RelationPath, np.ndarray]) -> set[str]:
        """End entities of ``path`` from ``start``; ``memo`` caches prefixes for one start."""
        if not path:
            return {start}
        return set(self.index.names(self.index.reach(start, path, exclude_start, memo)))

    def codes(self, start: str, path: RelationPath, exclude_start: bool,
              memo: dict[RelationPath, np.ndarray]) -> frozenset[int]:
        """``ends`` as node numbers (cheaper to compare; ``index.names`` gives the ids)."""
        return frozenset(self.index.reach(start, path, exclude_start, memo).tolist())

    def objects(self) -> dict[str, np.ndarray]:
        """Per predicate, the node numbers of its objects."""
        return self.index.objects()


@dataclass(frozen=True)
class Supervision:
    """Settings of weak supervision (they must match how the retriever will run)."""

    max_hops: int = 3
    exclude_topic: bool = False
    max_candidates: int = 2000
    hops: int | None = None  # the questions' known hop count (MetaQA's N-hop files): positives only that long
    verbalization: str = VERBALIZATION  # the form the trained scorer will read paths in


def _f1(ends: set[str], gold: set[str], labels: dict[str, str]) -> float:
    if not ends:
        return 0.0
    hit = sum(1 for n in ends if n in gold or labels.get(n, n).lower() in gold)
    if not hit:
        return 0.0
    precision, recall = hit / len(ends), min(1.0, hit / len(gold))
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class SupervisionGraph:
    """What weak supervision reads from a store, read once: relation paths, end sets, labels."""

    paths: GraphIndex
    ends: EndSets
    labels: dict[str, str]  # entity id -> label
    relations: dict[str, str]  # relation id -> label
    predicates: tuple[str, ...]
    by_label: dict[str, str] = field(default_factory=dict)  # lowercased label -> entity id

    @classmethod
    def read(cls, store: GraphStore, index: GraphIndex | None = None) -> SupervisionGraph:
        """Read ``store`` once; ``index`` is its GraphIndex when one is open (else it is built)."""
        index = GraphIndex.from_store(store) if index is None else index
        labels, relations = node_labels(store)
        by_label = {v.lower(): k for k, v in labels.items()}
        return cls(index, EndSets(index), labels, relations, tuple(index.predicates), by_label)


def path_examples(questions: Sequence[Question], source: SupervisionGraph,
                  settings: Supervision = Supervision()) -> Iterator[PathExample]:
    """One example per question whose topic is in the graph and some path reaches its answers."""
    graph, ends, labels, relation_labels = source.paths, source.ends, source.labels, source.relations
    for q in questions:
        topic = _topic_id(q, source)
        if topic is None:
            continue
        counts = graph.relation_paths(topic, settings.max_hops, settings.max_candidates)
        gold = {g for a in q.gold for g in (a, a.lower())}
        memo: dict[RelationPath, np.ndarray] = {}
        scored = [(c.path, _f1(ends.ends(topic, c.path, settings.exclude_topic, memo), gold, labels))
                  for c in counts]
        best = max((f for p, f in scored if settings.hops in (None, len(p))), default=0.0)
        if best < MIN_F1:
            continue
        tied = [p for p, f in scored if f >= best - 1e-9]
        length = settings.hops or min(len(p) for p in tied)  # unknown hop count: the shortest paths
        form = settings.verbalization
        positives = tuple(dict.fromkeys(verbalize(p, relation_labels, form) for p in tied if len(p) == length))
        tied_texts = {verbalize(p, relation_labels, form) for p in tied}
        negatives = tuple(dict.fromkeys(t for p, _ in scored for t in [verbalize(p, relation_labels, form)]
                                        if t not in tied_texts))
        if negatives:
            yield PathExample(_masked(q), positives, negatives)


def vote(examples: Sequence[PathExample]) -> list[PathExample]:
    """Break ties between positives by agreement of questions worded alike.

    A question whose answers several relation paths reach by coincidence (the writer also
    directed) keeps the positives that the most questions with the same masked wording share;
    the dropped ones leave the example altogether (neither positive nor negative).
    """
    support: dict[str, Counter[str]] = {}
    for e in examples:
        support.setdefault(e.question, Counter()).update(e.positives)
    out = []
    for e in examples:
        counts = support[e.question]
        top = max(counts[p] for p in e.positives)
        out.append(PathExample(e.question, tuple(p for p in e.positives if counts[p] == top), e.negatives))
    return out


def _topic_id(q: Question, graph: SupervisionGraph) -> str | None:
    if q.topic is None:
        return None
    if q.topic in graph.labels:
        return q.topic
    return graph.by_label.get(q.topic.lower())


def _masked(q: Question) -> str:
    spans = [q.topic_span] if q.topic_span else []
    if not spans and q.topic and q.topic.lower() in q.text.lower():
        start = q.text.lower().index(q.topic.lower())
        spans = [(start, start + len(q.topic))]
    return mask(q.text, spans) or q.text


def node_labels(store: GraphStore) -> tuple[dict[str, str], dict[str, str]]:
    """(entity id -> label, relation id -> label) from one scan of the store."""
    entities: dict[str, str] = {}
    relations: dict[str, str] = {}
    for batch in store.scan_entities():
        for e, _ in batch:
            entities[e.id] = e.label or e.id
            if e.kind is EntityKind.RELATION and e.label:
                relations[e.id] = e.label
    return entities, relations


def build_examples(source: GraphStore | SupervisionGraph, questions: Sequence[Question], settings: Supervision,
                   progress: bool = True) -> list[PathExample]:
    """Weakly supervised examples for ``questions`` (the caller picks the split); pass a
    ``SupervisionGraph`` to read the store once for several calls."""
    from tqdm import tqdm

    graph = source if isinstance(source, SupervisionGraph) else SupervisionGraph.read(source)
    found = tqdm(questions, desc="weak supervision", disable=not progress, file=sys.stderr)
    return vote(list(path_examples(found, graph, settings)))


def train_split(questions: Sequence[Question], per_file: int | None, validation: int,
                seed: int) -> tuple[list[Question], list[Question]]:
    """(train, validation) from the ``train`` part of the split only."""
    pool = only("train", questions)
    random.Random(seed).shuffle(pool)
    valid, rest = pool[:validation], pool[validation:]
    return (rest[:per_file] if per_file else rest), valid


def questions_from(paths: Sequence[Path], fmt: str) -> list[list[Question]]:
    return [read_questions(p, fmt) for p in paths]


_ONE_HOP = ("what is the {r} of", "what is {r} of", "which {r} does have", "tell me the {r} of", "{r} of",
            "what {r} does have", "who or what is the {r} of")


_TWO_HOP = ("what is the {r2} of the {r1} of", "the {r1} of has which {r2}", "{r2} of the {r1} of",
            "what {r2} does the {r1} of have")


def generic_examples(relation_names: Sequence[str], n: int, seed: int = 0, negatives: int = 31,
                     aliases: Mapping[str, Sequence[str]] | None = None) -> list[PathExample]:
    """Templated questions over many relation names (e.g. all Wikidata property labels).

    Mixed into domain data so that the adapter keeps what zero-shot scoring does well on any KB
    (a question's relation words match the path's) and learns the hop order ("the r2 of the r1
    of X" is ``r2 of r1``, not ``r1 of r2``), instead of forgetting relations MetaQA lacks.
    With ``aliases`` (name -> other names people use for it: Wikidata's property aliases) half
    the one-hop questions name the relation by an alias, so paraphrases are learned too.
    """
    rng = random.Random(seed)
    names = sorted({r.strip().lower() for r in relation_names if r.strip()})
    other = {k.lower(): [a for a in v if a.strip()] for k, v in (aliases or {}).items()}
    out = []
    for _ in range(n if len(names) > 2 else 0):
        r1, r2 = rng.sample(names, 2)
        if rng.random() < 0.6:
            said = rng.choice(other[r1]) if other.get(r1) and rng.random() < 0.5 else r1
            question, positive, hard = rng.choice(_ONE_HOP).format(r=said), r1, {r2: 1, f"{r1} of {r2}": 2}
        else:
            question, positive = rng.choice(_TWO_HOP).format(r1=r1, r2=r2), f"{r2} of {r1}"
            hard = {f"{r1} of {r2}": 2, r1: 1, r2: 1}
        others = {r: 1 for r in rng.sample(names, min(negatives, len(names))) if r not in (r1, r2)}
        wrong = list({**hard, **others}.items())[:negatives]
        hops = (1 if positive == r1 else 2, *(h for _, h in wrong))
        out.append(PathExample(question, (positive,), tuple(t for t, _ in wrong), hops))
    return out


def read_relation_names(path: Path) -> list[str]:
    """English labels from a Wikidata properties TSV (``id<TAB>datatype<TAB>en...``) or one per line."""
    names = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and parts[0] == "id":
                continue
            names.append(parts[2] if len(parts) >= 3 else parts[0])
    return [x for x in names if x]
