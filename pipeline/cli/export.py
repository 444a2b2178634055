"""``kgqa export neo4j-import``: the knowledge base as CSV files for ``neo4j-admin database import full``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from kg.export import export_neo4j_import
from kg.kb import KnowledgeBase


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    export = sub.add_parser("export", help="write the knowledge base in another engine's bulk-load format")
    formats = export.add_subparsers(dest="export_format", required=True)
    neo4j = formats.add_parser("neo4j-import", parents=[common],
                               help="CSV files (nodes, relationships, headers with types) for neo4j-admin import")
    neo4j.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the CSV files")
    neo4j.add_argument("--target-database", default="neo4j", help="database name in the printed import command")
    neo4j.set_defaults(func=cmd_neo4j_import)


def cmd_neo4j_import(args: argparse.Namespace) -> int:
    with KnowledgeBase.open(args.kb, backend=args.backend, read_only=True, progress=False, uri=args.uri,
                            user=args.user, database=args.database,
                            password=os.environ.get("NEO4J_PASSWORD")) as kb:
        report = export_neo4j_import(kb.store, args.out, args.target_database)
    if args.json:
        print(json.dumps({"directory": str(report.directory), "nodes": report.nodes,
                          "relationships": report.relationships, "seq": report.seq, "command": report.command}))
        return 0
    print(f"wrote {report.nodes} nodes and {report.relationships} relationships (change {report.seq}) to "
          f"{report.directory}")
    print(f"load them into a stopped Neo4j with:\n  {report.command}")
    return 0
