"""Byte records keyed by text in temporary files: state a run keeps but reads back rarely or in parts.

A reader that must remember something per node for the whole source (the N-Triples reader's
names of the first pass) would otherwise hold a Python object per node, hundreds of bytes each.
``SpilledRecords`` writes the records to an unnamed temporary file and keeps in memory only the
keys' 64-bit hashes (``kg.keyset.text_keys``), sorted, with each record's offset and length:
24 bytes a key, whatever the record's size. A lookup is a binary search and one read; each
record is stored after its key and a lookup compares it, so a hash collision costs a second
read, never a wrong answer. Left out: updating or removing a record (written once, then read).

``Partitions`` spreads lines over a few temporary files by their key, so that what must be
gathered per key (all the names of a node) can be gathered one part at a time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import numpy as np

from kg.keyset import text_keys


class SpilledRecords:
    """Read-only records by text key, on disk, with 24 bytes a key in memory."""

    def __init__(self, items: Iterable[tuple[str, bytes]], directory: Path | None = None) -> None:
        """Write ``items`` (unique keys) to a temporary file in ``directory`` (default: the system's)."""
        self._file = tempfile.TemporaryFile(dir=directory)
        keys: list[str] = []
        starts: list[int] = []
        offset = 0
        for key, record in items:
            raw = key.encode()
            self._file.write(len(raw).to_bytes(4, "little") + raw + record)
            keys.append(key)
            starts.append(offset)
            offset += 4 + len(raw) + len(record)
        self._file.flush()
        bounds = np.array([*starts, offset], dtype=np.int64)
        hashes = text_keys(keys) if keys else np.empty(0, dtype=np.int64)
        order = np.argsort(hashes, kind="stable")
        self._hashes = hashes[order]
        self._starts = bounds[:-1][order]
        self._sizes = (bounds[1:] - bounds[:-1])[order]

    def __len__(self) -> int:
        return len(self._hashes)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (the index, not the records)."""
        return self._hashes.nbytes + self._starts.nbytes + self._sizes.nbytes

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def get(self, key: str) -> bytes | None:
        """The record stored under ``key``, or None."""
        h = int(text_keys([key])[0])
        lo, hi = np.searchsorted(self._hashes, h, "left"), np.searchsorted(self._hashes, h, "right")
        raw = key.encode()
        for i in range(int(lo), int(hi)):  # more than one only on a hash collision
            self._file.seek(int(self._starts[i]))
            blob = self._file.read(int(self._sizes[i]))
            size = int.from_bytes(blob[:4], "little")
            if blob[4:4 + size] == raw:
                return blob[4 + size:]
        return None

    def close(self) -> None:
        """Delete the file (the records are gone)."""
        self._file.close()

    def __enter__(self) -> SpilledRecords:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


class Partitions:
    """Lines spread over ``n`` temporary files by their key, to be read back one file at a time.

    A key's part is Python's ``hash`` of it modulo ``n``: fixed within a process, which is all a
    run needs (the files do not outlive it). Lines must not contain a newline.
    """

    def __init__(self, n: int, directory: Path | None = None) -> None:
        if n < 1:
            raise ValueError("n must be positive")
        self._files = [tempfile.TemporaryFile(dir=directory) for _ in range(n)]

    def __len__(self) -> int:
        return len(self._files)

    def part(self, key: str) -> int:
        return hash(key) % len(self._files)

    def add(self, key: str, line: bytes) -> None:
        self._files[self.part(key)].write(line + b"\n")

    def read(self, part: int) -> Iterator[bytes]:
        """The lines of one part, in the order they were added."""
        fh = self._files[part]
        fh.flush()
        fh.seek(0)
        for line in fh:
            yield line[:-1]

    def close(self) -> None:
        for fh in self._files:
            fh.close()
