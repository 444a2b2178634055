"""Synthetic questions from a knowledge base's own relation paths: training data with no human questions.

For sampled topic entities, the relation paths of 1..3 hops that the retriever would score
are followed to their end sets; one useful path is chosen per question (an answer set that is
neither empty nor huge, nor the topic alone; hop counts balanced; a path already chosen often is
less likely to be chosen again, so rare relation paths get questions too, not only the most
frequent). The question is worded from the relation names (labels, or cleaned predicate names:
``plays_in_club`` -> "plays in club") by composing noun phrases hop by hop in several orders
("the r2 of the r1 of X", "X's r1's r2", "things with r1 X", "which r2 does the r1 of X have",
"X is the r of what"); a hop followed by its own reverse as sharing ("the things that share r with
X", "other things with the same r as X": the co-membership questions people ask); a relation
named by a participle ("directed by") also as a verb ("what has X directed", "by whom was X
directed"); and with "when" / "how many" for relations whose values are dates or numbers
(``answer_types``), at any hop. The topic is then masked as at answer time. Every other path
around the topic whose end set differs is a negative; paths reaching the same set are positives
too. Each example records its paths' hop counts, so a scorer can learn which count a wording implies.

Left out: relation labels in scripts without spaces are used as they are (no templates in that
language), and entity types (a KB seldom has them): "which r" names the answer by its relation.
"""

from __future__ import annotations

import random
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from kg.stores.base import RelationPath
from model.path_scorer import PathExample
from model.prompts import VERBALIZATION, relation_name, verbalize
from pipeline.training.supervision import SupervisionGraph
from retrieval.paths import mask

_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_DATE = re.compile(r"^-?\d{3,4}(?:-\d\d(?:-\d\d)?)?(?:T.*)?$")


@dataclass(frozen=True)
class SyntheticConfig:
    """Settings of question generation.

    Args:
        max_answers: paths reaching more entities than this are not asked about.
        max_candidates: relation paths around a topic considered (as the retriever's setting).
        exclude_topic: multi-hop walks may not come back through the topic (the KB rule).
        verbalization: the form the scorer reads paths in.
    """

    max_hops: int = 3
    max_answers: int = 30
    max_candidates: int = 2000
    exclude_topic: bool = True
    verbalization: str = VERBALIZATION


def answer_types(graph: SupervisionGraph, sample: int = 200, seed: int = 0) -> dict[str, str]:
    """Per predicate, what its objects mostly are: ``date``, ``number`` or ``entity``."""
    rng = random.Random(seed)
    out = {}
    for predicate, nodes in graph.ends.objects().items():
        picked = graph.ends.index.names(nodes[sorted(rng.sample(range(len(nodes)), min(sample, len(nodes))))])
        kinds = Counter(_kind(graph.labels.get(n, n)) for n in picked)
        out[predicate] = kinds.most_common(1)[0][0]
    return out


def _kind(label: str) -> str:
    text = label.strip()
    if _DATE.match(text) and (len(text) == 4 or "-" in text[1:]):
        return "date"
    return "number" if _NUMBER.match(text) else "entity"


def _forms(name: str) -> tuple[str, str | None]:
    """(noun, participle) of a relation name: ``has genre`` -> ("genre", None), ``directed by`` ->
    ("directed by", "directed"); the participle words questions as people do ("what has X directed")."""
    words = name.split()
    if len(words) > 1 and words[0] in ("has", "have", "is", "in"):
        return " ".join(words[1:]), None
    if len(words) > 1 and words[-1] == "by":
        return name, " ".join(words[:-1])
    return name, None


def _hop(np: str, forward: bool, name: str, first: bool, rng: random.Random) -> str:
    """The noun phrase one more hop from ``np``."""
    noun, participle = _forms(name)
    if forward:
        forms = ["the {o} of {p}", "the {o} of {p}", "{p}'s {o}" if first else "the {o} of {p}"]
        if participle:
            forms += ["the ones {p} is {n}", "whoever {p} was {n}"]
        if name.startswith("in "):
            forms += ["the {o} {p} is in"]
    else:
        forms = ["the things with {n} {p}", "what has {n} {p}", "those whose {o} is {p}", "things {n} {p}",
                 "the ones that have {p} as {o}", "the things whose {o} is {p}"]
        if participle:
            forms += ["the things {n} {p}", "what {p} {v}", "the ones {v} by {p}", "everything {p} {v}"]
    return rng.choice(forms).format(n=name, o=noun, v=participle, p=np)


_SHARE = ("the things that share {o} with {p}", "other things with the same {o} as {p}",
          "the ones whose {o} is also the {o} of {p}", "things sharing a {o} with {p}",
          "what else has the same {o} as {p}", "things with {o} in common with {p}")


def _phrase(topic: str, path: RelationPath, names: Sequence[str], rng: random.Random) -> str:
    """A noun phrase for the end set of ``path`` from ``topic``, built hop by hop; a hop and its
    reverse ("r" then "r" walked back, the things that share r with X) are worded together."""
    np, i = topic, 0
    while i < len(path):
        step, name = path[i], names[i]
        back = i + 1 < len(path) and path[i + 1].predicate == step.predicate and path[i + 1].forward != step.forward
        if back and rng.random() < 0.75:
            np = rng.choice(_SHARE).format(o=_forms(name)[0], p=np)
            i += 2
            continue
        np = _hop(np, step.forward, name, i == 0, rng)
        i += 1
    return np


_WRAP = ("what is {np}", "what are {np}", "who is {np}", "which are {np}", "name {np}", "{np}?", "list {np}",
         "tell me {np}", "do you know {np}", "what would be {np}", "{np}", "who are {np}", "which ones are {np}")
_ONE_FORWARD = ("what {n} does {t} have", "{t} has what {n}", "which {n} does {t} have", "what is {t}'s {n}",
                "{t}'s {n}?", "what is the {n} for {t}", "what {n} is {t} associated with")
_ONE_BACK = ("what has {t} as {n}", "which ones have {n} {t}", "what is {n} {t}", "{t} is the {n} of what",
             "what things are {n} {t}", "which have {t} as their {n}", "what does {t} relate to by {n}")
_ONE_FORWARD_VERB = ("by whom was {t} {v}", "who is {t} {n}", "{t} was {n} whom", "who {v} {t}")
_ONE_BACK_VERB = ("what was {n} {t}", "what has {t} {v}", "what did {t} get {v}", "{t} {v} what",
                  "which things were {n} {t}")
_TWO = ("what {n2} does the {n1} of {t} have", "{t}'s {n1} has which {n2}", "which {n2} belongs to the {n1} of {t}",
        "the {n1} of {t} has what {n2}", "what is the {n2} of {t}'s {n1}")
_TYPED = {"date": ("when is the {n} of {t}", "what year is the {n} of {t}", "when was {t}'s {n}"),
          "number": ("how many {n} does {t} have", "what number is the {n} of {t}", "how much is the {n} of {t}")}
_TYPED_NP = {"date": ("when is the {n} of {np}", "in what year was the {n} of {np}", "when were {np} from"),
             "number": ("how many {n} do {np} have", "what is the {n} of {np}")}


def word(topic: str, path: RelationPath, names: Sequence[str], kind: str, rng: random.Random) -> str:
    """One question about the end set of ``path`` from ``topic``, in a randomly chosen wording."""
    first_forward = path[0].forward
    roll = rng.random()
    noun, participle = _forms(names[0])
    if len(path) == 1 and roll < 0.45:
        if first_forward and kind in _TYPED and rng.random() < 0.6:
            return rng.choice(_TYPED[kind]).format(n=noun, t=topic)
        if participle and rng.random() < 0.5:
            forms = _ONE_FORWARD_VERB if first_forward else _ONE_BACK_VERB
            return rng.choice(forms).format(n=names[0], v=participle, t=topic)
        return rng.choice(_ONE_FORWARD if first_forward else _ONE_BACK).format(n=noun if first_forward else names[0],
                                                                               t=topic)
    if len(path) == 2 and path[0].forward and path[1].forward and roll < 0.4:
        return rng.choice(_TWO).format(n1=_forms(names[0])[0], n2=_forms(names[1])[0], t=topic)
    if len(path) > 1 and path[-1].forward and kind in _TYPED_NP and roll < 0.6:
        inner = _phrase(topic, path[:-1], names[:-1], rng)
        return rng.choice(_TYPED_NP[kind]).format(n=_forms(names[-1])[0], np=inner)
    return rng.choice(_WRAP).format(np=_phrase(topic, path, names, rng))


class QuestionMaker:
    """Makes synthetic ``PathExample`` s over one knowledge base (the graph is read once)."""

    def __init__(self, graph: SupervisionGraph, config: SyntheticConfig = SyntheticConfig(), seed: int = 0) -> None:
        self.graph = graph
        self.config = config
        self.rng = random.Random(seed)
        self.kinds = answer_types(graph, seed=seed)
        self.chosen: Counter[RelationPath] = Counter()  # how often each relation path was asked about
        self.nodes = graph.ends.nodes()  # sorted

    def name(self, predicate: str) -> str:
        return relation_name(predicate, self.graph.relations)

    def example(self, topic: str) -> tuple[PathExample, RelationPath] | None:
        """One question about ``topic`` with its positive and negative paths, or None (nothing useful)."""
        cfg = self.config
        counts = self.graph.paths.relation_paths(topic, cfg.max_hops, cfg.max_candidates)
        memo: dict[RelationPath, np.ndarray] = {}
        ends = {c.path: self.graph.ends.codes(topic, c.path, cfg.exclude_topic and len(c.path) > 1, memo)
                for c in counts}
        itself = self.graph.ends.codes(topic, (), False, memo)
        useful = [p for p, e in ends.items() if 0 < len(e) <= cfg.max_answers and e != itself]
        if not useful or len(ends) < 2:
            return None
        hops = self.rng.choice(sorted({len(p) for p in useful}))
        pool = [p for p in useful if len(p) == hops]
        weights = [1.0 / (1 + self.chosen[p]) ** 1.5 for p in pool]
        path = self.rng.choices(pool, weights)[0]
        self.chosen[path] += 1
        form = cfg.verbalization
        texts = {p: verbalize(p, self.graph.relations, form) for p in ends}
        positive = {texts[p]: len(p) for p, e in ends.items() if e == ends[path] and len(p) == hops}
        negative: dict[str, int] = {}
        for p, e in ends.items():
            if e != ends[path] and texts[p] not in positive:
                negative.setdefault(texts[p], len(p))
        positives, negatives = tuple(positive), tuple(negative)
        if not negatives:
            return None
        label = self.graph.labels.get(topic, topic)
        text = word(label, path, [self.name(s.predicate) for s in path], self.kinds.get(path[-1].predicate, "entity"),
                    self.rng)
        at = text.find(label)
        masked = mask(text, [(at, at + len(label))]) if at >= 0 else text
        return PathExample(masked or text, positives, negatives, (*positive.values(), *negative.values())), path

    def examples(self, n: int, progress: bool = False, max_tries: int = 5) -> list[tuple[PathExample, str]]:
        """Up to ``n`` (example, topic) pairs over random topics (fewer when the KB offers fewer)."""
        from tqdm import tqdm

        out: list[tuple[PathExample, str]] = []
        bar = tqdm(total=n, desc="synthetic questions", disable=not progress, file=sys.stderr, leave=False)
        tries = 0
        while len(out) < n and self.nodes and tries < n * max_tries:
            tries += 1
            topic = self.rng.choice(self.nodes)
            made = self.example(topic)
            if made is not None:
                out.append((made[0], topic))
                bar.update(1)
        bar.close()
        return out


def fewer_negatives(example: PathExample, n: int, rng: random.Random) -> PathExample:
    """``example`` with at most ``n`` wrong paths, a sample drawn from ``rng`` (a dense KB offers
    hundreds or thousands, and each is a text to embed)."""
    if len(example.negatives) <= n:
        return example
    keep = sorted(rng.sample(range(len(example.negatives)), n))
    hops = example.hops[len(example.positives):]
    return replace(example, negatives=tuple(example.negatives[i] for i in keep),
                   hops=(*example.hops[:len(example.positives)], *(hops[i] for i in keep)) if example.hops else ())
