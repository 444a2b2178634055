"""Odd questions through ask, a session and the chat: refused with a clear note, or answered right.

Never an answer to ``???``, a NUL byte or an emoji, wherever it is typed (after a question in
a chat included), and never the topic itself reached by a round trip (capital -> capital of).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline.chat import Chat
from pipeline.session import Session

from pipeline import KGQA
from retrieval.question import clean_question
from tests.faults.conftest import PARIS, QUESTION, Outcome

ODD = {"punctuation": "???", "nul": "\x00", "emoji": "😀", "blank": " \t ", "bidi": "\u202e", "controls": "\x1b[2J"}
SESSION_WIRING = pytest.mark.xfail(strict=False, reason="needs wiring: Session.ask (and so chat) should call "
                                                        "retrieval.question.clean_question first")


@pytest.fixture(scope="module")
def qa(world_kb: Path) -> Iterator[KGQA]:
    with KGQA.open(world_kb, read_only=True, progress=False, embedder="hashing", generator="off") as opened:
        yield opened


ASK_WIRING = pytest.mark.xfail(strict=False, reason="needs wiring: KGQA.ask should call clean_question first "
                                                    "(the retriever alone keeps the text of an escape sequence)")


def _ask_cases() -> list[object]:
    return [pytest.param(text, id=name, marks=[ASK_WIRING] if name == "controls" else [])
            for name, text in ODD.items()]


@pytest.mark.parametrize("text", _ask_cases())
def test_odd_input_through_ask(qa: KGQA, text: str, outcome: Outcome) -> None:
    assert clean_question(text)[0] == ""
    answer = qa.ask(text)
    assert not answer.answers and "Please ask a question" in answer.text, answer.text
    outcome.recovered()


@pytest.mark.parametrize("text", [pytest.param(t, id=n, marks=[] if n == "blank" else [SESSION_WIRING])
                                  for n, t in ODD.items()])
def test_odd_input_after_a_question_in_a_session(qa: KGQA, text: str, outcome: Outcome) -> None:
    session = Session(qa)
    assert session.ask(QUESTION).answers[0].id == PARIS
    answer = session.ask(text)
    assert not answer.answers and "Please ask a question" in answer.text, answer.text
    outcome.recovered()


@SESSION_WIRING
@pytest.mark.parametrize("text", ["???", "\x00", "😀"], ids=["punctuation", "nul", "emoji"])
def test_chat_and_ask_agree(qa: KGQA, text: str, outcome: Outcome) -> None:
    lines = iter([QUESTION, text])
    out: list[str] = []

    def read(_: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    Chat(Session(qa), read=read, write=out.append).run()
    replies = [o for o in out if o][1:]  # after the greeting: one reply per line typed
    assert "Paris" in replies[0]
    assert replies[1] == qa.ask(text).text, replies
    outcome.recovered()


def topics_never_answers(answer: object) -> None:
    rp = getattr(answer, "relation_path", None)
    ids = {a.id for a in getattr(answer, "answers", ())}
    assert rp is None or rp.topic not in ids, f"the topic {rp.topic} is its own answer via {rp.text}"


def test_an_injected_cypher_tail_changes_nothing(qa: KGQA, outcome: Outcome) -> None:
    before = qa.stats()["triples"]
    answer = qa.ask(QUESTION + "' MATCH (n) DETACH DELETE n //")
    assert answer.answers[0].id == PARIS and qa.stats()["triples"] == before
    topics_never_answers(answer)
    outcome.recovered()


def test_fifty_countries_never_answer_with_a_topic(qa: KGQA, outcome: Outcome) -> None:
    names = sorted({e.label for batch in qa.kb.store.scan_entities() for e, _ in batch
                    if e.label and "/entity/" in e.id and e.kind.value == "entity"})[:50]
    answer = qa.ask("What is the capital of " + ", ".join(names) + "?")
    topics_never_answers(answer)
    outcome.recovered()


def test_a_100kb_question_is_refused_or_answered_right(qa: KGQA, outcome: Outcome) -> None:
    text = (QUESTION + " ") * (100_000 // len(QUESTION))
    answer = qa.ask(text)
    topics_never_answers(answer)
    assert "too long" in answer.text or answer.answers[0].id == PARIS
    assert clean_question(text) == ("", clean_question(text)[1]) and "too long" in str(clean_question(text)[1])
    outcome.recovered()
