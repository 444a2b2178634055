"""Passage QA benchmark: kgqa's passage graph + PPR + span reader against dense-only and BM25.

All paragraphs of ../shared/data/passages/{hotpotqa,musique}-train100 are indexed as one corpus
(``kgqa index --format passages``) into ``--kb`` (default /tmp/kgqa-bench/passages, reused when
present: pass ``--fresh`` to time indexing, embedding and the passage graph from scratch). Each
dataset's 100 questions are asked of every system (``pipeline.evaluation.passages``): ``kgqa``,
``dense`` (one slot per passage), ``bm25``, ``chunks`` (dense chunks as before issue 11) and the
ablations ``ppr-noq`` (PPR seeded by dense hits only) and ``ppr-keep0`` (no dense head kept).
Every system reads its answer with the same extractive reader. The questions are TRAIN samples
and the reader's cues were tuned on them: the ``heldout`` rows (the hash split of
``pipeline.questions``, about 30%) are the ones to quote for answers.

    python bench/passages.py [--kb DIR] [--fresh] [--limit 100] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one question at a time, as kgqa ask; set before torch loads
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "passages"
SETS = {"hotpotqa": DATA / "hotpotqa-train100" / "hotpotqa_train.json",
        "musique": DATA / "musique-train100" / "musique_train.json"}
CORPORA = (DATA / "hotpotqa-train100" / "hotpotqa_train_corpus.json",
           DATA / "musique-train100" / "musique_train_corpus.json")


def build(kb: Path, fresh: bool) -> dict[str, Any]:
    """Index both corpora into ``kb`` and build the retriever (embedding, passage graph); times and sizes."""
    from pipeline import KGQA

    record = kb / "bench_build.json"
    if fresh and kb.exists():
        shutil.rmtree(kb)
    if record.exists():
        return {**json.loads(record.read_text()), "reused": True}
    start = time.perf_counter()
    with KGQA.open(kb, progress=True, generator="off") as qa:
        for corpus in CORPORA:
            qa.index(corpus, "passages")
        indexed = time.perf_counter() - start
        qa.retriever()
    built = time.perf_counter() - start - indexed
    size = sum(f.stat().st_size for f in kb.rglob("*") if f.is_file())
    found = {"index_s": round(indexed, 1), "embed_and_graph_s": round(built, 1), "kb_mb": round(size / 2**20, 1)}
    record.write_text(json.dumps(found))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, default=Path("/tmp/kgqa-bench/passages"))
    parser.add_argument("--fresh", action="store_true", help="delete --kb first and time the whole build")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--systems", default="kgqa,dense,bm25,chunks,ppr-noq,ppr-keep0")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent (see ../shared/data/README.md)")
        return 0
    from pipeline import KGQA
    from pipeline.evaluation import passages as ev
    from retrieval.passage_graph import GraphConfig, PassageGraph
    from retrieval.passage_search import GraphPassages, SearchConfig

    sizes = build(args.kb, args.fresh)
    names = [n for n in args.systems.split(",") if n]
    rows: list[tuple[str, str, dict[str, float]]] = []
    with KGQA.open(args.kb, read_only=True, progress=False, generator="off") as qa:
        systems = ev.make_systems(qa, [n for n in names if n in ev.SYSTEMS], "minilm")
        search = qa.retriever().passages
        if not isinstance(search, GraphPassages) or search.graph is None:
            raise SystemExit("the knowledge base has no passage graph")
        reader = qa.retriever().reader
        read = reader.read if reader is not None else None
        graph = search.graph
        noq = PassageGraph(graph.passages, graph.spans, graph.chunks, GraphConfig(question_weight=0.0))
        extra = {"ppr-noq": GraphPassages(search.dense, noq, search.config),
                 "ppr-keep0": GraphPassages(search.dense, graph, SearchConfig(keep=0))}
        systems.update({n: ev.searched(n, extra[n].search, read) for n in names if n in extra})
        for dataset, path in SETS.items():
            outcomes = ev.evaluate(systems, ev.load(path, dataset)[: args.limit], progress=not args.json)
            for split in ("all", "heldout"):
                rows += [(f"{dataset}/{split}", name, ev.summary(o, split)) for name, o in outcomes.items()]
    if args.json:
        print(json.dumps({"build": sizes, "rows": rows}, indent=1))
        return 0
    print(f"one corpus of {len(CORPORA)} files; build: {sizes}")
    print(ev.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
