"""KeySet: the sorted-array set an indexing run uses instead of Python sets."""

from __future__ import annotations

import numpy as np

from kg.keyset import KeySet, in_sorted, node_keys


def test_keyset_matches_a_python_set_over_many_batches() -> None:
    rng = np.random.default_rng(0)
    keys, reference = KeySet(), set()
    for _ in range(60):
        batch = np.unique(rng.integers(-2**40, 2**40, size=int(rng.integers(1, 500))))
        fresh = ~keys.contains(batch)
        assert fresh.tolist() == [k not in reference for k in batch.tolist()]
        keys.add(batch[fresh])
        reference.update(batch.tolist())
    assert len(keys) == len(reference) and len(keys.levels) <= 12  # merged: a few levels, not 60
    probe = rng.integers(-2**40, 2**40, size=1000)
    assert keys.contains(probe).tolist() == [k in reference for k in probe.tolist()]
    assert keys.nbytes == 8 * len(reference)


def test_node_keys_are_stable_and_distinct() -> None:
    ids = ["Q1", "Q2", "lit:abc", "名字"]
    assert node_keys(ids).tolist() == node_keys(np.array(ids, dtype=object)).tolist()
    assert len(set(node_keys(ids).tolist())) == 4
    assert in_sorted(np.array([1, 5]), np.array([], dtype=np.int64)).tolist() == [False, False]


def test_keyset_to_array_is_every_member_sorted() -> None:
    keys = KeySet()
    assert keys.to_array().tolist() == []
    for batch in ([5, 1], [9], [3, 7, 2], [-4]):
        keys.add(np.array(batch))
    assert keys.to_array().tolist() == [-4, 1, 2, 3, 5, 7, 9]
    assert len(keys.levels) > 1  # the levels were left as they were
