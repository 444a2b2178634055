"""``kgqa eval``: question readers, metrics on hand-made predictions, and the command end to end."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from kg.errors import KGQAError, SourceFormatError
from pipeline import KGQA
from pipeline.cli import main
from pipeline.eval import Prediction, Question, metrics, read_questions, sample, summarize
from retrieval.baselines import DenseBaseline
from tests.movies import MOVIES

QUESTIONS = """\
who directed [Kismet]\tWilliam Dieterle
when was [Vamp] released\t1986
which films did [William Dieterle] direct\tKismet|Dark City
who starred in [Kismet]\tMarlene Dietrich
when was [Dark City] released\t1950
"""
QTYPES = "movie_to_director\nmovie_to_year\ndirector_to_movie\nmovie_to_actor\nmovie_to_year\n"


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    (tmp_path / "movies.txt").write_text(MOVIES)
    with KGQA.open(tmp_path / "kb", progress=False, embedder="hashing") as qa:
        qa.index(tmp_path / "movies.txt")
    return tmp_path / "kb"


def test_metaqa_reader_strips_brackets_and_keeps_topic(tmp_path: Path) -> None:
    path = tmp_path / "qa.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(QUESTIONS)
    (tmp_path / "types.txt").write_text(QTYPES)
    qs = read_questions(path, "metaqa", tmp_path / "types.txt")
    assert len(qs) == 5
    assert qs[0].text == "who directed Kismet" and qs[0].topic == "Kismet" and qs[0].qtype == "movie_to_director"
    assert qs[0].topic_span == (13, 19) and qs[0].text[13:19] == "Kismet"
    assert qs[2].gold == frozenset({"Kismet", "Dark City"})


def test_tsv_reader_with_optional_topic(tmp_path: Path) -> None:
    path = tmp_path / "qa.tsv"
    path.write_text("who directed Kismet?\tWilliam Dieterle\tKismet\nwhen was Vamp released?\t1986\n")
    qs = read_questions(path, "tsv")
    assert qs[0].topic == "Kismet" and qs[1].topic is None and qs[1].gold == frozenset({"1986"})


@pytest.mark.parametrize("fmt, text", [("metaqa", "who directed Kismet\tWilliam Dieterle\n"),
                                       ("tsv", "ok?\ta\nonly a question\n")])
def test_bad_line_names_file_and_line(tmp_path: Path, fmt: str, text: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(SourceFormatError) as info:
        read_questions(path, fmt)
    line = text.count("\n")
    assert f"bad.txt:{line}" in str(info.value)


def test_type_file_of_another_length(tmp_path: Path) -> None:
    (tmp_path / "qa.txt").write_text(QUESTIONS)
    (tmp_path / "types.txt").write_text("a\nb\n")
    with pytest.raises(SourceFormatError, match="2 types for 5 questions"):
        read_questions(tmp_path / "qa.txt", "metaqa", tmp_path / "types.txt")


def test_sample_is_seeded_and_limited() -> None:
    qs = [Question(f"q{i}", frozenset({"a"})) for i in range(20)]
    assert sample(qs, 3, None) == qs[:3]
    assert sample(qs, 5, 1) == sample(qs, 5, 1) and len(sample(qs, 5, 1)) == 5
    assert sample(qs, None, 1) == qs
    with pytest.raises(KGQAError):
        sample(qs, 0, None)


def test_metrics_on_hand_made_predictions() -> None:
    q1 = Question("a", frozenset({"x", "y"}), "t1", "one")
    q2 = Question("b", frozenset({"z"}), "t2", "two")
    preds = [
        Prediction(q1, ("x", "w"), ("path",), 1, 10.0, "t1", True),  # p=.5 r=.5 f1=.5, hit
        Prediction(q2, ("z",), ("path",), 0, 30.0, "other", True),  # exact, hit, linker miss
    ]
    m = metrics(preds)
    assert m["n"] == 2 and m["hits@1"] == 1.0 and m["exact"] == 0.5
    assert m["precision"] == 0.75 and m["recall"] == 0.75 and m["f1"] == 0.75
    assert m["linker@1"] == 0.5 and m["uncited"] == round(1 / 3, 4)
    assert m["latency_ms"]["max"] == 30.0 and m["latency_ms"]["p50"] == 20.0
    assert m["by_type"] == {"one": {"n": 1, "hits@1": 1.0, "f1": 0.5}, "two": {"n": 1, "hits@1": 1.0, "f1": 1.0}}
    empty = metrics([Prediction(q2, (), (), 0, 1.0)])
    assert empty["hits@1"] == 0.0 and empty["f1"] == 0.0 and empty["linker@1"] is None
    summary = summarize({"a": preds, "b": preds[:1]})
    assert summary["n"] == 2 and set(summary["systems"]) == {"a", "b"}


def test_dense_baseline_from_tuples() -> None:
    from model.embedders import open_embedder

    triples = [("k", "directed_by", "w", "Kismet", "William Dieterle"),
               ("v", "directed_by", "r", "Vamp", "Richard Wenk")]
    found = DenseBaseline(open_embedder("hashing"), triples).answer("who directed Vamp")
    assert found is not None and found.id == "r" and "Vamp" in found.sentence


def _eval(kb: Path, tmp_path: Path, *extra: str) -> int:
    (tmp_path / "qa.txt").write_text(QUESTIONS)
    (tmp_path / "types.txt").write_text(QTYPES)
    return main(["eval", "--kb", str(kb), "--questions", str(tmp_path / "qa.txt"), "--qtypes",
                 str(tmp_path / "types.txt"), "--embedder", "hashing", *extra])


def test_cli_eval_json_both_systems(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _eval(kb, tmp_path, "--systems", "kgqa,dense", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"n", "hits@1", "f1", "latency_ms", "by_type", "systems"}
    assert list(out["systems"]) == ["kgqa", "dense"] and out["n"] == 5
    assert set(out["latency_ms"]) == {"p50", "p95", "max"}
    assert out["hits@1"] == out["systems"]["kgqa"]["hits@1"] and "movie_to_year" in out["by_type"]
    assert all(0.0 <= s["f1"] <= 1.0 for s in out["systems"].values())


def test_cli_eval_topic_given_and_table(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _eval(kb, tmp_path, "--topic-given", "--limit", "3", "--seed", "2", "--no-progress") == 0
    out = capsys.readouterr().out
    assert "3 questions" in out and "gold topic given" in out and out.count("\nkgqa ") == 1


def test_cli_eval_out_writes_files(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert _eval(kb, tmp_path, "--systems", "kgqa,dense", "--out", str(out), "--json") == 0
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["systems"]) == {"kgqa", "dense"}
    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    assert len(rows) == 10 and set(rows[0]) >= {"system", "question", "gold", "predicted", "cited", "correct"}
    if importlib.util.find_spec("matplotlib") is not None:
        for name in ("accuracy_by_type.png", "latency.png", "systems.png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name, expected", [("bogus", "unknown system 'bogus'"), ("llamaindex", "out of scope")])
def test_unknown_system_is_a_clear_error(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         name: str, expected: str) -> None:
    assert _eval(kb, tmp_path, "--systems", f"kgqa,{name}") == 2
    err = capsys.readouterr().err
    assert expected in err and "kgqa, dense" in err
