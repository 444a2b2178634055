"""Which path scorer ``auto`` uses on a knowledge base, and why: a self-check, not a habit.

A KB's own adapter (made live by ``kgqa adapt`` or ``kgqa learn``) answers first; the shipped
MetaQA adapter only on the KB whose relation set its card records. Otherwise the candidates that
need no training on this KB (zero-shot scoring, and the generic adapter when installed) are
compared on synthetic questions of this KB (pipeline/training/synthetic.py) and the better one
answers (a tie goes to zero-shot). The verdict is cached in ``learning/auto.json`` with the
KB's relation set and node count, so it is redone only when the KB changes; the key is read off the
memory-mapped GraphIndex, so a cached verdict costs no scan of the store (reading the whole graph
just to compute the key took 16 s of every open of a 1M-triple KB).

Every scorer returned carries ``about``: which scorer it is and why ``auto`` chose it (for
``--explain``).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kg.files import write_atomic
from model.base import Embedder
from model.path_scorer import path_accuracy
from model.registry import (
    GENERIC_SCORER,
    auto_adapter,
    describe,
    is_adapter,
    kb_fingerprint,
    learning_dir,
    load_adapter,
)
from model.scorer import ZeroShotPathScorer
from pipeline.training.supervision import SupervisionGraph
from pipeline.training.synthetic import QuestionMaker, fewer_negatives

log = logging.getLogger(__name__)
AUTO_FILE = "auto.json"
CHECK_QUESTIONS = 120
CHECK_SEED = 7919  # not adapt's seed: the self-check's questions are not adapt's training questions
CHECK_VERSION = 2  # 2: each candidate's hop prior counts (the questions record their paths' hops)
CHECK_NEGATIVES = 63  # wrong paths per question: with hundreds of relations a question has thousands,
# and embedding all of them made the first question of a new KB take minutes (234 s on the
# Wikidata sample); a sample of 63 ranks the candidates the same way at a tenth of the cost


def candidates(embedder: Embedder, device: str | None = None,
               base: str | Path | None = None) -> dict[str, ZeroShotPathScorer]:
    """The scorers that need no training on the KB: zero-shot, and the generic adapter (MiniLM only)."""
    out: dict[str, ZeroShotPathScorer] = {"zero-shot": ZeroShotPathScorer(embedder)}
    if embedder.name == "minilm" and base is None and is_adapter(GENERIC_SCORER):
        out["generic adapter"] = load_adapter(GENERIC_SCORER, embedder, device)
    return out


def self_check(kb_dir: Path, predicates: Sequence[str], nodes: int, graph: Callable[[], SupervisionGraph],
               embedder: Embedder, device: str | None = None,
               base: str | Path | None = None) -> tuple[ZeroShotPathScorer, str]:
    """(scorer, why) for a KB without an adapter of its own; the verdict is cached (see module doc).

    ``predicates`` and ``nodes`` (the KB's relation ids and its count of nodes with edges) key the
    cache; ``graph`` reads the KB for the check's questions, only when the verdict is not cached.
    """
    pool = candidates(embedder, device, base)
    key = {**kb_fingerprint(predicates), "nodes": nodes, "embedder": embedder.name,
           "candidates": sorted(pool), "negatives": CHECK_NEGATIVES, "check": CHECK_VERSION,
           "versions": {n: getattr(s, "card", {}).get("data_sha256") for n, s in sorted(pool.items())}}
    cached = _read_cache(kb_dir, key)
    if cached is None:
        made = QuestionMaker(graph(), seed=CHECK_SEED).examples(CHECK_QUESTIONS)
        rng = random.Random(CHECK_SEED)
        examples = [fewer_negatives(e, CHECK_NEGATIVES, rng) for e, _ in made]
        with _quiet(embedder):  # one bar per scorer, not one per question's batch of paths
            scores = {name: round(path_accuracy(s, examples, True, f"choosing the path scorer: {name}"), 3)
                      for name, s in pool.items()}
        choice = max(pool, key=lambda n: (scores[n], n == "zero-shot"))
        cached = {**key, "scores": scores, "choice": choice, "questions": len(made)}
        _write_cache(kb_dir, cached)
    scores = cached["scores"]
    why = (f"{cached['choice']}: chosen by auto's self-check on {cached['questions']} synthetic questions of this KB "
           f"(path accuracy {', '.join(f'{n} {v:.3f}' for n, v in scores.items())})")
    return pool[cached["choice"]], why


def current_scorer(kb_dir: Path, graph: SupervisionGraph, embedder: Embedder, device: str | None = None,
                   base: str | Path | None = None) -> tuple[ZeroShotPathScorer, str]:
    """(the scorer ``auto`` answers with now, its name) for the KB in ``kb_dir``."""
    adapter = auto_adapter(kb_dir, embedder.name, shipped=base is None, relations=graph.predicates)
    if adapter is not None:
        scorer = load_adapter(adapter.path, embedder, device, adapter.base or base)
        return scorer, describe(adapter, learning_dir(kb_dir))
    scorer, why = self_check(kb_dir, graph.predicates, len(graph.ends), lambda: graph, embedder, device, base)
    return scorer, why.split(":", 1)[0]


@contextmanager
def _quiet(embedder: Embedder) -> Iterator[None]:
    """``embedder`` (or the one it wraps) without its own progress bars for a while."""
    inner: Any = getattr(embedder, "inner", embedder)
    shown = getattr(inner, "progress", None)
    if shown is not None:
        inner.progress = False
    try:
        yield
    finally:
        if shown is not None:
            inner.progress = shown


def _read_cache(kb_dir: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    path = learning_dir(kb_dir) / AUTO_FILE
    try:
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return cached if all(cached.get(k) == v for k, v in key.items()) and cached.get("choice") else None


def _write_cache(kb_dir: Path, verdict: dict[str, Any]) -> None:
    try:
        learning_dir(kb_dir).mkdir(exist_ok=True)
        write_atomic(learning_dir(kb_dir) / AUTO_FILE, json.dumps(verdict, indent=1) + "\n")
    except OSError as exc:  # a read-only KB directory: the check is redone next time
        log.info("cannot cache auto's self-check verdict: %s", exc)
