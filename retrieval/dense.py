"""A persistent FAISS vector index keyed by string ids, with removal and atomic saves.

The stored vectors and the string-id <-> int64-label map are the truth; the FAISS index is
derived from them. Below ``DenseConfig.exact_limit`` vectors it is exact search
(``IndexIDMap2`` over ``IndexFlatIP``), which adds and removes in place; at or above it, HNSW
(``IndexHNSWFlat``, inner product), which cannot remove: removed (and replaced) vectors are
hidden by a search-time filter until they outnumber ``max_dead_fraction`` of the live ones, and
then the graph is rebuilt from the stored vectors before the next search or save. At or above
``DenseConfig.pq_limit`` vectors, IVF-PQ (``IndexIVFPQ``: ``pq_bytes`` bytes a vector in the FAISS
file instead of HNSW's full copy plus graph), which adds and removes in place; its shortlist of
``refine`` x k is re-ranked exactly against the stored vectors, which an index of that size maps
from disk instead of reading into memory. Vectors are expected to be unit length, so the inner
product is the cosine.

When ``faiss.get_num_gpus() > 0`` exact search runs on every GPU (a flat copy of the stored
vectors, made by ``faiss.index_cpu_to_all_gpus``) and IVF-PQ is sharded over every GPU (the
cloner's ``shard`` option: an ``IndexShards`` of one part per GPU); HNSW always searches on the
CPU, since FAISS has no GPU HNSW. On disk a directory holds ``manifest.json`` and the snapshot
folder it names (``vectors.npy``, ``ids.json``, ``index.faiss``). A save writes a new snapshot
beside the old one and then replaces the manifest in one rename, so an interrupted save leaves
the previous index loadable. One writer per directory is assumed; this module does not lock.

Why over the house's ~400 lines: the snapshot format, its checksums and the rebuild of a damaged
FAISS file from its vectors belong to the index they describe.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from kg.errors import BackendUnavailable, KGQAError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS, IDS, FAISS_FILE = "vectors.npy", "ids.json", "index.faiss"


@dataclass(frozen=True)
class DenseConfig:
    """How the FAISS index is built and searched.

    Args:
        exact_limit: below this many vectors search is exact; at or above it, HNSW. Exact
            inner-product search over 50k x 384 floats takes a few ms per query on two cores.
        hnsw_m: HNSW graph degree.
        ef_construction: HNSW build-time beam width (FAISS's default; building 100k x 384 takes
            about 35 s on two cores, five times longer at 200).
        ef_search: HNSW search-time beam width (raised to ``k`` when smaller).
        max_dead_fraction: HNSW hides removed vectors when searching and is rebuilt once they
            outnumber this fraction of the live ones (0: rebuild on every removal).
        use_gpu: search exact and IVF-PQ indexes on the GPUs when FAISS sees any.
        pq_limit: at or above this many vectors, IVF-PQ instead of HNSW. Measured by
            bench/dense_tiers.py (384-d, 2 cores): at 100k a draw (HNSW builds in 22 s against
            30 s, IVF-PQ holds 43 MB of memory against 361 MB, recall@10 1.0 both); at 300k IVF-PQ
            is ahead on every count (recall@10 0.986 against 0.915, build 41 s against 62 s, memory
            90 MB against 1,041 MB, p50 0.65 ms both).
        pq_bytes: IVF-PQ code size per vector (the largest divisor of the dimension not above it).
        nprobe: IVF lists searched per query.
        refine: IVF-PQ returns ``refine`` x k candidates, re-ranked exactly by the stored vectors.
    """

    exact_limit: int = 50_000
    hnsw_m: int = 32
    ef_construction: int = 40
    ef_search: int = 128
    max_dead_fraction: float = 0.1
    use_gpu: bool = True
    pq_limit: int = 200_000
    pq_bytes: int = 48
    nprobe: int = 32
    refine: int = 8

    def __post_init__(self) -> None:
        for name in ("exact_limit", "hnsw_m", "ef_construction", "ef_search", "pq_limit", "pq_bytes",
                     "nprobe", "refine"):
            if getattr(self, name) < 1:
                raise KGQAError(f"DenseConfig.{name} must be positive, got {getattr(self, name)}")
        if self.max_dead_fraction < 0:
            raise KGQAError(f"DenseConfig.max_dead_fraction must be >= 0, got {self.max_dead_fraction}")


@dataclass(frozen=True)
class IndexManifest:
    """What an index folder holds; ``snapshot`` names the folder with the data."""

    format_version: int
    model: str
    dimension: int
    count: int
    kind: str  # flat | hnsw | ivfpq
    updated: str  # ISO 8601, UTC
    snapshot: str = ""
    digest: str | None = None  # of the snapshot's vectors and ids (None in indexes saved before it existed)
    faiss_digest: str | None = None  # of its index.faiss (derived: a mismatch rebuilds it from the vectors)


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:
        raise BackendUnavailable("the dense index needs FAISS: pip install faiss-cpu "
                                 "(or the gpu extra: pip install -e '.[gpu]')") from exc
    return faiss


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_manifest(directory: Path) -> IndexManifest:
    """The manifest in ``directory``, checked for this module's format version.

    Raises:
        KGQAError: there is no index there, or it has another format version.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise KGQAError(f"no vector index in {directory} (no {MANIFEST}); create one with VectorIndex.create")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        version = raw.get("format_version")
    except (ValueError, AttributeError) as exc:
        raise KGQAError(f"the manifest {path} is not a JSON object: {exc}") from exc
    if version != FORMAT_VERSION:
        raise KGQAError(f"the vector index in {directory} has format_version {version}; this kgqa reads "
                        f"{FORMAT_VERSION}: rebuild the index")
    try:
        return IndexManifest(**raw)
    except TypeError as exc:
        raise KGQAError(f"the manifest {path} has unexpected fields: {exc}") from exc


def _fsync(path: Path) -> None:
    """Flush a file's data, or a folder's entries, to disk."""
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _digest(vectors: np.ndarray, ids_text: str) -> str:
    """A checksum of what a snapshot holds, so that a damaged file is seen on open, not searched."""
    h = hashlib.blake2b(digest_size=16)
    rows = max(1, (1 << 24) // max(1, vectors[:1].nbytes))  # ~16 MB at a time: a mapped file is not copied whole
    for start in range(0, len(vectors), rows):
        h.update(np.ascontiguousarray(vectors[start:start + rows]).tobytes())
    h.update(ids_text.encode("utf-8"))
    return h.hexdigest()


def _file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _write_snapshot(folder: Path, id_map: dict[str, Any], vectors: np.ndarray, index: Any) -> tuple[str, str]:
    """Write the three data files into ``folder``, flush them to disk; returns the data's and FAISS's digests."""
    np.save(folder / VECTORS, vectors)
    ids_text = json.dumps(id_map)
    (folder / IDS).write_text(ids_text, encoding="utf-8")
    _faiss().write_index(index, str(folder / FAISS_FILE))
    for name in (VECTORS, IDS, FAISS_FILE):
        _fsync(folder / name)
    return _digest(vectors, ids_text), _file_digest(folder / FAISS_FILE)


def _replace_manifest(directory: Path, manifest: IndexManifest) -> None:
    """Commit point of a save: write the manifest beside the old one, then rename over it."""
    handle, tmp = tempfile.mkstemp(prefix=".manifest-", dir=directory)
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump(asdict(manifest), out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, directory / MANIFEST)
    _fsync(directory)


def _remove_stale(directory: Path, keep: str) -> None:
    """Delete snapshots and temporaries other than ``keep`` (left by earlier or failed saves)."""
    for entry in directory.iterdir():
        stale = entry.name.startswith(("snap-", ".tmp-", ".manifest-")) and entry.name != keep
        if stale and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        elif stale:
            entry.unlink(missing_ok=True)


class VectorIndex:
    """Unit vectors under string ids, searchable by inner product, saved atomically.

    Build with ``create`` or ``open``, never the constructor.
    """

    def __init__(self, directory: Path, manifest: IndexManifest, ids: list[str], labels: np.ndarray,
                 next_label: int, vectors: np.ndarray, config: DenseConfig) -> None:
        self.directory = Path(directory)
        self.config = config
        self._model, self._dimension = manifest.model, manifest.dimension
        self._updated, self._snapshot = manifest.updated, manifest.snapshot
        self._ids, self._labels, self._vectors, self._next_label = ids, labels, vectors, next_label
        self._row = {id_: i for i, id_ in enumerate(ids)}
        self._id_of = dict(zip(labels.tolist(), ids))
        self._index: Any = None  # the CPU FAISS index, or None while stale
        self._kind = ""
        self._gpu: Any = None  # a GPU flat copy of the vectors, or None
        self._dead: set[int] = set()  # labels still in the HNSW graph but removed
        self._hidden: Any = None  # FAISS selectors that hide the dead labels
        self._trained = 0  # vectors the IVF-PQ index held when it was trained (or loaded)

    @classmethod
    def create(cls, directory: Path, dimension: int, model: str, config: DenseConfig | None = None) -> VectorIndex:
        """Make an empty index in ``directory`` (created if needed) and save it.

        Raises:
            KGQAError: ``directory`` already holds an index, or ``dimension`` is not positive.
        """
        directory = Path(directory)
        if (directory / MANIFEST).exists():
            raise KGQAError(f"{directory} already holds a vector index; open it instead")
        if dimension < 1:
            raise KGQAError(f"dimension must be positive, got {dimension}")
        directory.mkdir(parents=True, exist_ok=True)
        manifest = IndexManifest(FORMAT_VERSION, model, dimension, 0, "flat", _now())
        index = cls(directory, manifest, [], np.empty(0, dtype=np.int64), 0,
                    np.empty((0, dimension), dtype=np.float32), config or DenseConfig())
        index.save()
        return index

    @classmethod
    def open(cls, directory: Path, config: DenseConfig | None = None) -> VectorIndex:
        """Load the index saved in ``directory``.

        Raises:
            KGQAError: no index there, another format version, or files that disagree.
        """
        directory = Path(directory)
        manifest = read_manifest(directory)
        folder = directory / manifest.snapshot
        mapped = manifest.count >= (config or DenseConfig()).pq_limit  # IVF-PQ: re-ranking touches few rows
        try:
            vectors = np.load(folder / VECTORS, allow_pickle=False, mmap_mode="r" if mapped else None)
            ids_text = (folder / IDS).read_text(encoding="utf-8")
            raw = json.loads(ids_text)
            labels = np.asarray(raw["labels"], dtype=np.int64)
            counts_agree = len(raw["ids"]) == len(labels) == len(vectors) == manifest.count
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            raise KGQAError(f"the vector index in {directory} is damaged: {exc!r}") from exc
        if not counts_agree:
            raise KGQAError(f"the vector index in {directory} is damaged: counts disagree")
        if manifest.digest is not None and manifest.digest != _digest(vectors, ids_text):
            raise KGQAError(f"the vector index in {directory} is damaged: {folder.name} does not match the "
                            "checksum in its manifest")
        if not (mapped and vectors.dtype == np.float32 and vectors.shape[1:] == (manifest.dimension,)):
            vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, manifest.dimension)
        index = cls(directory, manifest, list(raw["ids"]), labels, int(raw["next_label"]), vectors,
                    config or DenseConfig())
        index._load_faiss(folder / FAISS_FILE, manifest, set(raw.get("dead", ())))
        return index

    def _load_faiss(self, path: Path, manifest: IndexManifest, dead: set[int]) -> None:
        """Reuse the saved FAISS index when it matches; otherwise it is rebuilt when needed."""
        kind = manifest.kind
        if not path.is_file() or kind != self._wanted_kind():
            return
        try:
            if manifest.faiss_digest is not None and manifest.faiss_digest != _file_digest(path):
                raise RuntimeError("it does not match the checksum in the manifest")
            index = _faiss().read_index(str(path))
        except RuntimeError as exc:  # a damaged file: the index is rebuilt from the stored vectors
            log.warning("%s is damaged (%s); rebuilding it from the stored vectors", path, str(exc).splitlines()[0])
            return
        if kind == "ivfpq":
            index.nprobe = self.config.nprobe
        if index.ntotal == len(self._ids) + len(dead):
            self._index, self._kind, self._dead, self._trained = index, kind, dead, index.ntotal

    @staticmethod
    def exists(directory: Path) -> bool:
        """Whether ``directory`` holds a saved index (of any format version)."""
        return (Path(directory) / MANIFEST).is_file()

    def save(self) -> None:
        """Write the index to its directory atomically.

        The data goes to a new snapshot folder, then the manifest is replaced in one rename; a
        save that fails midway leaves the previous index as it was.
        """
        index = self._ready()
        snapshot = f"snap-{uuid.uuid4().hex[:12]}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.directory))
        try:
            id_map = {"ids": self._ids, "labels": self._labels.tolist(), "next_label": self._next_label,
                      "dead": sorted(self._dead)}
            digest, faiss_digest = _write_snapshot(tmp, id_map, self._vectors, index)
            tmp.rename(self.directory / snapshot)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        updated = _now()
        manifest = IndexManifest(FORMAT_VERSION, self._model, self._dimension, len(self._ids), self._kind,
                                 updated, snapshot, digest, faiss_digest)
        _replace_manifest(self.directory, manifest)
        self._updated, self._snapshot = updated, snapshot
        _remove_stale(self.directory, keep=snapshot)
        log.info("saved %d vectors (%s) to %s", len(self._ids), self._kind, self.directory)

    @property
    def manifest(self) -> IndexManifest:
        """The manifest of the index as it is in memory (``updated`` is the last save)."""
        kind = self._kind if self._index is not None else self._wanted_kind()
        return IndexManifest(FORMAT_VERSION, self._model, self._dimension, len(self._ids), kind, self._updated,
                             self._snapshot)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._row

    def ids(self) -> list[str]:
        """The ids held, in storage order (a copy)."""
        return list(self._ids)

    def _check(self, vectors: np.ndarray, rows: int | None = None) -> np.ndarray:
        """``vectors`` as a C-contiguous float32 matrix of this index's dimension."""
        array = np.asarray(vectors, dtype=np.float32)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != self._dimension:
            raise KGQAError(f"vectors of shape {np.shape(vectors)} do not fit this index of dimension "
                            f"{self._dimension} (model {self._model!r})")
        if rows is not None and array.shape[0] != rows:
            raise KGQAError(f"{rows} ids but {array.shape[0]} vectors")
        return np.ascontiguousarray(array)

    def add(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors under ``ids``; an id already present gets its vector replaced.

        When ``ids`` repeats an id, its last vector wins.

        Raises:
            KGQAError: the vectors' dimension is not the index's, or counts differ.
        """
        array = self._check(vectors, rows=len(ids))
        last = {id_: i for i, id_ in enumerate(ids)}
        dropped = self._drop(id_ for id_ in last if id_ in self._row)  # a replaced id gets a new label
        fresh = np.arange(self._next_label, self._next_label + len(last), dtype=np.int64)
        self._next_label += len(last)
        self._row.update((id_, len(self._ids) + j) for j, id_ in enumerate(last))
        self._ids.extend(last)
        self._id_of.update(zip(fresh.tolist(), last))
        added = array[list(last.values())]
        self._labels = np.concatenate([self._labels, fresh])
        self._vectors = np.concatenate([self._vectors, added])
        self._sync(dropped, fresh, added)

    def remove(self, ids: Iterable[str]) -> int:
        """Remove the vectors under ``ids`` (unknown ids are ignored).

        Returns:
            How many vectors were removed.
        """
        dropped = self._drop(ids)
        self._sync(dropped)
        return len(dropped)

    def _drop(self, ids: Iterable[str]) -> np.ndarray:
        """Forget the stored rows of ``ids`` and return their labels."""
        rows = sorted({self._row[id_] for id_ in ids if id_ in self._row})
        if not rows:
            return np.empty(0, dtype=np.int64)
        gone = self._labels[rows]
        keep = np.ones(len(self._ids), dtype=bool)
        keep[rows] = False
        self._ids = [id_ for id_, kept in zip(self._ids, keep) if kept]
        self._labels, self._vectors = self._labels[keep], self._vectors[keep]
        self._row = {id_: i for i, id_ in enumerate(self._ids)}
        for label in gone.tolist():
            del self._id_of[label]
        return gone

    def _sync(self, dropped: np.ndarray, added: np.ndarray | None = None, vectors: np.ndarray | None = None) -> None:
        """Bring the FAISS index in step with the stored vectors, or mark it stale for a rebuild."""
        self._gpu = self._hidden = None
        index = self._index
        if index is None or self._kind != self._wanted_kind():
            self._index, self._dead = None, set()
            return
        if len(dropped) and self._kind in ("flat", "ivfpq"):
            index.remove_ids(dropped)
        elif len(dropped):  # HNSW cannot remove: hide the labels when searching until the rebuild
            self._dead.update(dropped.tolist())
        if added is not None and len(added):
            index.add_with_ids(vectors, added)
        if len(self._dead) > self.config.max_dead_fraction * len(self._ids):
            self._index, self._dead = None, set()
        elif self._kind == "ivfpq" and len(self._ids) > 4 * self._trained:
            self._index = None  # four times the vectors it was trained on: retrain with twice the lists

    def _wanted_kind(self) -> str:
        n = len(self._ids)
        return "ivfpq" if n >= self.config.pq_limit else "hnsw" if n >= self.config.exact_limit else "flat"

    def _ivfpq(self) -> Any:
        """An IVF-PQ index trained on a sample of the stored vectors, holding all of them."""
        faiss, n, d = _faiss(), len(self._ids), self._dimension
        lists = max(1, min(int(4 * n ** 0.5), n // 39))  # FAISS wants >= 39 training points per list
        m = max(b for b in range(1, min(self.config.pq_bytes, d) + 1) if d % b == 0)
        bits = 8 if n >= 39 * 256 else max(1, min(8, int(np.log2(max(2, n // 39)))))
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(d), d, lists, m, bits, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(0).choice(n, size=min(n, max(64 * lists, 256 * 39)), replace=False)
        log.info("training IVF-PQ (%d lists, %d bytes a vector) on %d of %d vectors", lists, m, len(sample), n)
        index.train(np.ascontiguousarray(self._vectors[np.sort(sample)]))
        for start in range(0, n, 100_000):  # bounded copies of a mapped file
            index.add_with_ids(np.ascontiguousarray(self._vectors[start:start + 100_000]),
                               self._labels[start:start + 100_000])
        index.nprobe = self.config.nprobe
        self._trained = n
        return index

    def _ready(self) -> Any:
        """The CPU FAISS index, rebuilt from the stored vectors if stale."""
        if self._index is None:
            faiss = _faiss()
            self._kind = self._wanted_kind()
            if self._kind == "ivfpq":
                self._index, self._dead, self._hidden = self._ivfpq(), set(), None
                return self._index
            if self._kind == "hnsw":
                inner = faiss.IndexHNSWFlat(self._dimension, self.config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
                inner.hnsw.efConstruction = self.config.ef_construction
                log.info("building an HNSW index over %d vectors", len(self._ids))
            else:
                inner = faiss.IndexFlatIP(self._dimension)
            index = faiss.IndexIDMap2(inner)
            if len(self._ids):
                index.add_with_ids(self._vectors, self._labels)
            self._index, self._dead, self._hidden = index, set(), None
        return self._index

    def _hnsw_params(self, k: int) -> Any:
        """HNSW search parameters: the beam width, and a filter hiding removed labels."""
        faiss = _faiss()
        params = faiss.SearchParametersHNSW(efSearch=max(self.config.ef_search, k))
        if self._dead:
            if self._hidden is None:  # keep both selectors alive: FAISS holds plain pointers
                batch = faiss.IDSelectorBatch(np.fromiter(self._dead, dtype=np.int64, count=len(self._dead)))
                self._hidden = (batch, faiss.IDSelectorNot(batch))
            params.sel = self._hidden[1]
        return params

    def _gpu_copy(self, index: Any) -> Any:
        """The index on every GPU, or None: for flat search a flat copy (rows are positions), for
        IVF-PQ the trained index sharded over the GPUs (labels kept); HNSW stays on the CPU."""
        if self._kind == "hnsw" or not self.config.use_gpu:
            return None
        faiss = _faiss()
        if getattr(faiss, "get_num_gpus", lambda: 0)() == 0:
            return None
        if self._gpu is None and self._kind == "flat":
            cpu = faiss.IndexFlatIP(self._dimension)
            cpu.add(self._vectors)
            self._gpu = faiss.index_cpu_to_all_gpus(cpu)
        elif self._gpu is None:
            options = faiss.GpuMultipleClonerOptions()
            options.shard, options.useFloat16 = True, True  # one part of the lists per GPU
            self._gpu = faiss.index_cpu_to_all_gpus(index, co=options)
        return self._gpu

    def _refined(self, queries: np.ndarray, labels: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """IVF-PQ's shortlist re-ranked by the exact inner product with the stored vectors."""
        out = []
        for query, found in zip(queries, labels):
            ids = [self._id_of[label] for label in found.tolist() if label >= 0]
            rows = np.sort(np.fromiter((self._row[i] for i in ids), dtype=np.int64, count=len(ids)))
            scores = np.asarray(self._vectors[rows]) @ query
            best = np.argsort(-scores, kind="stable")[:k]
            out.append([(self._ids[rows[b]], float(scores[b])) for b in best.tolist()])
        return out

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` nearest ids to each query, best first, with inner-product scores.

        Args:
            queries: shape ``(n, dimension)``, or ``(dimension,)`` for one query.
            k: results per query; fewer come back when the index holds fewer vectors.

        Returns:
            One list of ``(id, score)`` per query.

        Raises:
            KGQAError: the queries' dimension is not the index's.
        """
        array = self._check(queries)
        if k < 1 or not self._ids or not len(array):
            return [[] for _ in range(len(array))]
        k = min(k, len(self._ids))
        index = self._ready()
        gpu = self._gpu_copy(index)
        if self._kind == "ivfpq":
            wide = min(k * self.config.refine, len(self._ids))
            _, labels = (gpu or index).search(array, wide)
            return self._refined(array, labels, k)
        if gpu is not None:
            scores, rows = gpu.search(array, k)
            return [[(self._ids[r], float(s)) for r, s in zip(rr, ss) if r >= 0] for rr, ss in zip(rows, scores)]
        if self._kind == "hnsw":
            scores, labels = index.search(array, k, params=self._hnsw_params(k))
        else:
            scores, labels = index.search(array, k)
        return [[(self._id_of[label], float(s)) for label, s in zip(ll.tolist(), ss) if label >= 0]
                for ll, ss in zip(labels, scores)]
