"""The hand-written question sets of the adaptation benchmark are well formed (never used for training)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize("name", ["world", "wikidata"])
def test_question_set_is_well_formed(name: str) -> None:
    spec = [line.split("\t") for line in (DATA / f"{name}_questions.spec").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    rows = [line.split("\t") for line in (DATA / f"{name}_questions.tsv").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 150 and all(len(s) == 3 for s in spec) and all(len(r) == 3 for r in rows)
    questions = [r[0] for r in rows]
    assert len(set(questions)) == len(questions)  # no question twice
    assert set(questions) <= {s[0] for s in spec}  # every gold line comes from a hand-written spec line
    for question, answers, topic in rows:
        assert question.strip() and topic.strip() and all(a.strip() for a in answers.split("|"))
