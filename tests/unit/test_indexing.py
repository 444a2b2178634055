"""Incremental indexing into the embedded store: diffs, shared triples, removal, bad input, crashes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from kg.errors import SourceFormatError, SourceNotFound, StoreLocked
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(r + "\n" for r in rows))
    return path


def movie_rows(n: int, prefix: str = "m") -> list[str]:
    return [f"{prefix}{i}|directed_by|d{i % 7}" for i in range(n)]


def graph_keys_consistent(kb: KnowledgeBase) -> bool:
    union = np.empty(0, dtype=np.int64)
    for source in kb.sources():
        union = np.union1d(union, kb.catalog.load_state(source.id).keys)
    return kb.store.stats().triples == len(union)


@pytest.fixture()
def kb(tmp_path: Path):  # type: ignore[no-untyped-def]
    with KnowledgeBase.open(tmp_path / "kb", progress=False, chunk_rows=10) as kb:
        yield kb


def test_first_index_then_unchanged(kb: KnowledgeBase, tmp_path: Path) -> None:
    src = write(tmp_path / "a.txt", movie_rows(50) + movie_rows(5))  # 5 duplicate lines
    first = kb.index(src)
    assert (first.status, first.added, first.triples) == ("new", 50, 50)
    assert kb.store.stats().triples == 50 and kb.store.stats().entities == 57
    again = kb.index(src)
    assert (again.status, again.added, again.removed, again.unchanged) == ("unchanged", 0, 0, 50)
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))  # touched, same content
    assert kb.index(src).status == "unchanged"


def test_changed_source_applies_only_the_delta(kb: KnowledgeBase, tmp_path: Path) -> None:
    src = write(tmp_path / "a.txt", movie_rows(100))
    kb.index(src)
    rows = movie_rows(100)[2:] + ["new|directed_by|d99"]
    write(src, rows)
    report = kb.index(src)
    assert (report.status, report.added, report.removed, report.unchanged) == ("changed", 1, 2, 98)
    assert kb.store.stats().triples == 99
    assert kb.store.entities(["m0", "m1", "new", "d99"]).keys() == {"new", "d99"}
    assert graph_keys_consistent(kb)


def test_shared_triples_stay_until_both_sources_are_gone(kb: KnowledgeBase, tmp_path: Path) -> None:
    a = write(tmp_path / "a.txt", movie_rows(10))
    b = write(tmp_path / "b.txt", movie_rows(10)[5:] + ["x|directed_by|y"])
    kb.index(a)
    assert kb.index(b).added == 6
    assert kb.store.stats().triples == 11
    kb.remove(a)
    assert kb.store.stats().triples == 6
    assert set(kb.store.entities(["m0", "m5", "x"])) == {"m5", "x"}
    kb.remove(b)
    assert kb.store.stats().triples == 0 and kb.store.stats().entities == 0
    assert kb.sources() == []
    with pytest.raises(SourceNotFound):
        kb.remove(a)


def test_reader_settings_change_reindexes(kb: KnowledgeBase, tmp_path: Path) -> None:
    src = write(tmp_path / "a.txt", movie_rows(5) + ["bad line"])
    with pytest.raises(SourceFormatError):
        kb.index(src)
    report = kb.index(src, options=ReaderOptions(skip_errors=True))
    assert (report.status, report.skipped, report.triples) == ("new", 1, 5)


def test_malformed_file_leaves_the_store_as_it_was(kb: KnowledgeBase, tmp_path: Path) -> None:
    good = write(tmp_path / "good.txt", movie_rows(10))
    kb.index(good)
    bad = write(tmp_path / "bad.txt", [f"b{i}|r|c{i}" for i in range(50)] + ["oops"])
    with pytest.raises(SourceFormatError, match="bad.txt:51"):
        kb.index(bad, options=ReaderOptions(batch_size=10))
    assert kb.store.stats().triples == 10 and [s.name for s in kb.sources()] == ["good.txt"]
    assert kb.store.entities(["b0"]) == {}
    # a changed source that turns bad keeps its previous version
    write(good, movie_rows(12) + ["oops"])
    with pytest.raises(SourceFormatError):
        kb.index(good, options=ReaderOptions(batch_size=5))
    assert kb.store.stats().triples == 10 and graph_keys_consistent(kb)


def test_second_writer_gets_a_clear_error(kb: KnowledgeBase) -> None:
    with pytest.raises(StoreLocked, match="pid"):
        KnowledgeBase.open(kb.directory, progress=False)
