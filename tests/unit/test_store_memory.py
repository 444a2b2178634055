"""The embedded store's memory while indexing: a bounded buffer pool, and no COPY frame kept alive."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from kg.base import Entity
from kg.kb import KnowledgeBase
from kg.stores import StoreSettings
from kg.stores.base import Change
from kg.stores.embedded import WRITER_BUFFER_POOL_MB, EmbeddedStore


def test_a_writer_gets_a_bounded_buffer_pool_and_a_reader_the_default(tmp_path: Path) -> None:
    with KnowledgeBase.open(tmp_path / "kb", progress=False) as kb:
        assert isinstance(kb.store, EmbeddedStore)
        assert kb.store.buffer_pool_mb == WRITER_BUFFER_POOL_MB
    with KnowledgeBase.open(tmp_path / "kb", progress=False, buffer_pool_mb=300) as kb:
        assert isinstance(kb.store, EmbeddedStore)
        assert kb.store.buffer_pool_mb == 300
        kb.reset_store()  # a rebuild reopens the store with the same setting
        assert kb.store.buffer_pool_mb == 300  # type: ignore[attr-defined]
    reader = EmbeddedStore.open(tmp_path / "kb", read_only=True)
    try:
        assert reader.buffer_pool_mb is None
    finally:
        reader.close()
    with pytest.raises(ValueError, match="buffer_pool_mb"):
        StoreSettings(tmp_path, buffer_pool_mb=0)


def _edges(seq: int, ids: list[str], n: int, rng: np.random.Generator) -> Change:
    pick = rng.integers(0, len(ids), size=(2, n))
    return Change(seq=seq, source="g", subjects=[ids[i] for i in pick[0]], objects=[ids[i] for i in pick[1]],
                  predicates=["P1"] * n, lines=list(range(n)), qualifiers=[None] * n,
                  keys=rng.integers(-2**62, 2**62, size=n))


def test_changes_do_not_keep_their_copy_frames_alive(tmp_path: Path) -> None:
    # LadybugDB's driver caches a prepared statement per bound DataFrame, holding the frame;
    # the store renews its connection per change, so Arrow memory stays at one frame at most.
    rng = np.random.default_rng(0)
    ids = [f"Q{i}" for i in range(2000)]
    store = EmbeddedStore.open(tmp_path / "kb")
    try:
        store.apply(Change(seq=1, records=[Entity(i, f"item {i}") for i in ids], new_nodes=list(ids)))
        store.apply(_edges(2, ids, 20_000, rng))
        after_one = pa.total_allocated_bytes()
        for seq in range(3, 9):
            store.apply(_edges(seq, ids, 20_000, rng))
        grown = pa.total_allocated_bytes() - after_one
        assert store.stats().triples == 7 * 20_000
    finally:
        store.close()
    assert grown < 200_000  # one 20k-edge frame is ~1 MB of Arrow buffers; six kept would be ~6 MB


def test_kgqa_index_takes_the_buffer_pool_and_refuses_a_bad_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    pools: list[int | None] = []
    real = KnowledgeBase.open.__func__  # type: ignore[attr-defined]

    def spy(cls: type[KnowledgeBase], *args: object, **kwargs: object) -> KnowledgeBase:
        pools.append(kwargs.get("buffer_pool_mb"))  # type: ignore[arg-type]
        return real(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(KnowledgeBase, "open", classmethod(spy))
    source = tmp_path / "g.nt"
    source.write_text('<http://x/a> <http://x/p> <http://x/b> .\n', encoding="utf-8")
    assert main(["index", str(source), "--kb", str(tmp_path / "kb"), "--no-progress", "--buffer-pool-mb", "256"]) == 0
    assert pools == [256]
    with pytest.raises(SystemExit) as exit_:
        main(["index", str(source), "--kb", str(tmp_path / "kb"), "--buffer-pool-mb", "0"])
    assert exit_.value.code == 2 and "must be at least 1 MB" in capsys.readouterr().err
