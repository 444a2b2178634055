"""The ``GraphIndex`` kept in the knowledge base directory, memory-mapped on open.

``open_index(store, directory)`` returns the index saved in ``directory`` when it was built at
the store's current applied change number, mapping its arrays (``.npy`` files) and its node ids
and qualifiers (an Arrow IPC file) into memory without reading them: a process opens a large
index in milliseconds and the pages a question touches are read on demand. Otherwise it builds
the index from the store (``GraphIndex.from_store``) and saves it.

Validation on open: ``manifest.json`` names the format version, the store's applied change
number and edge count, and each file's dtype, shape and byte size; a file whose size differs
(truncated, replaced) or a manifest that does not parse makes the index rebuild with one
warning; so does a file whose CRC-32 differs, checked on open while the files total at most
``VERIFY_BYTES`` (2 GiB: about 30M triples at the ~67 bytes per edge measured; reading costs ~1 s per GB; larger are
checked by size only, since the point of mapping is not to read every byte). Files are written
to a temporary folder renamed into place, so a crash leaves either the old index or the new one.
Deliberately left out: incremental updates (a change to the store rebuilds the whole index,
which costs what an in-memory build costs).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from kg.stores.base import GraphStore
from retrieval.graph_index import GraphIndex, IndexLimits

log = logging.getLogger(__name__)
FORMAT = 1
MANIFEST = "manifest.json"
_LIMITS = IndexLimits()
VERIFY_BYTES = 2**31  # files checksummed on open up to this total (reading them costs ~1 s per GB)


class _Stale(Exception):
    """The saved index is absent or was built at another change number (rebuilt quietly)."""


def open_index(store: GraphStore, directory: Path, limits: IndexLimits = _LIMITS) -> GraphIndex:
    """The store's ``GraphIndex``: mapped from ``directory`` when current, else built and saved there.

    Args:
        store: the graph store (its ``applied_seq()`` says whether the saved index is current).
        directory: the index folder inside the knowledge base (e.g. ``KB/graph_index``).
        limits: work bounds of ``relation_paths``.
    """
    seq = store.applied_seq()
    try:
        return load(directory, seq, limits)
    except _Stale as why:
        log.info("building the graph index in %s (%s)", directory, why)
    except (OSError, ValueError, EOFError, KeyError, TypeError, pa.ArrowException) as exc:
        log.warning("the graph index in %s is unreadable (%s): rebuilding it from the store", directory, exc)
    started = time.perf_counter()
    index = GraphIndex.from_store(store, limits)
    try:
        save(index, directory, seq)
    except OSError as exc:
        log.warning("the graph index cannot be saved in %s (%s): it is rebuilt on every open", directory, exc)
    log.info("graph index: %d edges built and saved in %.1f s", index.edge_count, time.perf_counter() - started)
    return index


def save(index: GraphIndex, directory: Path, seq: int) -> None:
    """Write ``index`` (built at change number ``seq``) into ``directory``, replacing what was there."""
    ids, predicates, sources, qualifiers, arrays = index.parts()
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        files: dict[str, dict[str, Any]] = {}
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(array))
            files[f"{name}.npy"] = {"dtype": str(array.dtype), "shape": list(array.shape)}
        _write_strings(tmp / "ids.arrow", ids)
        files["ids.arrow"] = {}
        if qualifiers is not None:
            _write_strings(tmp / "qualifiers.arrow", qualifiers)
            files["qualifiers.arrow"] = {}
        for name, entry in files.items():
            entry["bytes"] = (tmp / name).stat().st_size
            entry["crc32"] = file_crc32(tmp / name)
        manifest = {"format": FORMAT, "seq": seq, "edges": index.edge_count, "nodes": index.node_count,
                    "predicates": predicates, "sources": sources, "files": files}
        (tmp / MANIFEST).write_text(json.dumps(manifest))
        _swap(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def load(directory: Path, seq: int, limits: IndexLimits = _LIMITS) -> GraphIndex:
    """The index saved in ``directory``, memory-mapped.

    Raises:
        _Stale: nothing is saved there, or it was built at another change number than ``seq``.
        ValueError: the manifest or a file does not validate (format, size, dtype or shape).
    """
    path = directory / MANIFEST
    if not path.exists():
        raise _Stale("none saved yet")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"format {manifest.get('format')!r}, expected {FORMAT}")
    if manifest.get("seq") != seq:
        raise _Stale(f"saved at change {manifest.get('seq')}, the store is at {seq}")
    for name, entry in manifest["files"].items():
        size = (directory / name).stat().st_size
        if size != entry["bytes"]:
            raise ValueError(f"{name} has {size} bytes, the manifest says {entry['bytes']}")
    if sum(e["bytes"] for e in manifest["files"].values()) <= VERIFY_BYTES:
        for name, entry in manifest["files"].items():
            if file_crc32(directory / name) != entry["crc32"]:
                raise ValueError(f"{name} does not match its checksum")
    arrays = {}
    for name, entry in manifest["files"].items():
        if name.endswith(".npy"):
            array = np.load(directory / name, mmap_mode="r")
            if str(array.dtype) != entry["dtype"] or list(array.shape) != entry["shape"]:
                raise ValueError(f"{name} holds {array.dtype} {array.shape}, the manifest says {entry}")
            arrays[name[:-4]] = array
    ids = _read_strings(directory / "ids.arrow")
    qualifiers = _read_strings(directory / "qualifiers.arrow") if "qualifiers.arrow" in manifest["files"] else None
    if len(ids) != manifest["nodes"] or len(arrays["key"]) != manifest["edges"]:
        raise ValueError("node or edge count differs from the manifest")
    return GraphIndex.from_parts(ids, manifest["predicates"], manifest["sources"], qualifiers, arrays, limits)


def file_crc32(path: Path) -> int:
    """CRC-32 of a file, read in 16 MiB pieces (what saved indices record to detect damage)."""
    crc = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 24):
            crc = zlib.crc32(chunk, crc)
    return crc


def _write_strings(path: Path, values: pa.Array) -> None:
    """One string column as an uncompressed Arrow IPC file (so that it maps without copying)."""
    table = pa.table({"values": values})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _read_strings(path: Path) -> pa.Array:
    column = pa.ipc.open_file(pa.memory_map(str(path))).read_all().column("values")
    if column.num_chunks != 1:
        raise ValueError(f"{path.name} holds {column.num_chunks} chunks, expected 1")
    return column.chunk(0)


def _swap(tmp: Path, directory: Path) -> None:
    """Put the folder ``tmp`` in ``directory``'s place (the old one removed after the rename)."""
    old = None
    if directory.exists():
        old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
        os.rename(directory, old)
    os.rename(tmp, directory)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
