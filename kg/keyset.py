"""Sets of 64-bit keys held as a few sorted numpy arrays, for diffs that must not grow Python sets.

An indexing run remembers every triple key and node it has seen so that a key repeated later in
the source is not sent twice and what the source no longer has can be removed. As Python sets of
ints or strings that costs 60-100 bytes per member (hundreds of MB at 10M triples); here a
member costs 8 bytes. Node ids are reduced to 64-bit hashes (``node_keys``), the same gamble on
collisions that triple keys already make. Levels are merged like a log-structured merge tree, so
adding n keys in batches costs O(n log n) in all and a lookup searches O(log n) sorted arrays.
Left out: removal (a run only ever adds what it has seen).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


class KeySet:
    """A growing set of int64 keys: sorted disjoint levels, the newest smallest."""

    def __init__(self, keys: np.ndarray | None = None) -> None:
        self.levels: list[np.ndarray] = []
        self.size = 0
        if keys is not None and len(keys):
            self.add(np.unique(keys))

    def __len__(self) -> int:
        return self.size

    @property
    def nbytes(self) -> int:
        return sum(level.nbytes for level in self.levels)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Membership of each of ``keys``."""
        found = np.zeros(len(keys), dtype=bool)
        for level in self.levels:
            found |= in_sorted(keys, level)
        return found

    def to_array(self) -> np.ndarray:
        """Every member, as one sorted array (a copy: the levels stay as they are)."""
        if not self.levels:
            return np.empty(0, dtype=np.int64)
        return np.sort(np.concatenate(self.levels))

    def add(self, keys: np.ndarray) -> None:
        """Add ``keys``: unique, and none of them in the set already (the caller has checked)."""
        if not len(keys):
            return
        self.levels.append(np.sort(np.asarray(keys, dtype=np.int64)))
        self.size += len(keys)
        while len(self.levels) > 1 and len(self.levels[-2]) <= 2 * len(self.levels[-1]):
            newest = self.levels.pop()
            self.levels[-1] = np.sort(np.concatenate([self.levels[-1], newest]), kind="stable")


def in_sorted(values: np.ndarray, sorted_keys: np.ndarray) -> np.ndarray:
    """Membership of ``values`` in a sorted array, by binary search."""
    if not len(sorted_keys):
        return np.zeros(len(values), dtype=bool)
    pos = np.searchsorted(sorted_keys, values).clip(max=len(sorted_keys) - 1)
    found: np.ndarray = sorted_keys[pos] == values
    return found


def text_keys(texts: Sequence[str] | np.ndarray) -> np.ndarray:
    """64-bit hashes of texts (stable across runs and processes: pandas' hash of the text)."""
    values = np.asarray(texts, dtype=object)
    # categorizing first (pandas' default) gives the same hashes; it pays off on large arrays only
    keys: np.ndarray = pd.util.hash_array(values, categorize=len(values) > 10_000).view(np.int64)
    return keys


node_keys = text_keys  # node ids are texts; the name says what the keys stand for
