"""Export a store as the CSV files that ``neo4j-admin database import full`` loads.

``export_neo4j_import(store, out)`` writes, in the graph model the Neo4j backend reads
(kg/stores/cypher.py: ``:Entity`` nodes keyed by ``id``, ``:REL`` relationships carrying the
predicate ``p``, the content key ``key`` and the provenance ``src``/``line``/``q``, one
``:KGQAMeta {k: 'seq'}`` node with the store's applied change number):

- ``nodes.csv``: ``id:ID(Entity),:LABEL,label,kind,description,aliases:string[],labels,literal,
  src,line:long``; every node an edge touches (literals included) and every stored entity;
- ``relationships.csv``: ``:START_ID(Entity),:END_ID(Entity),:TYPE,p,key:long,src,line:long,q``;
- ``meta.csv``: ``k:ID(KGQAMeta),:LABEL,v:long``;
- ``import.sh``: the ``neo4j-admin database import full`` command for these files, and
  ``manifest.json`` (counts, change number, the options the files need).

Headers follow the neo4j-admin CSV header format (``name:type``, ``:ID(group)``, ``:LABEL``,
``:START_ID``/``:END_ID``/``:TYPE``; an unannotated property is a string). Values are quoted
with ``"`` (doubled inside), arrays are joined with U+001F (``--array-delimiter=U+001F``) since
aliases may hold ``;``, text may span lines (``--multiline-fields=true``), and an empty field is
no property (null). Relationship type is ``REL`` for every edge, as the backend queries it;
a type per predicate would need other queries. Files are written under temporary names and
renamed when complete. Memory is bounded: entities are scanned in pages and edges come in pages
of subjects (``GraphStore.edge_batches``); only 8 bytes per node are held (which nodes are
written). Deliberately left out: passages (the dense index is rebuilt from the
catalog) and incremental export (this writes a full database import).
"""

from __future__ import annotations

import csv
import json
import os
import shlex
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from kg.base import Entity, EntityKind
from kg.files import write_atomic
from kg.keyset import KeySet, node_keys
from kg.stores.base import GraphStore
from kg.stores.cypher import META, NODE, REL, entity_row

ARRAY_DELIMITER = "\x1f"
NODE_HEADER = [f"id:ID({NODE})", ":LABEL", "label", "kind", "description", "aliases:string[]", "labels",
               "literal", "src", "line:long"]
REL_HEADER = [f":START_ID({NODE})", f":END_ID({NODE})", ":TYPE", "p", "key:long", "src", "line:long", "q"]
META_HEADER = [f"k:ID({META})", ":LABEL", "v:long"]
_BATCH = 10_000


@dataclass(frozen=True)
class ExportReport:
    """What ``export_neo4j_import`` wrote."""

    directory: Path
    nodes: int
    relationships: int
    seq: int
    command: str


def export_neo4j_import(store: GraphStore, out: Path, database: str = "neo4j") -> ExportReport:
    """Write ``store`` into ``out`` as neo4j-admin import CSV files (see the module docstring).

    Args:
        store: the graph store to export.
        out: the folder to write into (created; files of an earlier export are replaced).
        database: the database name in the printed import command.
    """
    out.mkdir(parents=True, exist_ok=True)
    seq = store.applied_seq()
    with _CsvFile(out / "nodes.csv", NODE_HEADER) as node_file, \
            _CsvFile(out / "relationships.csv", REL_HEADER) as rel_file:
        seen = KeySet()
        for batch in store.scan_entities():
            node_file.write(_node_row(entity) for entity, _ in batch)
            seen.add(np.unique(node_keys([entity.id for entity, _ in batch])))
        for edges in store.edge_batches():
            node_file.write(_end_rows(store, edges, seen))
            rel_file.write(_edge_rows(edges))
    nodes, relationships = node_file.rows, rel_file.rows
    _write(out / "meta.csv", META_HEADER, iter([["seq", META, str(seq)]]))
    command = import_command(out, database)
    write_atomic(out / "import.sh", "#!/bin/sh\n# load these files into an empty Neo4j database (stopped)\n"
                 f"{command}\n")
    manifest = {"format": "neo4j-admin-import-1", "seq": seq, "nodes": nodes, "relationships": relationships,
                "array_delimiter": "U+001F", "multiline_fields": True, "command": command}
    write_atomic(out / "manifest.json", json.dumps(manifest, indent=1))
    os.chmod(out / "import.sh", 0o755)  # write_atomic's temporary file is private (0600)
    os.chmod(out / "manifest.json", 0o644)
    return ExportReport(out, nodes, relationships, seq, command)


def import_command(out: Path, database: str = "neo4j") -> str:
    """The ``neo4j-admin database import full`` command line for the files in ``out``."""
    files = {name: shlex.quote(str(out / f"{name}.csv")) for name in ("nodes", "relationships", "meta")}
    return (f"neo4j-admin database import full --nodes={files['nodes']} --nodes={files['meta']} "
            f"--relationships={files['relationships']} --array-delimiter=U+001F --multiline-fields=true "
            f"--overwrite-destination=true {shlex.quote(database)}")


def _write(path: Path, header: Sequence[str], rows: Iterable[Sequence[str | None]]) -> int:
    """Header and rows into ``path`` (via a temporary file renamed at the end); the row count."""
    with _CsvFile(path, header) as file:
        file.write(rows)
    return file.rows


class _CsvFile:
    """A CSV file written under a temporary name and renamed when complete (not on an error)."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.header = header
        self.rows = 0

    def __enter__(self) -> _CsvFile:
        self.fh = self.tmp.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        self.writer.writerow(self.header)
        return self

    def write(self, rows: Iterable[Sequence[str | None]]) -> None:
        for row in rows:
            self.writer.writerow(["" if v is None else v for v in row])
            self.rows += 1

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None:
            self.fh.close()
            self.tmp.unlink(missing_ok=True)
            return
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        os.replace(self.tmp, self.path)


def _end_rows(store: GraphStore, edges: pa.Table, seen: KeySet) -> Iterator[list[str | None]]:
    """Edge ends that no earlier row wrote (literals, which ``scan_entities`` leaves out)."""
    ends = pa.concat_arrays([edges.column(c).combine_chunks() for c in ("subject", "object")]).unique()
    ids = np.asarray(ends.to_pylist(), dtype=object)
    keys = node_keys(ids)
    fresh = ~seen.contains(keys)
    keys, first = np.unique(keys[fresh], return_index=True)
    seen.add(keys)
    rest = sorted(ids[fresh][first].tolist())
    for lo in range(0, len(rest), _BATCH):
        chunk = rest[lo: lo + _BATCH]
        found = store.entities(chunk)
        for node in chunk:
            entity = found.get(node) or Entity(node, None, kind=_bare_kind(node))
            yield _node_row(entity)


def _bare_kind(node: str) -> EntityKind:
    return EntityKind.LITERAL if node.startswith("lit:") else EntityKind.ENTITY  # as kg.stores.neo4j does


def _node_row(entity: Entity) -> list[str | None]:
    row = entity_row(entity)
    aliases = ARRAY_DELIMITER.join(str(a) for a in row["aliases"]) if row["aliases"] else None  # type: ignore[attr-defined]
    line = row["line"]
    return [entity.id, NODE, _text(row["label"]), _text(row["kind"]), _text(row["description"]), aliases,
            _text(row["labels"]), _text(row["literal"]), _text(row["src"]), None if line is None else str(line)]


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _edge_rows(edges: pa.Table) -> Iterator[list[str | None]]:
    """One batch of edges as relationship rows."""
    for batch in edges.to_batches(_BATCH):
        cols = [batch.column(c).to_pylist() for c in ("subject", "object", "predicate", "key", "source", "line",
                                                       "qualifiers")]
        for s, o, p, key, src, line, q in zip(*cols):
            yield [s, o, REL, p, str(key), src, None if line is None else str(line), q]
