"""Passage QA benchmark: kgqa's passage graph + PPR + span reader against dense-only and BM25.

All paragraphs of ../shared/data/passages/{hotpotqa,musique}-train100 are indexed as one corpus
(``kgqa index --format passages``) into ``--kb`` (default /tmp/kgqa-bench/passages, reused when
present: pass ``--fresh`` to time indexing, embedding and the passage graph from scratch). Each
dataset's 100 questions are asked of every system (``pipeline.evaluation.passages``): ``kgqa``,
``dense`` (one slot per passage), ``bm25``, ``chunks`` (dense chunks as before issue 11), the
ablations ``ppr-noq`` (PPR seeded by dense hits only), ``ppr-keep0`` (no dense head kept),
``ppr+bm25`` (BM25 passages also seed PPR), ``ppr+hop2`` (a second dense query from the best
passage also seeds PPR), and ``trained`` (kgqa's retrieval with the trained span reader of
model/adapters/reader). Every other system reads its answer with the same hand-weighted reader
(kgqa's default).
The questions are TRAIN samples of the public sets; the reader was trained and the search
settings chosen on the ``train`` part of the project's hash split (``pipeline.questions``), so
the ``heldout`` rows (about 30%) are the ones to quote. ``index_s`` is the wall time of building
what the system searches (kgqa and dense share the embedding; BM25 is built in memory),
``store_mb`` the size on disk.

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
    parser.add_argument("--systems", default="kgqa,dense,bm25,chunks,ppr-noq,ppr-keep0,ppr+bm25,ppr+hop2,trained")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent (see ../shared/data/README.md)")
        return 0
    from model.reader import shipped
    from pipeline import KGQA
    from pipeline.evaluation import passages as ev
    from retrieval.bm25 import BM25Passages
    from retrieval.passage_graph import GraphConfig, PassageGraph
    from retrieval.passage_search import GraphPassages, SearchConfig
    from retrieval.reader import FEATURES, SpanReader

    sizes = build(args.kb, args.fresh)
    names = [n for n in args.systems.split(",") if n]
    rows: list[tuple[str, str, dict[str, float]]] = []
    with KGQA.open(args.kb, read_only=True, progress=False, generator="off") as qa:
        systems = ev.make_systems(qa, [n for n in names if n in ev.SYSTEMS], "minilm")
        search = qa.retriever().passages
        reader = qa.retriever().reader
        if not isinstance(search, GraphPassages) or search.graph is None or not isinstance(reader, SpanReader):
            raise SystemExit("the knowledge base has no passage graph")
        start = time.perf_counter()
        bm25 = BM25Passages.open(qa.kb.catalog)
        bm25_s = round(time.perf_counter() - start, 1)
        graph = search.graph
        noq = PassageGraph(graph.passages, graph.spans, graph.chunks, GraphConfig(question_weight=0.0))
        extra = {"ppr-noq": GraphPassages(search.dense, noq, search.config),
                 "ppr-keep0": GraphPassages(search.dense, graph, SearchConfig(keep=0)),
                 "ppr+bm25": GraphPassages(search.dense, graph, SearchConfig(lexical=5, lexical_weight=0.1), bm25),
                 "ppr+hop2": GraphPassages(search.dense, graph, SearchConfig(second=5, second_weight=0.1)),
                 "trained": search}
        trained = SpanReader(reader.spans, reader.config, shipped(FEATURES))
        systems.update({n: ev.searched(n, extra[n].search, trained.read if n == "trained" else reader.read)
                        for n in names if n in extra})
        built = {"index_s": sizes["index_s"] + sizes["embed_and_graph_s"], "store_mb": sizes["kb_mb"]}
        cost = {n: built for n in systems} | {"bm25": {"index_s": bm25_s, "store_mb": 0.0}}
        for dataset, path in SETS.items():
            outcomes = ev.evaluate(systems, ev.load(path, dataset)[: args.limit], progress=not args.json)
            for split in ("train", "heldout"):
                rows += [(f"{dataset}/{split}", name, {**ev.summary(o, split), **cost[name]})
                         for name, o in outcomes.items()]
    if args.json:
        print(json.dumps({"build": sizes, "rows": rows}, indent=1))
        return 0
    print(f"one corpus of {len(CORPORA)} files; build: {sizes}")
    print(ev.table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
