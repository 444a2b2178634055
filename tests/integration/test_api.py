"""The issue's snippet, as written, on the bundled world knowledge base (``data/world.nt``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipeline import KGQA

WORLD = Path(__file__).resolve().parents[2] / "data" / "world.nt"


def run_snippet(kb: Path, embedder: str) -> None:
    """The issue's example, with the question it names and then questions this KB can answer."""
    qa = KGQA.open(kb, embedder=embedder, progress=False, generator="off")
    report = qa.index(WORLD)
    assert report.added > 4000 and report.removed == 0 and report.seconds > 0
    assert qa.index(WORLD).status == "unchanged"
    ans = qa.ask("Who directed Kismet?")  # not in this KB: an answer that says so, not an error
    text, answers, citations, confidence, timings, answer_id = (
        ans.text, ans.answers, ans.citations, ans.confidence, ans.timings, ans.id)
    assert text and not answers and isinstance(citations, tuple) and confidence == 0
    assert timings["total"] > 0 and len(answer_id) == 32
    ans = qa.ask("What is the capital of France?")
    assert ans.answers[0].label == "Paris" and ans.citations[ans.answers[0].citations[0] - 1].triples
    assert "France" in ans.explain() and "world.nt:" in ans.explain()
    assert "Paris" in ans.to_mermaid() and "Paris" in ans.to_dot()
    json.dumps(ans.to_dict())
    chat = qa.session()
    chat.ask("What is the capital of France?")
    swapped = chat.ask("What about Germany?")
    assert swapped.resolved == "What is the capital of Germany?" and swapped.answers[0].label == "Berlin"
    qa.feedback(ans.id, correct=False, answer="Paris, France")
    assert qa.feedback_store().examples()[0].corrected == "Paris, France"
    qa.close()


def test_issue_snippet_with_the_hashing_embedder(tmp_path: Path) -> None:
    run_snippet(tmp_path / "kb", "hashing")


@pytest.mark.slow
def test_issue_snippet_with_minilm(tmp_path: Path) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    run_snippet(tmp_path / "kb", "minilm")
