"""GraphIndex on the real MetaQA knowledge base: the same relation paths and walks as the store.

Speed is measured in bench/graph_index.py, not asserted here.
"""

from __future__ import annotations

import gzip
import itertools
import re
from pathlib import Path

import pytest

from kg.kb import KnowledgeBase
from retrieval.graph_index import GraphIndex
from tests.conftest import shared
from tests.unit.test_graph_index import by_keys


def _topics(limit: int) -> list[str]:
    with gzip.open(shared("metaqa/3-hop/qa_dev.txt.gz"), "rt", encoding="utf-8") as fh:
        lines = list(itertools.islice(fh, limit))
    return [m.group(1) for m in (re.search(r"\[(.+?)\]", line) for line in lines) if m]


@pytest.mark.slow
def test_metaqa_index_agrees_with_the_store(tmp_path: Path) -> None:
    source = shared("metaqa/kb.txt.gz")
    topics = _topics(50)
    with KnowledgeBase.open(tmp_path / "kb", progress=False) as kb:
        kb.index(source)
        index = GraphIndex.from_store(kb.store)
        counts = {t: index.relation_paths(t, 3) for t in topics}
        follows = [(t, c.path, 200) for t in topics for c in counts[t][:3]]
        for t in topics[:10]:
            assert counts[t] == kb.store.relation_paths(t, 3)
        for t, path, _ in follows:
            mine = index.follow(t, path, 10_000)
            assert by_keys(kb.store.follow(t, path, 10_000)) <= by_keys(mine)
            assert len(mine) == next(c.paths for c in counts[t] if c.path == path)
