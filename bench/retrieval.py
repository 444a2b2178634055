"""Retrieval benchmark on MetaQA dev (brackets stripped) and the shared passage corpora.

Per hop, on the first ``--limit`` dev questions: linker recall@1/@5 of the bracketed topic,
answer recall of the instantiated top paths, Hits@1 of the top answer with zero-shot path
scoring, and latency p50/p95 of retrieval (no generator). In the same run, a dense-only RAG
baseline (``retrieval.baselines.DenseBaseline``): every triple of the knowledge base verbalized
as a sentence, embedded with the same model into FAISS; its answer is the entity of the best
sentence that the question does not name.
On ../shared/data/passages: passage recall@2/@5 of the supporting paragraphs.

    python bench/retrieval.py [--limit 200] [--embedder minilm] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def questions(hop: int, limit: int) -> list[tuple[str, str, set[str]]]:
    """(question without brackets, gold topic, gold answers), read by ``pipeline.questions``."""
    from pipeline.questions import read_questions

    qs = read_questions(DATA / f"metaqa/{hop}-hop/qa_dev.txt.gz", "metaqa")[:limit]
    return [(q.text, q.topic or "", set(q.gold)) for q in qs]


def ours(qa: object, items: list[tuple[str, str, set[str]]]) -> dict[str, float]:
    link1 = link5 = recall = hits = 0
    latencies = []
    for question, topic, gold in items:
        start = time.perf_counter()
        r = qa.retrieve(question)  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - start) * 1000)
        cands = [c.id for m in r.mentions[:1] for c in m.candidates]
        link1 += bool(cands) and cands[0] == topic
        link5 += topic in cands[:5]
        ids = {a.id for a in r.answers}
        recall += bool(ids & gold)
        hits += bool(r.answers) and r.answers[0].id in gold
    n = len(items)
    return {"n": n, "linker@1": link1 / n, "linker@5": link5 / n, "answer_recall": recall / n,
            "hits@1": hits / n, "p50_ms": float(np.percentile(latencies, 50)),
            "p95_ms": float(np.percentile(latencies, 95))}


def dense(baseline: object, items: list[tuple[str, str, set[str]]]) -> dict[str, float]:
    """Hits@1 and latency of the dense-only baseline (``retrieval.baselines.DenseBaseline``)."""
    hits, latencies = 0, []
    for question, _, gold in items:
        start = time.perf_counter()
        found = baseline.answer(question)  # type: ignore[attr-defined]
        latencies.append((time.perf_counter() - start) * 1000)
        hits += found is not None and found.id in gold
    return {"n": len(items), "hits@1": hits / len(items), "p50_ms": float(np.percentile(latencies, 50)),
            "p95_ms": float(np.percentile(latencies, 95))}


def passage_recall(embedder_name: str) -> dict[str, dict[str, float]]:
    from pipeline import KGQA

    results = {}
    for name, corpus, qfile in [("hotpotqa", "hotpotqa-train100/hotpotqa_train_corpus.json",
                                 "hotpotqa-train100/hotpotqa_train.json"),
                                ("musique", "musique-train100/musique_train_corpus.json",
                                 "musique-train100/musique_train.json")]:
        with tempfile.TemporaryDirectory() as tmp, KGQA.open(tmp, progress=False, embedder=embedder_name) as qa:
            qa.index(DATA / "passages" / corpus)
            items = json.loads((DATA / "passages" / qfile).read_text())
            r2 = r5 = 0.0
            for item in items:
                gold = _supporting_titles(item)
                found = [p.title for p, _ in qa.retriever().passages.search(item["question"], 5)]  # type: ignore[union-attr]
                r2 += len(gold & set(found[:2])) / len(gold)
                r5 += len(gold & set(found[:5])) / len(gold)
            results[name] = {"n": len(items), "recall@2": r2 / len(items), "recall@5": r5 / len(items)}
    return results


def _supporting_titles(item: dict) -> set[str]:  # type: ignore[type-arg]
    if "supporting_facts" in item:
        return {t for t, _ in item["supporting_facts"]}
    return {p["title"] for p in item["paragraphs"] if p["is_supporting"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=200, help="questions per hop")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    if not (DATA / "metaqa/kb.txt.gz").exists():
        sys.exit(f"skipping: {DATA / 'metaqa'} is absent")
    from model.embedders import open_embedder
    from pipeline import KGQA
    from retrieval.baselines import DenseBaseline
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        config = RetrieverConfig(paths=PathConfig(exclude_topic=True))
        with KGQA.open(Path(tmp) / "kb", progress=False, embedder=args.embedder, config=config) as qa:
            qa.index(DATA / "metaqa/kb.txt.gz")
            qa.retriever()
            items = {hop: questions(hop, args.limit) for hop in (1, 2, 3)}
            for hop, qs in items.items():
                rows.append({"system": "kgqa zero-shot", "hop": hop, **ours(qa, qs)})
            if not args.no_baseline:
                baseline = DenseBaseline.from_store(qa.kb.store, open_embedder(args.embedder), Path(tmp) / "dense.npy")
                for hop, qs in items.items():
                    rows.append({"system": "dense-only RAG", "hop": hop, **dense(baseline, qs)})
    passages = passage_recall(args.embedder)
    if args.json:
        print(json.dumps({"metaqa": rows, "passages": passages}, indent=1))
        return
    cols = ["system", "hop", "n", "linker@1", "linker@5", "answer_recall", "hits@1", "p50_ms", "p95_ms"]
    print(" | ".join(cols))
    print("-|-".join("-" * len(c) for c in cols))
    for r in rows:
        print(" | ".join(_fmt(r.get(c, "")) for c in cols))
    print()
    for name, res in passages.items():
        print(f"passages {name}: n={res['n']} recall@2={res['recall@2']:.3f} recall@5={res['recall@5']:.3f}")


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
