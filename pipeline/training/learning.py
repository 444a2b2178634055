"""Learning runs (``kgqa learn``): the path scorer keeps learning from the feedback on a knowledge base's answers.

A learning run reads the feedback recorded since the previous run (pipeline/feedback.py) and
turns each piece that names a right answer (a correction, split on ``|``, or the given answers
confirmed right) into a question -> relation path example with the weak supervision of
pipeline/training/supervision.py, the linked entity being the question's topic. Examples fall on either side of
the split of pipeline/questions.py: held-out ones join the validation slice, which only grows; the
others are trained on, continuing the live adapter, together with replay (the examples of every
earlier promoted run, and templated questions over the KB's own relation names) so that the
adapter does not forget. The new adapter is evaluated on the validation slice against the scorer
that answers now, and promoted only when it is no worse.

Everything lives in ``DIR/learning/``: ``history.json`` (the live adapter, its base model, how
much feedback was read, and every run: data, before / after, promoted or not, why),
``validation.jsonl``, ``examples.jsonl`` (each run's training examples, tagged with the run; only
promoted runs are replayed) and the adapters ``scorer-NNN/`` (``scorer-NNN.rejected/`` when not
promoted, kept for inspection). Files are replaced atomically and history.json last, so a crash
never leaves it naming a half-written adapter.

Left out: answers marked wrong without a correction (they say which path is wrong but not which
is right, and an example needs a positive), the generator adapter, and undoing a promotion.
"""


from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from kg.files import write_atomic
from kg.kb import KnowledgeBase
from kg.stores.base import GraphStore
from model.base import PathScorer
from model.embedders import open_embedder
from model.path_scorer import PathExample, TrainConfig, TrainedPathScorer, path_accuracy, train_scorer
from model.prompts import relation_name
from model.registry import (
    Adapter,
    auto_adapter,
    describe,
    learning_root,
    live_name,
    locked,
    next_run,
    read_history,
    write_history,
)
from model.scorer import ZeroShotPathScorer
from pipeline.feedback import Example, FeedbackStore
from pipeline.questions import Question, split_of
from pipeline.training.supervision import Supervision, SupervisionGraph, generic_examples, path_examples, vote

log = logging.getLogger(__name__)
VALIDATION, EXAMPLES = "validation.jsonl", "examples.jsonl"
CONFIG, SUPERVISION = TrainConfig(), Supervision()  # learn's defaults




@dataclass(frozen=True)
class LearnReport:
    """What a learning run did (``kgqa learn --json`` prints it).

    ``feedback`` new pieces read, ``examples`` / ``validation_added`` the training / validation
    examples made from them, ``validation`` the size of the whole slice, ``skipped`` feedback
    that made no example (by reason), ``replay`` examples trained on besides the new ones,
    ``before`` / ``after`` validation path accuracy of the scorer that answered before the run
    and of the adapter it trained, ``live`` what ``auto`` path scoring uses after the run.
    """

    feedback: int
    examples: int
    validation_added: int
    validation: int
    skipped: dict[str, int]
    trained: bool
    replay: int = 0
    before: float | None = None
    after: float | None = None
    promoted: bool = False
    reason: str = ""
    adapter: str | None = None
    started_from: str | None = None
    live: str = "zero-shot"
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """Readable lines: examples made, before / after, promoted or not and why."""
        lines = [f"feedback: {self.feedback} new pieces -> {self.examples} training and "
                 f"{self.validation_added} validation examples"]
        if self.skipped:
            lines.append("skipped: " + ", ".join(f"{n} {why}" for why, n in self.skipped.items()))
        if self.trained:
            lines.append(f"trained {self.adapter} from {self.started_from} on {self.examples} new and "
                         f"{self.replay} replayed examples")
            lines.append(f"validation path accuracy ({self.validation} examples): before {self.before:.3f}, "
                         f"after {self.after:.3f}")
        verdict = "promoted" if self.promoted else "not promoted" if self.trained else "nothing trained"
        lines += [f"{verdict}: {self.reason}", f"live scorer: {self.live}"]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Plan:
    """The data of one run: new training examples, the whole validation slice, replay material."""

    feedback: int
    train: list[tuple[Example, PathExample]]
    validation: list[PathExample]
    validation_added: int
    skipped: dict[str, int]
    relation_names: list[str]


def learn(kb_dir: str | Path, *, config: TrainConfig = CONFIG, base: str | Path | None = None,
          device: str | None = None, embedder: str = "minilm", settings: Supervision = SUPERVISION,
          min_examples: int = 1, generic: int = 200, progress: bool = True) -> LearnReport:
    """Turn the new feedback of the knowledge base in ``kb_dir`` into a better path scorer, if it is.

    Args:
        kb_dir: the knowledge base directory (its store, ``feedback.sqlite`` and ``learning/``).
        config: training settings (epochs, learning rate; LoRA rank only for a fresh adapter).
        base: base model directory (default: the one the live adapter was trained on, else MiniLM).
        device: ``cpu``, ``cuda`` or None for CUDA when torch sees it.
        embedder: the embedder of zero-shot scoring, the "before" when no adapter is live.
        settings: weak supervision settings (they should match how the retriever runs).
        min_examples: fewer new training examples than this: nothing is trained, the feedback waits.
        generic: templated questions over the KB's relation names mixed in as replay.
        progress: show progress bars.

    Raises:
        KGQAError: no knowledge base there, another learning run holds it, or training failed.
    """
    start = time.perf_counter()
    root = learning_root(kb_dir)
    with locked(root):
        history = read_history(root.parent)
        base = str(base) if base is not None else history.get("base")
        plan = _plan(root, history["feedback_seen"], settings, progress)
        why_not = _why_not(plan, min_examples)
        if why_not is not None:
            log.info("nothing trained: %s", why_not)
            return LearnReport(plan.feedback, len(plan.train), plan.validation_added, len(plan.validation),
                               plan.skipped, False, reason=why_not, live=live_name(root.parent, embedder, base),
                               seconds=round(time.perf_counter() - start, 2))
        report = _train_and_judge(root, history, plan, config, base, device, embedder, generic, progress)
    return dataclasses.replace(report, seconds=round(time.perf_counter() - start, 2))


def _why_not(plan: _Plan, min_examples: int) -> str | None:
    if plan.feedback == 0:
        return "no new feedback since the last learning run: nothing to learn from"
    if len(plan.train) < max(1, min_examples):
        return (f"{len(plan.train)} new training examples, fewer than the {max(1, min_examples)} needed; "
                "the feedback is kept for the next run")
    if not plan.validation:
        return ("the validation slice is empty (no feedback question has fallen in the held-out part yet), "
                "so no adapter could be judged; the feedback is kept for the next run")
    return None


def _plan(root: Path, seen: int, settings: Supervision, progress: bool) -> _Plan:
    """Read the feedback after the first ``seen`` pieces and make its examples; grow the validation slice."""
    with FeedbackStore.open(root.parent) as store:
        feedback = store.examples()[seen:]
    if not feedback:
        return _Plan(0, [], _validation(root, []), 0, {}, [])
    with KnowledgeBase.open(root.parent, read_only=True, progress=progress) as kb:
        made, skipped, names = _examples(kb.store, feedback, settings)
    train = [(ex, e) for ex, e in made if split_of(ex.question) == "train"]
    held = [(ex, e) for ex, e in made if split_of(ex.question) == "heldout"]
    validation = _validation(root, held)
    return _Plan(len(feedback), train, validation, len(held), skipped, names)


def _examples(store: GraphStore, feedback: Sequence[Example],
              settings: Supervision) -> tuple[list[tuple[Example, PathExample]], dict[str, int], list[str]]:
    """(feedback, example) pairs, the skipped feedback by reason, and the KB's relation names."""
    graph = SupervisionGraph.read(store)
    made: list[tuple[Example, PathExample]] = []
    skipped: Counter[str] = Counter()
    for ex in feedback:
        gold = _gold(ex)
        if gold is None:
            skipped["wrong without a correction (no right path to learn)" if not ex.correct
                    else "right but without answers"] += 1
            continue
        found = next((e for q in _questions(ex, gold)
                      for e in path_examples([q], graph, settings)), None)
        if found is None:
            skipped["no linked topic entity" if not ex.topics else "no relation path reaches the answer"] += 1
            continue
        made.append((ex, found))
    voted = vote([e for _, e in made])
    names = sorted({relation_name(p, graph.relations) for p in graph.predicates})
    return [(ex, e) for (ex, _), e in zip(made, voted)], dict(skipped), names


def _gold(ex: Example) -> frozenset[str] | None:
    """The right answers (labels) the feedback names: its correction, or the given answers if right."""
    if ex.corrected and ex.corrected.strip():
        return frozenset(a.strip() for a in ex.corrected.split("|") if a.strip())
    if ex.correct and ex.given:
        return frozenset(ex.given)
    return None


def _questions(ex: Example, gold: frozenset[str]) -> list[Question]:
    """One question per linked entity, with where its mention is in the question (for masking)."""
    out = []
    for mention, entity, label in ex.topics:
        span = _span(ex.question, mention) or _span(ex.question, label)
        out.append(Question(ex.question, gold, entity, topic_span=span))
    return out


def _span(text: str, mention: str) -> tuple[int, int] | None:
    at = text.lower().find(mention.lower()) if mention else -1
    return (at, at + len(mention)) if at >= 0 else None


def _train_and_judge(root: Path, history: dict[str, Any], plan: _Plan, config: TrainConfig, base: str | None,
                     device: str | None, embedder: str, generic: int, progress: bool) -> LearnReport:
    """Train the next adapter from the live one, compare the two on the validation slice, record it."""
    run = next_run(root, history)
    out = root / f"scorer-{run:03d}"
    start = auto_adapter(root.parent, embedder, shipped=base is None)
    replay = _replay(root, history) + generic_examples(plan.relation_names, generic, config.seed + run)
    before = path_accuracy(_scorer(start, embedder, device, base), plan.validation, progress)
    card = {"command": "kgqa learn", "learning_run": run, "started_from": describe(start, root),
            "new_examples": len(plan.train), "replay": len(replay)}
    # no early stopping on the validation slice: it is the judge, it must not also pick the epoch
    train_scorer([e for _, e in plan.train] + replay, [], out, config, device, base,
                 start.path if start else None, progress, card)
    after = path_accuracy(TrainedPathScorer.load(out, device, base), plan.validation, progress)
    _append_examples(root, run, plan.train)
    record = _verdict(run, describe(start, root), before, after, len(plan.validation))
    record.update(base=base, feedback=plan.feedback, examples=len(plan.train), replay=len(replay),
                  adapter=out.name if record["promoted"] else _reject(out))
    _record(root, history, record, plan.feedback, out.name if record["promoted"] else None, base)
    log.info("learning run %d: %s", run, record["reason"])
    return LearnReport(plan.feedback, len(plan.train), plan.validation_added, len(plan.validation), plan.skipped,
                       True, len(replay), record["before"], record["after"], record["promoted"], record["reason"],
                       str(root / record["adapter"]), record["started_from"], live_name(root.parent, embedder, base))


def _verdict(run: int, started_from: str, before: float, after: float, validation: int) -> dict[str, Any]:
    """The history record of a run's judgement: promoted when the new adapter is no worse."""
    promoted = after >= before
    reason = (f"validation path accuracy {after:.3f} {'>=' if promoted else '<'} {before:.3f} of {started_from} "
              f"on {validation} held-out feedback examples" + ("" if promoted else f"; {started_from} stays live"))
    return {"run": run, "time": _now(), "started_from": started_from, "validation": validation,
            "before": round(before, 4), "after": round(after, 4), "promoted": promoted, "reason": reason}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _record(root: Path, history: dict[str, Any], record: dict[str, Any], feedback: int, live: str | None,
            base: str | None) -> None:
    """Append ``record`` to the history (``live`` promoted when given) and write it atomically."""
    new = {**history, "feedback_seen": history["feedback_seen"] + feedback, "runs": [*history["runs"], record]}
    if live is not None:
        new.update(live=live, base=base)
    write_history(root.parent, new)


def _reject(adapter: Path) -> str:
    """Keep a rejected adapter for inspection, renamed so that nothing takes it for a live one."""
    adapter.rename(adapter.with_name(adapter.name + ".rejected"))
    return adapter.name + ".rejected"


def _scorer(start: Adapter | None, embedder: str, device: str | None, base: str | None) -> PathScorer:
    if start is None:
        return ZeroShotPathScorer(open_embedder(embedder))
    return TrainedPathScorer.load(start.path, device, base)





def _replay(root: Path, history: dict[str, Any]) -> list[PathExample]:
    """The training examples of every promoted run (what the live adapter learned from feedback)."""
    promoted = {r["run"] for r in history["runs"] if r.get("promoted")}
    return [_example(r) for r in _read_jsonl(root / EXAMPLES) if r.get("run") in promoted]


def _validation(root: Path, new: list[tuple[Example, PathExample]]) -> list[PathExample]:
    """The validation slice with ``new`` added: it only grows, once validation always validation."""
    path = root / VALIDATION
    rows = _read_jsonl(path)
    keys = {(r["answer_id"], r["question"]) for r in rows}
    added = {(ex.answer_id, e.question): _row(e, answer_id=ex.answer_id) for ex, e in new}
    fresh = [row for key, row in added.items() if key not in keys]
    if fresh:
        write_atomic(path, _jsonl(rows + fresh))
    return [_example(r) for r in rows + fresh]


def _append_examples(root: Path, run: int, made: list[tuple[Example, PathExample]]) -> None:
    rows = _read_jsonl(root / EXAMPLES) + [_row(e, run=run, answer_id=ex.answer_id) for ex, e in made]
    write_atomic(root / EXAMPLES, _jsonl(rows))


def _row(e: PathExample, **extra: Any) -> dict[str, Any]:
    return {**extra, "question": e.question, "positives": list(e.positives), "negatives": list(e.negatives)}


def _example(row: dict[str, Any]) -> PathExample:
    return PathExample(row["question"], tuple(row["positives"]), tuple(row["negatives"]))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def _jsonl(rows: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
