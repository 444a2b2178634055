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

Before any of this, each message's intent is recognised (``pipeline.dialogue.intents``): greetings,
thanks, goodbyes, help ("what can you do?": what the knowledge base holds, with example questions
drawn from it), chit-chat and off-topic messages get a reply without retrieval, and feedback in
words ("that's wrong, it was X") is recorded on the last answer. None of them changes the focus,
the dialogue state or a pending clarification. The dialogue state (``pipeline.dialogue.state``)
keeps every entity of every answered turn, so "that director" or "the second movie" reaches back
to the turn that produced it; each answer lists the references it resolved and their turns.

Turns are serialised: a lock makes two threads that share a session wait for each other, so
turns keep a consistent order and focus. ``save``/``load`` keep a session as JSON; with a
``SessionStore`` every turn is persisted under the session's id and ``resume`` continues it.
``ask_stream`` gives a turn as text pieces (the checked text) and then the ``Answer``.
Left out: coreference beyond these rules, and any learning (``pipeline.feedback`` records turns).
"""


from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kg.errors import KGQAError
from model.chinese import has_cjk
from pipeline.dialogue import replies
from pipeline.dialogue.followup import Focus, Rewrite, as_mention, choose, correction, is_question, resolve, with_entity
from pipeline.dialogue.intents import Intent, referring
from pipeline.dialogue.state import DialogueState
from pipeline.dialogue.store import SessionStore, check_id
from pipeline.types import Answer, AnswerStream, Clarification, Option, Request, from_plain, linked, pieces
from retrieval.base import Mention
from retrieval.question import ASK, clean_question

if TYPE_CHECKING:
    from pipeline.api import KGQA

log = logging.getLogger(__name__)
FORMAT, VERSION = "kgqa-session", 2  # 2: the dialogue state; version 1 files load with an empty one
SOCIAL = frozenset({"greeting", "thanks", "goodbye", "chit-chat", "off-topic"})
NAMED = 0.45  # a linked entity this sure makes a message a question whatever the classifier says
STATE_ANSWERS = 10  # answers of a turn whose descriptions the dialogue state keeps
CORRECTED = re.compile(r"(?:it\s+was|it'?s|answer\s+(?:is|was|should\s+be)|should\s+be|actually|应该是|是)\s*"
                       r"(?P<x>[^,.!?，。！？]+?)\s*[.!?。！？]*$", re.I)


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

    def __init__(self, qa: KGQA, session_id: str | None = None, store: SessionStore | None = None) -> None:
        self.qa = qa
        self.id = check_id(session_id) if session_id else uuid.uuid4().hex
        self.turns: list[Answer] = []
        self.focus = Focus()
        self.state = DialogueState()
        self.pending: Pending | None = None
        self.store = store
        self._lock = threading.Lock()

    @classmethod
    def resume(cls, qa: KGQA, session_id: str, store: SessionStore) -> Session:
        """The session ``store`` holds under ``session_id``, or a new one with that id.

        Raises:
            SessionError: the stored session cannot be read.
        """
        data = store.get(session_id)
        session = cls(qa, session_id, store)
        if data is not None:
            session._restore(data, session_id)
        return session

    @property
    def last(self) -> Answer | None:
        return self.turns[-1] if self.turns else None

    def ask(self, text: str) -> Answer:
        """Answer one turn: a question, a follow-up, the reply to a clarification, or a non-question."""
        with self._lock:  # serialised: a second thread waits for the turn in progress
            answer = self._turn(" ".join(text.split()))
            self.turns.append(answer)
            self._persist()
            return answer

    def ask_stream(self, text: str) -> AnswerStream:
        """``ask`` piece by piece: iterate for the text (the checked text, never a draft), then ``.answer``."""
        def items() -> Iterator[str | Answer]:
            answer = self.ask(text)
            yield from pieces(answer.text)
            yield answer

        return AnswerStream(items())

    def reset(self) -> None:
        """Forget the turns, the focus and the dialogue state (the id stays)."""
        with self._lock:
            self.turns, self.focus, self.state, self.pending = [], Focus(), DialogueState(), None
            self._persist()

    def _turn(self, typed: str) -> Answer:
        text, note = clean_question(typed)  # the one normalization every entry point shares
        if not text:
            return self._say(typed, (note or ASK) if self.pending is None else
                             "Please reply to the question above:\n" + self._clarification().prompt())
        intent = self._intent(text)
        if self.pending is not None:
            picked = choose(text, self.pending.options) if intent.name not in SOCIAL | {"help"} else None
            if picked is not None:
                return self._continue(text, picked)
            if intent.source == "rule" and intent.name in SOCIAL or intent.name == "help":
                return self._social(text, intent, again=True)
            if not is_question(text):
                return self._say(text, "I did not recognise that option.\n" + self._clarification().prompt(),
                                 clarification=self._clarification(), intent="clarification")
            self.pending = None  # a new question instead of a reply
        elif intent.name in SOCIAL | {"help"}:
            return self._social(text, intent)
        if intent.name == "feedback":
            return self._feedback(text)
        fixed = correction(text)
        if fixed is not None and self.focus.question and self.focus.span:
            return self._correct(text, fixed)
        rewrite = resolve(text, self.focus, self.qa.link, self._fit, self.state)
        return self._run(text, rewrite)

    def _intent(self, text: str) -> Intent:
        """The recognised intent, overruled by the conversation and the KB where the classifier guessed:
        a question that refers to the focus ("what currency does it use?", "what about A Farewell to
        Arms?") or names a KB entity clearly ("what does Philip Hubbard appear in") asks the KB."""
        intent = self.qa.intents().recognize(text, self.pending is not None)
        if intent.source != "model" or intent.asks or intent.name == "clarification":
            return intent
        if self.focus.topic and is_question(text) and referring(text):
            return Intent("follow-up", intent.score, "context")
        if any(m.best.score >= NAMED for m in self.qa.link(text)):
            return Intent("follow-up" if referring(text) else "question", intent.score, "context")
        return intent

    def _social(self, text: str, intent: Intent, again: bool = False) -> Answer:
        """A reply without retrieval; nothing of the conversation changes."""
        chinese = has_cjk(text)
        said = replies.help_text(self.qa.overview(), chinese) if intent.name == "help" else \
            replies.reply(intent.name, chinese)
        if again and self.pending is not None:
            said += "\n" + self._clarification().prompt()
        return self._say(text, said, intent=intent.name)

    def _feedback(self, text: str) -> Answer:
        """"that's wrong, it was X": recorded on the last answered turn."""
        last = next((a for a in reversed(self.turns) if a.intent in ("question", "follow-up") and a.answers), None)
        chinese = has_cjk(text)
        if last is None:
            return self._say(text, replies.reply("feedback-none", chinese), intent="feedback")
        positive = re.search(r"\b(?:right|correct|true|good|great|spot on|exactly)\b|正确|对的|没错|是对", text, re.I)
        negative = re.search(r"\b(?:wrong|incorrect|not|bad|no|nope|nah)\b|错|不对", text, re.I)
        correct = bool(positive) and not negative
        m = CORRECTED.search(text) if not correct else None
        corrected = m["x"].strip() if m and m["x"].strip() else None
        try:
            self.qa.feedback(last.id, correct, corrected, text)
        except KGQAError as exc:  # an answer the store could not record
            return self._say(text, f"I could not record that feedback: {exc}", intent="feedback")
        return self._say(text, replies.feedback_reply(correct, corrected, chinese), intent="feedback")

    def _run(self, typed: str, rewrite: Rewrite) -> Answer:
        used = rewrite.mentions[: self.qa.config.topics]  # the mentions retrieval follows
        unclear = next((m for m in used if m.ambiguous), None)  # different entities nearly tie
        if unclear is not None:
            return self._clarify(typed, rewrite, unclear)
        return self._answer(typed, rewrite)

    def _answer(self, typed: str, rewrite: Rewrite) -> Answer:
        history = tuple((a.resolved or a.question, a.text) for a in self.turns
                        if a.clarification is None and a.intent in ("question", "follow-up"))
        intent = "question" if rewrite.rule in ("none", "chosen") else "follow-up"
        if rewrite.rule == "chosen":
            intent = "clarification" if self.turns and self.turns[-1].clarification else "correction"
        request = Request(typed, rewrite.question, history[-HISTORY:], tuple(rewrite.mentions),
                          tuple(rewrite.exclude), self.id, len(self.turns) + 1, {"link": rewrite.link_ms},
                          intent, rewrite.references)
        answer = self.qa.answer(request)
        self._remember(answer, rewrite)
        return answer

    def _remember(self, answer: Answer, rewrite: Rewrite) -> None:
        """Move the focus to this turn's topic and answers (a turn without answers keeps it), and
        add them to the dialogue state."""
        rp = answer.relation_path
        if rp is None or not answer.answers:
            return
        turn = len(self.turns) + 1
        forward = not (rp.steps and rp.steps[-1].startswith("^"))
        answers = tuple((a.id, a.label) for a in answer.answers)
        described = self.qa.descriptions([rp.topic, *(i for i, _ in answers[:STATE_ANSWERS])])
        self.state = self.state.add(turn, (rp.topic, rp.topic_label), rp.text, forward, answers, described)
        mention = next((m for m in rewrite.mentions if any(c.id == rp.topic for c in m.candidates)), None)
        span = (mention.start, mention.end) if mention else None
        original = rewrite.original.get(span) if span else None
        candidates = original.candidates if original else mention.candidates if mention else ()
        self.focus = Focus(rewrite.question, span, (rp.topic, rp.topic_label), rp.steps,
                           tuple((a.id, a.label) for a in answer.answers), mention.text if mention else None,
                           tuple(Option(c.id, c.label, c.score) for c in candidates), turn)

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
             resolved: str | None = None, mentions: tuple[Mention, ...] | list[Mention] = (),
             intent: str = "question") -> Answer:
        """An answer that is the system talking (a re-ask, a clarification, a reply), recorded like any other."""
        note = "clarification" if clarification else "re-ask" if intent in ("question", "clarification") else "reply"
        answer = Answer(uuid.uuid4().hex, typed, text, mentions=tuple(linked(m) for m in mentions),
                        note=note, clarification=clarification,
                        resolved=resolved if resolved != typed else None, intent=intent)
        self.qa.record(answer, self.id, len(self.turns) + 1)
        return answer

    def save(self, path: str | Path) -> None:
        """Write the session (turns, focus, dialogue state, pending clarification) as JSON."""
        with self._lock:
            data = self.to_data()
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")

    def to_data(self) -> dict[str, object]:
        """The session as JSON-ready data (what ``save`` and the store write)."""
        return {"format": FORMAT, "version": VERSION, "id": self.id,
                "turns": [a.to_dict() for a in self.turns], "focus": asdict(self.focus),
                "state": asdict(self.state), "pending": asdict(self.pending) if self.pending else None}

    def _persist(self) -> None:
        if self.store is not None:
            try:
                self.store.put(self.id, self.to_data())
            except (OSError, KGQAError) as exc:
                log.warning("session %s not persisted: %s", self.id, exc)

    def _restore(self, data: object, where: object) -> None:
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            if data.get("version") not in (1, VERSION):
                raise ValueError(f"version {data.get('version')} (this kgqa reads versions 1 and {VERSION})")
            self.turns = [Answer.from_dict(a) for a in data["turns"]]
            self.focus = from_plain(Focus, data["focus"])
            self.state = from_plain(DialogueState, data.get("state") or {})
            self.pending = from_plain(Pending, data["pending"]) if data.get("pending") else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SessionError(f"{where} is not a usable saved session: {exc}") from None

    @classmethod
    def load(cls, qa: KGQA, path: str | Path) -> Session:
        """The session ``save`` wrote, continued over ``qa``.

        Raises:
            SessionError: the file is missing, not JSON, or not a saved session.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise SessionError(f"cannot read session {path}: {exc}") from None
        session = cls(qa, str(data["id"]) if isinstance(data, dict) and "id" in data else None)
        session._restore(data, path)
        return session
