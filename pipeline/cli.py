"""The ``kgqa`` command line: index, remove and inspect knowledge sources; ask, chat, evaluate.

Output is for people by default; ``--json`` prints one JSON document for machines. Errors that
kgqa raises on purpose print one line and exit with status 2; nothing is half-written.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kg.errors import KGQAError
from kg.readers import FORMATS, ReaderOptions
from kg.stores import BACKENDS, Direction
from pipeline import learn as learn_cli
from pipeline import train as train_cli
from pipeline.api import KGQA
from retrieval.paths import PathConfig
from retrieval.retriever import RetrieverConfig

log = logging.getLogger("kgqa")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kgqa", description="Question answering over knowledge graphs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kb", default=os.environ.get("KGQA_KB", "kb"),
                        help="knowledge base directory (default: $KGQA_KB or ./kb)")
    common.add_argument("--json", action="store_true", help="print JSON for machines")
    common.add_argument("--backend", choices=BACKENDS, help="graph store (default: embedded, or as created)")
    common.add_argument("--uri", default=os.environ.get("NEO4J_URI"), help="Neo4j Bolt URI ($NEO4J_URI)")
    common.add_argument("--user", default=os.environ.get("NEO4J_USER"), help="Neo4j user ($NEO4J_USER)")
    common.add_argument("--database", default=os.environ.get("NEO4J_DATABASE"), help="Neo4j database")

    index = sub.add_parser("index", parents=[common], help="add or re-index knowledge sources")
    index.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    index.add_argument("--format", choices=sorted(FORMATS), help="source format (guessed from the name)")
    index.add_argument("--skip-errors", action="store_true", help="skip malformed lines and count them")
    index.add_argument("--languages", default="en,mul,zh", help="label languages to keep, first is main")
    index.add_argument("--property-labels", type=Path, help="Wikidata property labels (JSONL or TSV)")
    index.add_argument("--batch-size", type=int, default=100_000)
    index.add_argument("--no-progress", action="store_true", help="no progress bars")

    remove = sub.add_parser("remove", parents=[common], help="remove what sources contributed")
    remove.add_argument("paths", nargs="+", type=Path, metavar="PATH")

    sub.add_parser("sources", parents=[common], help="list the indexed sources")
    sub.add_parser("stats", parents=[common], help="count triples, entities, relations, sources")

    ask = sub.add_parser("ask", parents=[common], help="answer a question with cited evidence")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=10, help="pieces of evidence")
    ask.add_argument("--embedder", default="minilm", help="minilm (English), e5 (multilingual)")
    ask.add_argument("--exclude-topic", action="store_true",
                     help="the topic entity is never its own answer (MetaQA-style 'other' questions)")
    ask.add_argument("--hops", type=int, default=3, choices=(1, 2, 3), help="longest relation path")
    ask.add_argument("--explain", action="store_true", help="show how the answer was reached")
    ask.add_argument("--scorer", default="auto",
                     help="path scorer: auto (the KB's learned or the shipped adapter), zero-shot, or an adapter dir")
    ask.add_argument("--generator", choices=("auto", "off"), default="auto",
                     help="auto: the shipped generator when installed, else a rule-built cited sentence")

    chat = sub.add_parser("chat", parents=[common], help="a conversation: follow-ups, clarifications, feedback")
    chat.add_argument("--load", type=Path, metavar="FILE", help="continue a conversation saved with /save")
    chat.add_argument("-k", type=int, default=10, help="pieces of evidence")
    chat.add_argument("--embedder", default="minilm", help="minilm (English), e5 (multilingual)")
    chat.add_argument("--exclude-topic", action="store_true", help="the topic entity is never its own answer")
    chat.add_argument("--hops", type=int, default=3, choices=(1, 2, 3), help="longest relation path")
    chat.add_argument("--generator", choices=("auto", "off"), default="auto", help="as for ask")
    chat.add_argument("--scorer", default="auto", help="as for ask")

    evaluate = sub.add_parser("eval", parents=[common], help="score systems on gold questions")
    evaluate.add_argument("--questions", action="append", required=True, metavar="PATH",
                          help="gold questions (plain or .gz); repeat or use a glob for several files, each "
                               "reported as its hop (from a path like 2-hop/)")
    evaluate.add_argument("--format", choices=("metaqa", "tsv"), default="metaqa",
                          help="metaqa: 'question with [topic]<TAB>a|b'; tsv: 'question<TAB>a|b[<TAB>topic id]'")
    evaluate.add_argument("--qtypes", action="append", default=[], metavar="PATH",
                          help="question types, one a line, aligned with the questions (one per --questions file)")
    evaluate.add_argument("--split", choices=("heldout", "train", "all"),
                          help="which side of the train/held-out split (default: heldout for metaqa, else all)")
    evaluate.add_argument("--topic-given", action="store_true",
                          help="use the gold topic instead of the entity linker")
    evaluate.add_argument("--limit", type=int,
                          help="evaluate N questions per file, after the split (the first N, or a sample with --seed)")
    evaluate.add_argument("--seed", type=int, help="sample --limit questions at random with this seed")
    evaluate.add_argument("--systems", default="kgqa", help="comma-separated: kgqa, kgqa-zero-shot, dense, llamaindex")
    evaluate.add_argument("--out", type=Path, help="write summary.json, questions.jsonl and plots here")
    evaluate.add_argument("--embedder", default="minilm", help="minilm (English), e5 (multilingual)")
    evaluate.add_argument("--exclude-topic", action="store_true",
                          help="the topic entity is never its own answer (MetaQA-style 'other' questions)")
    evaluate.add_argument("--hops", type=int, default=3, choices=(1, 2, 3), help="longest relation path")
    evaluate.add_argument("--no-progress", action="store_true", help="no progress bars")

    neighbors = sub.add_parser("neighbors", parents=[common], help="show the edges at an entity")
    neighbors.add_argument("entity", help="an entity id, label or alias")
    neighbors.add_argument("--predicate")
    neighbors.add_argument("--direction", choices=[d.value for d in Direction], default="both")
    neighbors.add_argument("--limit", type=int, default=50)
    train_cli.add_parser(sub, common)
    learn_cli.add_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return COMMANDS[args.command](args)
    except KGQAError as exc:
        print(f"kgqa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kgqa: interrupted; run the same command again to complete it", file=sys.stderr)
        return 130


def _open(args: argparse.Namespace, read_only: bool = False) -> KGQA:
    return KGQA.open(args.kb, backend=args.backend, read_only=read_only,
                     progress=not getattr(args, "no_progress", False) and not args.json,
                     uri=args.uri, user=args.user, database=args.database,
                     password=os.environ.get("NEO4J_PASSWORD"))


def cmd_index(args: argparse.Namespace) -> int:
    options = ReaderOptions(batch_size=args.batch_size, skip_errors=args.skip_errors,
                            languages=tuple(x.strip() for x in args.languages.split(",") if x.strip()),
                            property_labels=args.property_labels)
    reports = []
    with _open(args) as qa:
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
    with _open(args) as qa:
        reports = [qa.remove(path).to_dict() for path in args.paths]
    if args.json:
        print(json.dumps(reports, indent=1))
    for r in reports if not args.json else []:
        print(f"removed   {r['source']}: -{r['removed']} triples")
    return 0


def cmd_sources(args: argparse.Namespace) -> int:
    with _open(args, read_only=True) as qa:
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
    with _open(args, read_only=True) as qa:
        stats = qa.stats()
    if args.json:
        print(json.dumps(stats, indent=1))
    else:
        for key, value in stats.items():
            print(f"{key:10} {value}")
    return 0


def cmd_neighbors(args: argparse.Namespace) -> int:
    with _open(args, read_only=True) as qa:
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


def _answering(args: argparse.Namespace) -> KGQA:
    """The knowledge base opened read-only for answering, with the ask/chat options."""
    # one OpenMP thread for one question: on a small machine a second one makes a FAISS search
    # many times slower (set before faiss and torch are imported)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    config = RetrieverConfig(evidence=args.k, paths=PathConfig(max_hops=args.hops, exclude_topic=args.exclude_topic),
                             scorer=args.scorer)
    return KGQA.open(args.kb, backend=args.backend, read_only=True, progress=not args.json, uri=args.uri,
                     user=args.user, database=args.database, password=os.environ.get("NEO4J_PASSWORD"),
                     embedder=args.embedder, config=config, generator=args.generator)


def cmd_ask(args: argparse.Namespace) -> int:
    from pipeline.chat import show

    with _answering(args) as qa:
        answer = qa.ask(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), indent=1, ensure_ascii=False))
    else:
        print(answer.explain() if args.explain else show(answer, evidence="all"))
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from pipeline.chat import Chat, line_editing
    from pipeline.session import Session

    with _answering(args) as qa:
        session = Session.load(qa, args.load) if args.load else qa.session()
        if sys.stdin.isatty():
            line_editing()
        return Chat(session).run()


def cmd_eval(args: argparse.Namespace) -> int:
    from pipeline import eval as ev
    from pipeline import eval_report as report

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as for ask: one question at a time
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    files = ev.expand(args.questions)
    questions = ev.load_questions(files, args.format, ev.expand(args.qtypes), args.split, args.limit, args.seed)
    config = RetrieverConfig(paths=PathConfig(max_hops=args.hops, exclude_topic=args.exclude_topic))
    progress = not args.json and not args.no_progress
    with KGQA.open(args.kb, backend=args.backend, read_only=True, progress=progress, uri=args.uri,
                   user=args.user, database=args.database, password=os.environ.get("NEO4J_PASSWORD"),
                   embedder=args.embedder, config=config) as qa:
        systems = ev.make_systems(names, qa, args.embedder, args.topic_given)
        results = ev.run(systems, questions, progress)
    summary = ev.summarize(results)
    written = report.write_report(args.out, results, summary) if args.out else []
    if args.json:
        print(json.dumps(summary, indent=1, ensure_ascii=False))
        return 0
    split = args.split or ("heldout" if args.format == "metaqa" else "all")
    print(f"{len(questions)} questions ({split}) from {', '.join(map(str, files))}"
          f"{' (gold topic given)' if args.topic_given else ''}")
    print(report.table(summary))
    if report.hop_table(summary):
        print("\n" + report.hop_table(summary))
    for path in written:
        print(f"wrote {path}")
    return 0


COMMANDS = {"train": train_cli.cmd_train, "learn": learn_cli.cmd_learn,
            "index": cmd_index, "remove": cmd_remove, "sources": cmd_sources, "stats": cmd_stats,
            "neighbors": cmd_neighbors, "ask": cmd_ask, "chat": cmd_chat, "eval": cmd_eval}

if __name__ == "__main__":
    sys.exit(main())
