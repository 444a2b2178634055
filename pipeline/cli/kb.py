"""``kgqa index``, ``remove``, ``sources``, ``stats`` and ``neighbors``: the knowledge base itself."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from kg.readers import FORMATS, ReaderOptions
from kg.stores import Direction
from pipeline.cli.common import open_kb


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    index = sub.add_parser("index", parents=[common], help="add or re-index knowledge sources")
    index.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    index.add_argument("--format", choices=sorted(FORMATS), help="source format (guessed from the name)")
    index.add_argument("--skip-errors", action="store_true", help="skip malformed lines and count them")
    index.add_argument("--languages", default="en,mul,zh", help="label languages to keep, first is main")
    index.add_argument("--property-labels", type=Path, help="Wikidata property labels (JSONL or TSV)")
    index.add_argument("--batch-size", type=int, default=100_000)
    index.add_argument("--no-progress", action="store_true", help="no progress bars")
    index.set_defaults(func=cmd_index)

    remove = sub.add_parser("remove", parents=[common], help="remove what sources contributed")
    remove.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    remove.set_defaults(func=cmd_remove)

    sub.add_parser("sources", parents=[common], help="list the indexed sources").set_defaults(func=cmd_sources)
    sub.add_parser("stats", parents=[common], help="count triples, entities, relations, sources").set_defaults(
        func=cmd_stats)

    neighbors = sub.add_parser("neighbors", parents=[common], help="show the edges at an entity")
    neighbors.add_argument("entity", help="an entity id, label or alias")
    neighbors.add_argument("--predicate")
    neighbors.add_argument("--direction", choices=[d.value for d in Direction], default="both")
    neighbors.add_argument("--limit", type=int, default=50)
    neighbors.set_defaults(func=cmd_neighbors)


def cmd_index(args: argparse.Namespace) -> int:
    options = ReaderOptions(batch_size=args.batch_size, skip_errors=args.skip_errors,
                            languages=tuple(x.strip() for x in args.languages.split(",") if x.strip()),
                            property_labels=args.property_labels)
    reports = []
    with open_kb(args) as qa:
        for path in args.paths:
            report = qa.index(path, args.format, options)
            reports.append(report.to_dict())
            if not args.json:
                print(f"{report.status:9} {report.source}: +{report.added} -{report.removed} "
                      f"={report.unchanged} triples ({report.triples} in source, {report.entities} nodes, "
                      f"{report.passages} passages{_skipped(report.skipped)}) in {report.seconds:.2f}s")
        stats = qa.stats()
    if args.json:
        print(json.dumps({"sources": reports, "stats": stats}, indent=1))
    else:
        print(f"knowledge base {stats['directory']}: {stats['triples']} triples, "
              f"{stats['entities']} entities, {stats['relations']} relations")
    return 0


def _skipped(n: int) -> str:
    return f", {n} malformed lines skipped" if n else ""


def cmd_remove(args: argparse.Namespace) -> int:
    with open_kb(args) as qa:
        reports = [qa.remove(path).to_dict() for path in args.paths]
    if args.json:
        print(json.dumps(reports, indent=1))
    for r in reports if not args.json else []:
        print(f"removed   {r['source']}: -{r['removed']} triples")
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    with open_kb(args, read_only=True) as qa:
        sources = qa.sources()
    if args.json:
        print(json.dumps([vars(s) for s in sources], indent=1))
        return 0
    if not sources:
        print("no sources indexed yet (kgqa index PATH)")
    for s in sources:
        print(f"{s.name:30} {s.format:13} {s.triples:>10} triples {s.entities:>9} nodes "
              f"{s.passages:>7} passages  {s.state:8} {s.path}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_kb(args, read_only=True) as qa:
        stats = qa.stats()
    if args.json:
        print(json.dumps(stats, indent=1))
    else:
        for key, value in stats.items():
            print(f"{key:10} {value}")
    return 0


def cmd_neighbors(args: argparse.Namespace) -> int:
    with open_kb(args, read_only=True) as qa:
        entity = qa.entity(args.entity)
        edges = qa.neighbors(entity.id, args.predicate, Direction(args.direction), args.limit)
        labels = qa.labels(sorted({e.subject for e in edges} | {e.object for e in edges} | {entity.id}
                                  | {e.predicate for e in edges}))
    if args.json:
        print(json.dumps({"entity": entity.id, "label": entity.label, "edges": [
            {"subject": e.subject, "predicate": e.predicate, "object": e.object,
             "subject_label": labels[e.subject], "predicate_label": labels[e.predicate],
             "object_label": labels[e.object],
             "source": e.provenance.source, "line": e.provenance.line} for e in edges]}, indent=1,
            ensure_ascii=False))
        return 0
    print(f"{labels[entity.id]} ({entity.id}){' - ' + entity.description if entity.description else ''}")
    for e in edges:
        where = f"{e.provenance.source}:{e.provenance.line}" if e.provenance.line else e.provenance.source
        print(f"  {labels[e.subject]} -{labels[e.predicate]}-> {labels[e.object]}    [{where}]")
    if not edges:
        print("  (no edges)")
    return 0
