"""The ``KGQA`` facade: the one front door of the Python API.

It opens a knowledge base, indexes, removes and inspects sources, retrieves evidence, and
answers questions (``ask``): retrieve -> generate (when a generator is on) -> check the
citations (``model.checks.finalize``) -> a plain-data ``Answer``, recorded in the feedback store
so that ``feedback`` can refer to it. ``session`` starts a conversation (``pipeline.dialogue.session``).

Opening is cheap: the embedder, the entity linker and the passage index are loaded (or built
and saved in the knowledge base directory) on the first question, and rebuilt when the store
has changed since they were built; the generator loads on the first question that uses it.

Generation: ``generator="auto"`` uses the shipped LoRA adapter (``model/adapters/generator``)
when it exists and otherwise answers with the deterministic cited sentence; ``"off"`` never
generates; a ``TextGenerator`` object (a fake in tests) is used as given.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from kg.base import Entity
from kg.catalog import SourceRecord
from kg.errors import EntityNotFound, KGQAError
from kg.files import write_atomic
from kg.ingest import IndexReport
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions
from kg.stores import Direction, Edge
from model.base import TextGenerator
from model.checks import FinalAnswer, finalize
from model.registry import SHIPPED_GENERATOR
from pipeline.feedback import Feedback, FeedbackStore
from pipeline.types import Answer, Request, build
from retrieval.base import Mention, Retrieval
from retrieval.retriever import HybridRetriever, RetrieverConfig

if TYPE_CHECKING:
    import rdflib

    from pipeline.dialogue.session import Session

log = logging.getLogger(__name__)
NOTES = {"empty question": "Please ask a question.",
         "no entity found": "I found no entity of the knowledge base in that question."}


class GeneratorUnavailable(KGQAError):
    """Generation was asked for, but no generator is configured or shipped."""


class AnswerStream:
    """The text of an answer as it is produced; ``answer`` is the checked ``Answer`` at the end.

    Iterating yields ``str`` pieces; once the iterator is exhausted ``answer`` is set (reading it
    earlier consumes the rest of the stream). When the generated text failed its checks,
    ``answer.text`` is the deterministic sentence that replaces what was streamed.
    """

    def __init__(self, items: Iterator[str | Answer]) -> None:
        self._items = items
        self._answer: Answer | None = None

    def __iter__(self) -> Iterator[str]:
        for item in self._items:
            if isinstance(item, str):
                yield item
            else:
                self._answer = item

    @property
    def answer(self) -> Answer:
        for _ in self:
            pass
        if self._answer is None:
            raise KGQAError("the answer stream ended without an answer")
        return self._answer


def _shipped_generator() -> TextGenerator | None:
    """gemma-3-270m with the shipped LoRA adapter, when installed (else no generator)."""
    if not SHIPPED_GENERATOR.is_dir():
        return None
    from model.generator import Generator  # torch and the weights load only here

    return Generator.load(SHIPPED_GENERATOR)


# generator names -> how to load one (None: answer with the rule-built cited sentence)
GENERATORS: dict[str, Callable[[], TextGenerator | None]] = {"auto": _shipped_generator, "off": lambda: None}


class KGQA:
    """Question answering over one knowledge base directory."""

    def __init__(self, kb: KnowledgeBase, embedder: str = "minilm",
                 config: RetrieverConfig = RetrieverConfig(),
                 generator: str | TextGenerator = "auto") -> None:
        if isinstance(generator, str) and generator not in GENERATORS:
            raise ValueError(f"generator must be one of {', '.join(GENERATORS)} or a generator object, "
                             f"not {generator!r}")
        self.kb = kb
        self.embedder_name = embedder
        self.config = config
        self.generator_setting = generator
        self._retriever: HybridRetriever | None = None
        self._generator: TextGenerator | None = None if isinstance(generator, str) else generator
        self._generator_loaded = not isinstance(generator, str)
        self._feedback: FeedbackStore | None = None
        self._lock = threading.Lock()  # lazy loads happen once even when threads share the facade

    @classmethod
    def open(cls, directory: str | Path = "kb", backend: str | None = None, read_only: bool = False,
             progress: bool = True, uri: str | None = None, user: str | None = None,
             password: str | None = None, database: str | None = None, embedder: str = "minilm",
             config: RetrieverConfig = RetrieverConfig(),
             generator: str | TextGenerator = "auto") -> KGQA:
        """Open (or create) a knowledge base; ``backend`` is ``embedded`` (default) or ``neo4j``.

        ``embedder`` names the text embedder (``minilm``, ``e5`` for Chinese and other
        languages, ``hashing`` for tests); ``config`` tunes retrieval; ``generator`` is
        ``auto``, ``off`` or a generator object (see the module docstring). Nothing heavy loads here.
        """
        kb = KnowledgeBase.open(directory, backend=backend, read_only=read_only, progress=progress,
                                uri=uri, user=user, password=password, database=database)
        return cls(kb, embedder, config, generator)

    def retriever(self) -> HybridRetriever:
        """The hybrid retriever, built on first use (see ``retrieval.retriever``)."""
        with self._lock:
            if self._retriever is None:
                from pipeline.wiring import build_retriever  # models load only when a question comes

                self._retriever = build_retriever(self.kb, self.embedder_name, self.config, self.kb.progress)
            return self._retriever

    def generator(self) -> TextGenerator | None:
        """The generator ``generator="auto"`` or an object configured, loaded on first use; else None."""
        with self._lock:
            if not self._generator_loaded and isinstance(self.generator_setting, str):
                self._generator = GENERATORS[self.generator_setting]()
                self._generator_loaded = True
            return self._generator

    def feedback_store(self) -> FeedbackStore:
        """The answers and feedback of this knowledge base (``feedback.sqlite``), opened on first use."""
        with self._lock:
            if self._feedback is None:
                self._feedback = FeedbackStore.open(self.kb.directory)
            return self._feedback

    def link(self, question: str) -> list[Mention]:
        """The entity mentions of ``question`` (offsets refer to it with surrounding spaces stripped)."""
        return self.retriever().link(question)

    def fit(self, question: str, entity: str) -> float:
        """How well ``question`` (its entity mention removed) can be asked of ``entity``: the score
        of its best relation path there (``-inf`` when the entity has none)."""
        return self.retriever().fit(question, entity)

    def ask(self, question: str, *, history: Sequence[tuple[str, str]] = (),
            generate: bool | None = None) -> Answer:
        """Answer ``question`` with cited evidence.

        Args:
            question: the question, in plain language.
            history: earlier (question, answer text) pairs of a conversation, for the prompt
                (``session`` resolves follow-ups as well; this only informs the generator).
            generate: True to require the generator, False to skip it, None to use it when
                one is configured (``generator`` of ``open``).

        Returns:
            The checked ``Answer`` (``ask_stream`` gives the same answer piece by piece).

        Raises:
            GeneratorUnavailable: ``generate=True`` and there is no generator.
        """
        return self.answer(Request(question, history=tuple(history)), generate)

    def ask_stream(self, question: str, *, history: Sequence[tuple[str, str]] = (),
                   generate: bool | None = None) -> AnswerStream:
        """Answer ``question`` piece by piece: iterate for the text, then read ``.answer``."""
        return AnswerStream(self.answer_stream(Request(question, history=tuple(history)), generate))

    def answer(self, request: Request, generate: bool | None = None) -> Answer:
        """The checked answer to a ``Request`` (what ``ask`` and sessions use), recorded for feedback."""
        started = time.perf_counter()
        retrieval, timings = self._retrieve(request)
        model = self._generating(generate, retrieval)
        generated = None
        if model is not None:
            start = time.perf_counter()
            generated = model.generate(retrieval.prompt)
            timings["generate"] = _ms(start)
        return self._finish(request, retrieval, generated, timings, started)

    def answer_stream(self, request: Request, generate: bool | None = None) -> Iterator[str | Answer]:
        """Stream the answer to a ``Request``: ``str`` pieces as generated, then one ``Answer``.

        The pieces are the raw generated text; the ``Answer`` is authoritative: when the text
        failed its checks (``answer.fallback`` with ``answer.generated`` set), ``answer.text``
        is the deterministic sentence that replaces what was streamed. Without a generator the
        deterministic sentence comes as one piece. Work starts at the first ``next``.
        """
        started = time.perf_counter()
        retrieval, timings = self._retrieve(request)
        model = self._generating(generate, retrieval)
        if model is None:
            answer = self._finish(request, retrieval, None, timings, started)
            yield answer.text
            yield answer
            return
        start, pieces = time.perf_counter(), []
        for piece in model.stream(retrieval.prompt):
            pieces.append(piece)
            yield piece
        timings["generate"] = _ms(start)
        yield self._finish(request, retrieval, "".join(pieces), timings, started)

    def record(self, answer: Answer, session: str | None = None, turn: int | None = None) -> None:
        """Keep ``answer`` in the feedback store; a store that cannot be written is logged, not fatal."""
        try:
            self.feedback_store().record(answer, session, turn)
        except (KGQAError, sqlite3.Error) as exc:
            log.warning("answer %s not recorded for feedback: %s", answer.id, exc)

    def feedback(self, answer_id: str, correct: bool, answer: str | None = None,
                 text: str | None = None) -> Feedback:
        """Say whether a recorded answer was right, optionally with the right answer and a comment.

        Raises:
            UnknownAnswer: no answer with that id was given from this knowledge base.
        """
        return self.feedback_store().add(answer_id, correct, answer, text)

    def session(self) -> Session:
        """A new conversation over this knowledge base (see ``pipeline.session``)."""
        from pipeline.dialogue.session import Session  # the facade does not need dialogue to answer

        return Session(self)

    def retrieve(self, question: str, k: int | None = None, history: Sequence[tuple[str, str]] = (),
                  mentions: Sequence[Mention] | None = None) -> Retrieval:
        """Linked entities, scored relation paths, concrete paths, passages, fused evidence,
        the prompt, ranked answers and timings for ``question``; ``mentions`` replace the linker."""
        return self.retriever().retrieve(question, k, history, mentions)

    def index(self, source: str | Path | rdflib.Graph, fmt: str | None = None,
              options: ReaderOptions = ReaderOptions(), name: str = "graph") -> IndexReport:
        """Add or re-index a source; only what changed since the last run is applied.

        ``source`` is a file or folder, or an ``rdflib.Graph`` held in memory: the graph is
        written as sorted N-Triples to ``DIR/graphs/NAME.nt`` and indexed from there, so indexing
        a changed graph under the same ``name`` again applies only the difference.
        """
        if not isinstance(source, (str, Path)):
            source, fmt = self._graph_file(source, name), "nt"
        report = self.kb.index(source, fmt, options)
        self._retriever = None  # the linker and passage index catch up on the next question
        return report

    def _graph_file(self, graph: rdflib.Graph, name: str) -> Path:
        if not re.fullmatch(r"[\w.-]+", name):
            raise KGQAError(f"a graph's name may hold letters, digits, '.', '_' and '-' only, not {name!r}")
        lines = sorted(set(graph.serialize(format="nt", encoding="utf-8").decode("utf-8").splitlines()) - {""})
        path = self.kb.directory / "graphs" / f"{name}.nt"
        path.parent.mkdir(exist_ok=True)
        write_atomic(path, "".join(line + "\n" for line in lines))
        return path

    def remove(self, path: str | Path) -> IndexReport:
        """Remove exactly what a source contributed."""
        report = self.kb.remove(path)
        self._retriever = None
        return report

    def sources(self) -> list[SourceRecord]:
        return self.kb.sources()

    def stats(self) -> dict[str, object]:
        return self.kb.stats()

    def entity(self, name: str) -> Entity:
        """The entity with this id, or else the best one with this label or alias.

        Raises:
            EntityNotFound: nothing has that id, label or alias.
        """
        found = self.kb.store.entities([name]).get(name) or next(iter(self.kb.store.find(name)), None)
        if found is None:
            raise EntityNotFound(f"no entity with id, label or alias {name!r}")
        return found

    def neighbors(self, name: str, predicate: str | None = None, direction: Direction = Direction.BOTH,
                  limit: int = 100) -> list[Edge]:
        """The edges at an entity (by id, label or alias)."""
        return self.kb.store.neighbors(self.entity(name).id, predicate, direction, limit)

    def labels(self, ids: list[str]) -> dict[str, str]:
        """Display labels for node ids (the id itself where there is no label)."""
        found = self.kb.store.entities(ids)
        return {i: found[i].label or i if i in found else i for i in ids}

    def facts(self, ids: Sequence[str], n: int = 3) -> dict[str, tuple[str, ...]]:
        """Up to ``n`` facts per entity that the others in ``ids`` do not share, description first.

        What a clarification shows to tell same-named entities apart ("release year 1944",
        "directed by William Dieterle"; incoming edges read "Kismet: directed by").
        """
        store = self.kb.store
        entities = store.entities(list(ids))
        edges = {i: store.neighbors(i, limit=50) for i in ids}
        labels = self._names({x for es in edges.values() for e in es for x in (e.subject, e.object)},
                             {e.predicate for es in edges.values() for e in es})
        described = {i: _edge_facts(i, edges[i], labels) for i in ids}
        counts: dict[str, int] = {}
        for fs in described.values():
            for f in set(fs):
                counts[f] = counts.get(f, 0) + 1
        out = {}
        for i in ids:
            own = [f for f in described[i] if counts[f] < len(ids) or len(ids) == 1]
            desc = entities[i].description if i in entities else None
            out[i] = tuple(dict.fromkeys(([desc] if desc else []) + own))[:n]
        return out

    def _retrieve(self, request: Request) -> tuple[Retrieval, dict[str, float]]:
        start = time.perf_counter()
        retrieval = self.retrieve(request.resolved or request.question, history=request.history,
                                  mentions=request.mentions)
        if request.exclude:
            retrieval = dataclasses.replace(
                retrieval, answers=tuple(a for a in retrieval.answers if a.id not in request.exclude))
        timings = {**request.timings, **retrieval.timings, "retrieve": _ms(start)}
        return retrieval, timings

    def _generating(self, generate: bool | None, retrieval: Retrieval) -> TextGenerator | None:
        if generate is False:
            return None
        model = self.generator()
        if model is None and generate:
            raise GeneratorUnavailable("no generator: pass generator= to KGQA.open, or ship "
                                       f"the adapter at {SHIPPED_GENERATOR}")
        return model if retrieval.evidence else None

    def _finish(self, request: Request, retrieval: Retrieval, generated: str | None,
                timings: dict[str, float], started: float) -> Answer:
        start = time.perf_counter()
        labels = self._labels(retrieval)
        names = {labels[n] for e in retrieval.evidence if e.path for n in e.path.nodes}
        final = finalize(generated, {e.number: e.content for e in retrieval.evidence},
                         [(a.label, a.evidence) for a in retrieval.answers], names)
        if retrieval.note in NOTES and not retrieval.answers:
            final = FinalAnswer(NOTES[retrieval.note], (), True, final.problems, generated)
        timings["check"] = _ms(start)
        timings["total"] = round(sum(request.timings.values()) + _ms(started), 2)  # wall time, own linking too
        answer = build(uuid.uuid4().hex, retrieval, final, labels, timings,
                       request.resolved if request.resolved != request.question else None)
        answer = dataclasses.replace(answer, question=request.question)
        self.record(answer, request.session, request.turn)
        return answer

    def _labels(self, retrieval: Retrieval) -> dict[str, str]:
        """Display labels of the evidence's nodes and predicates, and of the relation paths' topics."""
        paths = [e.path for e in retrieval.evidence if e.path is not None]
        nodes = {n for p in paths for n in p.nodes} | {sp.topic for sp in retrieval.relation_paths}
        return self._names(nodes, {x.predicate for p in paths for x in p.edges})

    def _names(self, nodes: set[str], predicates: set[str]) -> dict[str, str]:
        """Labels of nodes and predicates; a predicate without one gets a readable form of its id."""
        labels = self.labels(sorted(nodes | predicates))
        retriever = self.retriever()
        for p in predicates:
            if labels.get(p, p) == p:
                labels[p] = retriever.relation_label(p)
        return labels

    def close(self) -> None:
        if self._feedback is not None:
            self._feedback.close()
            self._feedback = None
        self.kb.close()

    def __enter__(self) -> KGQA:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()



def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _edge_facts(node: str, edges: Sequence[Edge], labels: Mapping[str, str]) -> list[str]:
    """Outgoing facts first, those with numbers (years) before others, then incoming ones."""
    out = {f"{labels[e.predicate]} {labels[e.object]}" for e in edges if e.subject == node}
    back = {f"{labels[e.subject]}: {labels[e.predicate]}" for e in edges if e.subject != node}
    return sorted(out, key=lambda f: (not any(ch.isdigit() for ch in f), f)) + sorted(back)
