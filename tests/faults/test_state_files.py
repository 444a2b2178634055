"""Every file a knowledge base directory keeps, deleted, emptied, cut in half or overwritten.

Each case opens the damaged knowledge base and asks a question whose answer is known. It must
get the right answer (derived state is rebuilt with a warning; a lost store is re-applied when
its source is indexed again) or a clear ``KGQAError`` that names the file - never a traceback
and never a wrong answer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kg.check import check_directory
from kg.errors import KGQAError
from pipeline import KGQA
from pipeline.dialogue.store import MemoryStore
from tests.faults.conftest import PARIS, QUESTION, WORLD, Outcome

# every file the world knowledge base keeps ("*" stands for the dense snapshot's name)
KEPT = ("catalog.sqlite", "graph.lbug", "kb.json", "sources/1.npz", "writer.lock", "feedback.sqlite",
        "linker/built_at_seq.json", "linker/entities.arrow", "linker/forms.arrow", "linker/words.arrow",
        "linker/manifest.json", "linker/relations.json",
        "dense/manifest.json", "dense/synced_at_seq.json", "dense/*/ids.json", "dense/*/vectors.npy",
        "dense/*/index.faiss",
        *(f"graph_index/{name}" for name in ("manifest.json", "ids.arrow", "subject.npy", "object.npy", "predicate.npy",
                                              "source.npy", "key.npy", "line.npy", "half_key.npy", "half_neighbour.npy",
                                              "half_edge.npy", "half_pointer.npy")),
        "cache/vectors/hashing/*/probe.npy", "cache/vectors/hashing/*/seg-*/keys.npy",
        "cache/vectors/hashing/*/seg-*/vectors.npy", "cache/vectors/hashing/*/seg-*/meta.json",
        "intents/intents-*.npz")
DAMAGES = ("delete", "empty", "half", "garbage", "flip")  # flip: 16 random bytes in the middle
NEEDS_WIRING: dict[tuple[str, str], str] = {}  # (file, damage) -> what still needs wiring; none left


def damage(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "half":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "flip":
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle:middle + 16] = os.urandom(16)
        path.write_bytes(bytes(data))
    else:
        path.write_bytes(os.urandom(max(path.stat().st_size, 64)))


def resolve(directory: Path, pattern: str) -> Path:
    """The file ``pattern`` names (the first, where questions asked before added vector-cache segments)."""
    found = sorted(directory.glob(pattern))
    assert found, f"{pattern} matches nothing in {directory}"
    return found[0]


def top_answer(directory: Path, read_only: bool = False) -> str | None:
    with KGQA.open(directory, read_only=read_only, progress=False, embedder="hashing", generator="off") as qa:
        answers = qa.session(store=MemoryStore()).ask(QUESTION).answers  # a conversation reads the intent cache too
    return answers[0].id if answers else None


def test_the_suite_covers_every_kept_file(world_kb: Path) -> None:
    kept = {p.relative_to(world_kb) for p in world_kb.rglob("*") if p.is_file()}
    matched = {pattern: sorted(world_kb.glob(pattern)) for pattern in KEPT}
    assert all(matched.values()), [pattern for pattern, found in matched.items() if not found]
    # a pattern may match several files (questions asked by other tests add vector-cache segments)
    covered = {p.relative_to(world_kb) for found in matched.values() for p in found}
    assert kept == covered, f"files the suite does not damage: {sorted(map(str, kept - covered))}"


def _cases() -> list[object]:
    cases: list[object] = []
    for name in KEPT:
        for how in DAMAGES:
            reason = NEEDS_WIRING.get((name, how))
            marks = [pytest.mark.xfail(strict=False, reason=f"needs wiring: {reason}")] if reason else []
            cases.append(pytest.param(name, how, marks=marks, id=f"{name}-{how}"))
    return cases


@pytest.mark.parametrize(("name", "how"), _cases())
def test_damaged_file(kb_copy: Path, name: str, how: str, outcome: Outcome,
                      caplog: pytest.LogCaptureFixture) -> None:
    target = resolve(kb_copy, name)
    damage(target, how)
    try:
        top = top_answer(kb_copy)
    except KGQAError as exc:
        outcome.clear(exc, target.name, str(kb_copy))
        if "--repair" in str(exc):  # what the error says to do must work
            assert check_directory(kb_copy, repair=True, progress=False).ok
            assert top_answer(kb_copy) == PARIS
        return
    if top is None:  # the store was lost: it heals when its source is indexed again
        with KGQA.open(kb_copy, progress=False, embedder="hashing", generator="off") as qa:
            report = qa.index(WORLD)
            assert report.status != "unchanged" and report.triples == 4442
        top = top_answer(kb_copy)
    assert top == PARIS, f"wrong answer {top!r} after {how} {name}"
    assert top_answer(kb_copy, read_only=True) == PARIS
    outcome.recovered()


@pytest.mark.parametrize("name", ["catalog.sqlite", "graph.lbug", "kb.json", "sources/1.npz"])
@pytest.mark.parametrize("how", ["delete", "half", "garbage"])
def test_damaged_file_read_only(kb_copy: Path, name: str, how: str, outcome: Outcome) -> None:
    """What ``kgqa ask`` sees (it opens read-only, so nothing can be healed): right answer or clear error."""
    target = resolve(kb_copy, name)
    damage(target, how)
    try:
        top = top_answer(kb_copy, read_only=True)
    except KGQAError as exc:
        outcome.clear(exc, target.name, str(kb_copy))
        return
    assert top == PARIS, f"wrong answer {top!r} after {how} {name}"
    outcome.recovered()


@pytest.mark.parametrize("how", ["empty", "half", "garbage", "flip"])
def test_damaged_learning_history(kb_copy: Path, how: str, outcome: Outcome) -> None:
    """``learning/history.json`` exists only after ``kgqa learn``: written here as a run would leave it."""
    history = kb_copy / "learning" / "history.json"
    history.parent.mkdir()
    history.write_text(json.dumps({"format": 1, "live": None, "base": None, "feedback_seen": 0, "runs": []}))
    damage(history, how)
    try:
        top = top_answer(kb_copy)
    except KGQAError as exc:
        outcome.clear(exc, "history.json")
        return
    assert top == PARIS
    outcome.recovered()
