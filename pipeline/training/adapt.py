"""``kgqa adapt``: a path-scorer adapter for one knowledge base, trained on its own synthetic questions.

No human question is needed or read. Questions are generated from the KB's relation paths
(pipeline/training/synthetic.py); their topics are split into a training side and a held-out
validation slice (by a hash of the topic id, so no topic is on both sides). Training starts from
the generic adapter (model/adapters/generic, trained with no benchmark questions) when it is
installed, else from a fresh LoRA adapter; templated questions over the KB's relation names are
replayed so that one-hop wordings are not forgotten; it stops early on the validation slice and
when the time budget is spent. The new adapter goes live for ``auto`` only when it beats the
scorer that answers now on the validation slice; the run is recorded in ``learning/history.json``
as ``kgqa learn`` runs are (the same numbering, lock and files), so a later ``kgqa learn``
continues from it.

What the run learned about the KB is written into the adapter card: the relation set (its hash
tells ``auto`` which KB the adapter belongs to), answer types per relation, the topic rule and
the hop mix of the synthetic questions.

Left out: questions in another language than the relation labels' (templates are English).
"""

from __future__ import annotations

import dataclasses
import logging
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kg.errors import KGQAError
from kg.kb import KnowledgeBase
from model.embedders import open_embedder
from model.head_scorer import HEAD_FILE, HeadConfig, train_head
from model.path_scorer import PathExample, path_accuracy
from model.prompts import relation_name
from model.registry import (
    GENERIC_SCORER,
    kb_fingerprint,
    learning_root,
    locked,
    next_run,
    read_history,
    write_history,
)
from model.scorer import ZeroShotPathScorer
from pipeline.training.selfcheck import current_scorer
from pipeline.training.supervision import SupervisionGraph, generic_examples
from pipeline.training.synthetic import QuestionMaker, SyntheticConfig

log = logging.getLogger(__name__)
VALIDATION_PERCENT = 15
SECONDS_PER_EXAMPLE = 0.08  # cost of one synthetic question (paths, end sets, embedding) on 2 busy cores


@dataclass(frozen=True)
class AdaptConfig:
    """Settings of ``adapt``.

    Args:
        budget_minutes: the whole run (generation, training, judging) within about this long.
        examples: synthetic training questions (None: what the budget allows, 400..6000).
        validation: held-out synthetic questions that judge the adapter.
        replay: templated questions over the KB's relation names mixed in.
        train: training settings (its ``max_seconds`` is set from the budget).
    """

    budget_minutes: float = 12.0
    examples: int | None = None
    validation: int = 300
    replay: int = 300
    seed: int = 0
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    train: HeadConfig = field(default_factory=HeadConfig)

    def __post_init__(self) -> None:
        if self.budget_minutes <= 0:
            raise ValueError("budget_minutes must be positive")

    def training_examples(self) -> int:
        if self.examples is not None:
            return self.examples
        seconds = self.budget_minutes * 60 * 0.35  # the rest: reading the KB, training, judging
        return int(min(6000, max(400, seconds / SECONDS_PER_EXAMPLE)))


@dataclass(frozen=True)
class AdaptReport:
    """What an adaptation run did (``kgqa adapt --json`` prints it)."""

    examples: int
    validation: int
    replay: int
    before: float
    before_scorer: str
    after: float
    promoted: bool
    reason: str
    adapter: str
    started_from: str
    live: str
    stopped: str
    rules: dict[str, Any]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        verdict = "promoted" if self.promoted else "not promoted"
        return "\n".join([
            f"synthetic questions: {self.examples} training, {self.validation} validation (held-out topics), "
            f"{self.replay} replayed templates",
            f"trained {self.adapter} from {self.started_from} (stopped: {self.stopped})",
            f"validation path accuracy: before {self.before:.3f} ({self.before_scorer}), after {self.after:.3f}",
            f"{verdict}: {self.reason}", f"live scorer: {self.live}", f"in {self.seconds:.0f}s"])


def split_topics(made: list[tuple[PathExample, str]], validation: int) -> tuple[list[PathExample], list[PathExample]]:
    """(train, validation): a topic's questions all fall on one side (a stable hash of its id)."""
    held = [e for e, t in made if zlib.crc32(t.encode("utf-8")) % 100 < VALIDATION_PERCENT]
    train = [e for e, t in made if zlib.crc32(t.encode("utf-8")) % 100 >= VALIDATION_PERCENT]
    return train, held[:validation]


def _rules(maker: QuestionMaker, made: list[tuple[PathExample, str]]) -> dict[str, Any]:
    hops = Counter(len(p) for p in maker.chosen.elements())
    return {"topic_answers": "excluded on multi-hop walks" if maker.config.exclude_topic else "allowed",
            "answer_types": {maker.name(p): kind for p, kind in sorted(maker.kinds.items())},
            "hops": {str(h): n for h, n in sorted(hops.items())}, "questions": len(made)}


def adapt(kb_dir: str | Path, config: AdaptConfig = AdaptConfig(), *, base: str | Path | None = None,
          device: str | None = None, embedder: str = "minilm", progress: bool = True) -> AdaptReport:
    """Train, judge and maybe promote a scorer adapter for the knowledge base in ``kb_dir``.

    Raises:
        KGQAError: no knowledge base there, it has no relations to ask about, another learning
            run holds it, or too few synthetic questions could be made.
    """
    start = time.perf_counter()
    root = learning_root(kb_dir)
    with locked(root):
        with KnowledgeBase.open(root.parent, read_only=True, progress=progress) as kb:
            graph = SupervisionGraph.read(kb.store)
        if not graph.predicates:
            raise KGQAError(f"the knowledge base at {root.parent} has no relations: there is nothing to ask about")
        maker = QuestionMaker(graph, config.synthetic, config.seed)
        made = maker.examples(int((config.training_examples() + config.validation) * 1.25), progress)
        train, validation = split_topics(made, config.validation)
        if len(train) < 20 or len(validation) < 10:
            raise KGQAError(f"only {len(made)} synthetic questions could be made from {root.parent} (paths with "
                            f"1..{config.synthetic.max_answers} answers): too few to train and judge an adapter")
        return _train_and_judge(root, graph, maker, made, train, validation, config, base, device, embedder,
                                progress, start)


def _train_and_judge(root: Path, graph: SupervisionGraph, maker: QuestionMaker, made: list[tuple[PathExample, str]],
                     train: list[PathExample], validation: list[PathExample], config: AdaptConfig,
                     base: str | Path | None, device: str | None, embedder: str, progress: bool,
                     start: float) -> AdaptReport:
    history = read_history(root.parent)
    encoder = open_embedder(embedder)
    now, now_name = current_scorer(root.parent, graph, encoder, device, base)
    same_as_zero_shot = type(now) is ZeroShotPathScorer and now.verbalization == config.synthetic.verbalization
    before = -1.0 if same_as_zero_shot else path_accuracy(now, validation, progress)  # -1: the head measures it
    names = sorted({relation_name(p, graph.relations) for p in graph.predicates})
    replay = generic_examples(names, config.replay, config.seed) if len(names) > 2 else []
    run = next_run(root, history)
    out = root / f"scorer-{run:03d}"
    init = GENERIC_SCORER if (GENERIC_SCORER / HEAD_FILE).exists() and embedder == "minilm" else None
    left = config.budget_minutes * 60 - (time.perf_counter() - start)
    embedding = (len(train) + len(replay) + len(validation)) * 0.02  # seconds, measured on 2 busy cores
    floor = min(20.0, config.budget_minutes * 60 * 0.25)  # some training even when reading the KB took the budget
    train_cfg = dataclasses.replace(config.train, max_seconds=max(floor, left - embedding - 20), seed=config.seed)
    rules = _rules(maker, made)
    started = init.name if init else "the identity (zero-shot scoring)"
    card = {"command": "kgqa adapt", "learning_run": run, "started_from": started,
            "kb": kb_fingerprint(graph.predicates), "rules": rules, "synthetic_train": len(train),
            "synthetic_validation": len(validation), "replay": len(replay), "human_questions": 0}
    info = train_head(train + replay, validation, out, encoder, train_cfg, init, progress, card)
    after = float(info["validation_path_accuracy"])
    before = float(info["zero_shot_validation_path_accuracy"]) if same_as_zero_shot else before
    real = _trained_on_real_questions(now)
    promoted = after > before and not real
    reason = (f"validation path accuracy {after:.3f} {'>' if after > before else '<='} {before:.3f} of {now_name} on "
              f"{len(validation)} synthetic questions about held-out topics"
              + ("" if promoted else f"; {now_name} stays live")
              + ("" if not real else ": it was trained on this KB's real questions, which synthetic ones cannot judge"))
    if not promoted:
        out.rename(out.with_name(out.name + ".rejected"))
    record = {"run": run, "kind": "adapt", "time": _now(), "started_from": str(init or "fresh"),
              "before_scorer": now_name, "before": round(before, 4), "after": round(after, 4), "promoted": promoted,
              "reason": reason, "validation": len(validation), "examples": len(train), "replay": len(replay),
              "adapter": out.name if promoted else out.name + ".rejected", "base": str(base) if base else None}
    new = {**history, "runs": [*history["runs"], record]}
    if promoted:
        new.update(live=out.name, base=str(base) if base else None)
    write_history(root.parent, new)  # last: an interrupted run never changes the live scorer
    log.info("adapt run %d: %s", run, reason)
    live = out.name if promoted else (history.get("live") or now_name)
    return AdaptReport(len(train), len(validation), len(replay), round(before, 4), now_name, round(after, 4),
                       promoted, reason, str(record["adapter"]), started, live, str(info.get("stopped")),
                       rules, round(time.perf_counter() - start, 1))


def _trained_on_real_questions(scorer: ZeroShotPathScorer) -> bool:
    """Whether the scorer's card says it learned from human questions of its KB (``kgqa train scorer``)."""
    card = getattr(scorer, "card", {})
    return bool(card.get("questions")) and not card.get("human_questions") == 0


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
