"""``kgqa adapt``: a path-scorer adapter for your knowledge base from its own synthetic questions."""

from __future__ import annotations

import argparse
import json
import os

from pipeline.cli.common import run_options
from pipeline.training.adapt import AdaptConfig, adapt


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``kgqa adapt`` (and its options) on the CLI's sub-command parser."""
    p = sub.add_parser("adapt", parents=[common, run_options()],
                       help="train the path scorer on questions generated from the KB itself (no questions needed)")
    p.add_argument("--budget-minutes", type=float, default=12.0, help="the whole run within about this long")
    p.add_argument("--examples", type=int, help="synthetic training questions (default: what the budget allows)")
    p.add_argument("--validation", type=int, default=300, help="held-out synthetic questions that judge the adapter")
    p.add_argument("--embedder", default="minilm", help="embedder of zero-shot scoring (a candidate 'before')")
    p.set_defaults(func=cmd_adapt)


def cmd_adapt(args: argparse.Namespace) -> int:
    """Run ``kgqa adapt``: one adaptation run, reported for people or as JSON."""
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    config = AdaptConfig(budget_minutes=args.budget_minutes, examples=args.examples, validation=args.validation,
                         seed=args.seed)
    report = adapt(args.kb, config, base=args.base, device=args.device, embedder=args.embedder,
                   progress=not args.no_progress and not args.json)
    print(json.dumps(report.to_dict(), indent=1, ensure_ascii=False) if args.json else report.describe())
    return 0
