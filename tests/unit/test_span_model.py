"""The trained span scorer: listwise training finds the gold span's feature, saves and loads as JSON."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kg.base import Passage
from kg.errors import KGQAError
from model.reader import SpanModel, fit, loss
from retrieval.base import Evidence
from retrieval.mentions import rule_spans
from retrieval.reader import FEATURES, SpanReader, passage_texts
from retrieval.retriever import whole


def _groups(n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.normal(size=(6, 3))
        y = np.zeros(6)
        gold = int(rng.integers(6))
        x[gold, 1] += 3.0  # the gold candidate stands out in feature 1 only
        y[gold] = 1
        out.append((x, y))
    return out


def test_fit_learns_the_feature_that_marks_the_gold_span(tmp_path: Path) -> None:
    model = fit(_groups(60), ("a", "b", "c"))
    assert int(np.argmax(np.abs(model.weights))) == 1 and model.weights[1] > 0
    held = _groups(40, seed=1)
    hits = sum(int(np.argmax(model.score(x)) == int(np.argmax(y))) for x, y in held)
    assert hits >= 36 and loss(model, held) < loss(SpanModel(model.names, model.mean, model.scale,
                                                              np.zeros(3)), held)
    model.save(tmp_path, {"data": "synthetic"})
    again = SpanModel.load(tmp_path)
    assert again.names == model.names and np.allclose(again.score(held[0][0]), model.score(held[0][0]), atol=1e-4)


def test_bad_model_files_and_feature_mismatch_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "weights.json").write_text("{not json")
    with pytest.raises(KGQAError, match="cannot read the reader model"):
        SpanModel.load(tmp_path)
    model = fit(_groups(10), ("a", "b", "c"))
    with pytest.raises(KGQAError, match="3"):
        model.score(np.zeros((2, 4)))
    with pytest.raises(KGQAError, match="no training question"):
        fit([(np.zeros((3, 3)), np.zeros(3))], ("a", "b", "c"))


def test_the_reader_uses_a_model_over_its_candidates() -> None:
    evidence = [whole(Evidence(1, "passage", "", 0.0, passage=Passage(
        "p1", "Demon Dice is a dice game created by Lester Smith in 1990 in Ohio.", "Demon Dice")))]
    texts = passage_texts(evidence)
    reader = SpanReader(rule_spans)
    found = reader.candidates("Who created Demon Dice?", texts)
    assert {c.text for c in found} >= {"Lester Smith", "1990", "Ohio"}
    assert all(len(c.features) == len(FEATURES) for c in found)
    # a model that only likes DATE spans picks the year, whatever the heuristic says
    weights = np.array([1.0 if name == "label_DATE" else 0.0 for name in FEATURES])
    model = SpanModel(FEATURES, np.zeros(len(FEATURES)), np.ones(len(FEATURES)), weights)
    assert SpanReader(rule_spans).read("Who created Demon Dice?", evidence)[0].label == "Lester Smith"
    assert SpanReader(rule_spans, model=model).read("Who created Demon Dice?", evidence)[0].label == "1990"


def test_bm25_keys_are_the_catalog_keys_of_the_passages() -> None:
    from retrieval.bm25 import BM25Passages

    passages = [Passage("a", "Lester Smith designed Demon Dice.", "Demon Dice"),
                Passage("b", "Akron is a city in Ohio.", "Akron")]
    bm25 = BM25Passages(passages, [17, 42])
    assert bm25.search_keys("Which city is in Ohio?", 1) == [(42, bm25.search("Which city is in Ohio?", 1)[0][1])]
