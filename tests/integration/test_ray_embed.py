"""Passage embedding as a Ray Data batch job on a real local Ray (2 CPUs), with the hashing embedder."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from model import ray_embedder
from model.embedders import open_embedder
from model.ray_embedder import RayEmbedder
from tests.conftest import index_kb

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """One local Ray for the module (each start costs seconds); RayEmbedder leaves a running one up."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_a_ray_job_returns_the_local_vectors_in_order(local_ray: None) -> None:
    texts = [f"passage {i} about {'rivers' if i % 3 else 'castles'} and number {i * 7}" for i in range(300)]
    embedder = RayEmbedder("hashing", workers=2, batch_size=32, min_texts=100, dimension=48)
    assert (embedder.name, embedder.dimension) == ("hashing", 48)  # caches keyed by them still match
    vectors = embedder.passage(texts)
    np.testing.assert_allclose(vectors, open_embedder("hashing", dimension=48).passage(texts), rtol=1e-6)
    assert embedder.passage(texts[:5]).shape == (5, 48)  # a small call stays local
    assert ray.is_initialized()  # it joined the running Ray and left it up


def test_kgqa_indexes_passages_through_a_ray_job(tmp_path: Path, local_ray: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline import KGQA
    from retrieval.retriever import RetrieverConfig

    monkeypatch.setattr(ray_embedder, "MIN_TEXTS", 10)
    passages = [{"title": f"Town {i}", "text": f"Town {i} lies on the river {chr(65 + i % 26)}ar and has "
                 f"{1000 + i} inhabitants."} for i in range(40)]
    passages.append({"title": "Kismet", "text": "Kismet is a 1944 film directed by William Dieterle."})
    kb_dir = index_kb(tmp_path, {"towns.jsonl": "".join(json.dumps(p) + "\n" for p in passages)})
    config = RetrieverConfig(mentions="rules", embed_with="ray")
    with KGQA.open(kb_dir, progress=False, embedder="hashing", generator="off", config=config) as qa:
        search = qa.retriever().passages
        assert search is not None
        hits = search.search("Which film did William Dieterle direct in 1944?", 3)
        assert hits and hits[0][0].title == "Kismet"
    with KGQA.open(kb_dir, progress=False, embedder="hashing", generator="off",
                   config=RetrieverConfig(mentions="rules")) as qa:  # the same index, read locally
        hits = qa.retriever().passages.search("the river Car and its 1002 inhabitants", 1)  # type: ignore[union-attr]
        assert hits[0][0].title == "Town 2"


def test_an_unknown_embed_with_is_a_clear_error(tmp_path: Path) -> None:
    from kg.errors import KGQAError
    from pipeline import KGQA
    from retrieval.retriever import RetrieverConfig

    kb_dir = index_kb(tmp_path, {"t.jsonl": json.dumps({"title": "A", "text": "A town."}) + "\n"})
    with KGQA.open(kb_dir, progress=False, embedder="hashing", generator="off",
                   config=RetrieverConfig(mentions="rules", embed_with="spark")) as qa:
        with pytest.raises(KGQAError, match="unknown embed_with 'spark'"):
            qa.retriever()


def test_kgqa_index_ray_on_the_command_line(tmp_path: Path, local_ray: None, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import main

    monkeypatch.setattr(ray_embedder, "MIN_TEXTS", 5)
    jobs: list[int] = []
    real = RayEmbedder._job
    monkeypatch.setattr(RayEmbedder, "_job", lambda self, texts: jobs.append(len(texts)) or real(self, texts))
    source = tmp_path / "towns.jsonl"
    source.write_text("".join(json.dumps({"title": f"Town {i}", "text": f"Town {i} has {i} bridges."}) + "\n"
                              for i in range(12)), encoding="utf-8")
    assert main(["index", str(source), "--kb", str(tmp_path / "kb"), "--embedder", "hashing", "--no-progress",
                 "--ray"]) == 0
    assert jobs == [12] and "12 passages" in capsys.readouterr().out
