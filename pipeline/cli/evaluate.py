"""``kgqa eval``: systems side by side on gold questions, with tables and plots."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from pipeline.api import KGQA
from pipeline.cli.eval_passages import cmd_eval_passages
from pipeline.evaluation import metrics, report
from pipeline.evaluation.systems import make_systems
from pipeline.questions import expand, load_questions
from retrieval.paths import PathConfig
from retrieval.retriever import RetrieverConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    evaluate = sub.add_parser("eval", parents=[common], help="score systems on gold questions")
    evaluate.add_argument("--questions", action="append", required=True, metavar="PATH",
                          help="gold questions (plain or .gz); repeat or use a glob for several files, each "
                               "reported as its hop (from a path like 2-hop/)")
    evaluate.add_argument("--format", choices=("metaqa", "tsv", "hotpotqa", "musique"), default="metaqa",
                          help="metaqa: 'question with [topic]<TAB>a|b'; tsv: 'question<TAB>a|b[<TAB>topic id]'; "
                               "hotpotqa, musique: passage QA JSON (systems kgqa, dense, bm25, chunks)")
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
    evaluate.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    if args.format in ("hotpotqa", "musique"):
        return cmd_eval_passages(args)

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # as for ask: one question at a time
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    files = expand(args.questions)
    questions = load_questions(files, args.format, expand(args.qtypes), args.split, args.limit, args.seed)
    config = RetrieverConfig(paths=PathConfig(max_hops=args.hops, exclude_topic=args.exclude_topic))
    progress = not args.json and not args.no_progress
    with KGQA.open(args.kb, backend=args.backend, read_only=True, progress=progress, uri=args.uri,
                   user=args.user, database=args.database, password=os.environ.get("NEO4J_PASSWORD"),
                   embedder=args.embedder, config=config) as qa:
        systems = make_systems(names, qa, args.embedder, args.topic_given)
        results = metrics.run(systems, questions, progress)
    summary = metrics.summarize(results)
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
