"""``kgqa eval``: question readers, the split, hops, metrics on hand-made predictions, and the command end to end."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from kg.errors import KGQAError, SourceFormatError
from pipeline import KGQA
from pipeline.cli import main
from pipeline.evaluation.metrics import metrics, summarize
from pipeline.evaluation.report import hop_table
from pipeline.evaluation.systems import Prediction
from pipeline.questions import Question, expand, hop_of, load_questions, read_questions, sample, split_of
from retrieval.baselines import DenseBaseline

QUESTIONS = """\
who directed [Kismet]\tWilliam Dieterle
when was [Vamp] released\t1986
which films did [William Dieterle] direct\tKismet|Dark City
who starred in [Kismet]\tMarlene Dietrich
when was [Dark City] released\t1950
"""
QTYPES = "movie_to_director\nmovie_to_year\ndirector_to_movie\nmovie_to_actor\nmovie_to_year\n"


@pytest.fixture()
def kb(movies_kb: Path) -> Path:
    return movies_kb


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
                 str(tmp_path / "types.txt"), "--embedder", "hashing", "--split", "all", *extra])


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
        assert not (out / "systems_by_hop.png").exists()  # one file, no hops


def test_unknown_system_is_a_clear_error(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _eval(kb, tmp_path, "--systems", "kgqa,bogus") == 2
    err = capsys.readouterr().err
    assert "unknown system 'bogus'" in err and "kgqa, kgqa-zero-shot, dense, llamaindex" in err


def _hop_files(tmp_path: Path) -> list[Path]:
    """The five questions as 1-hop and their variants as 2-hop, each with a type file."""
    paths = []
    for hop, text in ((1, QUESTIONS), (2, QUESTIONS.replace("[", "the [").replace(" the the", " the"))):
        (tmp_path / f"{hop}-hop").mkdir()
        (tmp_path / f"{hop}-hop/qa_dev.txt").write_text(text)
        (tmp_path / f"{hop}-hop/qa_dev_qtype.txt").write_text(QTYPES)
        paths.append(tmp_path / f"{hop}-hop/qa_dev.txt")
    return paths


@pytest.mark.parametrize("path, hop", [("data/metaqa/2-hop/qa_dev.txt.gz", "2-hop"), ("x/3hop_dev.tsv", "3-hop"),
                                       ("qa/1-HOP/x.txt", "1-hop"), ("data/qa_dev.txt", None), ("ship-hop/x", None)])
def test_hop_of_path(path: str, hop: str | None) -> None:
    assert hop_of(Path(path)) == hop


def test_expand_globs_sorted_and_missing(tmp_path: Path) -> None:
    paths = _hop_files(tmp_path)
    assert expand([str(tmp_path / "*-hop/qa_dev.txt")]) == paths
    assert expand([paths[1], paths[0]]) == [paths[1], paths[0]]
    with pytest.raises(KGQAError, match="no file matches"):
        expand([str(tmp_path / "*/nothing*.txt")])


def test_load_questions_split_hops_and_limit(tmp_path: Path) -> None:
    paths = _hop_files(tmp_path)
    types = [p.with_name("qa_dev_qtype.txt") for p in paths]
    everything = load_questions(paths, "metaqa", types, "all")
    assert len(everything) == 10 and [q.hop for q in everything] == ["1-hop"] * 5 + ["2-hop"] * 5
    assert everything[5].qtype == "movie_to_director"
    held = load_questions(paths, "metaqa", types)  # metaqa: held-out by default
    train = load_questions(paths, "metaqa", types, "train")
    assert held and train and len(held) + len(train) == 10
    assert all(split_of(q.text) == "heldout" for q in held) and all(split_of(q.text) == "train" for q in train)
    assert len(load_questions(paths, "metaqa", (), "all", limit=2)) == 4  # the limit is per file
    assert load_questions(paths, "metaqa", (), "all", 2, 7) == load_questions(paths, "metaqa", (), "all", 2, 7)
    (tmp_path / "qa.tsv").write_text("who directed Kismet?\tWilliam Dieterle\n")
    only_file = load_questions([tmp_path / "qa.tsv"], "tsv")  # tsv: every question by default, no hop
    assert len(only_file) == 1 and only_file[0].hop is None
    with pytest.raises(KGQAError, match="1 question-type files for 2"):
        load_questions(paths, "metaqa", types[:1])
    with pytest.raises(KGQAError, match="unknown split"):
        load_questions(paths, "metaqa", (), "dev")


def test_by_hop_metrics() -> None:
    q1 = Question("a", frozenset({"x"}), hop="1-hop")
    q2 = Question("b", frozenset({"z"}), hop="2-hop")
    preds = [Prediction(q1, ("x",), (), 0, 10.0), Prediction(q1, ("y",), (), 0, 20.0),
             Prediction(q2, ("z",), (), 0, 40.0)]
    m = metrics(preds)
    assert m["by_hop"] == {"1-hop": {"n": 2, "hits@1": 0.5, "f1": 0.5, "p50_ms": 15.0},
                           "2-hop": {"n": 1, "hits@1": 1.0, "f1": 1.0, "p50_ms": 40.0}}
    summary = summarize({"kgqa": preds})
    assert summary["by_hop"] == m["by_hop"]
    table = hop_table(summary)
    assert "1-hop" in table and "0.500 (n=2)" in table and "0.667 (n=3)" in table
    assert metrics(preds[:1] + [Prediction(Question("c", frozenset()), (), (), 0, 1.0)])["by_hop"]["1-hop"]["n"] == 1


def test_cli_eval_per_hop_with_llamaindex(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _hop_files(tmp_path)
    out = tmp_path / "report"
    argv = ["eval", "--kb", str(kb), "--questions", str(tmp_path / "*-hop/qa_dev.txt"), "--qtypes",
            str(tmp_path / "*-hop/qa_dev_qtype.txt"), "--embedder", "hashing", "--split", "all", "--topic-given",
            "--systems", "kgqa,dense,llamaindex", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "10 questions (all)" in text and "1-hop" in text and "2-hop" in text and "\nllamaindex " in text
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["by_hop"]) == {"1-hop", "2-hop"} and summary["by_hop"]["1-hop"]["n"] == 5
    assert list(summary["systems"]) == ["kgqa", "dense", "llamaindex"]
    assert summary["systems"]["llamaindex"]["hits@1"] > 0  # the topic's triplets hold some answers
    rows = [json.loads(line) for line in (out / "questions.jsonl").read_text().splitlines()]
    assert {r["hop"] for r in rows} == {"1-hop", "2-hop"} and len(rows) == 30
    if importlib.util.find_spec("matplotlib") is not None:
        assert (out / "systems_by_hop.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.name for p in (kb / "baselines").iterdir()} == {"dense-hashing.npy", "dense-hashing.json",
                                                              "llamaindex-hashing.npy", "llamaindex-hashing.json"}


def test_cli_eval_split_defaults_to_heldout(kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "qa.txt").write_text(QUESTIONS)
    assert main(["eval", "--kb", str(kb), "--questions", str(tmp_path / "qa.txt"), "--embedder", "hashing",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3  # 3 of the 5 questions are held out


def test_dense_vectors_are_cached_per_store_change(kb: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from model.embedders import HashingEmbedder

    calls: list[int] = []
    real = HashingEmbedder.passage
    monkeypatch.setattr(HashingEmbedder, "passage", lambda self, texts: calls.append(len(texts)) or real(self, texts))
    cache = kb / "baselines" / "dense-hashing.npy"
    with KGQA.open(kb, progress=False, embedder="hashing") as qa:
        first = DenseBaseline.from_store(qa.kb.store, HashingEmbedder(), cache)
        again = DenseBaseline.from_store(qa.kb.store, HashingEmbedder(), cache)
        assert calls == [7] and again.sentences == first.sentences
        (kb.parent / "more.txt").write_text("Juarez|directed_by|William Dieterle\n")
        qa.index(kb.parent / "more.txt")
        DenseBaseline.from_store(qa.kb.store, HashingEmbedder(), cache)
    assert calls == [7, 8] and json.loads(cache.with_suffix(".json").read_text())["count"] == 8
