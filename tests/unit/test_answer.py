"""``KGQA.ask`` and the ``Answer`` it returns: JSON, explanation, diagrams, streaming, generation."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.fakes import ScriptedGenerator
from pipeline import KGQA
from pipeline.api import GeneratorUnavailable
from pipeline.cli import main
from pipeline.types import Answer, AnswerItem, Citation, CitedTriple, LinkedMention, RelationChoice
from tests.conftest import index_kb
from tests.movies import MOVIES


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return index_kb(tmp_path_factory.mktemp("answer"), {"movies.txt": MOVIES})


@pytest.fixture()
def qa(kb: Path) -> Iterator[KGQA]:
    with KGQA.open(kb, progress=False, embedder="hashing", generator="off") as qa:
        yield qa


def test_ask_answers_with_citations_and_provenance(qa: KGQA) -> None:
    ans = qa.ask("Who directed Kismet?")
    assert [a.label for a in ans.answers] == ["William Dieterle"] and len(ans.id) == 32
    assert ans.text == f"The answer is William Dieterle [{ans.answers[0].citations[0]}]."
    cited = ans.citations[ans.answers[0].citations[0] - 1]
    assert cited.kind == "path" and cited.nodes == ("Kismet", "William Dieterle")
    assert (cited.triples[0].source, cited.triples[0].line, cited.predicates) == ("movies.txt", 1, ("directed_by",))
    assert ans.mentions[0].id == "Kismet" and ans.relation_path and ans.relation_path.path == "directed_by"
    assert 0 < ans.confidence <= 1 and ans.fallback and ans.generated is None
    assert {"link", "retrieve", "check", "total"} <= set(ans.timings)


def test_answer_json_round_trip(qa: KGQA) -> None:
    ans = qa.ask("When was Vamp released?")
    data = json.loads(json.dumps(ans.to_dict()))
    assert Answer.from_dict(data) == ans
    assert Answer.from_dict({**data, "unknown": 1}) == ans
    with pytest.raises(ValueError):
        Answer.from_dict({**data, "answers": "not a list"})
    with pytest.raises(ValueError):
        Answer.from_dict({"id": "x"})


def test_nothing_to_answer_is_a_result(qa: KGQA) -> None:
    assert qa.ask("").text == "Please ask a question."
    none = qa.ask("what is the airspeed of an unladen swallow")
    assert none.note == "no entity found" and none.confidence == 0 and "no entity" in none.text


def test_explain_reads_from_entities_to_answer(qa: KGQA) -> None:
    text = qa.ask("Who directed Kismet?").explain()
    order = ["Linked entities:", '"Kismet" -> Kismet', "Relation path: Kismet -> directed by", "Paths:",
             "Kismet -directed_by-> William Dieterle", "(movies.txt:1)", "Answer: William Dieterle [1]"]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)


def _odd_answer() -> Answer:
    odd = 'Say "hi" <b>#1</b>\\ then\nmore'
    triple = CitedTriple("q1", "p:x", "q2", 'named "p"', "odd.nt", 3)
    return Answer("id", "q?", "text [1]", (AnswerItem("q2", odd, 1.0, (1,)),),
                  (Citation(1, "path", "...", ("q1", "q2"), ("A & B", odd), (triple,)),), (1,),
                  mentions=(LinkedMention("A", "q1", "A & B", 1.0),),
                  relation_path=RelationChoice("q1", "A & B", "p:x", "named p", 0.5))


def test_mermaid_escapes_labels_and_uses_safe_ids() -> None:
    chart = _odd_answer().to_mermaid()
    assert chart.startswith("flowchart LR")
    assert 'n1["Say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt;\\ then more"]:::answer' in chart
    assert 'n0 -->|"named #quot;p#quot;"| n1' in chart and "n0[\"A & B\"]:::topic" in chart
    for line in chart.splitlines()[1:]:
        assert line.count('"') in (0, 2)


def test_dot_escapes_labels_and_uses_safe_ids() -> None:
    graph = _odd_answer().to_dot()
    assert graph.startswith("digraph cited {") and graph.endswith("}")
    assert 'n1 [label="Say \\"hi\\" <b>#1</b>\\\\ then\\nmore"' in graph
    assert 'n0 -> n1 [label="named \\"p\\""];' in graph
    assert re.findall(r"^\s+(\w+) \[label", graph, re.M) == ["n0", "n1"]


def test_generated_text_is_checked(kb: Path) -> None:
    fake = ScriptedGenerator("Kismet was directed by William Dieterle [1].")
    with KGQA.open(kb, progress=False, embedder="hashing", generator=fake) as qa:
        good = qa.ask("Who directed Kismet?")
        assert not good.fallback and good.text == "Kismet was directed by William Dieterle [1]." and good.cited == (1,)
        assert "generate" in good.timings and fake.prompts[-1] == good.prompt
        fake.text = "It was Steven Spielberg [9]."
        bad = qa.ask("Who directed Kismet?")
        assert bad.fallback and bad.problems and bad.text.startswith("The answer is William Dieterle")
        assert qa.ask("Who directed Kismet?", generate=False).generated is None


def test_stream_yields_pieces_then_the_answer(kb: Path) -> None:
    fake = ScriptedGenerator("Kismet was directed by William Dieterle [1].")
    with KGQA.open(kb, progress=False, embedder="hashing", generator=fake) as qa:
        stream = qa.ask_stream("Who directed Kismet?")
        pieces = list(stream)
        last = stream.answer
    assert len(pieces) > 2 and all(isinstance(p, str) for p in pieces) and isinstance(last, Answer)
    assert "".join(pieces) == last.generated and not last.fallback


def test_stream_without_generator_and_required_generation(qa: KGQA) -> None:
    stream = qa.ask_stream("Who directed Kismet?")
    pieces = list(stream)
    assert len(pieces) > 1 and isinstance(stream.answer, Answer) and "".join(pieces) == stream.answer.text
    with pytest.raises(GeneratorUnavailable):
        qa.ask("Who directed Kismet?", generate=True)
    assert qa.generator() is None


def test_history_reaches_the_prompt(qa: KGQA) -> None:
    ans = qa.ask("When was Vamp released?", history=[("Who directed Vamp?", "Richard Wenk [1].")])
    assert "Earlier question: Who directed Vamp?" in ans.prompt


def test_cli_ask_explain_and_json(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    common = ["--kb", str(kb), "--embedder", "hashing", "--generator", "off"]
    assert main(["ask", "Who directed Kismet?", *common, "--explain"]) == 0
    assert "Relation path: Kismet -> directed by" in capsys.readouterr().out
    assert main(["ask", "Who directed Kismet?", *common, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answers"][0]["label"] == "William Dieterle" and data["citations"][0]["triples"][0]["line"] == 1
    assert main(["ask", "Who directed Kismet?", *common]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Answer: William Dieterle [1]") and "Evidence:" in text and "[movies.txt:1]" in text
