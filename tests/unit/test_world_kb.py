"""Tests of the bundled world knowledge base, ``data/world.nt``, and of its builder.

The committed file is checked as data (it parses, holds the facts questions rely on, every link
lands on a labelled entity); the builder is checked to reproduce it byte for byte. Only the
rebuild needs countryinfo; it is skipped with a reason where that package is missing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType

import pyoxigraph
import pytest

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "data" / "world.nt"
BUILDER = ROOT / "data" / "build_world.py"
ENTITY = "http://kgqa.example/world/entity/"
PROP = "http://kgqa.example/world/prop/"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
DESCRIPTION = "http://schema.org/description"
LINKS = ("capital", "capital_of", "borders", "official_language", "currency",
         "located_in_region", "located_in_subregion", "part_of_region")

Index = dict[tuple[str, str], list[pyoxigraph.NamedNode | pyoxigraph.Literal]]


@pytest.fixture(scope="module")
def quads() -> list[pyoxigraph.Quad]:
    return list(pyoxigraph.parse(path=str(WORLD), format=pyoxigraph.RdfFormat.N_TRIPLES))


@pytest.fixture(scope="module")
def kb(quads: list[pyoxigraph.Quad]) -> Index:
    """(subject IRI, predicate IRI) -> objects."""
    index: Index = defaultdict(list)
    for q in quads:
        index[q.subject.value, q.predicate.value].append(q.object)  # type: ignore[arg-type]
    return index


def labels(kb: Index, subject: str, lang: str = "en") -> list[str]:
    return [o.value for o in kb.get((subject, LABEL), [])
            if isinstance(o, pyoxigraph.Literal) and o.language == lang]


def find(kb: Index, label: str) -> str:
    """An entity whose English label is ``label`` (the shortest id where several share it)."""
    found = [s for (s, p), objs in kb.items() if p == LABEL
             and any(isinstance(o, pyoxigraph.Literal) and o.value == label and o.language == "en"
                     for o in objs)]
    assert found, f"no entity labelled {label!r}"
    return sorted(found, key=len)[0]


def objects(kb: Index, subject: str, prop: str) -> list[str]:
    return [o.value for o in kb.get((subject, PROP + prop), [])]


def test_world_parses_and_is_small(quads: list[pyoxigraph.Quad]) -> None:
    assert len(quads) > 5000
    assert WORLD.stat().st_size < 2_000_000


def test_france_has_capital_paris_and_facts(kb: Index) -> None:
    france = ENTITY + "France"
    assert labels(kb, france) == ["France"]
    assert [labels(kb, c) for c in objects(kb, france, "capital")] == [["Paris"]]
    assert objects(kb, ENTITY + "Paris", "capital_of") == [france]
    assert objects(kb, france, "located_in_subregion") == [ENTITY + "Western_Europe"]
    assert objects(kb, france, "iso_alpha3_code") == ["FRA"]
    population = kb[france, PROP + "population"][0]
    assert isinstance(population, pyoxigraph.Literal)
    assert population.datatype.value.endswith("#integer") and int(population.value) > 0
    assert [d.value for d in kb[france, DESCRIPTION]] == ["country in Western Europe"]


def test_borders_resolve_to_labelled_countries(kb: Index) -> None:
    borders = [(s, o) for (s, p), objs in kb.items() if p == PROP + "borders" for o in objs]
    assert len(borders) > 500
    for _, neighbour in borders:
        assert isinstance(neighbour, pyoxigraph.NamedNode)
        assert labels(kb, neighbour.value), f"{neighbour.value} has no English label"
        assert objects(kb, neighbour.value, "iso_alpha3_code"), f"{neighbour.value} is no country"
    france_neighbours = {labels(kb, n)[0] for n in objects(kb, ENTITY + "France", "borders")}
    assert {"Spain", "Germany", "Belgium", "Switzerland", "Italy"} <= france_neighbours


def test_every_linked_entity_has_label_and_description(kb: Index) -> None:
    targets = {o.value for (s, p), objs in kb.items() if p in {PROP + name for name in LINKS}
               for o in objs}
    for target in targets:
        assert target.startswith(ENTITY)
        assert len(labels(kb, target)) == 1, target
        assert kb.get((target, DESCRIPTION)), target


def test_every_relation_has_an_english_label(kb: Index) -> None:
    used = {p for (_, p) in kb if p.startswith(PROP)}
    assert {PROP + name for name in LINKS} <= used
    for prop in used:
        assert labels(kb, prop), prop


def test_translated_labels_include_chinese(quads: list[pyoxigraph.Quad]) -> None:
    languages = {q.object.language for q in quads
                 if q.predicate.value == LABEL and isinstance(q.object, pyoxigraph.Literal)}
    assert {"en", "de", "fr", "ja", "zh"} <= languages


def test_multi_hop_questions_have_answers(kb: Index) -> None:
    # "what currency is used in the countries bordering France"
    currencies = {labels(kb, c)[0] for n in objects(kb, ENTITY + "France", "borders")
                  for c in objects(kb, n, "currency")}
    assert {"EUR", "CHF"} <= currencies
    # "which region is the country whose capital is Lima in"
    countries = objects(kb, find(kb, "Lima"), "capital_of")
    assert [labels(kb, r)[0] for c in countries for r in objects(kb, c, "located_in_region")] == ["Americas"]


def test_city_sharing_a_country_name_gets_its_own_entity(kb: Index) -> None:
    city = ENTITY + "Luxembourg_(city)"
    assert objects(kb, ENTITY + "Luxembourg", "capital") == [city]
    assert labels(kb, city) == ["Luxembourg"]


def _load_builder(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import data/build_world.py (a script, not a package module) for this test only."""
    pytest.importorskip("countryinfo", reason="countryinfo is not installed (pip install '.[world]'); "
                        "cannot rebuild data/world.nt")
    spec = importlib.util.spec_from_file_location("kgqa_build_world", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve string annotations through sys.modules while the module executes
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_builder_reproduces_committed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    builder = _load_builder(monkeypatch)
    committed = WORLD.read_bytes()
    version = importlib.metadata.version("countryinfo")
    if f"from countryinfo {version};".encode() not in committed.split(b"\n", 1)[0]:
        pytest.skip(f"data/world.nt was built from another countryinfo version than the installed "
                    f"{version}; rerun python data/build_world.py")
    out = tmp_path / "world.nt"
    assert builder.main(["--out", str(out)]) == 0
    assert out.read_bytes() == committed
    assert "triples" in capsys.readouterr().out
    again = tmp_path / "again.nt"
    builder.main(["--out", str(again)])
    assert again.read_bytes() == committed
