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
renamed when complete. Deliberately left out: passages (the dense index is rebuilt from the
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

import pyarrow as pa

from kg.base import Entity, EntityKind
from kg.files import write_atomic
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
    edges = store.edges()
    seq = store.applied_seq()
    nodes = _write(out / "nodes.csv", NODE_HEADER, _node_rows(store, edges))
    relationships = _write(out / "relationships.csv", REL_HEADER, _edge_rows(edges))
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
    tmp = path.with_name(f".{path.name}.tmp")
    n = 0
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return n


def _node_rows(store: GraphStore, edges: pa.Table) -> Iterator[list[str | None]]:
    """Every stored entity (in id order), then the edge ends the scan did not yield (literals)."""
    seen: set[str] = set()
    for batch in store.scan_entities():
        for entity, _ in batch:
            seen.add(entity.id)
            yield _node_row(entity)
    ends = pa.concat_arrays([edges.column(c).combine_chunks() for c in ("subject", "object")]) if len(edges) \
        else pa.array([], pa.string())
    rest = sorted(set(ends.unique().to_pylist()) - seen)
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
    for batch in edges.to_batches(_BATCH):
        cols = [batch.column(c).to_pylist() for c in ("subject", "object", "predicate", "key", "source", "line",
                                                       "qualifiers")]
        for s, o, p, key, src, line, q in zip(*cols):
            yield [s, o, REL, p, str(key), src, None if line is None else str(line), q]
