"""Conversations: turns, a focus, follow-up resolution and clarification of ambiguous entities.

A ``Session`` answers one turn at a time through ``KGQA.answer``. Before retrieval it rewrites
the turn into a stand-alone question and links it; the focus (the last answered question, its
topic entity, relation path and answers) is what follow-ups refer to:

- pronouns, by which end of the last relation path the answer was: people are mostly objects
  of triples (directed by, starred actors), things mostly subjects. A person pronoun (he, she,
  him, her, his, they, them, their) takes the last top answer when the path's last hop was
  followed forwards ("Who directed Kismet?" -> "What else did he direct?"); "it", "its",
  "this film" take it when the hop was reversed ("What did Richard Wenk direct?" -> "When
  was it released?"); otherwise, or when the answer is a literal, the pronoun is the last
  topic ("When was Kismet released?" -> "Who directed it?"). When the question fits the other
  one (topic or answer) clearly better, i.e. its best relation path from there scores 0.05
  higher, the other is taken ("What is the capital of Germany?" -> "What is its population?":
  Germany has one). The pronoun is replaced by the entity's label, which retrieval is given as
  the linked mention;
- ellipsis: a turn that names no entity is asked of the last topic ("and the release year?");
- "what about Vamp?": the previous question again, with Vamp in place of its topic;
- positions: "the second one" is the second answer of the last turn; said alone, it asks the
  last question again of that answer, like "what about";
- corrections: "no, I meant the 1955 one" re-asks the last question with the candidate of the
  last topic mention whose facts match "1955";
- "else" / "other" in a follow-up drops the previous topic from the answers.

When a mention retrieval follows is ambiguous (``Mention.ambiguous``: several different entities
nearly tie) the session answers with a ``Clarification`` listing the options with facts that tell them
apart, reads the next turn as the reply (a number, or words of one option; a reply that matches
nothing is asked again, unless it is a new question) and then answers with the chosen entity.

Turns are serialised: a lock makes two threads that share a session wait for each other, so
turns keep a consistent order and focus. ``save``/``load`` keep a session as JSON.
Left out: coreference beyond these rules, and any learning (``pipeline.feedback`` records turns).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kg.base import LITERAL_PREFIX
from kg.errors import KGQAError
from pipeline.answer import Answer, Clarification, Option, from_plain, linked
from retrieval.base import Candidate, Mention
from retrieval.paths import mask

if TYPE_CHECKING:
    from pipeline.api import KGQA

Link = Callable[[str], list[Mention]]
Fit = Callable[[str, str], float]  # (question without the reference, entity id) -> best relation path score
Reference = tuple[tuple[int, int], tuple[str, str], str, str]  # span, (id, label), rule, suffix

FORMAT, VERSION = "kgqa-session", 1
HISTORY = 3  # earlier turns shown to the generator
OPTIONS = 5


class SessionError(KGQAError):
    """A saved session cannot be read (missing, corrupt, or of another format)."""


@dataclass(frozen=True)
class Focus:
    """What follow-ups refer to: the last answered question, its topic and answers."""

    question: str | None = None  # the stand-alone question last answered
    span: tuple[int, int] | None = None  # where its topic is named in ``question``
    topic: tuple[str, str] | None = None  # (id, label)
    relation: tuple[str, ...] = ()  # its relation path's hops (``^`` marks a reversed one)
    answers: tuple[tuple[str, str], ...] = ()
    mention: str | None = None  # the topic mention and all its candidates, for corrections
    candidates: tuple[Option, ...] = ()


@dataclass(frozen=True)
class Pending:
    """A clarification waiting for its reply."""

    question: str
    span: tuple[int, int]
    mention: str
    options: tuple[Option, ...]
    exclude: tuple[str, ...] = ()


class Session:
    """A conversation with a ``KGQA``; ``ask`` one turn at a time."""

    def __init__(self, qa: KGQA, session_id: str | None = None) -> None:
        self.qa = qa
        self.id = session_id or uuid.uuid4().hex
        self.turns: list[Answer] = []
        self.focus = Focus()
        self.pending: Pending | None = None
        self._lock = threading.Lock()

    @property
    def last(self) -> Answer | None:
        return self.turns[-1] if self.turns else None

    def ask(self, text: str) -> Answer:
        """Answer one turn: a question, a follow-up, or the reply to a clarification."""
        with self._lock:  # serialised: a second thread waits for the turn in progress
            answer = self._turn(" ".join(text.split()))
            self.turns.append(answer)
            return answer

    def reset(self) -> None:
        """Forget the turns and the focus (the id stays)."""
        with self._lock:
            self.turns, self.focus, self.pending = [], Focus(), None

    def _turn(self, text: str) -> Answer:
        if not text:
            return self._say(text, "Please ask a question." if self.pending is None else
                             "Please reply to the question above:\n" + self._clarification().prompt())
        if self.pending is not None:
            picked = choose(text, self.pending.options)
            if picked is not None:
                return self._continue(text, picked)
            if not is_question(text):
                return self._say(text, "I did not recognise that option.\n" + self._clarification().prompt(),
                                 clarification=self._clarification())
            self.pending = None  # a new question instead of a reply
        fixed = correction(text)
        if fixed is not None and self.focus.question and self.focus.span:
            return self._correct(text, fixed)
        return self._run(text, resolve(text, self.focus, self.qa.link, self._fit))

    def _run(self, typed: str, rewrite: Rewrite) -> Answer:
        used = rewrite.mentions[: self.qa.config.topics]  # the mentions retrieval follows
        unclear = next((m for m in used if m.ambiguous), None)  # different entities nearly tie
        if unclear is not None:
            return self._clarify(typed, rewrite, unclear)
        return self._answer(typed, rewrite)

    def _answer(self, typed: str, rewrite: Rewrite) -> Answer:
        from pipeline.api import Request

        history = tuple((a.resolved or a.question, a.text) for a in self.turns if a.clarification is None)
        request = Request(typed, rewrite.question, history[-HISTORY:], tuple(rewrite.mentions),
                          tuple(rewrite.exclude), self.id, len(self.turns) + 1, {"link": rewrite.link_ms})
        answer = self.qa.answer(request)
        self._remember(answer, rewrite)
        return answer

    def _remember(self, answer: Answer, rewrite: Rewrite) -> None:
        """Move the focus to this turn's topic and answers (a turn without answers keeps it)."""
        rp = answer.relation_path
        if rp is None or not answer.answers:
            return
        mention = next((m for m in rewrite.mentions if any(c.id == rp.topic for c in m.candidates)), None)
        span = (mention.start, mention.end) if mention else None
        original = rewrite.original.get(span) if span else None
        candidates = original.candidates if original else mention.candidates if mention else ()
        self.focus = Focus(rewrite.question, span, (rp.topic, rp.topic_label), rp.steps,
                           tuple((a.id, a.label) for a in answer.answers), mention.text if mention else None,
                           tuple(Option(c.id, c.label, c.score) for c in candidates))

    def _fit(self, question: str, entity: str) -> float:
        """How well ``question`` can be asked of ``entity``: its best relation path's score."""
        scored = self.qa.retriever().paths.score_paths(question, entity)
        return scored[0].score if scored else float("-inf")

    def _clarify(self, typed: str, rewrite: Rewrite, top: Mention) -> Answer:
        tied = [c for c in top.candidates if c.score >= top.best.score - 0.05][:OPTIONS]
        known = self.qa.facts([c.id for c in tied])
        options = tuple(Option(c.id, c.label, round(c.score, 4), known.get(c.id, ())) for c in tied)
        self.pending = Pending(rewrite.question, (top.start, top.end), top.text, options, rewrite.exclude)
        clarification = self._clarification()
        return self._say(typed, clarification.prompt(), clarification=clarification, resolved=rewrite.question,
                         mentions=rewrite.mentions)

    def _clarification(self) -> Clarification:
        assert self.pending is not None  # only called while a clarification is pending
        return Clarification(self.pending.mention, tuple(self.pending.options))

    def _continue(self, typed: str, picked: Option) -> Answer:
        """Answer the question that was waiting, with the entity the user picked."""
        pending = self.pending
        assert pending is not None
        self.pending = None
        start = time.perf_counter()
        rewrite = with_entity(pending.question, pending.span, picked, self.qa.link, pending.exclude)
        rewrite = replace(rewrite, original={pending.span: _as_mention(pending.mention, pending.span, pending.options)},
                          link_ms=round((time.perf_counter() - start) * 1000, 2))
        return self._answer(typed, rewrite)

    def _correct(self, typed: str, wanted: str) -> Answer:
        """"no, I meant the 1955 one": the last question again with another candidate of its topic."""
        focus = self.focus
        assert focus.question is not None and focus.span is not None
        known = self.qa.facts([o.id for o in focus.candidates])
        options = [replace(o, facts=known.get(o.id, ())) for o in focus.candidates
                   if not focus.topic or o.id != focus.topic[0]]
        picked = choose(wanted, options, fallback_single=True) if options else None
        if picked is None:
            names = "; ".join(o.describe() for o in options) or "none"
            return self._say(typed, f'I know no other "{focus.mention}" matching "{wanted}" (others: {names}).')
        rewrite = with_entity(focus.question, focus.span, picked, self.qa.link, ())
        everyone = _as_mention(focus.mention or picked.label, focus.span, focus.candidates)
        return self._answer(typed, replace(rewrite, original={focus.span: everyone}))

    def _say(self, typed: str, text: str, clarification: Clarification | None = None,
             resolved: str | None = None, mentions: tuple[Mention, ...] | list[Mention] = ()) -> Answer:
        """An answer that is the system talking (a re-ask, a clarification), recorded like any other."""
        answer = Answer(uuid.uuid4().hex, typed, text, mentions=tuple(linked(m) for m in mentions),
                        note="clarification" if clarification else "re-ask", clarification=clarification,
                        resolved=resolved if resolved != typed else None)
        self.qa.record(answer, self.id, len(self.turns) + 1)
        return answer

    def save(self, path: str | Path) -> None:
        """Write the session (turns, focus, pending clarification) as JSON."""
        with self._lock:
            data = {"format": FORMAT, "version": VERSION, "id": self.id,
                    "turns": [a.to_dict() for a in self.turns], "focus": asdict(self.focus),
                    "pending": asdict(self.pending) if self.pending else None}
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, qa: KGQA, path: str | Path) -> Session:
        """The session ``save`` wrote, continued over ``qa``.

        Raises:
            SessionError: the file is missing, not JSON, or not a saved session.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')} (this kgqa reads version {VERSION})")
            session = cls(qa, str(data["id"]))
            session.turns = [Answer.from_dict(a) for a in data["turns"]]
            session.focus = from_plain(Focus, data["focus"])
            session.pending = from_plain(Pending, data["pending"]) if data.get("pending") else None
        except (OSError, UnicodeDecodeError) as exc:
            raise SessionError(f"cannot read session {path}: {exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SessionError(f"{path} is not a usable saved session: {exc}") from None
        return session


# Follow-up resolution: pure rules over the text and the focus (the linker is passed in).

WHAT_ABOUT = re.compile(r"^(?:and\s+|so\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*[?.]*$", re.I)  # "!" may be a name's
PRONOUN = re.compile(r"\b(?:(?P<p>he|she|him|her|his|hers|they|them|their|it|its)|(?:this|that|the same)\s+"
                     r"(?:film|movie|one|book|person|country|city|place))\b", re.I)
POSITION = re.compile(r"\bthe\s+(?P<n>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)(?:\s+one)?\b", re.I)
FIT_MARGIN = 0.05  # how much better a question must fit a pronoun's other referent to switch
ELSE = re.compile(r"\b(?:else|other|another)\b", re.I)
CORRECTION = re.compile(r"^(?:(?:no|nope|wrong)\s*[,.!;:-]+|not (?:that|this)(?: one)?\b[,.!]*)\s*"
                        r"(?:i\s+(?:meant|mean|wanted)\s+)?(?P<a>.*)$|^i\s+(?:meant|mean)\s+(?P<b>.+)$", re.I)
QUESTION = re.compile(r"\?\s*$|^(?:and\s+)?(?:who|whom|whose|what|which|when|where|why|how|list|name|tell)\b", re.I)
PERSON = frozenset("he she him her his hers they them their".split())
POSSESSIVE = frozenset("his its their".split())
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3,
            "4th": 4, "5th": 5, "two": 2, "three": 3, "four": 4, "five": 5, "last": -1}
FILLER = frozenset("""the a an one i meant mean want wanted no nope not that this it is was from with by of in
please which movie film option number released""".split())


@dataclass(frozen=True)
class Rewrite:
    """A turn as a stand-alone question, with its linked mentions (substituted entities first)."""

    question: str
    mentions: tuple[Mention, ...]
    exclude: tuple[str, ...] = ()
    rule: str = "none"  # none | pronoun | position | what-about | ellipsis | chosen
    original: dict[tuple[int, int], Mention] = field(default_factory=dict)  # linker's view of a substituted span
    link_ms: float = 0.0


def resolve(text: str, focus: Focus, link: Link, fit: Fit | None = None) -> Rewrite:
    """The stand-alone form of ``text`` given the conversation's ``focus`` (see the module docstring).

    ``fit(question, entity id)`` says how well a question (its reference removed) can be asked
    of an entity; with it, a pronoun may switch to its other possible referent.
    """
    start = time.perf_counter()
    found = link(text)
    question, rule, span, entity = _rewrite(text, focus, found, fit)
    if rule != "none":
        found = link(question)
    elif not found and focus.topic:  # ellipsis: ask it of the topic
        question = text.rstrip(" ?.!") + " " + focus.topic[1] + "?"
        rule, span, entity = "ellipsis", (len(question) - 1 - len(focus.topic[1]), len(question) - 1), focus.topic
        found = link(question)
    mentions, original = _place(found, span, entity)
    exclude = (focus.topic[0],) if focus.topic and rule != "none" and ELSE.search(question) else ()
    return Rewrite(question, mentions, exclude, rule, original, round((time.perf_counter() - start) * 1000, 2))


def _rewrite(text: str, focus: Focus, found: list[Mention], fit: Fit | None
             ) -> tuple[str, str, tuple[int, int] | None, tuple[str, str] | None]:
    """(question, rule, span of the substituted name, its entity when known)."""
    about = WHAT_ABOUT.match(text)
    bare = text.rstrip(" ?.")
    name = about["x"] if about else bare if _reference(bare, focus, whole=True) else None  # "the second one?"
    if name is not None and focus.question and focus.span:
        s, e = focus.span
        question, span = focus.question[:s] + name + focus.question[e:], (s, s + len(name))
        ref = _reference(name, focus, whole=True)  # "what about the second one?"
        if ref is None:
            return question, "what-about", span, None
        question, span, entity = _put(question, span, ref[1], "")
        return question, "what-about", span, entity
    ref = _reference(text, focus, [(m.start, m.end) for m in found])
    if ref is None:
        return text, "none", None, None
    if ref[2] == "pronoun" and fit is not None:
        ref = _fitted(text, ref, focus, fit)
    question, span, entity = _put(text, ref[0], ref[1], ref[3])
    return question, ref[2], span, entity


def with_entity(question: str, span: tuple[int, int], entity: Option, link: Link,
                exclude: tuple[str, ...]) -> Rewrite:
    """``question`` with ``entity`` named at ``span`` and given as its linked mention."""
    text, at, ref = _put(question, span, (entity.id, entity.label), "")
    mentions, original = _place(link(text), at, ref)
    return Rewrite(text, mentions, exclude, "chosen", original)


def _reference(text: str, focus: Focus, names: list[tuple[int, int]] | None = None,
               whole: bool = False) -> Reference | None:
    """(span, (id, label), rule, suffix) of the first positional reference or pronoun in ``text``.

    A match inside a linked name (``names``: "It" in "It Happened One Night") is not a
    reference; with ``whole`` the reference must be all of ``text``.
    """
    def usable(m: re.Match[str] | None) -> bool:
        inside = any(a <= m.start() and m.end() <= b for a, b in names or ()) if m else True
        return m is not None and not inside and (not whole or m.span() == (0, len(text)))

    m = next((x for x in POSITION.finditer(text) if usable(x)), None)
    if m and focus.answers:
        n = ORDINALS[m["n"].lower()]
        if n <= len(focus.answers):
            return m.span(), focus.answers[n - 1 if n > 0 else -1], "position", ""
    m = next((x for x in PRONOUN.finditer(text) if usable(x)), None)
    if m and focus.topic:
        word = (m["p"] or "it").lower()
        return m.span(), _referent(word, focus), "pronoun", "'s" if word in POSSESSIVE else ""
    return None


def _fitted(text: str, ref: Reference, focus: Focus, fit: Fit) -> Reference:
    """The pronoun's other possible referent (topic or answer) when the question fits it clearly better."""
    answer = _entity_answer(focus)
    other = next((c for c in (focus.topic, answer) if c is not None and c != ref[1]), None)
    if other is None:
        return ref
    masked = mask(text, [ref[0]])
    return (ref[0], other, *ref[2:]) if fit(masked, other[0]) > fit(masked, ref[1][0]) + FIT_MARGIN else ref


def _entity_answer(focus: Focus) -> tuple[str, str] | None:
    """The last top answer, unless it is a literal (a year, a number)."""
    return focus.answers[0] if focus.answers and not focus.answers[0][0].startswith(LITERAL_PREFIX) else None


def _referent(word: str, focus: Focus) -> tuple[str, str]:
    assert focus.topic is not None
    entity = _entity_answer(focus)
    reversed_hop = bool(focus.relation) and focus.relation[-1].startswith("^")
    return entity if entity and (word in PERSON) != reversed_hop else focus.topic


def _put(text: str, span: tuple[int, int], entity: tuple[str, str], suffix: str
         ) -> tuple[str, tuple[int, int], tuple[str, str]]:
    s, e = span
    return text[:s] + entity[1] + suffix + text[e:], (s, s + len(entity[1])), entity


def _place(found: list[Mention], span: tuple[int, int] | None, entity: tuple[str, str] | None
           ) -> tuple[tuple[Mention, ...], dict[tuple[int, int], Mention]]:
    """The linked mentions, with the substituted entity (when any) as the first, certain one."""
    if span is None:
        return tuple(found), {}
    at = [m for m in found if m.start < span[1] and span[0] < m.end]
    rest = [m for m in found if m not in at]
    if entity is None:  # what-about: the linker decides what the new name means
        return tuple(at + rest), {}
    chosen = Mention(entity[1], span[0], span[1], (Candidate(entity[0], entity[1], 1.0, "chosen"),))
    return (chosen, *rest), {span: at[0]} if at else {}


def choose(reply: str, options: Sequence[Option], fallback_single: bool = False) -> Option | None:
    """The option a reply picks: by number ("2"), ordinal ("the second one"), or its words."""
    words = re.findall(r"\w+", reply.lower())
    numbers = [int(w) for w in words if w.isdigit() and 1 <= int(w) <= len(options)]
    if numbers and len(words) <= 3:
        return options[numbers[0] - 1]
    ordinals = [ORDINALS[w] for w in words if w in ORDINALS and ORDINALS[w] <= len(options)]
    if ordinals:
        return options[ordinals[0] - 1 if ordinals[0] > 0 else -1]
    content = {w for w in words if w not in FILLER}
    scores = [len(content & set(re.findall(r"\w+", o.describe().lower()))) for o in options]
    best = max(scores, default=0)
    if best > 0 and scores.count(best) == 1:
        return options[scores.index(best)]
    return options[0] if fallback_single and len(options) == 1 and content <= {"other"} else None


def correction(text: str) -> str | None:
    """What a correction ("no, I meant the 1955 one") asks for, or None when ``text`` is not one."""
    m = CORRECTION.match(text)
    return None if m is None else (m["a"] if m["a"] is not None else m["b"]) or ""


def is_question(text: str) -> bool:
    return QUESTION.search(text) is not None


def _as_mention(text: str, span: tuple[int, int], options: Sequence[Option]) -> Mention:
    return Mention(text, *span, tuple(Candidate(o.id, o.label, o.score, "linked") for o in options))
