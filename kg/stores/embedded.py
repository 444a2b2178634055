"""The embedded default backend: LadybugDB (the maintained fork of Kuzu), file-backed, no server.

One ``Change`` is one LadybugDB transaction: new nodes and edges are bulk-loaded with
``COPY ... FROM`` a DataFrame, updates and deletes run as parameterized Cypher, and the
change's sequence number is written to a ``KGQAMeta`` node in the same transaction, so after a
crash the catalog can see whether the change landed. LadybugDB lets one process write a
database file; a second writer gets ``StoreLocked`` naming the holder. This module does not
decide *what* to write: the indexer diffs sources against the catalog.

Indexing memory is kept from growing with the store: a writable store gets a bounded buffer
pool (``WRITER_BUFFER_POOL_MB``; LadybugDB's default is ~80% of RAM), and each change runs on a
fresh connection, because the driver's implicit prepared-statement cache keys a statement that
binds a DataFrame by that object and keeps it, so every ``COPY`` frame of a run stayed alive
(measured: +11 MB of Arrow data and ~40 MB of RSS per 300k-triple change).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from kg.base import EntityKind
from kg.errors import BackendUnavailable, StoreDamaged, StoreLocked
from kg.stores import cypher
from kg.stores.base import EDGE_SCHEMA, Change, GraphPath, Step, StoreSettings

log = logging.getLogger(__name__)

SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Entity(id STRING, label STRING, kind STRING, description STRING, "
    "aliases STRING[], labels STRING, literal STRING, src STRING, line INT64, PRIMARY KEY(id))",
    "CREATE REL TABLE IF NOT EXISTS REL(FROM Entity TO Entity, key INT64, p STRING, src STRING, "
    "line INT64, q STRING)",
    "CREATE NODE TABLE IF NOT EXISTS KGQAMeta(k STRING, v INT64, PRIMARY KEY(k))",
)
GRAPH_FILE = "graph.lbug"
# A writer's buffer pool in MB (None = LadybugDB's own default). The pool is also the engine's
# working memory: 64 MB failed the checkpoint after a COPY of 375k nodes, 256 MB took 1.25M nodes
# and 1.5M edges, 1 GB the 10M-triple bench (bench/wikidata_like.py); it caps what cached pages
# add to a long run's RSS.
WRITER_BUFFER_POOL_MB = 1024
_CASTS = {"line": "CAST(r.line AS INT64)", "aliases": "CAST(r.aliases AS STRING[])"}
NODE_SCHEMA = pa.schema([
    ("id", pa.string()), ("label", pa.string()), ("kind", pa.string()), ("description", pa.string()),
    ("aliases", pa.list_(pa.string())), ("labels", pa.string()), ("literal", pa.string()),
    ("src", pa.string()), ("line", pa.int64()),
])


class EmbeddedStore(cypher.CypherReads):
    """A ``GraphStore`` in a LadybugDB database file inside a KB directory."""

    name = "embedded"

    def __init__(self, conn: Any, db: Any, read_only: bool, threads: int = 0) -> None:
        self._conn = conn
        self._db = db
        self.read_only = read_only
        self._threads = threads

    @classmethod
    def open(cls, directory: Path, read_only: bool = False, threads: int = 0,
             buffer_pool_mb: int | None = None) -> EmbeddedStore:
        """Open (creating when writable) the store in ``directory``.

        Args:
            directory: the knowledge base directory (the store is ``graph.lbug`` in it).
            read_only: open for reading only (other readers may share the file).
            threads: LadybugDB's threads per query (0: its default).
            buffer_pool_mb: the buffer pool in MB; None gives a writer ``WRITER_BUFFER_POOL_MB``
                and a reader LadybugDB's default.

        Raises:
            StoreLocked: another process has the store open for writing.
            BackendUnavailable: the store does not exist (read-only) or cannot be opened.
        """
        import ladybug

        path = Path(directory) / GRAPH_FILE
        if read_only and not path.exists():
            raise BackendUnavailable(f"no knowledge base at {directory} (run `kgqa index` first)")
        Path(directory).mkdir(parents=True, exist_ok=True)
        try:
            db = ladybug.Database(str(path), read_only=read_only,
                                  buffer_pool_size=_pool_bytes(buffer_pool_mb, read_only))
        except RuntimeError as exc:
            raise _open_error(path, exc) from exc
        conn = ladybug.Connection(db, num_threads=threads)
        try:
            if not read_only:
                for statement in SCHEMA:
                    conn.execute(statement)
            conn.execute(f"MATCH (m:{cypher.META}) RETURN count(*)")  # a store without kgqa's tables fails here
        except RuntimeError as exc:
            conn.close()
            db.close()
            raise StoreDamaged(path, f"not a kgqa store, or empty ({_first_line(exc)}); if it is damaged, "
                               f"{_REBUILD.format(file=path, dir=directory)}") from exc
        return cls(conn, db, read_only, threads)

    @property
    def buffer_pool_mb(self) -> int | None:
        """The buffer pool LadybugDB was given in MB (None: its default, ~80% of RAM)."""
        size = int(self._db.buffer_pool_size)
        return size >> 20 if size else None

    # -- writing ---------------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        """Write ``change`` in one transaction, with its sequence number."""
        try:
            self._write(change)
        finally:
            self._renew_connection()

    def _write(self, change: Change) -> None:
        self._run("BEGIN TRANSACTION")
        try:
            self._remove(change)
            self._upsert_nodes(change)
            self._add_edges(change)
            self._run(f"MERGE (m:{cypher.META} {{k: 'seq'}}) SET m.v = $seq", {"seq": change.seq})
        except BaseException:
            try:
                self._run("ROLLBACK")
            except RuntimeError:  # a failed statement already ended the transaction
                pass
            raise
        self._run("COMMIT")

    def _renew_connection(self) -> None:
        """Replace the connection, dropping the statements the driver cached (and the frames they hold).

        The old connection is released, not closed: a reader on another thread (``kgqa serve``
        answering while a source is indexed) may be inside a query on it, which closing would
        interrupt; it is freed when the last such query returns.
        """
        import ladybug

        self._conn = ladybug.Connection(self._db, num_threads=self._threads)

    def _remove(self, change: Change) -> None:
        if len(change.remove_keys):
            self._run(f"MATCH ()-[r:{cypher.REL}]->() WHERE r.key IN $keys DELETE r",
                      {"keys": change.remove_keys.tolist()})
        if change.remove_nodes:
            self._run("UNWIND $ids AS i MATCH (e:Entity {id: i}) DETACH DELETE e",
                      {"ids": change.remove_nodes})

    def _upsert_nodes(self, change: Change) -> None:
        records = {e.id: cypher.entity_row(e) for e in change.records}
        missing = set(change.new_nodes) - self._existing(change.new_nodes)
        update = [row for i, row in records.items() if i not in missing]
        if update:
            # casts: a column that is null in every row would otherwise be bound as STRING
            sets = ", ".join(f"e.{f} = {_CASTS.get(f, 'r.' + f)}" for f in cypher.ENTITY_FIELDS if f != "id")
            self._run(f"UNWIND $rows AS r MATCH (e:Entity {{id: r.id}}) SET {sets}", {"rows": update})
        if missing:
            new = [records.get(i) or _bare(i) for i in sorted(missing)]
            self._copy("Entity", pa.Table.from_pylist(new, schema=NODE_SCHEMA))

    def _add_edges(self, change: Change) -> None:
        if not change.subjects:
            return
        n = len(change.subjects)
        frame = pa.table({
            "from": pa.array(change.subjects, pa.string()), "to": pa.array(change.objects, pa.string()),
            "key": pa.array(np.asarray(change.keys, dtype=np.int64)),
            "p": pa.array(change.predicates, pa.string()),
            "src": pa.array([change.source] * n, pa.string()),
            "line": pa.array(np.asarray(change.lines, dtype=np.int64)),
            "q": pa.array(change.qualifiers, pa.string()),
        })
        self._copy(cypher.REL, frame)

    def _copy(self, table: str, frame: pa.Table) -> None:
        self._run(f"COPY {table} FROM $frame", {"frame": frame})

    def _existing(self, ids: list[str]) -> set[str]:
        if not ids:
            return set()
        result = self._run("UNWIND $ids AS i MATCH (e:Entity {id: i}) RETURN e.id", {"ids": ids})
        return set(result.get_as_arrow().column(0).to_pylist())

    # -- reading (shared Cypher in cypher.CypherReads) -------------------------------------

    def shortest_paths(self, source: str, target: str, max_hops: int = 3) -> list[GraphPath]:
        query = (f"MATCH p = (a:Entity {{id: $a}})-[:REL* ALL SHORTEST 1..{int(max_hops)}]-"
                 "(b:Entity {id: $b}) RETURN nodes(p), rels(p)")
        paths = []
        for nodes, rels in self._rows(query, {"a": source, "b": target}):
            by_internal = {_iid(n["_ID"]): n["id"] for n in nodes}
            ids = tuple(n["id"] for n in nodes)
            edges, steps = [], []
            for i, r in enumerate(rels):
                s, o = by_internal[_iid(r["_SRC"])], by_internal[_iid(r["_DST"])]
                edges.append(cypher.edge(s, r["p"], o, r["key"], r["src"], r["line"], r["q"]))
                steps.append(Step(r["p"], s == ids[i]))
            paths.append(GraphPath(ids, tuple(edges), tuple(steps)))
        return paths

    def edges(self) -> pa.Table:
        """Every edge, handed over by LadybugDB as Arrow (no Python rows)."""
        return _edge_schema(self._run(cypher.EDGE_QUERY).get_as_arrow())

    def _edges_of(self, ids: list[str]) -> pa.Table:
        table = self._run(f"UNWIND $ids AS i MATCH (a:Entity {{id: i}})-[r:{cypher.REL}]->(b:Entity) "
                          "RETURN a.id, r.p, b.id, r.key, r.src, r.line, r.q", {"ids": ids}).get_as_arrow()
        return _edge_schema(table)

    def close(self) -> None:
        self._conn.close()
        self._db.close()

    # -- helpers ---------------------------------------------------------------------------

    def _run(self, query: str, params: dict[str, Any] | None = None) -> Any:
        return self._conn.execute(query, params or {})

    def _rows(self, query: str, params: dict[str, Any] | None = None) -> list[list[Any]]:  # noqa: D102
        rows: list[list[Any]] = self._run(query, params).get_all()
        return rows


def _pool_bytes(buffer_pool_mb: int | None, read_only: bool) -> int:
    """LadybugDB's ``buffer_pool_size``: 0 asks for its default (~80% of RAM)."""
    if buffer_pool_mb is None and not read_only:
        buffer_pool_mb = WRITER_BUFFER_POOL_MB
    return 0 if buffer_pool_mb is None else buffer_pool_mb << 20


def _edge_schema(table: pa.Table) -> pa.Table:
    return pa.table([table.column(i).cast(f.type) for i, f in enumerate(EDGE_SCHEMA)], schema=EDGE_SCHEMA)


def _bare(node_id: str) -> dict[str, object]:
    kind = EntityKind.LITERAL if node_id.startswith("lit:") else EntityKind.ENTITY
    return {f: None for f in cypher.ENTITY_FIELDS} | {"id": node_id, "kind": kind.value, "aliases": []}


def _iid(internal: dict[str, int]) -> tuple[int, int]:
    return internal["table"], internal["offset"]


def _holder(message: str) -> str:
    marker = "Lock is held by PID"
    return f"PID {message.split(marker)[1].split(')')[0].strip()}" if marker in message else "unknown process"


_REBUILD = "delete {file} and run `kgqa check --kb {dir} --repair` to rebuild it from the indexed sources"


def _open_error(path: Path, exc: RuntimeError) -> BackendUnavailable:
    """A clear error for a store that LadybugDB would not open: locked, busy, or damaged."""
    text = str(exc)
    lower = text.lower()
    directory = path.parent
    if "lock" in lower:
        return StoreLocked(f"the store at {directory} is open for writing by another process "
                           f"({_holder(text)}); wait for it or open read-only")
    if "recovery is pending" in lower or "checkpoint" in lower and "pending" in lower:
        return BackendUnavailable(f"the store {path} is being written by a run that has not finished "
                                  "(or was interrupted): wait for it to finish, or re-run the interrupted "
                                  "`kgqa index` to complete it, then try again")
    if "not a valid" in lower or "outside the database file" in lower or "cannot read" in lower:
        return StoreDamaged(path, f"the store file is damaged ({_first_line(exc)}); restore it from a backup, or "
                                  f"{_REBUILD.format(file=path, dir=directory)}")
    return BackendUnavailable(f"cannot open the store at {directory}: {_first_line(exc)}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line.replace(" The database may be checkpointing; please retry later.", "")


def open_embedded(settings: StoreSettings) -> EmbeddedStore:
    """The LadybugDB store in the knowledge base directory (the ``embedded`` backend)."""
    return EmbeddedStore.open(settings.directory, read_only=settings.read_only,
                              buffer_pool_mb=settings.buffer_pool_mb)
