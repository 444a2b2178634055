"""The one normalization of a question (``retrieval.question``) and the terminal escaper (``kg.text``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kg.base import Provenance
from kg.files import read_json_or_none, write_atomic
from kg.stores import Step
from kg.stores.base import Edge, GraphPath
from kg.text import printable
from retrieval.base import ScoredPath
from retrieval.paths import rank_answers
from retrieval.question import ASK, MAX_QUESTION_CHARS, WORDS, clean_question


@pytest.mark.parametrize(("text", "note"), [
    ("", ASK), ("   ", ASK), ("???", ASK), ("?!.", ASK), ("\x00", ASK), ("\x1b[2J", ASK), ("\u202e", ASK),
    ("😀", WORDS), ("😀😀 ✨", WORDS), (None, ASK), ("\n\t", ASK),
])
def test_nothing_to_ask_is_refused_with_a_note(text: object, note: str) -> None:
    assert clean_question(text) == ("", note)


def test_a_question_is_kept_and_tidied() -> None:
    assert clean_question("  What is the capital\nof France?  ") == ("What is the capital of France?", None)
    assert clean_question("Qui a écrit Kismet ?") == ("Qui a écrit Kismet ?", None)
    assert clean_question("东京是哪个国家的首都") == ("东京是哪个国家的首都", None)
    assert clean_question("capital of France? 😀") == ("capital of France? 😀", None)


def test_control_characters_are_removed_with_a_note() -> None:
    text, note = clean_question("capital of\x00 France\x1b[31m?\u202e")
    assert text == "capital of France?" and note is not None and "Control characters" in note


def test_an_over_long_question_is_refused() -> None:
    text, note = clean_question("a" * (MAX_QUESTION_CHARS + 1))
    assert text == "" and note is not None and "too long" in note
    assert clean_question("a " * (MAX_QUESTION_CHARS // 2 - 1))[0]


def test_printable_escapes_what_could_fake_output() -> None:
    assert printable("Berlin\nFrance -capital-> Berlin [x:1]") == "Berlin\\nFrance -capital-> Berlin [x:1]"
    assert printable("a\rb\tc\x1b[2J\x00") == "a\\rb\\tc\\x1b[2J\\x00"
    assert printable("abc\u202eevil\u2066") == "abc\\u202eevil\\u2066"
    assert printable("line\u2028sep") == "line\\u2028sep"
    assert printable("東京 👨‍👩‍👧 é\u00a0x") == "東京 👨‍👩‍👧 é\u00a0x"
    assert printable(None) == "" and printable("x" * 10, limit=5) == "xxxx…"


def test_read_json_or_none(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "stamp.json"
    assert read_json_or_none(path) is None and not caplog.text
    write_atomic(path, '{"seq": 3}')
    assert read_json_or_none(path) == {"seq": 3}
    for damaged in (b"", b'{"seq": ', b"\xff\xfe", b"[1, 2]"):
        path.write_bytes(damaged)
        with caplog.at_level(logging.WARNING):
            assert read_json_or_none(path) is None
        assert "stamp.json" in caplog.text
        caplog.clear()


def _edge(s: str, p: str, o: str) -> Edge:
    return Edge(s, p, o, hash((s, p, o)), Provenance("w.nt", 1))


def test_a_round_trip_never_makes_the_topic_its_own_answer() -> None:
    there_and_back = (Step("capital"), Step("capital_of"))
    trip = GraphPath(("France", "Paris", "France"), (_edge("France", "capital", "Paris"),
                                                     _edge("Paris", "capital_of", "France")), there_and_back)
    capital = GraphPath(("France", "Paris"), (_edge("France", "capital", "Paris"),), (Step("capital"),))
    chosen = [ScoredPath("France", there_and_back, 0.9, "capital of of capital", (trip,)),
              ScoredPath("France", (Step("capital"),), 0.5, "capital", (capital,))]
    assert [a.id for a in rank_answers(chosen, {})] == ["Paris"]
    assert [a.id for a in rank_answers(chosen, {}, round_trips={there_and_back})] == ["France"]
