"""kill -9 an index and a remove at several points; re-running the command gives the exact counts.

The child process is killed from inside, deterministically: the test wraps the indexer's
journal write or the store's ``apply`` so that the process SIGKILLs itself at the chosen
change, before or after the write. No sleeping, no racing a timer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kg.check import check
from kg.errors import KGQAError
from kg.kb import KnowledgeBase
from tests.faults.conftest import ROOT, Outcome

CHILD = """
import os, signal, sys
from pathlib import Path
from kg.catalog import Catalog
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions
from kg.stores.embedded import EmbeddedStore
from kg.catalog import Catalog

action, kb_dir, source, point, at = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
calls = {"n": 0}

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def wrap(cls, name, before):
    original = getattr(cls, name)
    def wrapped(self, *args, **kwargs):
        calls["n"] += 1
        if before and calls["n"] == at:
            die()
        result = original(self, *args, **kwargs)
        if not before and calls["n"] == at:
            die()
        return result
    setattr(cls, name, wrapped)

if point == "before-journal":
    wrap(Catalog, "journal", True)
elif point == "before-apply":
    wrap(EmbeddedStore, "apply", True)
elif point == "after-apply":
    wrap(EmbeddedStore, "apply", False)
elif point == "before-finish":
    wrap(Catalog, "finish" if action == "index" else "forget", True)
with KnowledgeBase.open(kb_dir, progress=False, chunk_rows=1000) as kb:
    if action == "index":
        kb.index(source, options=ReaderOptions(batch_size=1000))
    else:
        kb.remove(source)
sys.exit(3)  # not killed: the point was never reached
"""
POINTS = ("before-journal", "before-apply", "after-apply", "before-finish")


def rows(n: int, prefix: str) -> str:
    return "".join(f"{prefix}{i}|directed_by|d{i % 7}\n" for i in range(n))


def killed(action: str, kb_dir: Path, source: Path, point: str, at: int) -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD, action, str(kb_dir), str(source), point, str(at)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, f"not killed at {point} #{at}: rc {proc.returncode}\n{proc.stderr[-2000:]}"


def consistent(kb: KnowledgeBase) -> int:
    union = np.empty(0, dtype=np.int64)
    for source in kb.sources():
        union = np.union1d(union, kb.catalog.load_state(source.id).keys)
    assert kb.store.stats().triples == len(union)
    return len(union)


@pytest.mark.parametrize("point", POINTS)
def test_killed_index_completes_with_exact_counts(tmp_path: Path, point: str, outcome: Outcome) -> None:
    shared = tmp_path / "shared.txt"
    shared.write_text(rows(500, "m"))
    big = tmp_path / "big.txt"
    big.write_text(rows(4000, "m") + rows(1500, "x"))  # 5500 triples, 500 shared with shared.txt
    kb_dir = tmp_path / "kb"
    with KnowledgeBase.open(kb_dir, progress=False) as kb:
        kb.index(shared)
    killed("index", kb_dir, big, point, 1 if point == "before-finish" else 3)
    try:  # what `kgqa stats` sees before anyone re-runs the index: numbers, or a clear error
        with KnowledgeBase.open(kb_dir, progress=False, read_only=True) as kb:
            assert kb.stats()["triples"] >= 500
    except KGQAError as exc:
        outcome.clear(exc, str(kb_dir))
        assert "retry later" not in str(exc)
    with KnowledgeBase.open(kb_dir, progress=False) as kb:
        consistent(kb)
        report = kb.index(big)
        assert report.status in ("resumed", "unchanged" if point == "before-finish" else "resumed")
        assert report.triples == 5500 and kb.store.stats().triples == 5500 == consistent(kb)
        assert check(kb).ok
    outcome.recovered()


@pytest.mark.parametrize("point", POINTS)
def test_killed_remove_completes_with_exact_counts(tmp_path: Path, point: str, outcome: Outcome,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(rows(3000, "m"))
    b.write_text(rows(500, "m") + rows(700, "x"))  # 1200 triples, 500 shared with a.txt
    kb_dir = tmp_path / "kb"
    with KnowledgeBase.open(kb_dir, progress=False) as kb:
        kb.index(a)
        kb.index(b)
        assert kb.store.stats().triples == 3700
    killed("remove", kb_dir, a, point, 1)
    with KnowledgeBase.open(kb_dir, progress=False) as kb:
        consistent(kb)
        record = kb.catalog.find(a.resolve())
        assert record is not None and record.state == "removing"
        if point in ("before-apply", "after-apply"):
            assert "re-run `kgqa remove`" in caplog.text and "re-index" not in caplog.text
        kb.remove(a)
        assert kb.store.stats().triples == 1200 == consistent(kb)
        assert [s.path for s in kb.sources()] == [str(b.resolve())]
        assert check(kb).ok
    outcome.recovered()
