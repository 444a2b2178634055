"""``kgqa eval --format hotpotqa|musique``: passage QA, kgqa and its baselines side by side.

Called from ``pipeline/cli/evaluate.py`` for the passage formats; prints one table of
supporting-passage recall@2/@5, answer EM/F1 (SQuAD normalization) and latency per system.
"""

from __future__ import annotations

import argparse
import json
import os

from pipeline.api import KGQA
from pipeline.evaluation import passages
from pipeline.questions import expand

DEFAULT_SYSTEMS = "kgqa,dense,bm25"


def cmd_eval_passages(args: argparse.Namespace) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one question at a time
    names = [n.strip() for n in (DEFAULT_SYSTEMS if args.systems == "kgqa" else args.systems).split(",") if n.strip()]
    files = expand(args.questions)
    questions = [q for f in files for q in passages.load(f, args.format)][: args.limit]
    progress = not args.json and not args.no_progress
    split = args.split or "all"
    with KGQA.open(args.kb, backend=args.backend, read_only=True, progress=progress, uri=args.uri,
                   user=args.user, database=args.database, password=os.environ.get("NEO4J_PASSWORD"),
                   embedder=args.embedder, generator="off") as qa:
        systems = passages.make_systems(qa, names, args.embedder)
        results = passages.evaluate(systems, questions, progress)
    rows = [(args.format, name, passages.summary(outcomes, split)) for name, outcomes in results.items()]
    if args.json:
        print(json.dumps({name: s for _, name, s in rows}, indent=1))
        return 0
    print(f"{len(questions)} {args.format} questions ({split}) from {', '.join(map(str, files))}")
    print(passages.table(rows))
    return 0
