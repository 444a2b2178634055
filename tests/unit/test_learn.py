"""``kgqa learn``: feedback -> examples, training from the live adapter, promotion only when no worse.

A tiny random BERT (tests/tiny_models.py) stands in for MiniLM, so nothing is downloaded.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path

import pytest

from kg.kb import KnowledgeBase
from model.embedders import HashingEmbedder
from model.path_scorer import TrainConfig, TrainedPathScorer, path_accuracy, train_scorer
from model.registry import SHIPPED_SCORER, read_history
from model.scorer import ZeroShotPathScorer
from pipeline.cli import main
from pipeline.feedback import FeedbackStore
from pipeline.questions import Question, split_of
from pipeline.training.learning import learn
from pipeline.training.supervision import Supervision, build_examples
from pipeline.types import Answer, AnswerItem, LinkedMention
from pipeline.wiring import path_scorer
from tests.conftest import index_kb
from tests.movies import MOVIES
from tests.tiny_models import MORE, tiny_bert

FAST = TrainConfig(epochs=20, batch_size=8, lr=1e-2, r=4)
DIRECTOR = {"Kismet": "William Dieterle", "Dark City": "William Dieterle", "Vamp": "Richard Wenk"}
YEAR = {"Kismet": "1944", "Dark City": "1950", "Vamp": "1986"}
# (question, topic, right answer, swapped answer): the questions' split is fixed by their text
QUESTIONS = [(f"who directed {m}", m, DIRECTOR[m], YEAR[m]) for m in DIRECTOR] + \
            [(f"when was {m} released", m, YEAR[m], DIRECTOR[m]) for m in YEAR]
TRAIN = [q for q in QUESTIONS if split_of(q[0]) == "train"]
HELD = [q for q in QUESTIONS if split_of(q[0]) == "heldout"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture()
def kb(tmp_path: Path) -> Path:
    return index_kb(tmp_path, {"movies.txt": MOVIES + MORE})


def _live(kb: Path, base: Path, answer: int) -> Path:
    """Train an adapter on the questions (answer 2: right, 3: swapped) and make it the live one."""
    questions = [Question(q[0], frozenset({q[answer]}), q[1], topic_span=(q[0].index(q[1]), q[0].index(q[1]) +
                                                                               len(q[1]))) for q in QUESTIONS]
    with KnowledgeBase.open(kb, read_only=True, progress=False) as opened:
        examples = build_examples(opened.store, questions, Supervision(), progress=False)
    out = kb / "learning" / "scorer-000"
    train_scorer(examples * 4, [], out, FAST, "cpu", base, progress=False)
    (kb / "learning" / "history.json").write_text(json.dumps(
        {"format": 1, "live": "scorer-000", "base": str(base), "feedback_seen": 0, "runs": []}))
    return out


def _give(kb: Path, items: list[tuple[str, str, str, bool, str | None]]) -> None:
    """Record an answer per (question, topic, given answer, right?, correction) and its feedback."""
    with FeedbackStore.open(kb) as store:
        for question, topic, given, correct, corrected in items:
            answer = Answer(uuid.uuid4().hex, question, f"{given}.", answers=(AnswerItem(given, given, 1.0),),
                            mentions=(LinkedMention(topic, topic, topic, 1.0),))
            store.record(answer)
            store.add(answer.id, correct, corrected)


def test_questions_fall_on_both_sides_of_the_split() -> None:
    assert len(TRAIN) == 3 and len(HELD) == 3  # the tests below rely on it


def test_corrective_feedback_repairs_a_weakened_scorer_and_is_promoted(kb: Path, base: Path) -> None:
    _live(kb, base, answer=3)  # trained on swapped answers: picks the year for "who directed"
    _give(kb, [(q, topic, swapped, False, right) for q, topic, right, swapped in QUESTIONS])
    _give(kb, [("who directed Nobody", "Nobody", "x", False, "y"), ("who directed Kismet", "Kismet", "1944",
                                                                    False, None)])
    report = learn(kb, config=FAST, base=base, device="cpu", generic=10, progress=False)
    assert (report.feedback, report.examples, report.validation_added, report.validation) == (8, 3, 3, 3)
    assert report.skipped == {"no relation path reaches the answer": 1,
                              "wrong without a correction (no right path to learn)": 1}
    assert report.trained and report.promoted and report.before is not None and report.after is not None
    assert report.after > report.before
    assert report.started_from == "scorer-000"
    assert report.live == str(kb.resolve() / "learning" / "scorer-001") == report.adapter
    history = read_history(kb)
    assert history["live"] == "scorer-001" and history["feedback_seen"] == 8
    run = history["runs"][-1]
    assert run["promoted"] and run["before"] == report.before and ">=" in run["reason"]
    # answering now uses the learned adapter (hashing embedder: without it, zero-shot)
    scorer = path_scorer("auto", HashingEmbedder(), kb)
    assert isinstance(scorer, TrainedPathScorer) and scorer.card["learning_run"] == 1
    assert isinstance(path_scorer("auto", HashingEmbedder(), kb.parent), ZeroShotPathScorer)


def test_held_out_feedback_alone_grows_the_validation_slice_and_waits(kb: Path, base: Path) -> None:
    _live(kb, base, answer=2)
    _give(kb, [(q, topic, right, True, None) for q, topic, right, _ in HELD])
    report = learn(kb, config=FAST, base=base, device="cpu", progress=False)
    assert not report.trained and "fewer than the 1 needed" in report.reason
    assert report.validation == 3 and read_history(kb)["feedback_seen"] == 0  # kept for the next run
    again = learn(kb, config=FAST, base=base, device="cpu", progress=False)
    assert again.validation == 3 and again.validation_added == 3  # made again, not added twice
    assert len((kb / "learning" / "validation.jsonl").read_text().splitlines()) == 3


def test_wrong_corrections_make_a_worse_adapter_that_is_not_promoted(kb: Path, base: Path) -> None:
    _live(kb, base, answer=2)
    _give(kb, [(q, topic, right, True, None) for q, topic, right, _ in HELD])  # validation: right
    _give(kb, [(q, topic, right, False, swapped) for q, topic, right, swapped in TRAIN])  # training: wrong
    report = learn(kb, config=FAST, base=base, device="cpu", generic=0, progress=False)
    assert report.trained and not report.promoted
    assert report.before == 1.0 and report.after is not None and report.after < report.before
    assert "stays live" in report.reason and report.live.endswith("scorer-000")
    history = read_history(kb)
    assert history["live"] == "scorer-000" and history["feedback_seen"] == 6
    assert history["runs"][-1]["adapter"] == "scorer-001.rejected" and not history["runs"][-1]["promoted"]
    assert (kb / "learning" / "scorer-001.rejected" / "adapter_config.json").exists()
    assert not (kb / "learning" / "scorer-001").exists()
    assert isinstance(path_scorer("auto", HashingEmbedder(), kb), TrainedPathScorer)
    rows = [json.loads(line) for line in (kb / "learning" / "examples.jsonl").read_text().splitlines()]
    assert {r["run"] for r in rows} == {1}  # kept, but a rejected run is never replayed
    assert not learn(kb, config=FAST, base=base, progress=False).trained  # its feedback was read


def test_no_feedback_trains_nothing(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = learn(kb, progress=False)
    assert not report.trained and not report.promoted and "no new feedback" in report.reason
    assert report.live in ("zero-shot", str(SHIPPED_SCORER))
    assert main(["learn", "--kb", str(kb), "--embedder", "hashing"]) == 0
    out = capsys.readouterr().out
    assert "nothing trained: no new feedback" in out and "feedback: 0 new pieces" in out
    assert not list((kb / "learning").glob("scorer-*")) and not (kb / "learning" / "history.json").exists()


def test_cli_learn_json(kb: Path, base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _give(kb, [(q, topic, right, True, None) for q, topic, right, _ in QUESTIONS])
    code = main(["learn", "--kb", str(kb), "--json", "--base", str(base), "--embedder", "hashing",
                 "--epochs", "1", "--generic", "5", "--device", "cpu"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["trained"] and report["examples"] == 3 and report["started_from"] == "zero-shot"
    assert isinstance(report["before"], float) and isinstance(report["after"], float)
    assert read_history(kb)["runs"][0]["promoted"] == report["promoted"]


def test_accuracy_takes_any_scorer() -> None:
    from model.path_scorer import PathExample

    class Words:
        def score(self, question: str, paths: list[str]) -> list[float]:
            return [float(len(set(question.split()) & set(p.split()))) for p in paths]

    examples = [PathExample("who directed", ("directed by",), ("release year",)),
                PathExample("who played", ("starred actors",), ("played by", "directed by")),
                PathExample("what", ("release year",), ("directed by",))]  # a tie goes to the positive
    assert path_accuracy(Words(), examples) == pytest.approx(2 / 3)
    assert path_accuracy(Words(), []) == 0.0


def test_wiring_ignores_a_live_adapter_that_is_missing(kb: Path, caplog: pytest.LogCaptureFixture) -> None:
    (kb / "learning").mkdir()
    (kb / "learning" / "history.json").write_text(json.dumps({"live": "scorer-009", "runs": []}))
    with caplog.at_level(logging.WARNING):
        assert isinstance(path_scorer("auto", HashingEmbedder(), kb), ZeroShotPathScorer)
    assert "is missing" in caplog.text


def test_learn_needs_a_knowledge_base(tmp_path: Path) -> None:
    from kg.errors import KGQAError

    with pytest.raises(KGQAError, match="no knowledge base"):
        learn(tmp_path / "nothing", progress=False)
    assert not (tmp_path / "nothing").exists()


def test_a_crash_while_training_leaves_the_history_as_it_was(kb: Path, base: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from kg.errors import KGQAError
    from pipeline.training import learning

    def crash(*args: object, **kwargs: object) -> None:
        raise KGQAError("killed mid-training")

    _give(kb, [(q, topic, right, True, None) for q, topic, right, _ in QUESTIONS])
    monkeypatch.setattr(learning, "train_scorer", crash)
    with pytest.raises(KGQAError, match="killed"):
        learn(kb, config=FAST, base=base, embedder="hashing", progress=False)
    assert not (kb / "learning" / "history.json").exists() and not list((kb / "learning").glob("scorer-*"))
    assert read_history(kb)["feedback_seen"] == 0 and read_history(kb)["live"] is None
    assert len((kb / "learning" / "validation.jsonl").read_text().splitlines()) == 3  # it only grows
