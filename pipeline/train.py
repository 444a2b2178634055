"""``kgqa train scorer``: weak supervision from QA pairs, then fine-tuning of the path scorer.

A QA pair names its topic entity (MetaQA's ``[brackets]``, or the topic column of a TSV) and its
answers, but not the relation path. Weak supervision finds it: every relation path of 1..3 hops
around the topic (those the retriever would score) is followed to its set of end entities, and
the paths whose end set best matches the gold answers (F1, at least ``MIN_F1``) are the
positives (the shortest of them when the questions' hop count is not known); the other paths
around the same topic are the negatives, and questions worded alike vote on ties (``vote``).
Questions are masked as at answer time (the topic mention removed) and paths verbalized by
retrieval.paths.verbalize.

Only the ``train`` part of the split in pipeline/splits.py is used; a slice of it (never the
held-out part) is the validation set for early stopping.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import shlex
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from kg.base import EntityKind
from kg.stores.base import GraphStore, RelationPath, Step
from model.path_scorer import PathExample
from pipeline.api import KGQA
from pipeline.eval import Question
from pipeline.splits import only
from retrieval.graph_index import GraphIndex, read_edges
from retrieval.paths import mask, verbalize

log = logging.getLogger(__name__)
MIN_F1 = 0.5


class EndSets:
    """Where a relation path leads from an entity, as sets (walks through the start optional)."""

    def __init__(self, edges: pa.Table) -> None:
        self.adj: dict[str, dict[Step, set[str]]] = {}
        subjects = edges.column("subject").to_pylist()
        objects = edges.column("object").to_pylist()
        for s, p, o in zip(subjects, edges.column("predicate").to_pylist(), objects):
            self.adj.setdefault(s, {}).setdefault(Step(p, True), set()).add(o)
            self.adj.setdefault(o, {}).setdefault(Step(p, False), set()).add(s)

    def ends(self, start: str, path: RelationPath, exclude_start: bool, memo: dict[RelationPath, set[str]]) -> set[str]:
        """End entities of ``path`` from ``start``; ``memo`` caches prefixes for one start."""
        if not path:
            return {start}
        if path in memo:
            return memo[path]
        found: set[str] = set()
        for node in self.ends(start, path[:-1], exclude_start, memo):
            found |= self.adj.get(node, {}).get(path[-1], set())
        if exclude_start:
            found.discard(start)
        memo[path] = found
        return found


@dataclass(frozen=True)
class Supervision:
    """Settings of weak supervision (they must match how the retriever will run)."""

    max_hops: int = 3
    exclude_topic: bool = False
    max_candidates: int = 2000
    hops: int | None = None  # the questions' known hop count (MetaQA's N-hop files): positives only that long


def _f1(ends: set[str], gold: set[str], labels: dict[str, str]) -> float:
    if not ends:
        return 0.0
    hit = sum(1 for n in ends if n in gold or labels.get(n, n).lower() in gold)
    if not hit:
        return 0.0
    precision, recall = hit / len(ends), min(1.0, hit / len(gold))
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class SupervisionGraph:
    """What weak supervision reads from a store, read once: relation paths, end sets, labels."""

    paths: GraphIndex
    ends: EndSets
    labels: dict[str, str]  # entity id -> label
    relations: dict[str, str]  # relation id -> label
    predicates: tuple[str, ...]

    @classmethod
    def read(cls, store: GraphStore) -> SupervisionGraph:
        edges = read_edges(store)
        labels, relations = node_labels(store)
        predicates = tuple(sorted(set(edges.column("predicate").to_pylist())))
        return cls(GraphIndex.from_table(edges), EndSets(edges), labels, relations, predicates)


def path_examples(questions: Sequence[Question], source: SupervisionGraph,
                  settings: Supervision = Supervision()) -> Iterator[PathExample]:
    """One example per question whose topic is in the graph and some path reaches its answers."""
    graph, ends, labels, relation_labels = source.paths, source.ends, source.labels, source.relations
    for q in questions:
        topic = _topic_id(q, labels)
        if topic is None:
            continue
        counts = graph.relation_paths(topic, settings.max_hops, settings.max_candidates)
        gold = {g for a in q.gold for g in (a, a.lower())}
        memo: dict[RelationPath, set[str]] = {}
        scored = [(c.path, _f1(ends.ends(topic, c.path, settings.exclude_topic, memo), gold, labels))
                  for c in counts]
        best = max((f for p, f in scored if settings.hops in (None, len(p))), default=0.0)
        if best < MIN_F1:
            continue
        tied = [p for p, f in scored if f >= best - 1e-9]
        length = settings.hops or min(len(p) for p in tied)  # unknown hop count: the shortest paths
        positives = tuple(dict.fromkeys(verbalize(p, relation_labels) for p in tied if len(p) == length))
        tied_texts = {verbalize(p, relation_labels) for p in tied}
        negatives = tuple(dict.fromkeys(t for p, _ in scored for t in [verbalize(p, relation_labels)]
                                        if t not in tied_texts))
        if negatives:
            yield PathExample(_masked(q), positives, negatives)


def vote(examples: Sequence[PathExample]) -> list[PathExample]:
    """Break ties between positives by agreement of questions worded alike.

    A question whose answers several relation paths reach by coincidence (the writer also
    directed) keeps the positives that the most questions with the same masked wording share;
    the dropped ones leave the example altogether (neither positive nor negative).
    """
    support: dict[str, Counter[str]] = {}
    for e in examples:
        support.setdefault(e.question, Counter()).update(e.positives)
    out = []
    for e in examples:
        counts = support[e.question]
        top = max(counts[p] for p in e.positives)
        out.append(PathExample(e.question, tuple(p for p in e.positives if counts[p] == top), e.negatives))
    return out


def _topic_id(q: Question, labels: dict[str, str]) -> str | None:
    if q.topic is None:
        return None
    if q.topic in labels:
        return q.topic
    return _by_label(labels).get(q.topic.lower())


_LABEL_INDEX: dict[int, dict[str, str]] = {}


def _by_label(labels: dict[str, str]) -> dict[str, str]:
    key = id(labels)
    if key not in _LABEL_INDEX:
        _LABEL_INDEX.clear()
        _LABEL_INDEX[key] = {v.lower(): k for k, v in labels.items()}
    return _LABEL_INDEX[key]


def _masked(q: Question) -> str:
    spans = [q.topic_span] if q.topic_span else []
    if not spans and q.topic and q.topic.lower() in q.text.lower():
        start = q.text.lower().index(q.topic.lower())
        spans = [(start, start + len(q.topic))]
    return mask(q.text, spans) or q.text


def node_labels(store: GraphStore) -> tuple[dict[str, str], dict[str, str]]:
    """(entity id -> label, relation id -> label) from one scan of the store."""
    entities: dict[str, str] = {}
    relations: dict[str, str] = {}
    for batch in store.scan_entities():
        for e, _ in batch:
            entities[e.id] = e.label or e.id
            if e.kind is EntityKind.RELATION and e.label:
                relations[e.id] = e.label
    return entities, relations


def build_examples(source: GraphStore | SupervisionGraph, questions: Sequence[Question], settings: Supervision,
                   progress: bool = True) -> list[PathExample]:
    """Weakly supervised examples for ``questions`` (the caller picks the split); pass a
    ``SupervisionGraph`` to read the store once for several calls."""
    from tqdm import tqdm

    graph = source if isinstance(source, SupervisionGraph) else SupervisionGraph.read(source)
    found = tqdm(questions, desc="weak supervision", disable=not progress, file=sys.stderr)
    return vote(list(path_examples(found, graph, settings)))


def train_split(questions: Sequence[Question], per_file: int | None, validation: int,
                seed: int) -> tuple[list[Question], list[Question]]:
    """(train, validation) from the ``train`` part of the split only."""
    pool = only("train", questions)
    random.Random(seed).shuffle(pool)
    valid, rest = pool[:validation], pool[validation:]
    return (rest[:per_file] if per_file else rest), valid


def questions_from(paths: Sequence[Path], fmt: str) -> list[list[Question]]:
    from pipeline.eval import read_questions

    return [read_questions(p, fmt) for p in paths]


_ONE_HOP = ("what is the {r} of", "what is {r} of", "which {r} does have", "tell me the {r} of", "{r} of",
            "what {r} does have", "who or what is the {r} of")
_TWO_HOP = ("what is the {r2} of the {r1} of", "the {r1} of has which {r2}", "{r2} of the {r1} of",
            "what {r2} does the {r1} of have")


def generic_examples(relation_names: Sequence[str], n: int, seed: int = 0, negatives: int = 31) -> list[PathExample]:
    """Templated questions over many relation names (e.g. all Wikidata property labels).

    Mixed into domain data so that the adapter keeps what zero-shot scoring does well on any KB
    (a question's relation words match the path's) and learns the hop order ("the r2 of the r1
    of X" is ``r2 of r1``, not ``r1 of r2``), instead of forgetting relations MetaQA lacks.
    """
    rng = random.Random(seed)
    names = sorted({r.strip().lower() for r in relation_names if r.strip()})
    out = []
    for _ in range(n if len(names) > 2 else 0):
        r1, r2 = rng.sample(names, 2)
        if rng.random() < 0.6:
            question, positive, hard = rng.choice(_ONE_HOP).format(r=r1), r1, [r2, f"{r1} of {r2}"]
        else:
            question, positive = rng.choice(_TWO_HOP).format(r1=r1, r2=r2), f"{r2} of {r1}"
            hard = [f"{r1} of {r2}", r1, r2]
        others = [r for r in rng.sample(names, min(negatives, len(names))) if r not in (r1, r2)]
        out.append(PathExample(question, (positive,), tuple(dict.fromkeys(hard + others))[:negatives]))
    return out


def read_relation_names(path: Path) -> list[str]:
    """English labels from a Wikidata properties TSV (``id<TAB>datatype<TAB>en...``) or one per line."""
    names = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if n == 0 and parts[0] == "id":
                continue
            names.append(parts[2] if len(parts) >= 3 else parts[0])
    return [x for x in names if x]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    """``kgqa train scorer`` (and its options) on the CLI's sub-command parser."""
    train = sub.add_parser("train", help="fine-tune the models on your questions")
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
            "questions": [str(p) for p in args.questions], "split": "train part of pipeline/splits.py"}


def train_generator_command(args: argparse.Namespace) -> int:
    from model.generator import train_generator
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    progress = not args.no_progress and not args.json
    config = RetrieverConfig(evidence=args.k, scorer=args.scorer, paths=PathConfig(exclude_topic=args.exclude_topic))
    train: list[tuple[str, str]] = []
    valid: list[tuple[str, str]] = []
    with KGQA.open(args.kb, read_only=True, progress=progress, config=config) as qa:
        for questions in questions_from(args.questions, args.format):
            part, held = train_split(questions, args.per_file, args.validation, args.seed)
            train += generator_examples(qa, part, args.k, progress=progress)
            valid += generator_examples(qa, held, args.k, progress=progress)
    info = train_generator(train, args.out, validation=valid, epochs=args.epochs, max_steps=args.max_steps,
                           lr=args.lr, r=args.rank, batch_size=args.batch_size, device=args.device,
                           progress=progress, seed=args.seed, card=_card(args), init_adapter=args.init_adapter)
    if args.json:
        print(json.dumps(info, indent=1, default=str))
    else:
        print(f"generator adapter written to {args.out}: {len(train)} training, {len(valid)} validation examples")
    return 0


def train_scorer_command(args: argparse.Namespace) -> int:
    from kg.kb import KnowledgeBase
    from model.path_scorer import TrainConfig, train_scorer

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


def generator_examples(qa: KGQA, questions: Sequence[Question], k: int, no_answer_share: float = 0.1,
                       progress: bool = True) -> list[tuple[str, str]]:
    """(prompt, target) pairs: the prompt the retriever builds, the rule sentence over the gold answers.

    The target names the gold answers found in the evidence, each cited by the evidence that
    ends in it (model.checks.fallback_sentence); a question whose evidence holds no gold answer
    is taught to say so, for at most ``no_answer_share`` of the examples.
    """
    from tqdm import tqdm

    from model.checks import NO_ANSWER, fallback_sentence

    examples: list[tuple[str, str]] = []
    empty: list[tuple[str, str]] = []
    for q in tqdm(questions, desc="prompts", disable=not progress, file=sys.stderr):
        r = qa.retrieve(q.text, k=k)
        gold = {g.lower() for g in q.gold}
        found = [(a.label, a.evidence) for a in r.answers
                 if a.evidence and (a.id.lower() in gold or a.label.lower() in gold)]
        (examples if found else empty).append((r.prompt, " " + (fallback_sentence(found) if found else NO_ANSWER)))
    keep = int(len(examples) * no_answer_share / (1 - no_answer_share))
    return examples + empty[:keep]
