"""Weak supervision of the path scorer and its LoRA training, with a tiny random BERT (no download)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.kb import KnowledgeBase
from model.path_scorer import PathExample, TrainConfig, TrainedPathScorer, train_scorer
from pipeline.cli import main
from pipeline.questions import Question, split_of
from pipeline.training.supervision import Supervision, build_examples, generic_examples, vote
from retrieval.paths import PathConfig, PathRetriever
from tests.conftest import index_kb
from tests.movies import MOVIES
from tests.tiny_models import MORE
from tests.tiny_models import tiny_bert as _tiny_bert


@pytest.fixture()
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    with KnowledgeBase.open(index_kb(tmp_path, {"movies.txt": MOVIES + MORE}), progress=False) as kb:
        yield kb


def _q(text: str, topic: str, *gold: str) -> Question:
    start = text.index(topic)
    return Question(text, frozenset(gold), topic, topic_span=(start, start + len(topic)))


def test_weak_supervision_finds_the_path_that_reaches_the_answers(kb: KnowledgeBase) -> None:
    questions = [_q("who directed Kismet", "Kismet", "William Dieterle"),
                 _q("which films share a director with Kismet", "Kismet", "Dark City"),
                 _q("when was Vamp released", "Vamp", "1986"),
                 _q("who knows Nobody", "Nobody", "x")]  # topic not in the KB: no example
    found = build_examples(kb.store, questions, Supervision(exclude_topic=True), progress=False)
    assert [e.question for e in found] == ["who directed", "which films share a director with",
                                          "when was released"]
    assert found[0].positives == ("directed by",)
    assert "release year" in found[0].negatives and "directed by" not in found[0].negatives
    # Dark City shares both the director and an actor with Kismet: both two-hop paths tie
    assert set(found[1].positives) == {"directed by of directed by", "starred actors of starred actors"}
    assert found[2].positives == ("release year",)


def test_known_hop_count_restricts_positives(kb: KnowledgeBase) -> None:
    # Vamp's director also wrote it: "directed by" and "written by" tie; two hops are asked for
    q = _q("who wrote the films directed by the director of Vamp", "Vamp", "Richard Wenk")
    any_hops = build_examples(kb.store, [q], Supervision(), progress=False)[0]
    assert {"directed by", "written by"} <= set(any_hops.positives)
    two = build_examples(kb.store, [q], Supervision(hops=2), progress=False)
    assert all(" of " in p for e in two for p in e.positives)


def test_vote_keeps_the_positives_questions_worded_alike_agree_on() -> None:
    examples = [PathExample("who wrote", ("written by",), ("x",)),
                PathExample("who wrote", ("written by", "directed by"), ("x",)),
                PathExample("who directed", ("directed by", "written by"), ("x",))]
    voted = vote(examples)
    assert voted[1].positives == ("written by",)
    assert voted[2].positives == ("directed by", "written by")  # no one else to agree with


def test_generic_examples_teach_hop_order() -> None:
    found = generic_examples(["capital", "currency", "official language", "head"], 50, seed=3)
    assert len(found) == 50
    two_hop = [e for e in found if " of " in e.positives[0]]
    assert two_hop
    for e in two_hop:
        r2, r1 = e.positives[0].split(" of ")
        assert f"{r1} of {r2}" in e.negatives and e.positives[0] not in e.negatives


def test_training_writes_an_adapter_and_card_that_score_the_right_path_first(tmp_path: Path) -> None:
    base = _tiny_bert(tmp_path)
    train = [PathExample("who directed", ("directed by",), ("release year", "starred actors")),
             PathExample("when was released", ("release year",), ("directed by", "starred actors")),
             PathExample("who starred in", ("starred actors",), ("directed by", "release year"))] * 8
    config = TrainConfig(epochs=12, batch_size=8, lr=5e-3, r=4, patience=20)
    card = train_scorer(train, train[:3], tmp_path / "adapter", config, "cpu", base, progress=False,
                        card={"command": "test"})
    assert card["validation_path_accuracy"] == 1.0 > card["epochs"][0]["validation_path_accuracy"] or \
        card["epochs"][0]["validation_path_accuracy"] == 1.0
    saved = json.loads((tmp_path / "adapter" / "card.json").read_text())
    assert saved["command"] == "test" and saved["train_examples"] == 24 and len(saved["data_sha256"]) == 64
    scorer = TrainedPathScorer.load(tmp_path / "adapter", "cpu", base)
    paths = ["release year", "directed by", "starred actors"]
    scores = scorer.score("who directed", paths)
    assert max(range(3), key=scores.__getitem__) == 1
    assert scorer.hop_penalty == 0.0 and not list(tmp_path.glob(".adapter*"))  # no temporary left


def test_training_rejects_empty_data(tmp_path: Path) -> None:
    from kg.errors import KGQAError

    with pytest.raises(KGQAError, match="no training examples"):
        train_scorer([], [], tmp_path / "a", progress=False)
    with pytest.raises(KGQAError, match="positive and one negative"):
        train_scorer([PathExample("q", ("p",), ())], [], tmp_path / "a", progress=False)


def test_load_rejects_a_directory_without_adapter(tmp_path: Path) -> None:
    from kg.errors import KGQAError

    with pytest.raises(KGQAError, match="no path-scorer adapter"):
        TrainedPathScorer.load(tmp_path)


def test_retriever_uses_the_scorers_hop_penalty() -> None:
    class Flat:
        hop_penalty = 0.0

        def score(self, question: str, paths: list[str]) -> list[float]:
            return [1.0 if " of " in p else 0.9 for p in paths]

    from retrieval.graph_index import GraphIndex

    graph = GraphIndex.from_edges(["a", "b"], ["r", "s"], ["b", "c"], [1, 2], ["t", "t"], [1, 2], [None, None])
    ranked = PathRetriever(graph, Flat(), PathConfig()).score_paths("q", "a")
    assert ranked[0].text == "s of r"  # no penalty: the two-hop path's higher score wins
    penalised = PathRetriever(graph, Flat(), PathConfig(hop_penalty=0.2)).score_paths("q", "a")
    assert penalised[0].text == "r"


def test_cli_train_scorer_errors_clearly_without_examples(tmp_path: Path, kb: KnowledgeBase,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    kb.close()
    questions = tmp_path / "q.txt"
    lines = [f"who knows [Nobody{i}]\tx" for i in range(40)]
    questions.write_text("\n".join(lines) + "\n")
    assert any(split_of(line.split("\t")[0]) == "train" for line in lines)
    code = main(["train", "scorer", "--kb", str(tmp_path / "kb"), "--questions", str(questions),
                 "--out", str(tmp_path / "out"), "--no-progress", "--validation", "2"])
    assert code == 2 and "no training examples" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
