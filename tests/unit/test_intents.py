"""Intent recognition: rules where they are clear, the trained classifier elsewhere, one test per intent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.chinese import has_cjk
from model.embedders import HashingEmbedder
from pipeline.dialogue.intents import INTENTS, Intent, IntentClassifier, load_examples, plain, rule

DATA = Path(__file__).resolve().parents[1] / "data"
SET = DATA / "intents_heldout.jsonl"
LATER = [DATA / "intents_heldout2.jsonl", DATA / "intents_heldout3.jsonl"]  # written in later rounds


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return IntentClassifier.fit(load_examples(), HashingEmbedder())


@pytest.mark.parametrize(("text", "intent"), [
    ("hi", "greeting"), ("Hello there!", "greeting"), ("你好", "greeting"),
    ("thanks!", "thanks"), ("thank you so much", "thanks"), ("谢谢", "thanks"),
    ("bye", "goodbye"), ("see you later", "goodbye"), ("再见", "goodbye"),
    ("no, I meant the 1955 one", "correction"),
    ("that's wrong, it was William Dieterle", "feedback"), ("that's right", "feedback"), ("答案错了", "feedback"),
    ("hi, how are you?", "greeting"), ("你们好呀", "greeting"), ("much obliged", "thanks"), ("好的，谢谢", "thanks"),
    ("那就这样，再见", "goodbye"), ("再见啦", "goodbye"),
    ("nope, that answer is wrong", "feedback"), ("no, it was 1964", "feedback"),
    ("that's the wrong one, I meant the original", "correction"), ("I was asking about the city", "correction"),
])
def test_rules_decide_the_clear_cases(text: str, intent: str) -> None:
    found = rule(text)
    assert found is not None and found.name == intent and found.source == "rule"


def test_rules_leave_questions_and_names_alone() -> None:
    for text in ("who directed Kismet?", "Hi-Fi", "Thank You for Smoking", "what can you do?",
                 "No Country for Old Men"):
        assert rule(text) is None, text


@pytest.mark.parametrize(("text", "intent"), [
    ("who directed Dark City?", "question"), ("what is the capital of France?", "question"),
    ("what else did he direct?", "follow-up"), ("what about Vamp?", "follow-up"),
    ("what can you do?", "help"), ("what's the weather like today?", "off-topic"),
    ("do you like films?", "chit-chat"),
])
def test_the_classifier_with_the_hashing_embedder(classifier: IntentClassifier, text: str, intent: str) -> None:
    assert classifier.recognize(text).name == intent


def test_clarification_only_while_one_is_pending(classifier: IntentClassifier) -> None:
    assert classifier.recognize("the 1944 one", pending=True).name == "clarification"
    assert classifier.recognize("the city", pending=True).name == "clarification"
    assert classifier.recognize("the second one", pending=False).name == "follow-up"
    assert classifier.recognize("who directed Vamp?", pending=True).name == "question"


@pytest.mark.parametrize("text", ["the second", "option 2", "number three", "3", "第二个吧", "选第三个"])
def test_a_bare_choice_answers_a_pending_clarification(classifier: IntentClassifier, text: str) -> None:
    assert classifier.recognize(text, pending=True) == Intent("clarification", 1.0, "rule")
    assert classifier.recognize(text, pending=False).name != "clarification"


def test_a_described_option_answers_a_pending_clarification(classifier: IntentClassifier) -> None:
    assert classifier.recognize("the later version", pending=True).name == "clarification"
    assert classifier.recognize("那个城市", pending=True).name == "clarification"
    assert classifier.recognize("thanks!", pending=True).name == "thanks"


def test_what_a_correction_asks_for() -> None:
    from pipeline.dialogue.followup import correction

    assert correction("that's the wrong one, I meant the original") == "the original"
    assert correction("no, I meant the 1955 one") == "the 1955 one"
    assert correction("who meant this?") is None


def test_the_held_out_set_is_large_bilingual_and_disjoint_from_the_examples() -> None:
    rows = [json.loads(line) for line in SET.read_text(encoding="utf-8").splitlines() if line]
    examples = load_examples()
    assert len(rows) >= 150 and len(examples) >= 300 and {r["intent"] for r in rows} == set(INTENTS)
    assert {i for _, i in examples} == set(INTENTS) and sum(has_cjk(t) for t, _ in examples) >= 100
    assert {r["lang"] for r in rows} == {"en", "zh"}
    assert not {plain(t) for t, _ in examples} & {plain(r["text"]) for r in rows}
    assert all(r["pending"] == (r["intent"] == "clarification") for r in rows)


def test_the_later_held_out_sets_share_nothing_with_the_examples_or_each_other() -> None:
    seen = {plain(t) for t, _ in load_examples()}
    for path in [SET, *LATER]:
        texts = [plain(json.loads(line)["text"]) for line in path.read_text(encoding="utf-8").splitlines() if line]
        assert len(texts) >= 80 and not seen & set(texts), path.name
        seen |= set(texts)


def test_the_trained_classifier_is_cached_by_examples_and_embedder(tmp_path: Path) -> None:
    examples = load_examples()
    first = IntentClassifier.fit(examples, HashingEmbedder(), cache=tmp_path)
    assert len(list(tmp_path.glob("intents-*.npz"))) == 1
    again = IntentClassifier.fit(examples, HashingEmbedder(), cache=tmp_path)
    assert again.names == first.names and (again.weights == first.weights).all()
    assert again.predict("what can you do?") == first.predict("what can you do?")
    IntentClassifier.fit(examples[:-1], HashingEmbedder(), cache=tmp_path)  # other examples: another file
    assert len(list(tmp_path.glob("intents-*.npz"))) == 2
