"""``kgqa index``, ``remove``, ``sources``, ``stats`` and ``neighbors``: the knowledge base itself."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kg.check import check_directory
from kg.errors import KGQAError
from kg.ingest import IndexReport
from kg.readers import FORMATS, ReaderOptions
from kg.stores import Direction
from kg.text import printable
from pipeline.cli.common import open_kb
from retrieval.retriever import RetrieverConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    index = sub.add_parser("index", parents=[common], help="add or re-index knowledge sources")
    index.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    index.add_argument("--format", choices=sorted(FORMATS), help="source format (guessed from the name)")
    index.add_argument("--skip-errors", action="store_true", help="skip malformed lines and count them")
    index.add_argument("--languages", default="en,mul,zh", help="label languages to keep, first is main")
    index.add_argument("--property-labels", type=Path, help="Wikidata property labels (JSONL or TSV)")
    index.add_argument("--batch-size", type=int, default=100_000)
    index.add_argument("--no-progress", action="store_true", help="no progress bars")
    index.add_argument("--embedder", default="minilm",
                       help="embedder the passages are prepared for (as for ask: minilm, e5)")
    index.add_argument("--ray", action="store_true",
                       help="embed the new passages as a Ray Data job on a local Ray (needs the ray extra)")
    index.add_argument("--ray-address", metavar="ADDRESS",
                       help="with --ray: join the Ray cluster at ADDRESS (auto, ray://host:10001)")
    index.add_argument("--buffer-pool-mb", type=_megabytes, metavar="MB",
                       help="the embedded store's buffer pool while indexing (default 1024; it is also "
                            "LadybugDB's working memory: 256 was enough for 1.25M nodes, 64 was not)")
    index.add_argument("--keep-going", action="store_true",
                       help="with several paths: index the others when one fails, report each, exit 1")
    index.add_argument("--no-prepare", action="store_true",
                       help="leave the entity linker, graph index and scorer check to the first question "
                            "(e.g. when a script indexes many files one by one)")
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

    check = sub.add_parser("check", parents=[common],
                           help="verify that catalog, per-source state and store agree; --repair mends them")
    check.add_argument("--repair", action="store_true",
                       help="drop orphans, complete interrupted runs, rebuild the store from the sources")
    check.set_defaults(func=cmd_check)


def _megabytes(text: str) -> int:
    """A positive whole number of megabytes (argparse turns the error into a usage message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of megabytes: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 MB, got {value}")
    return value


def cmd_index(args: argparse.Namespace) -> int:
    """Index each path; each file is all-or-nothing, and ``--keep-going`` goes on past a failing one."""
    options = ReaderOptions(batch_size=args.batch_size, skip_errors=args.skip_errors,
                            languages=tuple(x.strip() for x in args.languages.split(",") if x.strip()),
                            property_labels=args.property_labels)
    reports: list[dict[str, object]] = []
    failed: list[tuple[Path, KGQAError]] = []
    ray = RetrieverConfig(embed_with=f"ray:{args.ray_address}" if args.ray_address else "ray") \
        if args.ray or args.ray_address else None
    with open_kb(args, config=ray) as qa:
        for i, path in enumerate(args.paths):
            try:
                report = qa.index(path, args.format, options)
            except KGQAError as exc:
                if not args.keep_going:
                    _stopped(args.paths, i, reports)
                    raise
                failed.append((path, exc))
                print(f"kgqa: error: {exc} (nothing of {path} was kept; going on)", file=sys.stderr)
                continue
            reports.append(report.to_dict())
            if not args.json:
                print(_index_line(report))
        changed = [r for r in reports if r["status"] != "unchanged"]
        if changed and not args.no_prepare:  # build what questions read now, not on the first question
            if not args.json:
                passages = ", passage embeddings and mentions" if any(r["passages"] for r in changed) else ""
                print(f"preparing for questions: entity linker, graph index, path scorer{passages} ...",
                      file=sys.stderr)
            qa.retriever()
        stats = qa.stats()
    if args.json:
        print(json.dumps({"sources": reports, "failed": [{"path": str(p), "error": str(e)} for p, e in failed],
                          "stats": stats}, indent=1))
    else:
        print(f"knowledge base {stats['directory']}: {stats['triples']} triples, {stats['entities']} entities, "
              f"{stats['relations']} relations, {stats.get('passages', 0)} passages")
        if failed:
            print(f"{len(failed)} of {len(args.paths)} sources failed: {', '.join(str(p) for p, _ in failed)}")
    return 1 if failed else 0


def _index_line(report: IndexReport) -> str:
    line = (f"{report.status:9} {printable(report.source)}: +{report.added} -{report.removed} ={report.unchanged} "
            f"triples ({report.triples} in source, {report.entities} nodes, {report.passages} passages"
            f"{_skipped(report.skipped)}) in {report.seconds:.2f}s")
    return "\n".join([line] + [f"          {printable(note)}" for note in report.notes])


def _stopped(paths: list[Path], at: int, done: list[dict[str, object]]) -> None:
    """Say, before the error, what a multi-source run kept and what it never read."""
    if len(paths) < 2:
        return
    kept = ", ".join(str(r["source"]) for r in done) or "none"
    rest = ", ".join(str(p) for p in paths[at + 1:]) or "none"
    print(f"kgqa: kept {kept}; stopped at {paths[at]} (nothing of it was kept); not read: {rest} "
          "(--keep-going indexes the others and reports each)", file=sys.stderr)


def _skipped(n: int) -> str:
    return f", {n} malformed lines skipped" if n else ""


def cmd_remove(args: argparse.Namespace) -> int:
    with open_kb(args) as qa:
        reports = [qa.remove(path).to_dict() for path in args.paths]
    if args.json:
        print(json.dumps(reports, indent=1))
    for r in reports if not args.json else []:
        print(f"removed   {printable(str(r['source']))}: -{r['removed']} triples")
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
        print(f"{printable(s.name):30} {s.format:13} {s.triples:>10} triples {s.entities:>9} nodes "
              f"{s.passages:>7} passages  {s.state:8} {printable(str(s.path))}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    with open_kb(args, read_only=True) as qa:
        stats = qa.stats()
    if args.json:
        print(json.dumps(stats, indent=1))
    else:
        for key, value in stats.items():
            print(f"{key:10} {printable(str(value))}")
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
    about = f" - {printable(entity.description)}" if entity.description else ""
    print(f"{printable(labels[entity.id])} ({printable(entity.id)}){about}")
    for e in edges:
        where = f"{e.provenance.source}:{e.provenance.line}" if e.provenance.line else e.provenance.source
        print(f"  {printable(labels[e.subject])} -{printable(labels[e.predicate])}-> {printable(labels[e.object])}"
              f"    [{printable(where)}]")
    if not edges:
        print("  (no edges)")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """``kgqa check``: 0 when everything agrees (or was repaired), 1 when problems remain."""
    report = check_directory(args.kb, repair=args.repair, progress=not args.json)
    print(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) if args.json else report.describe())
    return 0 if report.ok else 1
