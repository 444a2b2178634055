"""The CUDA paths, where a GPU is present (skipped elsewhere, see tests/conftest.py).

CI has no GPU: these run on a machine that has one (``pytest -m gpu``).
"""

from __future__ import annotations

import numpy as np
import pytest

from model.base import pick_device
from model.embedders import open_embedder
from model.registry import SHIPPED_SCORER

pytestmark = pytest.mark.gpu


def test_the_default_device_is_cuda_when_torch_sees_one() -> None:
    assert pick_device(None) == "cuda"


@pytest.mark.slow
def test_the_shipped_scorer_scores_the_same_on_cuda_and_cpu() -> None:
    from model.path_scorer import TrainedPathScorer

    paths = ["directed by", "release year", "starred actors of directed by"]
    cpu = TrainedPathScorer.load(SHIPPED_SCORER, "cpu").score("who directed", paths)
    gpu = TrainedPathScorer.load(SHIPPED_SCORER, "cuda").score("who directed", paths)
    assert np.allclose(cpu, gpu, atol=1e-3)


@pytest.mark.slow
def test_minilm_embeds_on_cuda() -> None:
    vectors = open_embedder("minilm", device="cuda").passage(["Paris is the capital of France."])
    assert vectors.shape == (1, 384) and abs(float(np.linalg.norm(vectors[0])) - 1.0) < 1e-3


def test_ivfpq_searches_sharded_over_the_gpus(tmp_path: object) -> None:
    """IVF-PQ cloned to every GPU (shard option) finds what the CPU index finds (needs faiss-gpu)."""
    from pathlib import Path

    faiss = pytest.importorskip("faiss")
    if faiss.get_num_gpus() == 0:
        pytest.skip("FAISS sees no GPU (install the gpu extra: pip install -e '.[gpu]')")
    from retrieval.dense import DenseConfig, VectorIndex

    rng = np.random.default_rng(0)
    data = rng.standard_normal((20_000, 64)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    ids = [str(i) for i in range(len(data))]
    found = {}
    for use_gpu in (False, True):
        index = VectorIndex.create(Path(str(tmp_path)) / str(use_gpu), 64, "synthetic",
                                   DenseConfig(pq_limit=1000, pq_bytes=16, use_gpu=use_gpu))
        index.add(ids, data)
        found[use_gpu] = [hit[0][0] for hit in index.search(data[:50], 1)]
        assert index.manifest.kind == "ivfpq"
    assert found[True] == ids[:50] and found[False] == ids[:50]  # each stored vector finds itself
