"""The entity linker's index as column tables: built in memory, saved as Arrow files, mapped on load.

A linker over a 10M-triple graph holds millions of surface forms. Kept as Python dicts and an
Aho-Corasick automaton, loading it meant parsing and rebuilding all of them (8-20 s per process
at 1M triples). Here the index is a few flat columns: forms sorted by a 64-bit hash of their
normalized text (``kg.keyset.text_keys``), each row pointing at its entity's row; the entities'
ids, labels, degrees and descriptions; the vocabulary of words (by length, for typo repair, and
by hash, for "is this word known"). Uncompressed Arrow IPC files map into memory without being
read, so opening costs milliseconds and a question touches the pages of the forms it looks up.
A hash is always checked against the form's text, so collisions cannot produce a wrong link.

Validation on load: the manifest names the format version and each file's size and CRC-32
(checked while the files total at most ``retrieval.graph_files.VERIFY_BYTES``, like the
GraphIndex); the caller (``pipeline.wiring``) ties the whole to the store's change number and
rebuilds with a warning when anything does not validate. Left out: incremental updates of the
files (``EntityLinker.update`` rebuilds the tables, which costs what a build costs).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kg.errors import SourceFormatError
from kg.keyset import text_keys
from retrieval.graph_files import VERIFY_BYTES, file_crc32

FORMAT_NAME, FORMAT_VERSION = "kgqa-entity-linker", 3  # 3: memory-mapped column tables
MANIFEST = "manifest.json"
_TABLES = ("entities", "forms", "words")

# (entity id, label, degree, description, ((original, normalized), ...)): what a linker row holds.
RowTuple = tuple[str, str, int, "str | None", tuple[tuple[str, str], ...]]


@dataclass
class LinkerTables:
    """The columns of a linker index (see the module docstring)."""

    entities: pa.Table  # id, label, degree, description
    forms: pa.Table  # key (sorted), norm, entity (row in entities), original
    words: pa.Table  # word (by length, then text), key (sorted, independently)
    _word_list: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._form_keys = _ints(self.forms, "key")
        self._form_entities = _ints(self.forms, "entity")
        self._norms = _one_chunk(self.forms, "norm")
        self._originals = _one_chunk(self.forms, "original")
        self._word_keys = _ints(self.words, "key")
        self._ids = _one_chunk(self.entities, "id")
        self._labels = _one_chunk(self.entities, "label")
        self._degrees = _ints(self.entities, "degree")
        self._descriptions = _one_chunk(self.entities, "description")
        lengths = np.asarray(pc.utf8_length(self._norms)) if len(self._norms) else np.zeros(0, int)
        self.max_len = int(lengths.max()) if len(lengths) else 0
        changes = np.flatnonzero(np.diff(self._form_keys)) + 1 if len(self._form_keys) else np.zeros(0, int)
        self._starts = np.concatenate([[0], changes]).astype(np.int64) if len(self._form_keys) else changes

    @classmethod
    def build(cls, rows: Iterable[RowTuple]) -> LinkerTables:
        """Tables of ``rows`` (entity order kept; forms of one text in entity order, as before)."""
        ids, labels, degrees, descriptions = [], [], [], []
        norms, originals, owners = [], [], []
        for i, (entity_id, label, degree, description, forms) in enumerate(rows):
            ids.append(entity_id)
            labels.append(label)
            degrees.append(degree)
            descriptions.append(description)
            for original, norm in forms:
                norms.append(norm)
                originals.append(original)
                owners.append(i)
        keys = text_keys(norms) if norms else np.zeros(0, np.int64)
        order = np.argsort(keys, kind="stable")
        norm_arr = pa.array(norms, pa.string()).take(pa.array(order))
        forms = pa.table({"key": pa.array(keys[order]), "norm": norm_arr,
                          "entity": pa.array(np.asarray(owners, dtype=np.int64)[order] if owners else
                                             np.zeros(0, np.int64)),
                          "original": pa.array(originals, pa.string()).take(pa.array(order))})
        vocabulary = sorted({w for n in set(norms) for w in n.split()}, key=lambda w: (len(w), w))
        word_keys = np.sort(text_keys(vocabulary)) if vocabulary else np.zeros(0, np.int64)
        words = pa.table({"word": pa.array(vocabulary, pa.string()), "key": pa.array(word_keys)})
        entities = pa.table({"id": pa.array(ids, pa.string()), "label": pa.array(labels, pa.string()),
                             "degree": pa.array(np.asarray(degrees, dtype=np.int64)),
                             "description": pa.array(descriptions, pa.string())})
        return cls(_single(entities), _single(forms), _single(words), vocabulary)

    # -- lookups -------------------------------------------------------------------------

    @property
    def entity_count(self) -> int:
        return len(self._ids)

    @property
    def form_count(self) -> int:
        """Distinct normalized forms."""
        return len(self._starts)

    def find(self, texts: list[str]) -> list[tuple[int, int]]:
        """Per text, the rows ``lo:hi`` of the forms with exactly that text (``lo == hi`` if none)."""
        if not texts or not len(self._form_keys):
            return [(0, 0)] * len(texts)
        keys = text_keys(texts)
        lo = np.searchsorted(self._form_keys, keys, side="left")
        hi = np.searchsorted(self._form_keys, keys, side="right")
        found = []
        for text, a, b in zip(texts, lo.tolist(), hi.tolist()):
            rows = [r for r in range(a, b) if self._norms[r].as_py() == text] if b > a else []
            found.append((rows[0], rows[-1] + 1) if rows else (0, 0))  # one text: contiguous (stable sort)
        return found

    def entries(self, lo: int, hi: int) -> list[tuple[int, str]]:
        """(entity row, original form) of the form rows ``lo:hi``."""
        return list(zip(self._form_entities[lo:hi].tolist(), self._originals.slice(lo, hi - lo).to_pylist()))

    def entity(self, row: int) -> tuple[str, str, int, str | None]:
        """(id, label, degree, description) of entity ``row``."""
        return (self._ids[row].as_py(), self._labels[row].as_py(), int(self._degrees[row]),
                self._descriptions[row].as_py())

    def known(self, words: list[str]) -> np.ndarray:
        """Whether each word occurs in some indexed form."""
        if not words or not len(self._word_keys):
            return np.zeros(len(words), dtype=bool)
        keys = text_keys(words)
        pos = np.searchsorted(self._word_keys, keys).clip(max=len(self._word_keys) - 1)
        found: np.ndarray = self._word_keys[pos] == keys
        return found

    def word_list(self) -> list[str]:
        """The vocabulary by length (materialized once, on the first typo repair)."""
        if self._word_list is None:
            self._word_list = _one_chunk(self.words, "word").to_pylist()
        return self._word_list

    def distinct_forms(self) -> list[str]:
        """Each normalized form once (in key order)."""
        return self._norms.take(pa.array(self._starts)).to_pylist() if len(self._starts) else []

    def first_original(self, form: str) -> str:
        lo, hi = self.find([form])[0]
        return str(self._originals[lo].as_py()) if hi > lo else form

    def rows(self) -> Iterator[RowTuple]:
        """Every entity row with its forms (what ``build`` took), for rebuilding after a change."""
        order = np.argsort(self._form_entities, kind="stable")
        owners = self._form_entities[order]
        bounds = np.searchsorted(owners, np.arange(self.entity_count + 1))
        originals = self._originals.take(pa.array(order)).to_pylist()
        norms = self._norms.take(pa.array(order)).to_pylist()
        for i, (entity_id, label, degree, description) in enumerate(zip(
                self._ids.to_pylist(), self._labels.to_pylist(), self._degrees.tolist(),
                self._descriptions.to_pylist())):
            a, b = int(bounds[i]), int(bounds[i + 1])
            yield entity_id, label, degree, description, tuple(zip(originals[a:b], norms[a:b]))

    # -- files -----------------------------------------------------------------------------

    def save(self, directory: Path, extra: dict[str, Any]) -> None:
        """Write the tables and then the manifest (with ``extra``) into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MANIFEST).unlink(missing_ok=True)  # a half-written index never looks whole
        files = {}
        for name in _TABLES:
            path = directory / f"{name}.arrow"
            tmp = path.with_name(f".{path.name}.tmp")
            table: pa.Table = getattr(self, name)
            with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
            os.replace(tmp, path)
            files[path.name] = {"bytes": path.stat().st_size, "crc32": file_crc32(path)}
        manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "entities": self.entity_count,
                    "forms": self.form_count, "files": files, **extra}
        tmp = directory / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, directory / MANIFEST)

    @classmethod
    def load(cls, directory: Path) -> tuple[LinkerTables, dict[str, Any]]:
        """The tables saved in ``directory``, memory-mapped, and the manifest.

        Raises:
            SourceFormatError: no index, another format version, or a file that does not validate.
        """
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise SourceFormatError(directory, f"no readable entity linker index ({exc})") from exc
        if not isinstance(manifest, dict) or \
                (manifest.get("format"), manifest.get("version")) != (FORMAT_NAME, FORMAT_VERSION):
            raise SourceFormatError(directory / MANIFEST, f"not a {FORMAT_NAME} index of version {FORMAT_VERSION}")
        try:
            files = manifest["files"]
            for name, entry in files.items():
                if (directory / name).stat().st_size != entry["bytes"]:
                    raise ValueError(f"{name} does not match its manifest (interrupted save?)")
            if sum(e["bytes"] for e in files.values()) <= VERIFY_BYTES:
                for name, entry in files.items():
                    if file_crc32(directory / name) != entry["crc32"]:
                        raise ValueError(f"{name} does not match its checksum")
            tables = {n: pa.ipc.open_file(pa.memory_map(str(directory / f"{n}.arrow"))).read_all() for n in _TABLES}
            loaded = cls(tables["entities"], tables["forms"], tables["words"])
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
            raise SourceFormatError(directory, f"damaged entity linker index ({exc!r})") from exc
        if loaded.entity_count != manifest.get("entities"):
            raise SourceFormatError(directory, "damaged entity linker index (entity count differs from the manifest)")
        return loaded, manifest


def _single(table: pa.Table) -> pa.Table:
    return table.combine_chunks()


def _one_chunk(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    if column.num_chunks == 0:
        return pa.array([], column.type)
    if column.num_chunks != 1:
        column = pa.chunked_array([pa.concat_arrays(column.chunks)])
    return column.chunk(0)


def _ints(table: pa.Table, name: str) -> np.ndarray:
    values: np.ndarray = _one_chunk(table, name).to_numpy(zero_copy_only=False)
    return values
