"""``kg.check``: the catalog, the per-source state and the store are compared, and repaired."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kg.check import CheckReport, check, check_directory
from kg.errors import CorruptState
from kg.kb import KnowledgeBase
from tests.faults.conftest import WORLD, Outcome


def rows(n: int, prefix: str) -> str:
    return "".join(f"{prefix}{i}|directed_by|d{i % 7}\n" for i in range(n))


@pytest.fixture()
def two_sources(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A KB of two delimited files that share 50 triples (a: 300, b: 250, 500 in the store)."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(rows(300, "m"))
    b.write_text(rows(50, "m") + rows(200, "x"))
    directory = tmp_path / "kb"
    with KnowledgeBase.open(directory, progress=False) as kb:
        kb.index(a)
        kb.index(b)
        assert kb.store.stats().triples == 500
    return directory, a, b


def checked(directory: Path, repair: bool = False) -> CheckReport:
    with KnowledgeBase.open(directory, progress=False, verify=False) as kb:
        return check(kb, repair=repair)


def triples(directory: Path) -> int:
    with KnowledgeBase.open(directory, progress=False, read_only=True) as kb:
        return kb.store.stats().triples


def test_a_healthy_kb_checks_ok(two_sources: tuple[Path, Path, Path]) -> None:
    report = checked(two_sources[0])
    assert report.ok and not report.problems and report.store_triples == report.catalog_triples == 500
    assert "ok" in report.describe() and json.dumps(report.to_dict())


def test_a_deleted_store_is_found_and_rebuilt(two_sources: tuple[Path, Path, Path], outcome: Outcome) -> None:
    directory = two_sources[0]
    (directory / "graph.lbug").unlink()
    report = checked(directory)
    assert not report.ok and {p.kind for p in report.problems} >= {"store-lost"}
    assert "--repair" in report.describe()
    fixed = checked(directory, repair=True)
    assert fixed.ok and fixed.repaired, fixed.describe()
    assert triples(directory) == 500 and checked(directory).ok
    outcome.recovered()


def test_index_never_says_unchanged_of_a_source_the_store_lacks(two_sources: tuple[Path, Path, Path],
                                                                   caplog: pytest.LogCaptureFixture,
                                                                   outcome: Outcome) -> None:
    directory, a, b = two_sources
    (directory / "graph.lbug").unlink()
    with KnowledgeBase.open(directory, progress=False) as kb:
        assert "applied again" in caplog.text
        first = kb.index(a)
        assert first.status == "resumed" and first.added == 300 and kb.store.stats().triples == 300
        second = kb.index(b)
        assert second.status == "resumed" and kb.store.stats().triples == 500
    assert checked(directory).ok
    outcome.recovered()


def test_a_damaged_state_file_blocks_remove_until_repaired(two_sources: tuple[Path, Path, Path],
                                                             outcome: Outcome) -> None:
    directory, a, b = two_sources
    state = directory / "sources" / "1.npz"
    state.write_bytes(state.read_bytes()[:100])
    with KnowledgeBase.open(directory, progress=False) as kb, pytest.raises(CorruptState) as err:
        kb.remove(a)
    assert "1.npz" in str(err.value) and "--repair" in str(err.value)
    outcome.clear(err.value, "1.npz")
    report = checked(directory, repair=True)
    assert report.ok, report.describe()
    with KnowledgeBase.open(directory, progress=False) as kb:
        kb.remove(a)
        assert kb.store.stats().triples == 250
    assert checked(directory).ok


def test_a_missing_state_file_is_found(two_sources: tuple[Path, Path, Path]) -> None:
    directory = two_sources[0]
    (directory / "sources" / "2.npz").unlink()
    report = checked(directory)
    assert "state-corrupt" in {p.kind for p in report.problems}
    assert checked(directory, repair=True).ok and triples(directory) == 500


def test_orphans_are_dropped(two_sources: tuple[Path, Path, Path]) -> None:
    directory = two_sources[0]
    shutil.copy(directory / "sources" / "1.npz", directory / "sources" / "99.npz")
    report = checked(directory)
    assert [p.kind for p in report.problems] == ["orphan"]
    fixed = checked(directory, repair=True)
    assert fixed.ok and not (directory / "sources" / "99.npz").exists() and triples(directory) == 500


def test_a_store_with_extra_triples_is_rebuilt(two_sources: tuple[Path, Path, Path], tmp_path: Path) -> None:
    directory, a, _ = two_sources
    other = tmp_path / "other"
    with KnowledgeBase.open(other, progress=False) as kb:
        kb.index(WORLD)
    shutil.rmtree(directory / "graph.lbug", ignore_errors=True)
    (directory / "graph.lbug").unlink(missing_ok=True)
    shutil.copy(other / "graph.lbug", directory / "graph.lbug")  # another KB's store, with its 4442 triples
    with pytest.raises(CorruptState, match="disagree"):
        KnowledgeBase.open(directory, progress=False).close()
    report = checked(directory, repair=True)
    assert report.ok, report.describe()
    assert triples(directory) == 500


def test_a_lost_catalog_is_never_repaired_by_emptying_the_store(two_sources: tuple[Path, Path, Path]) -> None:
    directory = two_sources[0]
    (directory / "catalog.sqlite").unlink()
    report = checked(directory, repair=True)
    assert not report.ok and "catalog-lost" in {p.kind for p in report.remaining}
    with KnowledgeBase.open(directory, progress=False, verify=False) as kb:
        assert kb.store.stats().triples == 500


def test_a_source_file_gone_from_disk_is_a_note(two_sources: tuple[Path, Path, Path]) -> None:
    directory, _, b = two_sources
    b.unlink()
    report = checked(directory)
    assert report.ok and any("no longer exists" in n for n in report.notes)


def test_union_of_states_matches_the_store_after_repair(two_sources: tuple[Path, Path, Path]) -> None:
    directory = two_sources[0]
    (directory / "graph.lbug").unlink()
    checked(directory, repair=True)
    with KnowledgeBase.open(directory, progress=False) as kb:
        union = np.empty(0, dtype=np.int64)
        for source in kb.sources():
            union = np.union1d(union, kb.catalog.load_state(source.id).keys)
            assert source.state == "ok"
        assert len(union) == kb.store.stats().triples == 500


@pytest.mark.parametrize("how", ["delete", "empty", "half", "garbage"])
def test_check_directory_repairs_a_damaged_store_file(two_sources: tuple[Path, Path, Path], how: str,
                                                      outcome: Outcome) -> None:
    directory = two_sources[0]
    store = directory / "graph.lbug"
    if how == "delete":
        store.unlink()
    else:
        data = store.read_bytes()
        store.write_bytes({"empty": b"", "half": data[: len(data) // 2], "garbage": b"\x13" * 4096}[how])
    looked = check_directory(directory)
    assert not looked.ok and ("--repair" in looked.describe() or looked.problems[0].kind == "store-damaged")
    assert store.exists() == (how != "delete")  # looking changes nothing
    fixed = check_directory(directory, repair=True)
    assert fixed.ok, fixed.describe()
    assert triples(directory) == 500 and check_directory(directory).ok
    if how in ("half", "garbage"):  # a file that would not open is kept aside for inspection
        assert len(list(directory.glob("graph.lbug.damaged-*"))) == 1
    outcome.recovered()


def test_a_flipped_state_file_is_found_by_check(two_sources: tuple[Path, Path, Path], outcome: Outcome) -> None:
    directory = two_sources[0]
    state = directory / "sources" / "1.npz"
    data = bytearray(state.read_bytes())
    data[len(data) // 2: len(data) // 2 + 8] = b"\xff" * 8
    state.write_bytes(bytes(data))
    report = checked(directory)
    assert "state-corrupt" in {p.kind for p in report.problems}, report.describe()
    assert checked(directory, repair=True).ok and triples(directory) == 500
    outcome.recovered()


def test_a_store_restored_from_an_older_copy_is_found(tmp_path: Path, outcome: Outcome) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text(rows(300, "m"))
    b.write_text(rows(50, "m") + rows(200, "x"))
    directory = tmp_path / "kb"
    with KnowledgeBase.open(directory, progress=False) as kb:
        kb.index(a)
    shutil.copy(directory / "graph.lbug", tmp_path / "old.lbug")  # a backup taken before b was indexed
    with KnowledgeBase.open(directory, progress=False) as kb:
        kb.index(b)
    shutil.copy(tmp_path / "old.lbug", directory / "graph.lbug")
    with pytest.raises(CorruptState, match="older copy") as err:
        KnowledgeBase.open(directory, progress=False).close()
    outcome.clear(err.value, str(directory))
    assert "store-stale" in {p.kind for p in checked(directory).problems}
    assert checked(directory, repair=True).ok and triples(directory) == 500
    with KnowledgeBase.open(directory, progress=False) as kb:
        assert kb.index(b).status == "unchanged" and kb.store.stats().triples == 500
