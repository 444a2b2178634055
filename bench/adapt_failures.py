"""Why path ranking fails: each wrong answer put in one category, per KB and scorer, topic given.

For every question the topic is given (MetaQA's brackets, the topic column of a TSV), so linking
is out of the picture; the retriever scores relation paths as it does at answer time (beam
search, the scorer's hop prior and KB rules) and the best answer is checked. A wrong one is put
in the first category that fits, comparing the best-scored relation path with the gold paths
(those whose end set best matches the gold answers, F1 >= 0.5):

- no gold path: no relation path of 1..3 hops reaches the answers (data or weak supervision);
- right path, wrong answer: the gold path won, the answer ranking or the topic rule lost it;
- pruned by beam: no gold path was scored at all;
- hop count (shorter / longer): the winner has fewer / more hops than every gold path;
- direction/order: same relations as a gold path of that length, other directions or order;
- middle relation: the same last hop (answer type) as a gold path, another relation before it;
- answer type (last hop): the winner ends with another relation than every gold path.

Questions are never trained on here. MetaQA: the held-out side of the split, ``--limit`` per hop
(seed 0); the hand-written sets: the ``--half`` of bench/adapt.py's split (``dev`` for decisions).

    python bench/adapt_failures.py --kb metaqa --root /tmp/kgqa-bench/adapt --scorers zero-shot,generic
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.adapt import BENCHES, half_of  # noqa: E402


def _topic(q: Any, graph: Any) -> str | None:
    if q.topic in graph.labels and q.topic_span is None:
        return str(q.topic)
    found = graph.by_label.get((q.topic or "").lower())
    return str(found) if found else None


def _masked(q: Any, graph: Any, topic: str) -> str:
    from retrieval.paths import mask

    if q.topic_span:
        return str(mask(q.text, [q.topic_span]))
    label = graph.labels.get(topic, topic)
    at = q.text.lower().find(label.lower())
    return mask(q.text, [(at, at + len(label))]) if at >= 0 else str(q.text)


def category(graph: Any, retriever: Any, q: Any) -> tuple[str, str, str]:
    """(category, masked question, text of the best-scored path) for one question."""
    from pipeline.training.supervision import _f1
    from retrieval.paths import rank_answers

    topic = _topic(q, graph)
    if topic is None:
        return "topic not in the KB", q.text, ""
    asked = _masked(q, graph, topic)
    scored = retriever.score_paths(asked, topic)
    chosen = []
    for sp in scored[: retriever.config.beam * 3]:
        full = retriever.instantiate(sp)
        if full.paths:
            chosen.append(full)
        if len(chosen) >= retriever.config.beam:
            break
    answers = rank_answers(chosen, graph.labels)
    gold = set(q.gold) | {g.lower() for g in q.gold}
    top = chosen[0] if chosen else None
    text = top.text if top else ""
    if answers and (answers[0].id in gold or answers[0].label.lower() in gold):
        return "right", asked, text
    memo: dict[Any, set[str]] = {}
    f1 = [(c.path, _f1(graph.ends.ends(topic, c.path, retriever.excludes_topic(c.path), memo), gold, graph.labels))
          for c in graph.paths.relation_paths(topic, 3, 2000)]
    best = max((f for _, f in f1), default=0.0)
    golds = [p for p, f in f1 if f >= max(0.5, best - 1e-9)]
    return _compare(golds, top.path if top else None, {sp.path for sp in scored}), asked, text


def _compare(golds: list[Any], top: Any, scored: set[Any]) -> str:
    if not golds:
        return "no gold path"
    if top is None:
        return "nothing instantiated"
    if top in golds:
        return "right path, wrong answer"
    if not set(golds) & scored:
        return "pruned by beam"
    lengths = {len(p) for p in golds}
    if len(top) not in lengths:
        return "hop count (longer)" if len(top) > max(lengths) else "hop count (shorter)"
    same = [p for p in golds if len(p) == len(top)]
    if any(sorted(s.predicate for s in p) == sorted(s.predicate for s in top) for p in same):
        return "direction/order"
    return "middle relation" if any(p[-1] == top[-1] for p in same) else "answer type (last hop)"


def diagnose(kb: str, root: Path, scorer_names: list[str], limit: int, half: str) -> list[dict[str, Any]]:
    from kg.kb import KnowledgeBase
    from model.embedders import open_embedder
    from model.registry import GENERIC_SCORER, SHIPPED_SCORER, load_adapter
    from model.scorer import ZeroShotPathScorer
    from pipeline.questions import load_questions
    from pipeline.training.supervision import SupervisionGraph
    from retrieval.paths import PathRetriever

    bench = BENCHES[kb]
    with KnowledgeBase.open(root / kb, read_only=True, progress=False) as opened:
        graph = SupervisionGraph.read(opened.store)
    questions = load_questions(list(bench.questions), bench.fmt, limit=limit if bench.fmt == "metaqa" else None,
                               seed=0)
    if bench.fmt != "metaqa":
        questions = [q for q in questions if half_of(q.text) == half]
    embedder = open_embedder("minilm")
    named = {"generic": GENERIC_SCORER, "shipped": SHIPPED_SCORER}
    rows = []
    for name in scorer_names:
        scorer = ZeroShotPathScorer(embedder) if name == "zero-shot" else load_adapter(
            named.get(name, Path(name)), embedder)
        retriever = PathRetriever(graph.paths, scorer, relation_labels=graph.relations)
        cats: Counter[str] = Counter()
        hops: dict[str, Counter[str]] = {}
        for q in questions:
            cat = category(graph, retriever, q)[0]
            cats[cat] += 1
            hops.setdefault(q.hop or "all", Counter())[cat] += 1
        n = sum(cats.values())
        rows.append({"kb": kb, "questions": "held-out dev sample" if bench.fmt == "metaqa" else half,
                     "scorer": name, "n": n, "hits@1": round(cats["right"] / max(1, n), 3),
                     "by_hop": {h: round(c["right"] / sum(c.values()), 3) for h, c in sorted(hops.items())},
                     "failures": dict(cats.most_common())})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", choices=sorted(BENCHES), required=True)
    parser.add_argument("--root", type=Path, default=Path("/tmp/kgqa-bench/adapt"), help="indexed KBs (bench/adapt.py)")
    parser.add_argument("--scorers", default="zero-shot,generic", help="zero-shot, generic, shipped or adapter dirs")
    parser.add_argument("--limit", type=int, default=200, help="MetaQA questions per hop")
    parser.add_argument("--half", default="dev", choices=["dev", "test"])
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for row in diagnose(args.kb, args.root, args.scorers.split(","), args.limit, args.half):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
