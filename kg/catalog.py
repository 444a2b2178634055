"""The source catalog: which sources a knowledge base holds, and exactly what each contributed.

SQLite (``catalog.sqlite`` beside the store) records each source (path, reader, options, content
hash, counts), the passages, and a journal of changes in flight. What a source contributed
(triple keys, node ids, entity record fingerprints, passage keys) is kept as a ``SourceState``
in ``sources/<id>.npz``, written atomically; it mirrors what the graph holds for that source.

Crash safety: before a change is sent to the store, its delta goes into the journal with a
sequence number; the store records the number of the last change it applied. On the next run,
``recover`` folds the journalled deltas the store did apply into the source's state and drops
the rest, so the catalog and the store agree again and re-indexing completes the work.

Why over the house's ~400 lines: the journal, the per-source state files and the consistency
queries (``integrity``, ``applied``, orphans) share one SQLite schema and must change together.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kg.base import Passage, Provenance
from kg.errors import CorruptState, SourceNotFound

CATALOG_FILE = "catalog.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, path TEXT UNIQUE NOT NULL,
    format TEXT NOT NULL, options TEXT NOT NULL, hash TEXT, size INTEGER, mtime_ns INTEGER,
    triples INTEGER DEFAULT 0, entities INTEGER DEFAULT 0, passages INTEGER DEFAULT 0,
    skipped INTEGER DEFAULT 0, state TEXT NOT NULL DEFAULT 'new', indexed_at REAL);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY, source_id INTEGER NOT NULL, delta BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS passages (
    key INTEGER PRIMARY KEY, id TEXT NOT NULL, source_id INTEGER NOT NULL, title TEXT,
    text TEXT NOT NULL, entities TEXT, line INTEGER, offset INTEGER);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
"""
_EMPTY_I = np.empty(0, dtype=np.int64)
_EMPTY_S = np.empty(0, dtype=object)
_STATE_FIELDS = {"keys", "nodes", "rec_ids", "rec_hash", "pkeys"}


@dataclass(frozen=True)
class SourceRecord:
    """A registered source as the catalog lists it."""

    id: int
    name: str
    path: str
    format: str
    options: dict[str, object]
    hash: str | None
    size: int | None
    mtime_ns: int | None
    triples: int
    entities: int
    passages: int
    skipped: int
    state: str
    indexed_at: float | None


@dataclass
class SourceState:
    """What one source contributed: sorted unique arrays, mirrored by the store."""

    keys: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    nodes: np.ndarray = field(default_factory=lambda: _EMPTY_S)
    rec_ids: np.ndarray = field(default_factory=lambda: _EMPTY_S)
    rec_hash: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    pkeys: np.ndarray = field(default_factory=lambda: _EMPTY_I)

    def apply(self, delta: Delta) -> None:
        """Fold one journalled delta into this state."""
        self.keys = np.setdiff1d(np.union1d(self.keys, delta.add_keys), delta.del_keys)
        self.nodes = str_diff(str_union(self.nodes, delta.add_nodes), delta.del_nodes)
        self.pkeys = np.setdiff1d(np.union1d(self.pkeys, delta.add_pkeys), delta.del_pkeys)
        records = dict(zip(self.rec_ids.tolist(), self.rec_hash.tolist()))
        records.update(zip(delta.rec_ids.tolist(), delta.rec_hash.tolist()))
        for node in delta.del_nodes.tolist():
            records.pop(node, None)
        ids = sorted(records)
        self.rec_ids = np.array(ids, dtype=object)
        self.rec_hash = np.array([records[i] for i in ids], dtype=np.int64)


@dataclass
class Delta:
    """The part of a source's state that one change adds and removes."""

    add_keys: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    add_nodes: np.ndarray = field(default_factory=lambda: _EMPTY_S)
    rec_ids: np.ndarray = field(default_factory=lambda: _EMPTY_S)
    rec_hash: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    add_pkeys: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    del_keys: np.ndarray = field(default_factory=lambda: _EMPTY_I)
    del_nodes: np.ndarray = field(default_factory=lambda: _EMPTY_S)
    del_pkeys: np.ndarray = field(default_factory=lambda: _EMPTY_I)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **{k: _storable(v) for k, v in vars(self).items()})  # type: ignore[arg-type]
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Delta:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            return cls(**{k: _loaded(data[k]) for k in data.files})


def str_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sorted union of two string arrays (numpy's set routines are quadratic on strings)."""
    if not len(b):
        return a
    return np.array(sorted(set(a.tolist()) | set(b.tolist())), dtype=object)


def str_diff(a: np.ndarray, b: np.ndarray | set[str]) -> np.ndarray:
    """Sorted strings of ``a`` that are not in ``b``."""
    if not len(b) or not len(a):
        return a
    drop = b if isinstance(b, set) else set(b.tolist())
    return np.array(sorted(x for x in a.tolist() if x not in drop), dtype=object)


def _storable(arr: np.ndarray) -> np.ndarray:
    return arr.astype(str) if arr.dtype == object else arr


def _loaded(arr: np.ndarray) -> np.ndarray:
    return arr.astype(object) if arr.dtype.kind == "U" else arr


class Catalog:
    """The SQLite catalog and per-source state files of one knowledge base directory."""

    def __init__(self, directory: Path, db: sqlite3.Connection) -> None:
        self.directory = Path(directory)
        self.state_dir = self.directory / "sources"
        self.db = db

    @classmethod
    def open(cls, directory: Path) -> Catalog:
        """Open (creating if needed) the catalog of ``directory``.

        Raises:
            CorruptState: ``catalog.sqlite`` is not a readable SQLite database.
        """
        directory = Path(directory)
        (directory / "sources").mkdir(parents=True, exist_ok=True)
        path = directory / CATALOG_FILE
        # shared by the threads of one process (a server answers in a pool): sqlite3.threadsafety is 3 here
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            _check_size(path)
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            db.execute("SELECT count(*) FROM sources").fetchone()
        except sqlite3.DatabaseError as exc:
            db.close()
            raise CorruptState(path, f"the source catalog (which sources this knowledge base holds and what each "
                               f"contributed) is damaged ({exc}); it cannot be rebuilt from the store: restore it "
                               f"from a backup, or move {directory} aside and index the sources again") from exc
        return cls(directory, db)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- sources ---------------------------------------------------------------------------

    def sources(self) -> list[SourceRecord]:
        rows = self.db.execute("SELECT * FROM sources ORDER BY id").fetchall()
        return [_record(r) for r in rows]

    def find(self, path: Path) -> SourceRecord | None:
        row = self.db.execute("SELECT * FROM sources WHERE path = ?", (str(path),)).fetchone()
        return _record(row) if row else None

    def get(self, path: Path) -> SourceRecord:
        found = self.find(path)
        if found is None:
            raise SourceNotFound(f"no source {path} in this knowledge base (see `kgqa sources`)")
        return found

    def register(self, path: Path, fmt: str, options: dict[str, object]) -> SourceRecord:
        """Add ``path`` (state 'new') or update its reader settings; returns its record."""
        found = self.find(path)
        opts = json.dumps(options, sort_keys=True)
        if found is None:
            name = self._free_name(path.name)
            self.db.execute("INSERT INTO sources(name, path, format, options) VALUES (?, ?, ?, ?)",
                            (name, str(path), fmt, opts))
        else:
            self.db.execute("UPDATE sources SET format = ?, options = ? WHERE id = ?", (fmt, opts, found.id))
        return self.get(path)

    def _free_name(self, name: str) -> str:
        taken = {r[0] for r in self.db.execute("SELECT name FROM sources")}
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}~{n}"
        return candidate

    def finish(self, source: SourceRecord, fingerprint: tuple[str, int, int], counts: dict[str, int]) -> None:
        """Mark ``source`` as fully indexed at ``fingerprint`` (hash, size, mtime_ns)."""
        self.db.execute(
            "UPDATE sources SET hash=?, size=?, mtime_ns=?, triples=?, entities=?, passages=?, skipped=?, "
            "state='ok', indexed_at=? WHERE id=?",
            (*fingerprint, counts["triples"], counts["entities"], counts["passages"], counts["skipped"],
             time.time(), source.id))

    def mark(self, source: SourceRecord, state: str) -> None:
        self.db.execute("UPDATE sources SET state = ? WHERE id = ?", (state, source.id))

    def forget(self, source: SourceRecord) -> None:
        """Drop a source whose contribution has been removed from the store."""
        with self.transaction() as db:
            db.execute("DELETE FROM sources WHERE id = ?", (source.id,))
            db.execute("DELETE FROM passages WHERE source_id = ?", (source.id,))
            db.execute("DELETE FROM journal WHERE source_id = ?", (source.id,))
        self._state_path(source.id).unlink(missing_ok=True)

    # -- state and journal -----------------------------------------------------------------

    def _state_path(self, source_id: int) -> Path:
        return self.state_dir / f"{source_id}.npz"

    def load_state(self, source_id: int) -> SourceState:
        """What the source with ``source_id`` contributed (empty when it has no state file yet).

        Raises:
            CorruptState: the state file is truncated or not a state file.
        """
        path = self._state_path(source_id)
        if not path.exists():
            row = self.db.execute("SELECT state, triples + entities + passages FROM sources WHERE id = ?",
                                  (source_id,)).fetchone()
            if row and row[0] == "ok" and row[1]:
                raise CorruptState(path, f"the record of what one source contributed is missing; run "
                                   f"`kgqa check --kb {self.directory} --repair` to rebuild it from the sources")
            return SourceState()
        try:
            with np.load(path, allow_pickle=False) as data:
                if set(data.files) != _STATE_FIELDS:
                    raise ValueError(f"holds {sorted(data.files)}, not {sorted(_STATE_FIELDS)}")
                return SourceState(**{k: _loaded(data[k]) for k in data.files})
        except (OSError, ValueError, EOFError, TypeError, KeyError, zipfile.BadZipFile) as exc:
            raise CorruptState(path, f"the record of what one source contributed is damaged ({exc}); run "
                               f"`kgqa check --kb {self.directory} --repair` to rebuild it from the sources") from exc

    def integrity(self) -> list[str]:
        """What SQLite's ``quick_check`` finds wrong in ``catalog.sqlite`` (empty when nothing)."""
        try:
            rows = [str(r[0]) for r in self.db.execute("PRAGMA quick_check").fetchall()]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows

    def state_files(self) -> list[Path]:
        """Every state file on disk (some may belong to no registered source)."""
        return sorted(self.state_dir.glob("*.npz"))

    def set_applied(self, seq: int) -> None:
        """Record that the store has applied change ``seq`` (after a crash, what the store says wins)."""
        self.db.execute("INSERT OR REPLACE INTO meta(k, v) VALUES ('applied', ?)", (str(seq),))

    def applied(self) -> int | None:
        """The change number the store should report, or None when not known (a run is in flight or
        was interrupted, or the catalog predates this record)."""
        if self.db.execute("SELECT 1 FROM journal LIMIT 1").fetchone():
            return None
        row = self.db.execute("SELECT v FROM meta WHERE k = 'applied'").fetchone()
        return int(row[0]) if row else None

    def last_seq(self) -> int:
        """The number of the last change the catalog handed out (0 for none)."""
        row = self.db.execute("SELECT v FROM meta WHERE k = 'seq'").fetchone()
        return int(row[0]) if row else 0

    def passage_counts(self) -> dict[int, int]:
        """Stored passages per source id (ids with none are left out)."""
        rows = self.db.execute("SELECT source_id, count(*) FROM passages GROUP BY source_id").fetchall()
        return {int(i): int(n) for i, n in rows}

    def reset(self, source: SourceRecord) -> None:
        """Forget what ``source`` contributed, keeping its registration, so indexing re-applies it whole."""
        with self.transaction() as db:
            db.execute("DELETE FROM passages WHERE source_id = ?", (source.id,))
            db.execute("DELETE FROM journal WHERE source_id = ?", (source.id,))
            db.execute("UPDATE sources SET state = 'partial', hash = NULL, size = NULL, mtime_ns = NULL "
                       "WHERE id = ?", (source.id,))
        self._state_path(source.id).unlink(missing_ok=True)

    def drop_orphans(self) -> list[str]:
        """Delete state files and passage rows of sources the catalog no longer lists; say what went."""
        ids = {r.id for r in self.sources()}
        dropped = []
        for path in self.state_files():
            if not path.stem.isdigit() or int(path.stem) not in ids:
                path.unlink(missing_ok=True)
                dropped.append(f"deleted orphan state file {path.name}")
        for source_id, count in self.passage_counts().items():
            if source_id not in ids:
                self.db.execute("DELETE FROM passages WHERE source_id = ?", (source_id,))
                dropped.append(f"deleted {count} passage(s) of unknown source id {source_id}")
        return dropped

    def save_state(self, source_id: int, state: SourceState) -> None:
        """Write the state file atomically (temporary file, fsync, rename)."""
        path = self._state_path(source_id)
        tmp = path.with_suffix(".tmp.npz")
        with tmp.open("wb") as fh:
            np.savez(fh, **{k: _storable(v) for k, v in vars(state).items()})  # type: ignore[arg-type]
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)

    def others(self, source_id: int) -> SourceState:
        """The union of every other source's keys and nodes (to share triples and nodes)."""
        union = SourceState()
        for rec in self.sources():
            if rec.id != source_id:
                st = self.load_state(rec.id)
                union.keys = np.union1d(union.keys, st.keys)
                union.nodes = str_union(union.nodes, st.nodes)
                union.pkeys = np.union1d(union.pkeys, st.pkeys)
        return union

    def next_seq(self) -> int:
        row = self.db.execute("SELECT v FROM meta WHERE k = 'seq'").fetchone()
        seq = int(row[0]) + 1 if row else 1
        self.db.execute("INSERT OR REPLACE INTO meta(k, v) VALUES ('seq', ?)", (str(seq),))
        return seq

    def journal(self, seq: int, source_id: int, delta: Delta, passages: list[tuple[int, Passage]]) -> None:
        """Record a change before it goes to the store; passages are written with it."""
        with self.transaction() as db:
            db.execute("INSERT INTO journal(seq, source_id, delta) VALUES (?, ?, ?)",
                       (seq, source_id, delta.to_bytes()))
            db.executemany("DELETE FROM passages WHERE key = ?", [(int(k),) for k in delta.del_pkeys])
            db.executemany(
                "INSERT OR REPLACE INTO passages(key, id, source_id, title, text, entities, line, offset) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(key, p.id, source_id, p.title, p.text, json.dumps(p.entities),
                  p.provenance.line if p.provenance else None, p.provenance.offset if p.provenance else None)
                 for key, p in passages])

    def recover(self, applied_seq: int) -> list[int]:
        """Fold journalled deltas the store applied into source states; drop the others.

        Returns the ids of sources that were interrupted (their state is now 'partial').
        """
        rows = self.db.execute("SELECT seq, source_id, delta FROM journal ORDER BY seq").fetchall()
        touched: dict[int, SourceState] = {}
        for seq, source_id, blob in rows:
            delta = Delta.from_bytes(blob)
            state = touched.setdefault(source_id, self.load_state(source_id))
            if seq <= applied_seq:
                state.apply(delta)
            else:  # never reached the store: its passage rows were written, so take them back
                self._undo_passages(source_id, delta)
                state.pkeys = np.setdiff1d(state.pkeys, delta.del_pkeys)
        for source_id, state in touched.items():
            self.save_state(source_id, state)
        interrupted = sorted({r[1] for r in rows})
        with self.transaction() as db:
            db.execute("DELETE FROM journal")
            if rows:
                db.execute("INSERT OR REPLACE INTO meta(k, v) VALUES ('applied', ?)", (str(applied_seq),))
            db.executemany("UPDATE sources SET state = CASE state WHEN 'removing' THEN 'removing' ELSE 'partial' END, "
                           "hash = NULL WHERE id = ?",
                           [(i,) for i in interrupted])
        return interrupted

    def _undo_passages(self, source_id: int, delta: Delta) -> None:
        self.db.executemany("DELETE FROM passages WHERE key = ? AND source_id = ?",
                            [(int(k), source_id) for k in delta.add_pkeys])

    def clear_journal(self, source_id: int) -> None:
        self.db.execute("DELETE FROM journal WHERE source_id = ?", (source_id,))

    def passage_keys(self) -> set[int]:
        """The keys of every stored passage."""
        return {int(k) for (k,) in self.db.execute("SELECT key FROM passages")}

    def keyed_passages(self, keys: list[int] | None = None) -> dict[int, Passage]:
        """Stored passages by key (all, or those with the given keys)."""
        query = "SELECT p.key, p.id, p.text, p.title, p.entities, s.name, p.line, p.offset FROM passages p " \
                "JOIN sources s ON s.id = p.source_id"
        rows = (self.db.execute(query + " ORDER BY p.key").fetchall() if keys is None else
                [r for k in keys for r in self.db.execute(query + " WHERE p.key = ?", (k,))])
        return {int(key): Passage(i, text, title, tuple(json.loads(ents or "[]")), Provenance(src, line, off))
                for key, i, text, title, ents, src, line, off in rows}


def _check_size(path: Path) -> None:
    """Raise ``sqlite3.DatabaseError`` when the file is shorter than its header says (truncated)."""
    if not path.exists() or path.stat().st_size < 100:
        return  # new (or empty: SQLite starts it afresh)
    with path.open("rb") as fh:
        header = fh.read(100)
    if not header.startswith(b"SQLite format 3\x00"):
        raise sqlite3.DatabaseError("file is not a database")
    page = int.from_bytes(header[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(header[28:32], "big")
    if pages and page * pages > path.stat().st_size and not path.with_name(path.name + "-wal").exists():
        raise sqlite3.DatabaseError(f"truncated: {path.stat().st_size} bytes, the header says {page * pages}")


def _record(row: tuple[Any, ...]) -> SourceRecord:
    (id_, name, path, fmt, options, hash_, size, mtime, triples, entities, passages, skipped, state,
     indexed_at) = row
    return SourceRecord(int(id_), str(name), str(path), str(fmt), json.loads(str(options)), hash_, size,
                        mtime, triples, entities, passages, skipped, str(state), indexed_at)
