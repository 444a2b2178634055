"""The entity linker on MetaQA: recall of the bracketed topic entity with the brackets stripped.

Recall@k counts a question when the gold topic is among the first ``k`` candidates of the
first (best) mention, as ``bench/retrieval.py`` does. Speed is measured in ``bench/``; the
numbers here are logged for reference only.
"""

from __future__ import annotations

import gzip
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.kb import KnowledgeBase
from retrieval.linker import EntityLinker
from tests.conftest import shared

log = logging.getLogger(__name__)
QUESTIONS = 500


@pytest.fixture(scope="module")
def linker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntityLinker]:
    source = shared("metaqa/kb.txt.gz")
    with KnowledgeBase.open(tmp_path_factory.mktemp("metaqa") / "kb", progress=False) as kb:
        kb.index(source)
        start = time.perf_counter()
        built = EntityLinker.build(kb.store, progress=False)
        log.info("linker built in %.2f s: %d entities, %d forms", time.perf_counter() - start,
                 built.entity_count, built.form_count)
        yield built


def dev_questions(hop: int, limit: int) -> list[tuple[str, str]]:
    """(question without brackets, gold topic) for the first ``limit`` dev questions."""
    out = []
    with gzip.open(shared(f"metaqa/{hop}-hop/qa_dev.txt.gz"), "rt", encoding="utf-8") as fh:
        for line in fh:
            question = line.split("\t", 1)[0]
            topic = re.search(r"\[(.+?)\]", question)
            if topic:
                out.append((question.replace("[", "").replace("]", ""), topic.group(1)))
            if len(out) >= limit:
                break
    return out


@pytest.mark.slow
@pytest.mark.parametrize("hop", [1, 2, 3])
def test_topic_recall_without_brackets(linker: EntityLinker, hop: int) -> None:
    items = dev_questions(hop, QUESTIONS)
    hits1 = hits5 = 0
    start = time.perf_counter()
    for question, topic in items:
        mentions = linker.link(question)
        ids = [c.id for c in mentions[0].candidates] if mentions else []
        hits1 += ids[:1] == [topic]
        hits5 += topic in ids[:5]
    elapsed = (time.perf_counter() - start) * 1000 / len(items)
    recall1, recall5 = hits1 / len(items), hits5 / len(items)
    log.info("MetaQA %d-hop: recall@1 %.3f, recall@5 %.3f, %.2f ms per question", hop, recall1, recall5, elapsed)
    assert recall5 >= 0.9, f"{hop}-hop recall@1 {recall1:.3f} recall@5 {recall5:.3f}"
    assert recall1 >= 0.9, f"{hop}-hop recall@1 {recall1:.3f} recall@5 {recall5:.3f}"


@pytest.mark.slow
def test_linker_index_round_trip(linker: EntityLinker, tmp_path: Path) -> None:
    linker.save(tmp_path / "linker")
    loaded = EntityLinker.load(tmp_path / "linker")
    assert (loaded.entity_count, loaded.form_count) == (linker.entity_count, linker.form_count)
    for question, _ in dev_questions(1, 50):
        assert loaded.link(question) == linker.link(question)
