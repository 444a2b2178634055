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
import threading
import time
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kg.errors import KGQAError
from pipeline.dialogue.followup import Focus, Rewrite, as_mention, choose, correction, is_question, resolve, with_entity
from pipeline.types import Answer, Clarification, Option, Request, from_plain, linked
from retrieval.base import Mention

if TYPE_CHECKING:
    from pipeline.api import KGQA

FORMAT, VERSION = "kgqa-session", 1


HISTORY = 3  # earlier turns shown to the generator


OPTIONS = 5


class SessionError(KGQAError):
    """A saved session cannot be read (missing, corrupt, or of another format)."""


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
        return self.qa.fit(question, entity)

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
        rewrite = replace(rewrite, original={pending.span: as_mention(pending.mention, pending.span, pending.options)},
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
        everyone = as_mention(focus.mention or picked.label, focus.span, focus.candidates)
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
