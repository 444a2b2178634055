"""Embedding a large corpus as a Ray Data batch job, behind the ``Embedder`` protocol.

``RayEmbedder`` wraps a registered embedder (``model.embedders.open_embedder``): ``query`` and
small ``passage`` calls run here, in this process; a ``passage`` call of at least ``min_texts``
texts becomes a Ray Data job (``map_batches`` over a pool of actors, each opening the same
embedder once and embedding ``batch_size`` texts at a time), and the vectors come back in the
order of the texts. The caller's cache is unchanged: ``retrieval.passages.DensePassages`` asks
only for the units its index does not hold yet, whoever embeds them, and the wrapper keeps the
inner embedder's ``name`` and ``dimension``, so every cache keyed by them still matches.

``address`` ``None`` starts a local Ray for the job (``workers`` CPUs) and stops it after; an
address (``auto``, ``ray://host:10001``) joins a running cluster, whose workers must have kgqa
installed. Nothing is downloaded: each worker loads the model from its installed package.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from kg.errors import BackendUnavailable
from model.base import Embedder
from model.embedders import open_embedder

log = logging.getLogger(__name__)
MIN_TEXTS = 4096  # below this a job's start-up (seconds) costs more than it saves


class _EmbedBatch:
    """A Ray actor: one embedder, many batches."""

    def __init__(self, name: str, options: dict[str, Any]) -> None:
        self.embedder = open_embedder(name, **options)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"row": batch["row"], "vector": self.embedder.passage([str(t) for t in batch["text"]])}


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise BackendUnavailable("embedding with Ray needs ray[data]: pip install -e '.[ray]'") from exc
    return ray


class RayEmbedder:
    """``name``'s embedder, with large ``passage`` calls run as a Ray Data job.

    Args:
        name: a registered embedder name (``minilm``, ``e5``, ``hashing``).
        address: a Ray cluster to join, or ``None`` for a local Ray started per job.
        workers: actors of the job (default: the CPUs Ray sees, at most 8).
        batch_size: texts an actor embeds at once.
        min_texts: smaller ``passage`` calls are embedded here, without Ray (default ``MIN_TEXTS``).
        **options: the embedder's constructor options (``dimension`` for hashing, ...).
    """

    def __init__(self, name: str, address: str | None = None, workers: int | None = None, batch_size: int = 256,
                 min_texts: int | None = None, **options: Any) -> None:
        self.local: Embedder = open_embedder(name, **options)
        self.registered, self.options = name, options
        self.address, self.workers, self.batch_size, self.min_texts = address, workers, batch_size, min_texts
        self.name, self.dimension = self.local.name, self.local.dimension

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self.local.query(texts)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) < (MIN_TEXTS if self.min_texts is None else self.min_texts):
            return self.local.passage(texts)
        return self._job(texts)

    def _job(self, texts: Sequence[str]) -> np.ndarray:
        ray = _ray()
        started = not ray.is_initialized()
        if started:
            cpus = None if self.address else (self.workers or min(8, os.cpu_count() or 1))
            ray.init(address=self.address, num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        try:
            import pyarrow as pa

            workers = self.workers or max(1, min(8, int(ray.cluster_resources().get("CPU", 1))))
            log.info("embedding %d texts as a Ray Data job on %d workers", len(texts), workers)
            table = pa.table({"row": np.arange(len(texts), dtype=np.int64), "text": list(texts)})
            blocks = max(1, min(-(-len(texts) // self.batch_size), 4 * workers))  # one block feeds one actor
            size = -(-len(texts) // blocks)
            parts = [table.slice(start, size) for start in range(0, len(texts), size)]
            jobs = ray.data.from_arrow(parts).map_batches(
                _EmbedBatch, fn_constructor_args=(self.registered, self.options),  # batches < 512: no bars
                batch_size=self.batch_size, concurrency=workers, num_cpus=1, batch_format="numpy")
            vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
            seen = np.zeros(len(texts), dtype=bool)
            for batch in jobs.iter_batches(batch_size=4096, batch_format="numpy"):
                rows = np.asarray(batch["row"], dtype=np.int64)
                vectors[rows] = np.asarray(batch["vector"], dtype=np.float32).reshape(len(rows), self.dimension)
                seen[rows] = True
            if not seen.all():
                raise RuntimeError(f"the Ray job returned {int(seen.sum())} of {len(texts)} vectors")
            return vectors
        finally:
            if started:
                ray.shutdown()
