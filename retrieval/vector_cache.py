"""A disk cache of embedded texts per knowledge base and embedder, as an ``Embedder`` wrapper.

``CachedEmbedder(embedder, directory)`` is itself a ``model.base.Embedder``: ``passage(texts)``
returns the stored vector of every text embedded before (by any process using the same
directory) and embeds only the others, which it appends as a new segment; ``query`` passes
through, with the last few questions remembered in memory (a hop-by-hop path search asks for
the same question's vector several times). A scorer that embeds verbalized relation paths
through ``passage`` (both path scorers do) thus embeds each relation path once per knowledge
base and embedder, not once per process.

Which embedder made the vectors is checked, not assumed: names say too little (every trained
path-scorer adapter is ``minilm-lora``), so the cache keeps one generation per behaviour,
identified by the vector of a fixed probe text; the first ``passage`` call embeds the probe and
uses the generation whose probe vector matches, or starts a new one. A text's vector does not
depend on the graph, so the store's change number plays no part here.

Layout: ``directory/<embedder name>/<generation>/probe.npy`` and ``seg-<id>/`` folders, each
written to a temporary folder and renamed into place (atomic), holding ``keys.npy`` (two 64-bit
hashes per text), ``vectors.npy`` (float32, memory-mapped when read) and ``meta.json`` (format
version, count, dimension). A segment that does not validate is removed with one warning.
Segments are merged once there are more than ``MAX_SEGMENTS``. Deliberately left out: eviction
(a KB's relation-path texts are bounded by the questions asked) and locking between processes
(two that embed the same new text both store it; lookups take either copy); within a process
one lock serializes the calls.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.base import Embedder
from retrieval.graph_files import file_crc32

log = logging.getLogger(__name__)
FORMAT = 1
PROBE = "kgqa vector cache probe: directed by of starred actors"
MAX_SEGMENTS = 16
MERGE = 12  # segments merged at once (the smallest)
OPEN_ROWS = 512  # a process's newest segment is rewritten with new vectors until it holds this many
_QUERIES = 8  # questions remembered


def text_keys(texts: Sequence[str]) -> np.ndarray:
    """Two 64-bit hashes per text, shape (len(texts), 2), uint64."""
    out = np.empty((len(texts), 2), dtype=np.uint64)
    for i, text in enumerate(texts):
        out[i] = np.frombuffer(hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest(), dtype=np.uint64)
    return out


@dataclass(frozen=True, eq=False)
class _Segment:
    path: Path
    keys: np.ndarray
    vectors: np.ndarray


def _write_segment(generation: Path, keys: np.ndarray, vectors: np.ndarray) -> Path:
    """A new segment folder, written under a temporary name and renamed into place."""
    tmp = Path(tempfile.mkdtemp(prefix=".seg-", dir=generation))
    try:
        np.save(tmp / "keys.npy", keys)
        np.save(tmp / "vectors.npy", vectors.astype(np.float32, copy=False))
        meta = {"format": FORMAT, "count": len(keys), "dimension": int(vectors.shape[1]),
                "crc32": [file_crc32(tmp / "keys.npy"), file_crc32(tmp / "vectors.npy")]}
        (tmp / "meta.json").write_text(json.dumps(meta))
        final = generation / f"seg-{uuid.uuid4().hex}"
        os.rename(tmp, final)
        return final
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_segment(path: Path, dimension: int) -> _Segment | None:
    """The segment in ``path`` if it validates; None (and the folder removed) if not."""
    try:
        meta = json.loads((path / "meta.json").read_text())
        keys = np.load(path / "keys.npy")
        vectors = np.load(path / "vectors.npy", mmap_mode="r")
        ok = (meta.get("crc32") == [file_crc32(path / "keys.npy"), file_crc32(path / "vectors.npy")]
              and meta.get("format") == FORMAT and meta.get("dimension") == dimension and keys.dtype == np.uint64
              and keys.shape == (meta.get("count"), 2) and vectors.shape == (len(keys), dimension)
              and vectors.dtype == np.float32)
        if ok:
            return _Segment(path, keys, vectors)
        problem = f"unexpected format, dimension or shapes ({meta})"
    except FileNotFoundError:
        if not path.exists():  # merged away by another process meanwhile
            return None
        problem = "a file is missing"
    except (OSError, ValueError, EOFError) as exc:
        problem = str(exc) or type(exc).__name__
    log.warning("vector cache segment %s is unreadable (%s): removed; its texts will be embedded again",
                path, problem)
    shutil.rmtree(path, ignore_errors=True)
    return None


class CachedEmbedder:
    """An ``Embedder`` whose ``passage`` vectors persist in ``directory`` (see the module docstring).

    Args:
        embedder: the embedder to wrap.
        directory: where this knowledge base keeps its vectors (e.g. ``KB/cache/vectors``).
    """

    def __init__(self, embedder: Embedder, directory: Path) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.directory = Path(directory) / (re.sub(r"[^\w.-]+", "_", embedder.name) or "embedder")
        self._generation: Path | None = None
        self._segments: list[_Segment] = []
        self._index = np.empty((0, 2), dtype=np.uint64)
        self._rows = np.empty(0, dtype=np.int64)
        self._offsets = np.zeros(1, dtype=np.int64)
        self._growing: _Segment | None = None
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self._lock = threading.RLock()  # a served KGQA answers from several threads

    def query(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._query(texts)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._passage(texts)

    def _query(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._queries]
        if missing:
            for text, vec in zip(missing, self.inner.query(missing)):
                self._queries[text] = np.asarray(vec, dtype=np.float32)
        for text in texts:
            self._queries.move_to_end(text)
        out = np.stack([self._queries[t] for t in texts]) if texts else np.empty((0, self.dimension), np.float32)
        while len(self._queries) > _QUERIES:
            self._queries.popitem(last=False)
        return out

    def _passage(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        if self._generation is None:
            self._open()
        keys = text_keys(texts)
        rows = self._lookup(keys)
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        known = rows >= 0
        if known.any():
            out[known] = self._vectors(rows[known])
        todo = np.flatnonzero(~known).tolist()
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            first: dict[str, int] = {}  # repeated texts are embedded once
            rows_first: list[int] = []
            for i in todo:
                if texts[i] not in first:
                    first[texts[i]] = len(first)
                    rows_first.append(i)
            vectors = np.asarray(self.inner.passage(list(first)), dtype=np.float32)
            out[todo] = vectors[[first[texts[i]] for i in todo]]
            self._add(keys[rows_first], vectors)
        return out

    def contains(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text's vector is stored (asking for it embeds nothing)."""
        with self._lock:
            if self._generation is None:
                self._open()
            found: list[bool] = (self._lookup(text_keys(texts)) >= 0).tolist()
            return found

    @property
    def segments(self) -> int:
        return len(self._segments)

    # -- opening -----------------------------------------------------------------------------

    def _open(self) -> None:
        """Find (or start) the generation whose probe vector matches the embedder's, and read it."""
        probe = np.asarray(self.inner.passage([PROBE]), dtype=np.float32)[0]
        self.directory.mkdir(parents=True, exist_ok=True)
        for generation in sorted(p for p in self.directory.iterdir() if p.is_dir() and not p.name.startswith(".")):
            try:
                stored = np.load(generation / "probe.npy")
            except (OSError, ValueError, EOFError):  # a damaged probe: that generation is not used
                continue
            if stored.shape == probe.shape and float(stored @ probe) >= 0.9999:
                self._generation = generation
                break
        if self._generation is None:
            self._generation = self._new_generation(probe)
        segments = [p for p in self._generation.iterdir() if p.is_dir() and p.name.startswith("seg-")]
        self._segments = [s for s in (_read_segment(p, self.dimension) for p in sorted(segments)) if s is not None]
        self._reindex()
        log.info("vector cache %s: %d texts in %d segments", self._generation, len(self._rows), len(self._segments))

    def _new_generation(self, probe: np.ndarray) -> Path:
        tmp = Path(tempfile.mkdtemp(prefix=".gen-", dir=self.directory))
        np.save(tmp / "probe.npy", probe)
        final = self.directory / uuid.uuid4().hex[:12]
        os.rename(tmp, final)
        return final

    # -- lookups -----------------------------------------------------------------------------

    def _reindex(self) -> None:
        """One sorted key table over all segments; ``_rows`` are global row numbers."""
        keys = [s.keys for s in self._segments] or [np.empty((0, 2), dtype=np.uint64)]
        allkeys = np.concatenate(keys)
        order = np.lexsort((allkeys[:, 1], allkeys[:, 0]))
        self._index, self._rows = allkeys[order], order.astype(np.int64)
        self._offsets = np.cumsum([0] + [len(s.keys) for s in self._segments])

    def _lookup(self, keys: np.ndarray) -> np.ndarray:
        """Global row of each key (-1 when absent); the first hash searches, the second confirms."""
        if not len(self._rows):
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.searchsorted(self._index[:, 0], keys[:, 0])
        pos = np.minimum(pos, len(self._rows) - 1)
        out = np.full(len(keys), -1, dtype=np.int64)
        for j, p in enumerate(pos.tolist()):  # equal first hashes are adjacent
            while p < len(self._rows) and self._index[p, 0] == keys[j, 0]:
                if self._index[p, 1] == keys[j, 1]:
                    out[j] = self._rows[p]
                    break
                p += 1
        return out

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        seg = np.searchsorted(self._offsets, rows, side="right") - 1
        out = np.empty((len(rows), self.dimension), dtype=np.float32)
        for s in np.unique(seg).tolist():
            mine = seg == s
            out[mine] = self._segments[s].vectors[rows[mine] - self._offsets[s]]
        return out

    # -- writing -----------------------------------------------------------------------------

    def _add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Store new vectors: into this process's small open segment (rewritten with them) until
        it holds ``OPEN_ROWS``, then into a new one; one question thus adds at most one segment."""
        if self._generation is None:
            return
        grown = self._growing
        if grown is not None and len(grown.keys) < OPEN_ROWS:
            keys = np.concatenate([grown.keys, keys])
            vectors = np.concatenate([np.asarray(grown.vectors), vectors])
        try:
            path = _write_segment(self._generation, keys, vectors)
        except OSError as exc:
            log.warning("vector cache %s is not writable (%s): vectors stay in memory only", self._generation, exc)
            segment = _Segment(self._generation / "unsaved", keys, vectors)
        else:
            segment = _Segment(path, keys, np.load(path / "vectors.npy", mmap_mode="r"))
        if grown is not None and len(grown.keys) < OPEN_ROWS:
            self._segments = [s for s in self._segments if s is not grown]
            shutil.rmtree(grown.path, ignore_errors=True)
        self._segments.append(segment)
        self._growing = segment
        if len(self._segments) > MAX_SEGMENTS:
            self._merge()
        self._reindex()

    def _merge(self) -> None:
        """Merge the ``MERGE`` smallest saved segments into one (written before the old are removed)."""
        if self._generation is None:
            return
        saved = sorted((s for s in self._segments if s.path.name.startswith("seg-")), key=lambda s: len(s.keys))
        small = saved[:MERGE]
        if len(small) < 2:
            return
        try:
            path = _write_segment(self._generation, np.concatenate([s.keys for s in small]),
                                  np.concatenate([np.asarray(s.vectors) for s in small]))
        except OSError as exc:
            log.warning("vector cache %s: merging failed (%s)", self._generation, exc)
            return
        merged = _Segment(path, np.load(path / "keys.npy"), np.load(path / "vectors.npy", mmap_mode="r"))
        gone = {id(s) for s in small}
        if self._growing is not None and id(self._growing) in gone:
            self._growing = merged
        self._segments = [s for s in self._segments if id(s) not in gone] + [merged]
        for s in small:
            shutil.rmtree(s.path, ignore_errors=True)
