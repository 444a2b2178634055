"""The neo4j-admin import CSVs loaded into a real Bolt server, then served by the Neo4j backend.

ArcadeDB (the suite's Bolt server) has no ``neo4j-admin``, so the files are loaded the way the
importer reads them (tests/unit/test_export.py's ``read_import``: typed by the header, arrays
split) with plain Cypher ``CREATE`` s; the Neo4j backend, opened on that database, must then
answer like the embedded store the files came from (paths, walks, entities, change number).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kg.kb import KnowledgeBase
from kg.stores.neo4j import Neo4jStore
from tests.bolt_server import BoltServer
from tests.unit.test_export import MOVIES, TTL, export, read_import

NODE_FIELDS = ("id", "label", "kind", "description", "aliases", "labels", "literal", "src", "line")


def load(store: Neo4jStore, out: Path) -> None:
    nodes = read_import(out / "nodes.csv", "nodes")
    rels = read_import(out / "relationships.csv", "relationships")
    meta = read_import(out / "meta.csv", "nodes")
    node_rows = [{f: n.get(f, [] if f == "aliases" else None) for f in NODE_FIELDS} for n in nodes]
    sets = ", ".join(f"e.{f} = r.{f}" for f in NODE_FIELDS)
    rel_rows: list[dict[str, Any]] = [{"s": r[":START_ID"], "o": r[":END_ID"], "p": r["p"], "key": r["key"],
                                       "src": r.get("src"), "line": r.get("line"), "q": r.get("q")} for r in rels]
    assert all(r[":LABEL"] == "Entity" for r in nodes) and all(r[":TYPE"] == "REL" for r in rels)
    store._write([(f"UNWIND $rows AS r CREATE (e:Entity) SET {sets}", {"rows": node_rows})])
    store._write([("UNWIND $rows AS r MATCH (s:Entity {id: r.s}) MATCH (o:Entity {id: r.o}) "
                   "CREATE (s)-[t:REL]->(o) SET t.p = r.p, t.key = r.key, t.src = r.src, t.line = r.line, t.q = r.q",
                   {"rows": rel_rows})])
    store._write([("CREATE (m:KGQAMeta) SET m.k = $k, m.v = $v", {"k": meta[0]["k"], "v": meta[0]["v"]})])


@pytest.mark.bolt
def test_imported_csvs_are_served_by_the_neo4j_backend(tmp_path: Path, bolt_server: BoltServer) -> None:
    kb_dir, out = export(tmp_path, {"movies.txt": MOVIES, "world.nt": TTL})
    store = Neo4jStore.connect(bolt_server.uri, bolt_server.user, bolt_server.password, bolt_server.database)
    try:
        store.clear()
        load(store, out)
        with KnowledgeBase.open(kb_dir, read_only=True, progress=False) as kb:
            assert store.applied_seq() == kb.store.applied_seq()
            assert store.stats() == kb.store.stats()
            for start in ("Kismet", "William Dieterle", "http://x/France"):
                assert kb.store.relation_paths(start, 3)  # something to compare
                assert store.relation_paths(start, 3) == kb.store.relation_paths(start, 3)
                for count in kb.store.relation_paths(start, 2):
                    assert sorted(store.follow(start, count.path), key=str) == \
                        sorted(kb.store.follow(start, count.path), key=str)
            ids = ["http://x/France", "Kismet", "William Dieterle", *(e.end for e in kb.store.follow(
                "http://x/France", kb.store.relation_paths("http://x/France", 1)[-1].path))]
            assert len(kb.store.entities(ids)) >= 4 and store.entities(ids) == kb.store.entities(ids)
    finally:
        store.clear()
        store.close()
