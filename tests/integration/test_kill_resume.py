"""kill -9 in the middle of an ingestion: the store stays consistent and the same command resumes it."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kg.catalog import CATALOG_FILE
from kg.kb import KnowledgeBase
from tests.unit.test_indexing import ROOT, graph_keys_consistent, movie_rows, write

KILL_SCRIPT = """
import sys
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions
with KnowledgeBase.open(sys.argv[1], progress=False, chunk_rows=2000) as kb:
    kb.index(sys.argv[2], options=ReaderOptions(batch_size=2000))
"""


@pytest.mark.slow
def test_killed_ingestion_is_consistent_and_resumable(tmp_path: Path) -> None:
    src = write(tmp_path / "big.txt", movie_rows(120_000))
    kb_dir = tmp_path / "kb"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(kb_dir), str(src)], cwd=ROOT)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if _journal_rows(kb_dir / CATALOG_FILE) >= 3:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the indexing finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with KnowledgeBase.open(kb_dir, progress=False) as kb:
        partial = kb.store.stats().triples
        assert 0 < partial < 120_000
        assert graph_keys_consistent(kb)
        assert kb.sources()[0].state == "partial"
        report = kb.index(src)
        assert report.status == "resumed" and report.added == 120_000 - partial
        assert kb.store.stats().triples == 120_000 and graph_keys_consistent(kb)


def _journal_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=0.1) as db:
            return int(db.execute("SELECT count(*) FROM journal").fetchone()[0])
    except sqlite3.Error:
        return 0
