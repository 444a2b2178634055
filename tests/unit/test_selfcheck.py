"""auto's self-check: its verdict is cached under the KB's shape, and a cached verdict reads no graph."""

from __future__ import annotations

import random
from pathlib import Path

from model.embedders import HashingEmbedder
from pipeline.training.selfcheck import self_check
from pipeline.training.supervision import EndSets, SupervisionGraph
from retrieval.graph_index import GraphIndex


def _graph() -> SupervisionGraph:
    rng = random.Random(3)
    films = [f"film {i}" for i in range(30)]
    people = [f"person {i}" for i in range(12)]
    rows = [(f, p, rng.choice(people)) for f in films for p in ("directed_by", "written_by")]
    rows += [(f, "release_year", str(1950 + rng.randrange(40))) for f in films]
    n = len(rows)
    index = GraphIndex.from_edges([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
                                  list(range(n)), [None] * n, [None] * n, [None] * n)
    labels = {x: x for x in index.node_ids()}
    return SupervisionGraph(index, EndSets(index), labels, {}, tuple(index.predicates), {})


def test_a_cached_verdict_reads_no_graph_and_a_changed_kb_is_checked_again(tmp_path: Path) -> None:
    graph = _graph()
    reads: list[int] = []

    def read() -> SupervisionGraph:
        reads.append(1)
        return graph

    shape = (graph.predicates, graph.paths.node_count)
    scorer, why = self_check(tmp_path, *shape, read, HashingEmbedder())
    assert reads == [1] and "self-check on" in why and (tmp_path / "learning" / "auto.json").exists()
    again, why_again = self_check(tmp_path, *shape, read, HashingEmbedder())
    assert reads == [1] and why_again == why  # the cache answered: the graph was not read
    self_check(tmp_path, graph.predicates, graph.paths.node_count + 1, read, HashingEmbedder())
    assert reads == [1, 1]  # another KB shape: checked again
