"""Systems that answer gold questions, behind one registry.

A system turns a ``Question`` into a ``Prediction`` (answer ids, the cited evidence as text,
latency): ``kgqa`` is the hybrid retriever (with the linker, or with the gold topic given),
``kgqa-zero-shot`` the same with the untrained path scorer, ``dense`` the dense-only RAG baseline
of ``retrieval.baselines``, ``llamaindex`` LlamaIndex's own property-graph retriever
(``retrieval.llamaindex_peer``); the baselines cache their vectors in the knowledge base
directory. Constructors take what they need; ``open`` does the loading and embedding.

Deliberately left out: generation (answers are each system's ranked entities).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from kg.errors import KGQAError
from pipeline.api import KGQA
from pipeline.questions import Question
from retrieval.base import Candidate, Mention

if TYPE_CHECKING:
    from retrieval.baselines import DenseBaseline
    from retrieval.llamaindex_peer import LlamaIndexPeer

@dataclass(frozen=True)
class Prediction:
    """What one system returned for one question."""

    question: Question
    answers: tuple[str, ...]  # answer ids, best first
    cited: tuple[str, ...]  # the cited evidence as text
    uncited: int  # answers without any evidence
    latency_ms: float
    linked: str | None = None  # top candidate of the first mention
    linking: bool = False  # the system linked entities itself (else linker@1 does not apply)


class System(Protocol):
    name: str

    def predict(self, question: Question) -> Prediction: ...


class KGQASystem:
    """kgqa's hybrid retriever; with ``topic_given`` the gold topic replaces the linker."""

    name = "kgqa"

    def __init__(self, qa: KGQA, topic_given: bool = False, name: str = "kgqa") -> None:
        self.qa = qa
        self.topic_given = topic_given
        self.name = name

    def predict(self, question: Question) -> Prediction:
        start = time.perf_counter()
        linked: str | None
        if self.topic_given and question.topic:
            r = self.qa.retrieve(question.text, mentions=[_given(question, question.topic)])
            linked = None
        else:
            r = self.qa.retrieve(question.text)
            linked = r.mentions[0].best.id if r.mentions and r.mentions[0].candidates else None
        answers = list(r.answers)
        cited = [e.content for e in r.evidence if e.kind == "path"]
        ms = (time.perf_counter() - start) * 1000
        return Prediction(question, tuple(a.id for a in answers), tuple(cited),
                          sum(not a.evidence for a in answers), ms, linked, linked is not None or not self.topic_given)


def _given(question: Question, topic: str) -> Mention:
    """The gold topic as a mention, at its span in the question when known."""
    start, end = question.topic_span or (0, 0)
    return Mention(question.text[start:end], start, end, (Candidate(topic, topic, 1.0, "given"),))


class DenseSystem:
    """The dense-only RAG baseline over the knowledge base's verbalized triples."""

    name = "dense"

    def __init__(self, baseline: DenseBaseline) -> None:
        self.baseline = baseline

    @classmethod
    def open(cls, qa: KGQA, embedder: str, cache: Path | None = None) -> DenseSystem:
        """Verbalize and embed every triple (or read the vectors cached at ``cache``)."""
        from model.embedders import open_embedder
        from retrieval.baselines import DenseBaseline

        return cls(DenseBaseline.from_store(qa.kb.store, open_embedder(embedder), cache))

    def predict(self, question: Question) -> Prediction:
        start = time.perf_counter()
        found = self.baseline.answer(question.text)
        ms = (time.perf_counter() - start) * 1000
        if found is None:
            return Prediction(question, (), (), 0, ms)
        return Prediction(question, (found.id,), (found.sentence,), 0, ms)


class LlamaIndexSystem:
    """LlamaIndex's property-graph retriever; with ``topic_given`` the gold topic is its query."""

    name = "llamaindex"

    def __init__(self, peer: LlamaIndexPeer, topic_given: bool = False) -> None:
        self.peer = peer
        self.topic_given = topic_given

    @classmethod
    def open(cls, qa: KGQA, embedder: str, topic_given: bool = False, cache: Path | None = None) -> LlamaIndexSystem:
        """Build LlamaIndex's property graph over the store's edges (vectors cached at ``cache``)."""
        from model.embedders import open_embedder
        from retrieval.llamaindex_peer import LlamaIndexPeer

        return cls(LlamaIndexPeer.from_store(qa.kb.store, open_embedder(embedder), cache, progress=qa.kb.progress),
                   topic_given)

    def predict(self, question: Question) -> Prediction:
        start = time.perf_counter()
        topic = question.topic if self.topic_given else None
        found = self.peer.answer(question.text, topic)
        ms = (time.perf_counter() - start) * 1000
        linked = None if topic else next(iter(found.matched), None)
        return Prediction(question, found.answers, found.triplets, 0, ms, linked, not topic)


@dataclass(frozen=True)
class SystemSpec:
    """How a named system is made from the open facade (embedder, gold topic given, cache dir)."""

    make: Callable[[KGQA, str, bool, Path], System]
    about: str


def _zero_shot(qa: KGQA, embedder: str, topic_given: bool, cache: Path) -> System:
    zero = KGQA(qa.kb, qa.embedder_name, replace(qa.config, scorer="zero-shot"), generator="off")
    return KGQASystem(zero, topic_given, "kgqa-zero-shot")


SYSTEMS: dict[str, SystemSpec] = {
    "kgqa": SystemSpec(lambda qa, e, given, cache: KGQASystem(qa, given), "the hybrid retriever"),
    "kgqa-zero-shot": SystemSpec(_zero_shot, "the same retriever with the untrained path scorer"),
    "dense": SystemSpec(lambda qa, e, given, cache: DenseSystem.open(qa, e, cache / f"dense-{e}.npy"),
                        "dense-only RAG over verbalized triples"),
    "llamaindex": SystemSpec(lambda qa, e, given, cache: LlamaIndexSystem.open(
        qa, e, given, cache / f"llamaindex-{e}.npy"), "LlamaIndex's property-graph retriever"),
}


def make_systems(names: Sequence[str], qa: KGQA, embedder: str, topic_given: bool,
                 cache: Path | None = None) -> list[System]:
    """The systems named, in order; the baselines keep their vectors under ``cache``.

    ``cache`` defaults to ``baselines/`` in the knowledge base directory.

    Raises:
        KGQAError: an unknown name (the message lists the known ones).
    """
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:  # before any system loads its models
        raise KGQAError(f"unknown system {unknown[0]!r}; known systems: {', '.join(SYSTEMS)}")
    cache = cache or qa.kb.directory / "baselines"
    return [SYSTEMS[name].make(qa, embedder, topic_given, cache) for name in names]
