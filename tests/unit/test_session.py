"""Conversations: follow-ups, clarification, corrections, save/load, threads and the chat REPL."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline import KGQA
from pipeline.cli import main
from pipeline.cli.chat import Chat
from pipeline.dialogue.followup import choose, correction, is_question
from pipeline.dialogue.session import Session, SessionError
from pipeline.types import Option
from tests.conftest import index_kb

LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
NAMES = {"Kismet_1944": "Kismet", "Kismet_1955": "Kismet", "Dark_City": "Dark City", "Vamp": "Vamp",
         "Juarez": "Juarez", "William_Dieterle": "William Dieterle", "Vincente_Minnelli": "Vincente Minnelli",
         "Richard_Wenk": "Richard Wenk", "Marlene_Dietrich": "Marlene Dietrich", "Howard_Keel": "Howard Keel",
         "It_Happened": "It Happened One Night", "Frank_Capra": "Frank Capra"}
FACTS = """\
Kismet_1944 release_year "1944"
Kismet_1944 directed_by William_Dieterle
Kismet_1944 starred_actors Marlene_Dietrich
Kismet_1955 release_year "1955"
Kismet_1955 directed_by Vincente_Minnelli
Kismet_1955 starred_actors Howard_Keel
Dark_City directed_by William_Dieterle
Dark_City release_year "1950"
Vamp directed_by Richard_Wenk
Vamp release_year "1986"
Juarez directed_by William_Dieterle
Juarez release_year "1939"
It_Happened directed_by Frank_Capra
"""  # two films called Kismet; the 1944 one is listed first


def films_nt() -> str:
    lines = [f'<http://x/{node}> {LABEL} "{name}"@en .' for node, name in NAMES.items()]
    for s, p, o in (line.split() for line in FACTS.splitlines()):
        lines.append(f"<http://x/{s}> <http://x/{p}> {o if o.startswith(chr(34)) else f'<http://x/{o}>'} .")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return index_kb(tmp_path_factory.mktemp("session"), {"films.nt": films_nt()})


@pytest.fixture()
def qa(kb: Path) -> Iterator[KGQA]:
    with KGQA.open(kb, progress=False, embedder="hashing", generator="off") as qa:
        yield qa


def labels(answer: object) -> list[str]:
    return [a.label for a in answer.answers]  # type: ignore[attr-defined]


def test_pronouns_take_the_answer_or_the_topic(qa: KGQA) -> None:
    chat = qa.session()
    assert labels(chat.ask("Who directed Dark City?")) == ["William Dieterle"]
    other = chat.ask("What else did he direct?")  # he: the person just named
    assert other.resolved == "What else did William Dieterle direct?"
    assert set(labels(other)) >= {"Juarez"} and "Dark City" not in labels(other)  # "else" drops the topic
    chat = qa.session()
    chat.ask("When was Vamp released?")
    it = chat.ask("and who directed it?")  # it: the topic, the answer being a year
    assert it.resolved == "and who directed Vamp?" and labels(it) == ["Richard Wenk"]
    chat = qa.session()
    assert labels(chat.ask("Which films did Richard Wenk direct?")) == ["Vamp"]
    it = chat.ask("When was it released?")  # it: the answer, a film reached backwards over "directed by"
    assert it.resolved == "When was Vamp released?" and labels(it) == ["1986"]
    name = chat.ask("Who directed It Happened One Night?")  # "It" is part of a name here
    assert name.resolved is None and labels(name) == ["Frank Capra"]


def test_what_about_swaps_the_topic_and_ellipsis_keeps_it(qa: KGQA) -> None:
    chat = qa.session()
    chat.ask("When was Vamp released?")
    swapped = chat.ask("What about Dark City?")
    assert swapped.resolved == "When was Dark City released?" and labels(swapped) == ["1950"]
    ellipsis = chat.ask("and the director?")
    assert ellipsis.resolved == "and the director Dark City?" and labels(ellipsis) == ["William Dieterle"]


@pytest.mark.parametrize("wording", ["Same question for Dark City", "and the same for Dark City?"])
def test_the_same_question_for_another_topic(qa: KGQA, wording: str) -> None:
    chat = qa.session()
    chat.ask("When was Vamp released?")
    swapped = chat.ask(wording)
    assert swapped.resolved == "When was Dark City released?" and labels(swapped) == ["1950"]


def test_positional_reference(qa: KGQA) -> None:
    chat = qa.session()
    films = labels(chat.ask("Which films did William Dieterle direct?"))
    assert len(films) >= 2 and "Kismet" in films
    second = chat.ask("When was the second one released?")
    assert second.resolved == f"When was {films[1]} released?"


def test_clarification_then_reply_by_number_words_or_bad_reply(qa: KGQA) -> None:
    chat = qa.session()
    ask = chat.ask("Who directed Kismet?")
    assert ask.clarification is not None and not ask.answers
    options = ask.clarification.options
    assert [o.id for o in options] == ["http://x/Kismet_1944", "http://x/Kismet_1955"]
    assert "release year 1944" in options[0].facts and "directed by Vincente Minnelli" in options[1].facts
    assert "1. Kismet (release year 1944" in ask.text
    again = chat.ask("hmm, not sure")
    assert again.clarification is not None and "did not recognise" in again.text
    assert labels(chat.ask("2")) == ["Vincente Minnelli"]
    chat.ask("Who directed Kismet?")
    picked = chat.ask("the one with Marlene Dietrich")
    assert labels(picked) == ["William Dieterle"] and picked.resolved == "Who directed Kismet?"
    assert picked.mentions[0].id == "http://x/Kismet_1944" and picked.confidence > 0


def test_a_new_question_ends_a_pending_clarification(qa: KGQA) -> None:
    chat = qa.session()
    chat.ask("Who directed Kismet?")
    assert labels(chat.ask("who directed Vamp?")) == ["Richard Wenk"] and chat.pending is None


def test_correction_picks_the_matching_candidate(qa: KGQA) -> None:
    chat = qa.session()
    chat.ask("Who directed Kismet?")
    assert labels(chat.ask("the 1944 one")) == ["William Dieterle"]
    fixed = chat.ask("no, I meant the 1955 one")
    assert labels(fixed) == ["Vincente Minnelli"] and fixed.resolved == "Who directed Kismet?"
    assert labels(chat.ask("no, the other one")) == ["William Dieterle"]
    chat.ask("who directed Vamp?")
    assert "I know no other" in chat.ask("no, I meant the 1999 one").text


def test_empty_turns_are_re_asked(qa: KGQA) -> None:
    chat = qa.session()
    assert chat.ask("   ").text == "Please ask a question."
    chat.ask("Who directed Kismet?")
    assert "Please reply" in chat.ask("").text and chat.pending is not None


def test_history_reaches_the_prompt(qa: KGQA) -> None:
    chat = qa.session()
    chat.ask("When was Vamp released?")
    assert "Earlier question: When was Vamp released?" in chat.ask("who directed it?").prompt


def test_save_and_load_continue_a_pending_clarification(qa: KGQA, tmp_path: Path) -> None:
    chat = qa.session()
    chat.ask("When was Vamp released?")
    chat.ask("Who directed Kismet?")
    chat.save(tmp_path / "s.json")
    back = Session.load(qa, tmp_path / "s.json")
    assert back.id == chat.id and back.turns == chat.turns and back.focus == chat.focus
    assert labels(back.ask("1")) == ["William Dieterle"]


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format": "other"}',
                                     '{"format": "kgqa-session", "version": 1}', "\udcff"])
def test_unreadable_sessions_raise_a_clear_error(qa: KGQA, tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(SessionError, match="bad.json"):
        Session.load(qa, path)
    with pytest.raises(SessionError, match="cannot read"):
        Session.load(qa, tmp_path / "missing.json")


def test_threads_sharing_a_session_are_serialised(qa: KGQA, monkeypatch: pytest.MonkeyPatch) -> None:
    chat = qa.session()
    errors: list[BaseException] = []
    inside, most = [0], [0]
    answer = qa.answer

    def slow_answer(*args: Any, **kwargs: Any) -> Any:  # widens the window in which turns could overlap
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.2)
        try:
            return answer(*args, **kwargs)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(qa, "answer", slow_answer)

    def ask(question: str) -> None:
        try:
            chat.ask(question)
        except BaseException as exc:  # noqa: B036 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(q,)) for q in ("who directed Vamp?", "When was Juarez released?")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(chat.turns) == 2 and all(t.answers for t in chat.turns)
    assert most[0] == 1  # without the session's lock both turns are inside answer() at once


def test_reply_and_correction_rules() -> None:
    options = [Option("a", "Kismet", 1, ("release year 1944",)), Option("b", "Kismet", 1, ("release year 1955",))]
    assert choose("2", options) is options[1] and choose("the first one", options) is options[0]
    assert choose("the 1955 one", options) is options[1] and choose("Kismet", options) is None
    assert choose("7", options) is None and choose("last", options) is options[1]
    assert correction("no, I meant the 1955 one") == "the 1955 one" and correction("I meant Vamp") == "Vamp"
    assert correction("No Country for Old Men") is None and correction("who directed Vamp") is None
    assert is_question("who directed it") and is_question("Vamp?") and not is_question("the 1944 one")


def test_chat_repl(qa: KGQA, tmp_path: Path) -> None:
    lines = iter(["Who directed Dark City?", "/explain", "/sources", "What else did he direct?",
                  "/feedback bad Juarez", "/feedback maybe", "/save " + str(tmp_path / "c.json"), "/nope",
                  "/reset", "/help", "/quit", "never read"])
    out: list[str] = []
    assert Chat(qa.session(), read=lambda _: next(lines), write=out.append).run() == 0
    text = "\n".join(out)
    assert "Answer: William Dieterle" in text and "Relation path:" in text and "[films.nt:" in text
    assert "thanks, feedback recorded" in text and "usage: /feedback" in text and "unknown command /nope" in text
    saved = json.loads((tmp_path / "c.json").read_text())
    assert saved["turns"][1]["resolved"] == "What else did William Dieterle direct?"
    assert qa.feedback_store().examples()[-1].corrected == "Juarez" and next(lines) == "never read"


def test_cli_chat_reads_stdin(kb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("Who directed Kismet?\n2\nWhat else did he direct?\n"))
    assert main(["chat", "--kb", str(kb), "--embedder", "hashing", "--generator", "off"]) == 0
    out = capsys.readouterr().out
    assert 'Which "Kismet" do you mean?' in out and "Answer: Vincente Minnelli" in out


def test_the_conversation_set_is_held_out_and_well_formed() -> None:
    from pipeline.questions import split_of

    path = Path(__file__).resolve().parents[1] / "data" / "conversations.jsonl"
    conversations = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert 60 <= len(conversations) <= 100
    assert {c["kind"] for c in conversations} == {"pronoun", "it", "what-about", "ambiguous"}
    for c in conversations:
        assert 3 <= len(c["turns"]) <= 5
        for t in c["turns"]:
            assert t["clarify"] or t["answers"]
            assert split_of(t["resolved"]) == "heldout"


def test_non_questions_get_their_intent_and_leave_the_conversation_alone(qa: KGQA) -> None:
    chat = qa.session()
    chat.ask("Who directed Dark City?")
    focus, state = chat.focus, chat.state
    for text, intent in (("thanks!", "thanks"), ("hi", "greeting"), ("what's the weather like today?", "off-topic"),
                         ("bye", "goodbye")):
        said = chat.ask(text)
        assert said.intent == intent and not said.answers and not said.citations, text
    assert chat.focus == focus and chat.state == state
    other = chat.ask("What else did he direct?")
    assert other.intent == "follow-up" and other.resolved == "What else did William Dieterle direct?"


def test_help_says_what_the_knowledge_base_holds(qa: KGQA) -> None:
    said = qa.session().ask("what can you do?")
    assert said.intent == "help" and "films.nt" in said.text and "entities" in said.text
    assert "For example:" in said.text and "Kismet" in said.text


def test_a_type_reference_reaches_two_turns_back_and_is_explained(qa: KGQA) -> None:
    chat = qa.session()
    chat.ask("Who directed Dark City?")
    assert labels(chat.ask("When was it released?")) == ["1950"]
    other = chat.ask("What other films did that director make?")
    assert other.resolved == "What other films did director William Dieterle make?"
    assert [(r.text, r.label, r.turn, r.rule) for r in other.references] == [
        ("that director", "William Dieterle", 1, "type")]
    assert "Juarez" in labels(other) and "Dark City" not in labels(other)  # "other": not turn 1's film
    assert '"that director" -> William Dieterle [http://x/William_Dieterle] from turn 1 (by type)' in other.explain()


def test_an_ordered_reference_to_an_earlier_list(qa: KGQA) -> None:
    chat = qa.session()
    films = labels(chat.ask("Which films did William Dieterle direct?"))
    chat.ask("When was the second one released?")
    first = chat.ask("When was the first film released?")  # turn 1's list, two turns back
    assert first.references and first.references[0].label == films[0] and first.references[0].turn == 1


def test_feedback_in_words_is_recorded_on_the_last_answer(qa: KGQA) -> None:
    chat = qa.session()
    answered = chat.ask("Who directed Dark City?")
    said = chat.ask("that's wrong, it was Frank Capra")
    assert said.intent == "feedback" and "Frank Capra" in said.text and not said.answers
    last = qa.feedback_store().examples()[-1]
    assert last.corrected == "Frank Capra" and chat.focus.answers[0][1] == labels(answered)[0]


def test_session_streams_the_final_text_and_persists_by_id(qa: KGQA) -> None:
    chat = qa.session()
    stream = chat.ask_stream("Who directed Dark City?")
    pieces = list(stream)
    assert len(pieces) > 1 and "".join(pieces) == stream.answer.text and chat.turns[-1] is stream.answer
    again = qa.session(chat.id)  # what the HTTP service does with a session id
    assert len(again.turns) == 1 and again.state == chat.state
    assert again.ask("What else did he direct?").resolved == "What else did William Dieterle direct?"


def test_chat_streams_pieces_then_the_details(qa: KGQA) -> None:
    lines = iter(["Who directed Dark City?", "hello", "/quit"])
    out: list[str] = []
    pieces: list[str] = []
    Chat(qa.session(), read=lambda _: next(lines), write=out.append, emit=pieces.append).run()
    text = "".join(pieces)
    assert "The answer is William Dieterle [1].\n" in text and text.count("\n") == 2
    assert any("Answer: William Dieterle" in o for o in out) and "Hello!" in text


def test_an_unknown_chinese_name_is_not_an_ellipsis_of_the_focus() -> None:
    from pipeline.dialogue.followup import _unknown_name

    assert _unknown_name("亚特兰蒂斯的首都是哪里？") and _unknown_name("What is the capital of Atlantis?")
    assert not any(_unknown_name(t) for t in ("那个国家的首都是哪里？", "它的人口呢？", "首都呢？", "and its capital?"))
