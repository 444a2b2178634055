"""The feedback store: answers are recorded as given, feedback refers to them by id."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kg.errors import KGQAError
from pipeline import KGQA
from pipeline.feedback import FEEDBACK_FILE, FeedbackStore, UnknownAnswer


@pytest.fixture()
def kb(movies_kb: Path) -> Path:
    return movies_kb


def test_feedback_on_an_unknown_answer_is_a_clear_error(kb: Path) -> None:
    with KGQA.open(kb, progress=False, embedder="hashing", generator="off") as qa:
        with pytest.raises(UnknownAnswer, match="no answer with id 'nope'") as info:
            qa.feedback("nope", correct=True)
        assert isinstance(info.value, KGQAError)
        with pytest.raises(UnknownAnswer):
            qa.feedback_store().answer("nope")


def test_feedback_becomes_training_examples(kb: Path) -> None:
    with KGQA.open(kb, progress=False, embedder="hashing", generator="off") as qa:
        ans = qa.ask("Who directed Kismet?")
        qa.feedback(ans.id, correct=True, text="quick")
        chat = qa.session()
        chat.ask("Who directed Vamp?")
        wrong = chat.ask("When was it released?")
        qa.feedback(wrong.id, correct=False, answer="1987")
    with KGQA.open(kb, progress=False, embedder="hashing", generator="off") as qa:  # another process, later
        store = qa.feedback_store()
        assert store.answer(ans.id) == ans and store.count() == (3, 2)
        first, second = store.examples()
        assert (first.question, first.given, first.correct, first.comment) == \
            ("Who directed Kismet?", ("William Dieterle",), True, "quick")
        assert first.topics == (("Kismet", "Kismet", "Kismet"),) and first.relation_path == "directed_by"
        assert first.session is None and first.turn is None
        assert (second.question, second.corrected, second.correct) == ("When was Vamp released?", "1987", False)
        assert (second.session, second.turn) == (chat.id, 2) and second.given == ("1986",)
        assert [f.correct for f in store.feedback()] == [True, False]
        assert [f.corrected for f in store.feedback(wrong.id)] == ["1987"]


def test_store_schema(tmp_path: Path) -> None:
    with FeedbackStore.open(tmp_path) as store:
        assert store.count() == (0, 0) and store.examples() == []
    tables = {r[0] for r in sqlite3.connect(tmp_path / FEEDBACK_FILE).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"answers", "feedback"} <= tables


def test_a_broken_store_does_not_stop_answers(kb: Path, caplog: pytest.LogCaptureFixture) -> None:
    (kb / FEEDBACK_FILE).write_bytes(b"this is not a database" * 100)
    with KGQA.open(kb, progress=False, embedder="hashing", generator="off") as qa:
        ans = qa.ask("Who directed Kismet?")
        assert ans.answers and "not recorded for feedback" in caplog.text
        with pytest.raises(KGQAError, match="cannot open the feedback store"):
            qa.feedback(ans.id, correct=True)
