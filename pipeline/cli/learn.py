"""``kgqa learn``: one learning run of the path scorer on the feedback given (pipeline/training/learning.py)."""

from __future__ import annotations

import argparse
import json

from model.path_scorer import TrainConfig
from pipeline.cli.common import run_options
from pipeline.training.learning import learn
from pipeline.training.supervision import Supervision


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``kgqa learn`` (and its options) on the CLI's sub-command parser."""
    p = sub.add_parser("learn", parents=[common, run_options()], help="fine-tune the path scorer on the feedback given")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--min-examples", type=int, default=1, help="train only with this many new examples")
    p.add_argument("--generic", type=int, default=200, help="templated questions over the KB's relations replayed")
    p.add_argument("--embedder", default="minilm", help="embedder of zero-shot scoring (the 'before' without adapter)")
    p.add_argument("--exclude-topic", action="store_true", help="the topic is never its own answer (MetaQA)")
    p.set_defaults(func=cmd_learn)


def cmd_learn(args: argparse.Namespace) -> int:
    """Run ``kgqa learn``: one learning run, reported for people or as JSON."""
    config = TrainConfig(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, seed=args.seed)
    report = learn(args.kb, config=config, base=args.base, device=args.device, embedder=args.embedder,
                   settings=Supervision(exclude_topic=args.exclude_topic), min_examples=args.min_examples,
                   generic=args.generic, progress=not args.no_progress and not args.json)
    print(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) if args.json else report.describe())
    return 0
