"""``kgqa train scorer`` and ``kgqa train generator``: fine-tune the models on your questions.

Weak supervision (pipeline/training/supervision.py) turns QA pairs into path examples for the
scorer; the generator learns from the retriever's prompts and rule-built targets
(pipeline/training/generator_data.py). Only the train part of the question split is used.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shlex
import sys
from pathlib import Path

from kg.kb import KnowledgeBase
from model.path_scorer import PathExample, TrainConfig, train_scorer
from model.prompts import versions
from pipeline.api import KGQA
from pipeline.training.generator_data import generator_examples
from pipeline.training.supervision import (
    Supervision,
    SupervisionGraph,
    build_examples,
    generic_examples,
    questions_from,
    read_relation_names,
    train_split,
)
from retrieval.paths import PathConfig
from retrieval.retriever import RetrieverConfig

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``kgqa train scorer|generator`` (and their options) on the CLI's sub-command parser."""
    train = sub.add_parser("train", help="fine-tune the models on your questions")
    train.set_defaults(func=cmd_train)
    models = train.add_subparsers(dest="model", required=True)
    both = argparse.ArgumentParser(add_help=False)  # options of both models
    both.add_argument("--questions", type=Path, nargs="+", required=True, help="gold questions (plain or .gz)")
    both.add_argument("--format", choices=("metaqa", "tsv"), default="metaqa")
    both.add_argument("--out", type=Path, required=True, help="adapter directory to write")
    both.add_argument("--exclude-topic", action="store_true", help="the topic is never its own answer (MetaQA)")
    both.add_argument("--seed", type=int, default=0)
    both.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    both.add_argument("--init-adapter", type=Path, help="continue from this adapter")
    both.add_argument("--no-progress", action="store_true")

    scorer = models.add_parser("scorer", parents=[common, both], help="the relation-path scorer (MiniLM + LoRA)")
    scorer.add_argument("--hops", default="auto",
                        help="hop count of the questions for supervision: 1-3, 'any', or 'auto' (N-hop in the path)")
    scorer.add_argument("--per-file", type=int, help="train on at most N questions of each file")
    scorer.add_argument("--validation", type=int, default=300, help="validation questions per file (train split)")
    scorer.add_argument("--generic-relations", type=Path,
                        help="relation names (Wikidata properties TSV) for templated questions mixed in")
    scorer.add_argument("--generic", type=int, default=2000, help="how many templated questions to mix in")
    scorer.add_argument("--epochs", type=int, default=3)
    scorer.add_argument("--batch-size", type=int, default=32)
    scorer.add_argument("--lr", type=float, default=5e-4)
    scorer.add_argument("--rank", type=int, default=8, help="LoRA rank")

    gen = models.add_parser("generator", parents=[common, both], help="the answer generator (gemma-3-270m + LoRA)")
    gen.add_argument("--per-file", type=int, default=200, help="training questions per file (train split)")
    gen.add_argument("--validation", type=int, default=20, help="validation questions per file (train split)")
    gen.add_argument("--scorer", default="auto", help="path scorer used to build the prompts")
    gen.add_argument("-k", type=int, default=10, help="pieces of evidence in a prompt")
    gen.add_argument("--epochs", type=int, default=1)
    gen.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    gen.add_argument("--batch-size", type=int, default=4)
    gen.add_argument("--lr", type=float, default=2e-4)
    gen.add_argument("--rank", type=int, default=16, help="LoRA rank")


def _hops(setting: str, path: Path) -> int | None:
    if setting == "auto":
        found = re.search(r"([123])-hop", str(path))
        return int(found.group(1)) if found else None
    return None if setting == "any" else int(setting)


def cmd_train(args: argparse.Namespace) -> int:
    return train_scorer_command(args) if args.model == "scorer" else train_generator_command(args)


def _card(args: argparse.Namespace) -> dict[str, object]:
    return {"command": "kgqa " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "questions": [str(p) for p in args.questions], "split": "train part of pipeline/questions.py",
            **versions()}


def train_generator_command(args: argparse.Namespace) -> int:
    from model.generator_training import GeneratorTrainConfig, train_generator  # torch and gemma: this command only

    progress = not args.no_progress and not args.json
    config = RetrieverConfig(evidence=args.k, scorer=args.scorer, paths=PathConfig(exclude_topic=args.exclude_topic))
    train: list[tuple[str, str]] = []
    valid: list[tuple[str, str]] = []
    with KGQA.open(args.kb, read_only=True, progress=progress, config=config) as qa:
        for questions in questions_from(args.questions, args.format):
            part, held = train_split(questions, args.per_file, args.validation, args.seed)
            train += generator_examples(qa, part, args.k, progress=progress)
            valid += generator_examples(qa, held, args.k, progress=progress)
    settings = GeneratorTrainConfig(epochs=args.epochs, max_steps=args.max_steps, lr=args.lr, r=args.rank,
                                    batch_size=args.batch_size, seed=args.seed)
    info = train_generator(train, args.out, settings, validation=valid, device=args.device, progress=progress,
                           card=_card(args), init_adapter=args.init_adapter)
    if args.json:
        print(json.dumps(info, indent=1, default=str))
    else:
        print(f"generator adapter written to {args.out}: {len(train)} training, {len(valid)} validation examples")
    return 0


def train_scorer_command(args: argparse.Namespace) -> int:

    progress = not args.no_progress and not args.json
    train: list[PathExample] = []
    valid: list[PathExample] = []
    with KnowledgeBase.open(args.kb, read_only=True, progress=progress) as kb:
        graph = SupervisionGraph.read(kb.store)  # once, not once per file and split
        for path, questions in zip(args.questions, questions_from(args.questions, args.format)):
            settings = Supervision(exclude_topic=args.exclude_topic, hops=_hops(args.hops, path))
            part, held = train_split(questions, args.per_file, args.validation, args.seed)
            train += build_examples(graph, part, settings, progress)
            valid += build_examples(graph, held, settings, progress)
            log.info("%s: %d training and %d validation examples", path, len(train), len(valid))
    if args.generic_relations:
        train += generic_examples(read_relation_names(args.generic_relations), args.generic, args.seed)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, r=args.rank, seed=args.seed)
    info = train_scorer(train, valid, args.out, config, args.device, init_adapter=args.init_adapter,
                        progress=progress, card=_card(args))
    if args.json:
        print(json.dumps(info, indent=1, default=str))
    else:
        print(f"scorer adapter written to {args.out}: {len(train)} training, {len(valid)} validation examples, "
              f"validation path accuracy {info['validation_path_accuracy']:.4f}")
    return 0
