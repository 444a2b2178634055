"""The value types of answering: the ``Request`` a question becomes, and the ``Answer`` it gets.

An ``Answer`` is what a user, a UI, a chat transcript and the feedback store keep: the sentence,
the ranked answer entities with the numbers of the evidence that supports each, every numbered
piece of evidence as a ``Citation`` (a graph path with the source and line of each triple, or a
passage with its source and offset), the linked entities, the chosen relation path, timings and
the confidence. It is frozen, holds only strings, numbers and tuples, and round-trips through
JSON (``to_dict`` / ``from_dict``). Its renderings (``explain``, ``to_mermaid``, ``to_dot``,
``to_rdf``) live in pipeline/render.py.

Confidence (``confidence``) is ``link x path``, in [0, 1], and 0 when nothing was answered:

- ``link`` is the linker's score of the topic entity (the linker scores in [0, 1]; an entity the
  user picked or that a follow-up resolved scores 1), halved when its mention is ambiguous;
- ``path`` is ``0.5 + 0.5 * min(1, margin / 0.1)``, where ``margin`` is how far the chosen
  relation path's score is ahead of the next one (1 when there is no rival). It reads the
  margin rather than the raw score because zero-shot and trained scorers have different scales.

It is a ranking signal for UIs and feedback triage, not a calibrated probability.
Left out: any lookup in the store (``build`` only arranges what it is given).

Why just over the house's ~400 lines: every value an answer carries is defined here together,
so that ``to_dict``/``from_dict`` round-trip one closed set of frozen types.
"""


from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kg.errors import KGQAError
from kg.stores.base import path_text
from model.checks import FinalAnswer
from pipeline import render
from retrieval.base import Evidence, Mention, Retrieval

MARGIN_FULL = 0.1


T = TypeVar("T")


@dataclass(frozen=True)
class CitedTriple:
    """One triple of a cited path, with where it was asserted."""

    subject: str
    predicate: str
    object: str
    predicate_label: str
    source: str
    line: int | None = None


@dataclass(frozen=True)
class Citation:
    """One numbered piece of evidence: a graph path (``nodes``, ``triples``) or a passage."""

    number: int
    kind: str  # path | passage
    text: str
    nodes: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()  # display labels of ``nodes``
    triples: tuple[CitedTriple, ...] = ()
    passage: str | None = None
    source: str | None = None  # the passage's source
    offset: int | None = None
    line: int | None = None

    @property
    def predicates(self) -> tuple[str, ...]:
        return tuple(t.predicate for t in self.triples)

    def where(self) -> str:
        """``movies.txt:3; movies.txt:5`` for a path, ``wiki.jsonl@120`` for a passage."""
        if self.kind == "path":
            return "; ".join(f"{t.source}:{t.line}" if t.line else t.source for t in self.triples)
        at = f"@{self.offset}" if self.offset is not None else f":{self.line}" if self.line else ""
        return f"{self.source or '?'}{at}"


@dataclass(frozen=True)
class AnswerItem:
    """A ranked answer entity and the numbers of the citations that support it."""

    id: str
    label: str
    score: float
    citations: tuple[int, ...] = ()
    qualifiers: str | None = None  # the statement's qualifiers for people ("point in time: 2014")


@dataclass(frozen=True)
class Option:
    """A candidate entity, with facts that tell it apart from the other candidates."""

    id: str
    label: str
    score: float = 0.0
    facts: tuple[str, ...] = ()

    def describe(self) -> str:
        return f"{self.label} ({'; '.join(self.facts)})" if self.facts else self.label


@dataclass(frozen=True)
class LinkedMention:
    """A span of the question, the entity chosen for it and the alternatives the linker saw."""

    text: str
    id: str
    label: str
    score: float
    ambiguous: bool = False
    alternatives: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Clarification:
    """The system's question back when a mention names several different entities."""

    mention: str
    options: tuple[Option, ...]

    def prompt(self) -> str:
        lines = [f'Which "{self.mention}" do you mean?']
        lines += [f"  {i}. {o.describe()}" for i, o in enumerate(self.options, 1)]
        lines.append("Reply with a number or with words from one option.")
        return "\n".join(lines)


@dataclass(frozen=True)
class RelationChoice:
    """The relation path the answers were read from, from its topic entity."""

    topic: str
    topic_label: str
    path: str  # compact form, e.g. ``directed_by/^directed_by``
    text: str  # as the scorer read it, e.g. ``directed by``
    score: float
    steps: tuple[str, ...] = ()  # the hops, ``^`` marking one followed backwards (ids may hold "/")


@dataclass(frozen=True)
class ResolvedReference:
    """A reference to the conversation that a turn's question was rewritten with.

    ``text`` is what the user wrote ("that director", "it", "the second one"), ``id`` and
    ``label`` the entity it was read as, ``turn`` the earlier turn (1-based) that entity came
    from, ``rule`` how it was resolved (pronoun, position, type, order, ellipsis, what-about).
    """

    text: str
    id: str
    label: str
    turn: int
    rule: str


@dataclass(frozen=True)
class Answer:
    """The answer to one question (or one turn of a conversation), as plain data.

    ``question`` is what was asked; ``resolved`` is the question retrieval saw after follow-up
    resolution (``None`` when it is the same). ``cited`` holds the citation numbers the final
    text cites. ``fallback`` is true when the text is the deterministic sentence rather than
    checked generated text (``problems`` says why); ``generated`` is the raw generated text.
    ``intent`` is what the message was (``pipeline.dialogue.intents.INTENTS``; ``question`` for
    ``KGQA.ask``); ``abstained`` is true when the text says the knowledge base does not answer
    the question, ``why`` says which check decided it (weak link, path does not fit, no such
    relation, no entity); ``references`` are the conversation references resolved for this turn.
    """

    id: str
    question: str
    text: str
    answers: tuple[AnswerItem, ...] = ()
    citations: tuple[Citation, ...] = ()
    cited: tuple[int, ...] = ()
    confidence: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    fallback: bool = True
    problems: tuple[str, ...] = ()
    generated: str | None = None
    mentions: tuple[LinkedMention, ...] = ()
    relation_path: RelationChoice | None = None
    note: str | None = None
    clarification: Clarification | None = None
    resolved: str | None = None
    prompt: str = ""
    intent: str = "question"
    abstained: bool = False
    why: str | None = None
    references: tuple[ResolvedReference, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Answer:
        """The answer ``to_dict`` gave (unknown keys are ignored).

        Raises:
            ValueError: a field is missing or of the wrong shape.
        """
        return from_plain(cls, data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    def explain(self) -> str:
        """Linked entities -> chosen relation path (score) -> cited paths -> answer, for a terminal."""
        return render.explain(self)

    def to_mermaid(self) -> str:
        """The cited subgraph as a Mermaid flowchart (answers and topics styled)."""
        return render.mermaid(self)

    def to_dot(self) -> str:
        """The cited subgraph as a Graphviz DOT digraph."""
        return render.dot(self)

    def to_rdf(self, format: str = "turtle") -> str:
        """The cited subgraph with each triple's provenance as RDF (rdflib; ``turtle``, ``nt``, ``xml``...)."""
        text: str = render.rdf_graph(self).serialize(format=format)
        return text

    def subgraph(self) -> list[Citation]:
        """The path citations the text or the answers cite (all path citations if none are cited)."""
        numbers = set(self.cited) | {n for a in self.answers for n in a.citations}
        paths = [c for c in self.citations if c.kind == "path"]
        return [c for c in paths if c.number in numbers] or paths


def build(answer_id: str, retrieval: Retrieval, final: FinalAnswer, labels: Mapping[str, str],
          timings: Mapping[str, float], resolved: str | None = None) -> Answer:
    """The ``Answer`` for a retrieval and its checked text; ``labels`` maps node and predicate ids."""
    citations = tuple(citation(e, labels) for e in retrieval.evidence)
    answers = tuple(AnswerItem(a.id, a.label, round(a.score, 4), tuple(a.evidence)) for a in retrieval.answers)
    best = retrieval.relation_paths[0] if retrieval.relation_paths else None
    relation = None if best is None else RelationChoice(
        best.topic, labels.get(best.topic) or _topic_label(retrieval.mentions, best.topic),
        path_text(best.path), best.text, round(best.score, 4), tuple(str(step) for step in best.path))
    return Answer(answer_id, retrieval.question, final.text, answers, citations, tuple(final.cited),
                  confidence(retrieval), dict(timings), final.fallback, tuple(final.problems), final.generated,
                  tuple(linked(m) for m in retrieval.mentions), relation, retrieval.note, None,
                  resolved, retrieval.prompt)


def citation(e: Evidence, labels: Mapping[str, str]) -> Citation:
    """A citation for one piece of evidence, with the provenance of each triple or the passage."""
    if e.path is not None:
        triples = tuple(CitedTriple(x.subject, x.predicate, x.object, labels.get(x.predicate, x.predicate),
                                    x.provenance.source, x.provenance.line) for x in e.path.edges)
        return Citation(e.number, e.kind, e.content, e.path.nodes,
                        tuple(labels.get(n, n) for n in e.path.nodes), triples)
    p = e.passage
    where = p.provenance if p is not None else None
    return Citation(e.number, e.kind, e.content, passage=p.id if p else None,
                    source=where.source if where else None, offset=where.offset if where else None,
                    line=where.line if where else None)


def linked(m: Mention) -> LinkedMention:
    best = m.best
    others = tuple(Option(c.id, c.label, round(c.score, 4), (c.description,) if c.description else ())
                   for c in m.candidates[1:])
    return LinkedMention(m.text, best.id, best.label, round(best.score, 4), m.ambiguous, others)


def confidence(r: Retrieval) -> float:
    """``link x path`` in [0, 1] (see the module docstring); 0 without answers."""
    if not r.answers or not r.relation_paths:
        return 0.0
    best = r.relation_paths[0]
    mention = next((m for m in r.mentions if m.candidates and best.topic in {c.id for c in m.candidates}), None)
    if mention is None:
        link = 1.0
    else:
        chosen = next(c for c in mention.candidates if c.id == best.topic)
        link = min(1.0, max(0.0, chosen.score)) * (0.5 if mention.ambiguous else 1.0)
    margin = best.score - r.relation_paths[1].score if len(r.relation_paths) > 1 else 1.0
    path = 0.5 + 0.5 * min(1.0, max(0.0, margin) / MARGIN_FULL)
    return round(link * path, 4)


def _topic_label(mentions: tuple[Mention, ...], topic: str) -> str:
    return next((c.label for m in mentions for c in m.candidates if c.id == topic), topic)


def from_plain(cls: type[T], data: Any) -> T:
    """An instance of dataclass ``cls`` from its ``asdict`` form (as read back from JSON).

    Nested dataclasses, tuples (of one type, or of fixed shape), optional fields and
    ``dict[str, float]`` are rebuilt; unknown keys are ignored.

    Raises:
        ValueError: a field is missing or of the wrong shape.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name], f.name)
    try:
        return cls(**values)
    except TypeError as exc:
        raise ValueError(f"{cls.__name__}: {exc}") from None


def _value(hint: Any, value: Any, name: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        return _value(next(a for a in args if a is not type(None)), value, name)
    if dataclasses.is_dataclass(hint):
        return from_plain(hint, value)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{name}: expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, name) for v in value)
        if len(args) != len(value):
            raise ValueError(f"{name}: expected {len(args)} items")
        return tuple(_value(a, v, name) for a, v in zip(args, value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ValueError(f"{name}: expected an object")
        return {str(k): float(v) for k, v in value.items()}
    if hint is float and isinstance(value, int | float):
        return float(value)
    if hint in (str, int, bool) and not isinstance(value, hint):
        raise ValueError(f"{name}: expected {hint.__name__}, got {type(value).__name__}")
    return value



@dataclass(frozen=True)
class Request:
    """One question to answer, with what a conversation knows about it.

    Args:
        question: as the user wrote it.
        resolved: the question retrieval sees, when follow-up resolution rewrote it.
        history: earlier (question, answer text) pairs, oldest first, for the prompt.
        mentions: linked entities that replace the linker (offsets refer to ``resolved``).
        exclude: entity ids never given as answers ("what *else* did he direct").
        session, turn: where the answer belongs, for the feedback store.
        timings: stages already measured (ms), merged into the answer's.
        intent: what the message was (``question`` or ``follow-up`` when it reaches retrieval).
        references: the conversation references resolved into ``resolved``.
    """

    question: str
    resolved: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    mentions: tuple[Mention, ...] | None = None
    exclude: tuple[str, ...] = ()
    session: str | None = None
    turn: int | None = None
    timings: Mapping[str, float] = dataclasses.field(default_factory=dict)
    intent: str = "question"
    references: tuple[ResolvedReference, ...] = ()


class AnswerStream:
    """The text of an answer as it is produced; ``answer`` is the checked ``Answer`` at the end.

    Iterating yields ``str`` pieces; once the iterator is exhausted ``answer`` is set (reading it
    earlier consumes the rest of the stream). When the generated text failed its checks,
    ``answer.text`` is the deterministic sentence, and that is what was streamed: the pieces always join to
    ``answer.text``.
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


def pieces(text: str) -> Iterator[str]:
    """``text`` in word-sized pieces (each with its following space) that join back to it."""
    import re

    yield from (m.group() for m in re.finditer(r"\S+\s*|\s+", text))
