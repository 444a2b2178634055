"""SpilledRecords: byte records by text key in a temporary file, 24 bytes a key in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kg.spill import Partitions, SpilledRecords


def test_records_round_trip_through_the_file(tmp_path: Path) -> None:
    items = [(f"Q{i}", f"record {i} \u540d".encode() * (i % 5)) for i in range(5000)] + [("", b"empty key")]
    with SpilledRecords(iter(items), directory=tmp_path) as spilled:
        assert len(spilled) == len(items) and spilled.nbytes == 24 * len(items)
        for key, record in items[::7] + items[-1:]:
            assert spilled.get(key) == record
        assert "Q42" in spilled and "Q5000" not in spilled and 42 not in spilled
        assert spilled.get("missing") is None
    assert not list(tmp_path.iterdir())  # the file goes when closed (it never had a name)


def test_a_hash_collision_reads_the_right_record(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import kg.spill

    # every key hashes alike: lookups must tell records apart by the stored key
    monkeypatch.setattr(kg.spill, "text_keys", lambda keys: np.zeros(len(keys), dtype=np.int64))
    with SpilledRecords([("a", b"1"), ("b", b"2"), ("c", b"3")], directory=tmp_path) as spilled:
        assert [spilled.get(k) for k in ("c", "a", "b", "d")] == [b"3", b"1", b"2", None]


def test_nothing_spilled_finds_nothing(tmp_path: Path) -> None:
    with SpilledRecords([], directory=tmp_path) as spilled:
        assert len(spilled) == 0 and spilled.get("Q1") is None


def test_partitions_give_each_key_one_part_and_keep_the_order(tmp_path: Path) -> None:
    parts = Partitions(3, directory=tmp_path)
    try:
        for i in range(300):
            parts.add(f"n{i % 50}", f"line {i}".encode())
        seen: dict[str, int] = {}
        for part in range(len(parts)):
            lines = [line.decode() for line in parts.read(part)]
            numbers = [int(line.split()[1]) for line in lines]
            assert numbers == sorted(numbers)  # in the order added
            for n in numbers:
                assert seen.setdefault(f"n{n % 50}", part) == part  # a key never spans two parts
        assert len(seen) == 50 and len(set(seen.values())) > 1
    finally:
        parts.close()
