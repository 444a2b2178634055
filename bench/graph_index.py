"""GraphIndex against the store on MetaQA: build time, size, and relation-path / follow latency.

Topics are the bracketed entities of the first ``--topics`` MetaQA 3-hop dev questions; each
reader (the in-memory ``GraphIndex`` and the LadybugDB store) answers ``relation_paths`` (3
hops) for each topic and ``follow`` for its three most frequent paths. The design bar for
``relation_paths`` on the index is p50 < 20 ms (it used to be a timed assertion in the tests).

    python bench/graph_index.py [--topics 50] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def topics(limit: int) -> list[str]:
    with gzip.open(DATA / "metaqa/3-hop/qa_dev.txt.gz", "rt", encoding="utf-8") as fh:
        lines = list(itertools.islice(fh, limit))
    return [m.group(1) for m in (re.search(r"\[(.+?)\]", line) for line in lines) if m]


def timed(fn: Callable[..., Any], items: Sequence[tuple[Any, ...]]) -> tuple[float, float]:
    """p50 and p95 latency of ``fn`` over ``items``, in milliseconds."""
    times = []
    for item in items:
        start = time.perf_counter()
        fn(*item)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (DATA / "metaqa/kb.txt.gz").exists():
        print(f"skipped: {DATA / 'metaqa'} is absent (see ../shared/data/README.md)")
        return 0
    from kg.kb import KnowledgeBase
    from retrieval.graph_index import GraphIndex

    starts = topics(args.topics)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, KnowledgeBase.open(Path(tmp) / "kb", progress=False) as kb:
        kb.index(DATA / "metaqa/kb.txt.gz")
        start = time.perf_counter()
        index = GraphIndex.from_store(kb.store)
        built = time.perf_counter() - start
        counts = {t: index.relation_paths(t, 3) for t in starts}
        follows = [(t, c.path, 200) for t in starts for c in counts[t][:3]]
        for name, reader in (("GraphIndex", index), ("LadybugDB store", kb.store)):
            rp, fo = timed(reader.relation_paths, [(t, 3) for t in starts]), timed(reader.follow, follows)
            rows.append({"reader": name, "relation_paths_p50_ms": round(rp[0], 2),
                         "relation_paths_p95_ms": round(rp[1], 2), "follow_p50_ms": round(fo[0], 3),
                         "follow_p95_ms": round(fo[1], 3)})
    summary = {"edges": index.edge_count, "nodes": index.node_count, "build_s": round(built, 2),
               "mib": round(index.nbytes / 2**20, 1), "topics": len(starts), "rows": rows}
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"GraphIndex: {summary['edges']} edges, {summary['nodes']} nodes, built in {summary['build_s']} s, "
          f"{summary['mib']} MiB of arrays; {len(starts)} topics")
    print("| reader | relation_paths p50 ms | p95 ms | follow p50 ms | p95 ms |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['reader']} | {r['relation_paths_p50_ms']} | {r['relation_paths_p95_ms']} | "
              f"{r['follow_p50_ms']} | {r['follow_p95_ms']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
