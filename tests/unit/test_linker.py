"""EntityLinker over a small knowledge base: normalization, longest match, exactness, typos,
Chinese, ambiguity, persistence, incremental updates, the dense fallback and odd input."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from kg.base import Entity
from kg.errors import SourceFormatError
from kg.kb import KnowledgeBase
from retrieval.base import Mention
from retrieval.linker import MANIFEST, EntityLinker, LinkerConfig, normalize

MOVIES = """\
Kismet|directed_by|William Dieterle
Kismet|starred_actors|Ronald Colman
The Lord of the Rings|directed_by|Ralph Bakshi
The Lord of the Rings: The Return of the King|directed_by|Peter Jackson
The Lord of the Rings: The Return of the King|starred_actors|Elijah Wood
Amélie|directed_by|Jean-Pierre Jeunet
Amélie|in_language|French
Tracker|starred_actors|Temuera Morrison
The Tracker|written_by|Rolf de Heer
The Tracker|release_year|2002
The Tracker|in_language|English
Lagaan|starred_actors|Aamir Khan
Lagaan|has_tags|aamir khan
Taare Zameen Par|starred_actors|Aamir Khan
Up|directed_by|Pete Docter
ABC|directed_by|Ronald Colman
"""

WD, LABEL, ALT = "http://www.wikidata.org/entity/", "http://www.w3.org/2000/01/rdf-schema#label", \
    "http://www.w3.org/2004/02/skos/core#altLabel"
NAMES = [
    ("Q142", LABEL, "France", "en"), ("Q142", LABEL, "法国", "zh"), ("Q142", ALT, "French Republic", "en"),
    ("Q90", LABEL, "Paris", "en"), ("Q90", LABEL, "巴黎", "zh"),
    ("Q167646", LABEL, "Paris", "en"),  # the Trojan prince: same label, fewer edges
    ("Q42", LABEL, "Douglas Adams", "en"), ("Q42", LABEL, "道格拉斯·亞當斯", "zh"),
    ("Q145", LABEL, "United Kingdom", "en"), ("Q145", LABEL, "英国", "zh"), ("Q145", ALT, "UK", "en"),
]
EDGES = [("Q142", "P36", "Q90"), ("Q90", "P17", "Q142"), ("Q90", "P31", "Q515"), ("Q167646", "P31", "Q5"),
         ("Q42", "P27", "Q145"), ("Q42", "P31", "Q5")]


def nt(s: str, p: str, o: str) -> str:
    return f"<{WD}{s}> <http://www.wikidata.org/prop/direct/{p}> <{WD}{o}> ."


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("linker")
    (root / "movies.txt").write_text(MOVIES, encoding="utf-8")
    lines = [f'<{WD}{s}> <{p}> "{text}"@{lang} .' for s, p, text, lang in NAMES] + [nt(*e) for e in EDGES]
    (root / "world.nt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with KnowledgeBase.open(root / "kb", progress=False) as base:
        base.index(root / "movies.txt")
        base.index(root / "world.nt")
        yield base


@pytest.fixture(scope="module")
def linker(kb: KnowledgeBase) -> EntityLinker:
    return EntityLinker.build(kb.store, progress=False)


def best(linker: EntityLinker, question: str) -> str:
    mentions = linker.link(question)
    assert mentions, f"nothing linked in {question!r}"
    return mentions[0].best.id


def check_offsets(question: str, mentions: Sequence[Mention]) -> None:
    for m in mentions:
        assert question[m.start:m.end] == m.text
        assert all(0.0 <= c.score <= 1.0 for c in m.candidates)


@pytest.mark.parametrize(("text", "expected"), [
    ("Amélie", "amelie"), ("ＡＢＣ", "abc"),
    ("The Lord of the Rings: The Return of the King", "the lord of the rings the return of the king"),
    ("法国", "法国"), ("道格拉斯·亞當斯", "道格拉斯亚当斯"), ("  [Tom]  HANKS!? ", "tom hanks"),
    ("Søren Straße", "soren strasse"), ("e\u0301te\u0301", "ete"), ("Ελληνικά", "ελληνικά"), ("?!", ""),
])
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_longest_match_wins(linker: EntityLinker) -> None:
    question = "who directed The Lord of the Rings: The Return of the King"
    mentions = linker.link(question)
    check_offsets(question, mentions)
    assert [m.best.id for m in mentions] == ["The Lord of the Rings: The Return of the King"]
    assert mentions[0].best.match == "exact" and mentions[0].text.endswith("of the King")
    assert best(linker, "who directed The Lord of the Rings") == "The Lord of the Rings"


def test_brackets_are_ignored_and_offsets_are_original(linker: EntityLinker) -> None:
    question = "what movies did [Ronald Colman] act in"
    (mention,) = linker.link(question)
    assert (mention.text, mention.start, mention.end) == ("Ronald Colman", 17, 30)
    assert mention.best.id == "Ronald Colman"
    assert linker.link(question.replace("[", "").replace("]", ""))[0].best == mention.best


def test_case_accents_and_full_width(linker: EntityLinker) -> None:
    for question in ("who directed amelie", "who directed AMÉLIE", "who directed Ａｍｅｌｉｅ"):
        mentions = linker.link(question)
        check_offsets(question, mentions)
        assert mentions[0].best.id == "Amélie" and mentions[0].best.match == "normalized"
    assert linker.link("who directed Amélie")[0].best.match == "exact"
    assert linker.link("who directed ＡＢＣ")[0].text == "ＡＢＣ"


def test_exact_capitalization_is_preferred(linker: EntityLinker) -> None:
    assert best(linker, "what movies did Aamir Khan act in") == "Aamir Khan"
    assert best(linker, "which movies are about aamir khan") == "aamir khan"
    mention = linker.link("who starred in the Tracker")[0]
    assert [c.id for c in mention.candidates] == ["Tracker", "The Tracker"]
    assert best(linker, "who wrote The Tracker") == "The Tracker"


def test_common_words_need_their_capital_mid_sentence(linker: EntityLinker) -> None:
    assert best(linker, "who directed Up") == "Up"
    assert all(m.best.id != "Up" for m in linker.link("Up next: who directed Kismet"))
    assert linker.link("what is up with that") == []


def test_typos_fall_back_to_fuzzy(kb: KnowledgeBase, linker: EntityLinker) -> None:
    mention = linker.link("who directed Kismett")[0]
    assert (mention.best.id, mention.best.match, mention.text) == ("Kismet", "fuzzy", "Kismett")
    exact = linker.link("who directed Kismet")[0]
    assert mention.best.score < exact.best.score
    assert best(linker, "what did Ronald Colmann star in") == "Ronald Colman"
    exact_only = EntityLinker.build(kb.store, progress=False, config=LinkerConfig(fuzzy=False))
    assert exact_only.link("who directed Kismett") == []


def test_chinese_questions_link_zh_labels(linker: EntityLinker) -> None:
    question = "法国的首都是哪里"
    mention = linker.link(question)[0]
    assert (mention.best.id, mention.text, mention.start, mention.end) == ("Q142", "法国", 0, 2)
    question = "道格拉斯·亞當斯的国籍是什么"
    mention = linker.link(question)[0]
    assert (mention.best.id, mention.text) == ("Q42", "道格拉斯·亞當斯")
    assert best(linker, "道格拉斯亞當斯是谁") == "Q42"
    assert best(linker, "英国和法国") in {"Q145", "Q142"} and len(linker.link("英国和法国")) == 2


def test_ambiguous_label_gives_every_candidate_by_degree(linker: EntityLinker) -> None:
    mention = linker.link("where is Paris")[0]
    assert [c.id for c in mention.candidates] == ["Q90", "Q167646"]
    assert mention.candidates[0].degree > mention.candidates[1].degree
    assert mention.candidates[0].score > mention.candidates[1].score
    assert mention.ambiguous
    assert len(linker.link("where is Paris", k=1)[0].candidates) == 1
    with pytest.raises(ValueError):
        linker.link("where is Paris", k=0)


def test_aliases_are_linked(linker: EntityLinker) -> None:
    assert best(linker, "what is the capital of the French Republic") == "Q142"
    assert best(linker, "who was born in the UK") == "Q145"


@pytest.mark.parametrize("question", ["", "   ", "?!...", "[]", "what is the meaning of this"])
def test_nothing_to_link(linker: EntityLinker, question: str) -> None:
    assert linker.link(question) == []


def test_long_question_is_fast(linker: EntityLinker) -> None:
    question = ("who directed Kismet and what did Ronald Colman star in, Amélie? 法国的首都 " * 200)[:10_000]
    start = time.perf_counter()
    mentions = linker.link(question)
    assert time.perf_counter() - start < 2.0  # a blow-up guard, not a benchmark (see bench/)
    check_offsets(question, mentions)
    assert len(mentions) > 400 and {m.best.id for m in mentions} >= {"Kismet", "Ronald Colman", "Amélie", "Q142"}


def test_save_load_round_trip(linker: EntityLinker, tmp_path: Path) -> None:
    linker.save(tmp_path / "linker")
    manifest = json.loads((tmp_path / "linker" / MANIFEST).read_text())
    assert (manifest["version"], manifest["entities"], manifest["forms"]) == (3, linker.entity_count,
                                                                                linker.form_count)
    loaded = EntityLinker.load(tmp_path / "linker")
    for question in ("who directed Kismett", "法国的首都是哪里", "where is Paris", "who starred in the Tracker"):
        assert loaded.link(question) == linker.link(question)
    linker.save(tmp_path / "linker")  # overwriting is fine
    assert EntityLinker.load(tmp_path / "linker").entity_count == linker.entity_count


def test_load_rejects_missing_or_damaged_index(linker: EntityLinker, tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError):
        EntityLinker.load(tmp_path / "nothing")
    linker.save(tmp_path / "linker")
    forms = tmp_path / "linker" / "forms.arrow"
    forms.write_bytes(forms.read_bytes()[:-8])  # truncated
    with pytest.raises(SourceFormatError, match="manifest"):
        EntityLinker.load(tmp_path / "linker")
    linker.save(tmp_path / "linker")
    data = bytearray(forms.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    forms.write_bytes(bytes(data))
    with pytest.raises(SourceFormatError, match="checksum"):
        EntityLinker.load(tmp_path / "linker")


def test_update_adds_and_removes(linker: EntityLinker, tmp_path: Path) -> None:
    linker.save(tmp_path / "linker")
    copy = EntityLinker.load(tmp_path / "linker")
    copy.update([(Entity("Q64", "Berlin", labels=(("zh", "柏林"),), aliases=("Berlin, Germany",)), 7)], ["Kismet"])
    assert copy.entity_count == linker.entity_count
    assert all(m.best.id != "Kismet" for m in copy.link("who directed Kismet"))
    assert best(copy, "what is the population of Berlin") == "Q64"
    assert best(copy, "柏林在哪里") == "Q64"
    copy.update([(Entity("Q64", "Berlin"), 9)], [])  # an upsert replaces the old names
    assert copy.link("柏林在哪里") == [] and copy.link("who is in Berlin")[0].best.degree == 9
    assert best(linker, "who directed Kismet") == "Kismet"  # the original is untouched


class TrigramEmbedder:
    """A deterministic stand-in embedder: hashed character trigrams, unit length."""

    name = "trigram-test"
    dimension = 256

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for i in range(len(padded) - 2):
                out[row, hashlib.md5(padded[i:i + 3].encode()).digest()[0]] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed(texts)


def test_dense_fallback(kb: KnowledgeBase, tmp_path: Path) -> None:
    config = LinkerConfig(fuzzy=False, dense_threshold=0.6)
    dense = EntityLinker.build(kb.store, progress=False, embedder=TrigramEmbedder(), config=config)
    mention = dense.link("books by Duglas Adamz")[0]
    assert (mention.best.id, mention.best.match, mention.text) == ("Q42", "dense", "Duglas Adamz")
    assert dense.link("who directed Kismet")[0].best.match == "exact"  # dense only when nothing else
    dense.save(tmp_path / "dense")
    assert (tmp_path / "dense" / "vectors.npy").exists()
    loaded = EntityLinker.load(tmp_path / "dense", embedder=TrigramEmbedder(), config=config)
    assert loaded.link("books by Duglas Adamz") == dense.link("books by Duglas Adamz")
    assert EntityLinker.load(tmp_path / "dense", config=config).link("books by Duglas Adamz") == []
    loaded.update([(Entity("Q64", "Berlin"), 3)], ["Q42"])
    assert all(c.id != "Q42" for m in loaded.link("books by Duglas Adamz") for c in m.candidates)
    assert loaded.link("trip to Berlinn")[0].best.id == "Q64"


@pytest.mark.parametrize("bad", [dict(fuzzy_threshold=0), dict(max_ngram=0), dict(weights=(1.0, 1.0, 0.0, 0.0)),
                                 dict(dense_threshold=2.0)])
def test_config_is_validated(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        LinkerConfig(**bad)  # type: ignore[arg-type]
