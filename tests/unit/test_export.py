"""``kgqa export neo4j-import``: the CSV files neo4j-admin's ``database import full`` takes.

The headers are checked against neo4j-admin's documented header format (``name:type`` fields,
``:ID(group)``, ``:LABEL``, ``:START_ID``/``:END_ID``/``:TYPE``); the rows are read back the way
the importer reads them (typed by the header, arrays split on the array delimiter, an empty
field is no property) into a graph that must answer exactly as the store does. The re-import
into a real Bolt server is in tests/integration/test_export_bolt.py.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from kg.export import ARRAY_DELIMITER
from kg.kb import KnowledgeBase
from pipeline.cli import main
from retrieval.graph_index import GraphIndex
from tests.conftest import index_kb

TTL = """\
<http://x/France> <http://www.w3.org/2000/01/rdf-schema#label> "France"@en .
<http://x/France> <http://www.w3.org/2004/02/skos/core#altLabel> "French Republic; la France"@en .
<http://x/France> <http://www.w3.org/2004/02/skos/core#altLabel> "Frankreich"@en .
<http://x/France> <http://schema.org/description> "a country,\\n\\"in\\" Europe"@en .
<http://x/France> <http://x/capital> <http://x/Paris> .
<http://x/France> <http://x/population> "66078000"^^<http://www.w3.org/2001/XMLSchema#integer> .
<http://x/Paris> <http://www.w3.org/2000/01/rdf-schema#label> "Paris"@en .
"""
MOVIES = "Kismet|directed_by|William Dieterle\nDark City|directed_by|William Dieterle\nKismet|release_year|1944\n"
# neo4j-admin import header fields: [name][:TYPE or :ID/:START_ID/:END_ID with an optional (group)]
_FIELD = re.compile(r"^(?P<name>[^:]*)(:(?P<kind>ID|LABEL|START_ID|END_ID|TYPE|IGNORE|int|long|float|double|"
                    r"boolean|byte|short|char|string|point|date|localtime|time|localdatetime|datetime|duration)"
                    r"(?P<array>\[\])?(\((?P<group>\w+)\))?)?$")
_TYPES = {"long": int, "int": int, "string": str, "": str}


def check_header(header: list[str], kind: str) -> dict[str, dict[str, Any]]:
    """Each field parsed by the documented grammar; the required columns present once."""
    fields = {}
    for field in header:
        m = _FIELD.match(field)
        assert m, f"{field!r} is no neo4j-admin header field"
        fields[field] = m.groupdict()
    kinds = [f["kind"] for f in fields.values()]
    required = ["ID"] if kind == "nodes" else ["START_ID", "END_ID", "TYPE"]
    assert all(kinds.count(k) == 1 for k in required), header
    assert all(f["name"] or f["kind"] in ("ID", "LABEL", "START_ID", "END_ID", "TYPE") for f in fields.values())
    return fields


def read_import(path: Path, kind: str) -> list[dict[str, Any]]:
    """Rows as neo4j-admin reads them: typed by the header, arrays split, empty fields absent."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        fields = check_header(header, kind)
        rows = []
        for values in reader:
            assert len(values) == len(header)
            row: dict[str, Any] = {}
            for field, value in zip(header, values):
                if value == "":
                    continue
                spec = fields[field]
                convert = _TYPES.get(spec["kind"] or "", str)
                name = spec["name"] or f":{spec['kind']}"
                row[name] = [convert(v) for v in value.split(ARRAY_DELIMITER)] if spec["array"] else convert(value)
            rows.append(row)
    return rows


def export(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    kb = index_kb(tmp_path, files)
    out = tmp_path / "csv"
    assert main(["export", "neo4j-import", "--kb", str(kb), "--out", str(out)]) == 0
    return kb, out


def test_files_follow_the_documented_header_format(tmp_path: Path) -> None:
    _, out = export(tmp_path, {"world.nt": TTL})
    assert sorted(p.name for p in out.iterdir()) == ["import.sh", "manifest.json", "meta.csv", "nodes.csv",
                                                    "relationships.csv"]
    nodes = read_import(out / "nodes.csv", "nodes")
    rels = read_import(out / "relationships.csv", "relationships")
    meta = read_import(out / "meta.csv", "nodes")
    ids = {n["id"] for n in nodes}
    assert len(ids) == len(nodes) and all(n[":LABEL"] == "Entity" for n in nodes)
    assert all(r[":START_ID"] in ids and r[":END_ID"] in ids and r[":TYPE"] == "REL" for r in rels)
    assert all(isinstance(r["key"], int) and isinstance(r.get("line", 0), int) for r in rels)
    france = next(n for n in nodes if n.get("label") == "France")
    assert sorted(france["aliases"]) == ["Frankreich", "French Republic; la France"]
    assert france["description"] == 'a country,\n"in" Europe'
    assert any(n["kind"] == "literal" for n in nodes)  # literal objects are nodes too
    assert meta[0]["k"] == "seq" and meta[0]["v"] >= 1
    command = (out / "import.sh").read_text()
    assert "neo4j-admin database import full" in command and "--array-delimiter=U+001F" in command
    assert "--multiline-fields=true" in command and "--relationships=" in command


def test_reimported_graph_answers_as_the_store(tmp_path: Path) -> None:
    kb_dir, out = export(tmp_path, {"movies.txt": MOVIES, "world.nt": TTL})
    rels = read_import(out / "relationships.csv", "relationships")
    graph = GraphIndex.from_edges([r[":START_ID"] for r in rels], [r["p"] for r in rels],
                                  [r[":END_ID"] for r in rels], [r["key"] for r in rels],
                                  [r.get("src") for r in rels], [r.get("line") for r in rels],
                                  [r.get("q") for r in rels])
    nodes = {n["id"]: n for n in read_import(out / "nodes.csv", "nodes")}
    with KnowledgeBase.open(kb_dir, read_only=True, progress=False) as kb:
        assert kb.store.stats().triples == len(rels)
        for start in ("Kismet", "William Dieterle", "http://x/France"):
            assert kb.store.relation_paths(start, 3)  # something to compare
            assert graph.relation_paths(start, 3) == kb.store.relation_paths(start, 3)
            for count in kb.store.relation_paths(start, 2):
                assert sorted(graph.follow(start, count.path), key=str) == \
                    sorted(kb.store.follow(start, count.path), key=str)
        stored = kb.store.entities(sorted(nodes))
        assert {i: e.label for i, e in stored.items()} == {i: n.get("label") for i, n in nodes.items() if i in stored}
