"""Retrieval value types: linked entities, scored relation paths, evidence, and the result.

Everything here is a frozen value carrying its provenance, so that a cited piece of evidence
is just data. Retrieval takes its models through model/base.py's interfaces (``PathScorer``,
``Embedder``) and never imports a concrete model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kg.base import Passage
from kg.stores.base import GraphPath, RelationPath


@dataclass(frozen=True, slots=True)
class Candidate:
    """One entity a mention may refer to, with why and how well it matched."""

    id: str
    label: str
    score: float
    match: str  # exact | normalized | fuzzy | dense
    degree: int = 0
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    """A span of the question (character offsets) and the entities it may name, best first."""

    text: str
    start: int
    end: int
    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate:
        return self.candidates[0]

    @property
    def ambiguous(self) -> bool:
        """Two or more candidates nearly tie."""
        return len(self.candidates) > 1 and self.candidates[1].score >= self.candidates[0].score - 0.05


@dataclass(frozen=True, slots=True)
class ScoredPath:
    """A relation path from a topic entity, with the scorer's score and its concrete paths."""

    topic: str
    path: RelationPath
    score: float
    text: str
    paths: tuple[GraphPath, ...] = ()


@dataclass(frozen=True, slots=True)
class Evidence:
    """One numbered piece of the prompt: a graph path or a passage, with its provenance."""

    number: int
    kind: str  # path | passage
    content: str
    score: float
    path: GraphPath | None = None
    passage: Passage | None = None


@dataclass(frozen=True, slots=True)
class RankedAnswer:
    id: str
    label: str
    score: float
    evidence: tuple[int, ...] = ()  # numbers of the evidence that supports it


@dataclass(frozen=True)
class Retrieval:
    """Everything ``retrieve`` found for one question, with timings in milliseconds."""

    question: str
    mentions: tuple[Mention, ...]
    relation_paths: tuple[ScoredPath, ...]
    answers: tuple[RankedAnswer, ...]
    passages: tuple[tuple[Passage, float], ...]
    evidence: tuple[Evidence, ...]
    prompt: str
    timings: dict[str, float] = field(default_factory=dict)
    note: str | None = None  # e.g. "no entity found"
