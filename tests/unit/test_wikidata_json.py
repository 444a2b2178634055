"""Tests for the Wikidata JSON dump reader and the property label loader."""

from __future__ import annotations

import bz2
import gzip
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from kg.base import Batch, Entity, EntityKind, Literal, ValueType
from kg.errors import SourceFormatError
from kg.readers import guess_format, open_reader
from kg.readers.base import ReaderOptions
from kg.readers.wikidata_json import WikidataJsonReader
from kg.readers.wikidata_props import load_property_labels

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wikidata"
LOGGER = "kg.readers.wikidata_json"


# --- fixtures -------------------------------------------------------------------------------

def _names(kind: str, values: dict[str, str]) -> dict[str, Any]:
    return {kind: {code: {"language": code, "value": text} for code, text in values.items()}}


def _snak(pid: str, kind: str, value: Any, snaktype: str = "value") -> dict[str, Any]:
    if snaktype != "value":
        return {"snaktype": snaktype, "property": pid}
    return {"snaktype": "value", "property": pid, "datavalue": {"type": kind, "value": value}}


def _statement(snak: dict[str, Any], rank: str = "normal",
               qualifiers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"mainsnak": snak, "type": "statement", "rank": rank}
    if qualifiers:
        statement["qualifiers"] = {}
        for q in qualifiers:
            statement["qualifiers"].setdefault(q["property"], []).append(q)
        statement["qualifiers-order"] = list(statement["qualifiers"])
    return statement


def _item(qid: str, labels: dict[str, str], *statements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    claims: dict[str, list[dict[str, Any]]] = {}
    for s in statements:
        claims.setdefault(s["mainsnak"]["property"], []).append(s)
    return {"type": "item", "id": qid, **_names("labels", labels), "claims": claims, **extra}


def _ref(qid: str) -> dict[str, Any]:
    return {"entity-type": "item", "numeric-id": int(qid[1:]), "id": qid}


UNIVERSE = _item(
    "Q1", {"en": "universe", "zh": "宇宙", "fr": "univers"},
    _statement(_snak("P31", "wikibase-entityid", _ref("Q36906466"))),
    _statement(_snak("P1343", "wikibase-entityid", {"entity-type": "item", "numeric-id": 5})),
    _statement(_snak("P1687", "wikibase-entityid",
                     {"entity-type": "property", "numeric-id": 31, "id": "P31"})),
    _statement(_snak("P5137", "wikibase-entityid", {"entity-type": "lexeme", "numeric-id": 7, "id": "L7"})),
    _statement(_snak("P373", "string", "Universe")),
    _statement(_snak("P1417", "string", "topic/universe")),
    _statement(_snak("P856", "string", "https://universe.example")),
    _statement(_snak("P18", "string", "Hubble ultra deep field.jpg")),
    _statement(_snak("P1448", "monolingualtext", {"text": "宇宙", "language": "zh"})),
    _statement(_snak("P2386", "quantity", {"amount": "+880000000000", "unit": "http://www.wikidata.org/entity/Q531"})),
    _statement(_snak("P1082", "quantity", {"amount": "-3", "unit": "1"})),
    _statement(_snak("P580", "time", {"time": "-13798000000-01-01T00:00:00Z", "precision": 3,
                                      "calendarmodel": "http://www.wikidata.org/entity/Q1985727"}),
               rank="preferred"),
    _statement(_snak("P625", "globecoordinate", {"latitude": 51.5, "longitude": -0.12, "precision": 0.01,
                                                 "globe": "http://www.wikidata.org/entity/Q2"})),
    _statement(_snak("P625", "globecoordinate", {"latitude": 1, "longitude": 2,
                                                 "globe": "http://www.wikidata.org/entity/Q405"})),
    _statement(_snak("P31", "wikibase-entityid", _ref("Q5")), rank="deprecated"),
    _statement(_snak("P138", "", None, snaktype="somevalue")),
    _statement(_snak("P1889", "", None, snaktype="novalue")),
    _statement(_snak("P1082", "quantity", {"amount": "+10", "unit": "1"}), qualifiers=[
        _snak("P585", "time", {"time": "+2001-00-00T00:00:00Z", "precision": 9}),
        _snak("P642", "wikibase-entityid", _ref("Q42")),
        _snak("P1480", "", None, snaktype="somevalue"),
    ]),
    **_names("descriptions", {"en": "totality of space and all contents", "zh": "一切空间与内容"}),
    aliases={"en": [{"language": "en", "value": "cosmos"}],
             "de": [{"language": "de", "value": "Weltall"}]},
)
MUL_ONLY = _item("Q2", {"mul": "Tōkyō"}, _statement(_snak("P17", "wikibase-entityid", _ref("Q17"))))
ZH_VARIANT = _item("Q3", {"zh-hant": "臺北", "zh-hans": "台北", "de": "Taipeh"})
PROPERTY = {"type": "property", "id": "P31", "datatype": "wikibase-item",
            **_names("labels", {"en": "instance of", "zh": "性质"}), "claims": {}}
ENTITIES = [UNIVERSE, MUL_ONLY, ZH_VARIANT, PROPERTY]


def _write(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".bz2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return path


def _dump_lines(entities: list[dict[str, Any]], layout: str) -> list[str]:
    rows = [json.dumps(e, ensure_ascii=False) for e in entities]
    if layout == "lines":
        return rows
    return ["[", *(row + "," for row in rows[:-1]), rows[-1], "]"]


def _read(path: Path, **options: Any) -> list[Batch]:
    return list(WikidataJsonReader().read(path, "src", ReaderOptions(**options)))


def _entities(batches: list[Batch], kind: EntityKind = EntityKind.ENTITY) -> dict[str, Entity]:
    return {e.id: e for b in batches for e in b.entities if e.kind is kind}


def _triples(batches: list[Batch]) -> list[tuple[str, str, str | Literal]]:
    return [(t.subject, t.predicate, t.object) for b in batches for t in b.triples("src")]


@pytest.fixture()
def dump(tmp_path: Path) -> Path:
    return _write(tmp_path / "dump.json", _dump_lines(ENTITIES, "array"))


# --- values, labels, ranks ------------------------------------------------------------------

def test_every_value_type_maps_to_an_id_or_a_typed_literal(dump: Path) -> None:
    objects = {(p, o) for s, p, o in _triples(_read(dump)) if s == "Q1"}
    assert {("P31", "Q36906466"), ("P1343", "Q5"), ("P1687", "P31"), ("P5137", "L7")} <= objects
    for pid, text in [("P373", "Universe"), ("P1417", "topic/universe"),
                      ("P856", "https://universe.example"), ("P18", "Hubble ultra deep field.jpg")]:
        assert (pid, Literal(text)) in objects
    assert ("P1448", Literal("宇宙", lang="zh")) in objects
    assert ("P2386", Literal("880000000000", ValueType.QUANTITY, unit="Q531")) in objects
    assert ("P1082", Literal("-3", ValueType.QUANTITY)) in objects
    assert ("P580", Literal("-13798000000-01-01T00:00:00Z", ValueType.DATETIME, precision=3)) in objects
    assert ("P625", Literal("51.5 -0.12", ValueType.COORDINATES)) in objects
    assert ("P625", Literal("1 2", ValueType.COORDINATES, unit="Q405")) in objects


def test_literal_objects_also_become_literal_nodes(dump: Path) -> None:
    batch = _read(dump)[0]
    literals = _entities([batch], EntityKind.LITERAL)
    assert set(literals) == set(batch.literals)
    assert any(e.label == "-13798000000" for e in literals.values())


def test_labels_aliases_and_description_follow_the_languages(dump: Path) -> None:
    universe = _entities(_read(dump, languages=("zh", "en")))["Q1"]
    assert universe.label == "宇宙"
    assert universe.labels == (("en", "universe"),)
    assert universe.aliases == ("cosmos",)
    assert universe.description == "一切空间与内容"
    assert universe.provenance is not None and universe.provenance.source == "src"
    assert universe.provenance.line == 2


def test_a_mul_only_entity_gets_its_label_even_when_mul_is_not_listed(dump: Path) -> None:
    for languages in [("en", "mul", "zh"), ("en", "zh")]:
        assert _entities(_read(dump, languages=languages))["Q2"].label == "Tōkyō"


def test_a_regional_variant_stands_in_for_its_language(dump: Path) -> None:
    taipei = _entities(_read(dump, languages=("zh", "en")))["Q3"]
    assert taipei.label == "台北"
    assert taipei.labels == ()
    assert _entities(_read(dump, languages=("en",)))["Q3"].label is None


def test_property_entities_are_relations(dump: Path) -> None:
    relations = _entities(_read(dump), EntityKind.RELATION)
    assert relations["P31"].label == "instance of"
    assert relations["P31"].label_in("zh") == "性质"


def test_lexemes_are_named_by_their_lemmas(tmp_path: Path) -> None:
    lexeme = {"type": "lexeme", "id": "L7", **_names("lemmas", {"en": "cat"}),
              "claims": {"P5185": [_statement(_snak("P5185", "wikibase-entityid", _ref("Q1775415")))]},
              "forms": [{"id": "L7-F1"}], "senses": [{"id": "L7-S1"}]}
    batches = _read(_write(tmp_path / "lex.json", [json.dumps(lexeme)]))
    assert _entities(batches)["L7"].label == "cat"
    assert _triples(batches) == [("L7", "P5185", "Q1775415")]


def test_deprecated_and_placeholder_snaks_are_skipped_and_counted(
        dump: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        triples = _triples(_read(dump))
    assert ("Q1", "P31", "Q5") not in triples
    assert not any(p in ("P138", "P1889") for _, p, _ in triples)
    assert "1 deprecated statements, 1 novalue snaks, 2 somevalue snaks" in caplog.text


def test_qualifiers_are_attached_and_placeholders_dropped(dump: Path) -> None:
    batch = _read(dump)[0]
    qualified = [json.loads(q) for q in batch.qualifiers if q]
    assert qualified == [[["P585", "2001"], ["P642", "Q42"]], [["rank", "preferred"]]]  # the preferred P580 marked


# --- layouts, compression, batching ---------------------------------------------------------

@pytest.mark.parametrize("layout", ["array", "lines"])
@pytest.mark.parametrize("suffix", [".json", ".json.gz", ".json.bz2"])
def test_layouts_and_compression_read_the_same(tmp_path: Path, layout: str, suffix: str) -> None:
    path = _write(tmp_path / f"dump{suffix}", _dump_lines(ENTITIES, layout))
    batches = _read(path)
    assert set(_entities(batches)) == {"Q1", "Q2", "Q3"}
    assert len(_triples(batches)) == 16
    assert guess_format(path) == "wikidata-json"


def test_the_registry_opens_this_reader() -> None:
    assert isinstance(open_reader("wikidata-json"), WikidataJsonReader)


def test_batches_hold_about_batch_size_triples(tmp_path: Path) -> None:
    items = [_item(f"Q{n}", {"en": f"item {n}"}, *(_statement(_snak("P31", "string", str(k)))
                                                    for k in range(3))) for n in range(1, 11)]
    batches = _read(_write(tmp_path / "d.json", _dump_lines(items, "lines")), batch_size=5)
    assert [b.size for b in batches] == [6, 6, 6, 6, 6]
    assert sum(len(_entities([b])) for b in batches) == 10


# --- broken input ---------------------------------------------------------------------------

def test_a_truncated_last_line_is_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lines = _dump_lines(ENTITIES, "array")[:-1]
    lines[-1] = lines[-1][: len(lines[-1]) // 2]
    path = _write(tmp_path / "cut.json", lines)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        batches = _read(path)
    assert set(_entities(batches)) == {"Q1", "Q2", "Q3"}
    assert "cut.json:5" in caplog.text and "cut short" in caplog.text


def test_a_malformed_middle_line_names_file_and_line(tmp_path: Path) -> None:
    lines = _dump_lines(ENTITIES, "array")
    lines[2] = lines[2][:40] + ","
    path = _write(tmp_path / "bad.json", lines)
    with pytest.raises(SourceFormatError) as info:
        _read(path)
    assert info.value.line == 3 and info.value.path == str(path)
    assert "bad.json:3" in str(info.value)


@pytest.mark.parametrize("bad", ['{"claims": {}},', "[1, 2],", '{"id": "Q9", "claims": {"P1": [{}]}},'])
def test_records_that_are_not_entities_are_errors(tmp_path: Path, bad: str) -> None:
    lines = _dump_lines(ENTITIES, "array")
    lines.insert(2, bad)
    with pytest.raises(SourceFormatError, match="not a Wikidata entity"):
        _read(_write(tmp_path / "bad.json", lines))


def test_a_last_line_that_parses_but_is_no_entity_is_an_error(tmp_path: Path) -> None:
    lines = [*_dump_lines(ENTITIES, "lines"), '{"claims": {}}']
    with pytest.raises(SourceFormatError, match="not a Wikidata entity") as info:
        _read(_write(tmp_path / "bad.json", lines))
    assert info.value.line == 5


def test_skip_errors_counts_malformed_lines(tmp_path: Path) -> None:
    lines = _dump_lines(ENTITIES, "lines")
    lines[1] = "{not json"
    batches = _read(_write(tmp_path / "bad.json", lines), skip_errors=True)
    assert sum(b.skipped for b in batches) == 1
    assert set(_entities(batches)) == {"Q1", "Q3"}


def test_a_pretty_printed_file_is_rejected_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "pretty.json"
    path.write_text(json.dumps([MUL_ONLY, ZH_VARIANT], indent=2))
    with pytest.raises(SourceFormatError, match="one JSON entity per line"):
        _read(path)


# --- property labels ------------------------------------------------------------------------

PROPS_TSV = ["id\tdatatype\ten\tzh\tzh-hans\tzh-hant", "P31\twikibase-item\tinstance of\t性质\t性质\t性質",
             "P17\twikibase-item\tcountry\t\t国家\t國家", "P99\tstring\t\t\t\t"]


def test_property_labels_from_tsv_fall_back_to_en_then_the_id(tmp_path: Path) -> None:
    props = {e.id: e for e in load_property_labels(_write(tmp_path / "p.tsv", PROPS_TSV), ["ja", "zh"])}
    assert (props["P31"].label, props["P31"].labels) == ("性质", ())
    assert props["P17"].label == "国家"
    assert props["P99"].label == "P99"
    assert all(e.kind is EntityKind.RELATION for e in props.values())
    assert load_property_labels(_write(tmp_path / "q.tsv", PROPS_TSV), ("de",))[0].label == "instance of"


def test_property_labels_from_jsonl(tmp_path: Path) -> None:
    record = {"id": "P31", "datatype": "wikibase-item", "labels": {"en": "instance of", "zh": "性质"},
              "descriptions": {"en": "that class of which this subject is a particular example"},
              "aliases": {"en": ["is a"], "zh": ["是"]}}
    path = _write(tmp_path / "p.jsonl.gz", [json.dumps(record), json.dumps({"id": "P17", "labels": {}})])
    first, second = load_property_labels(path, ("en", "zh"))
    assert (first.label, first.labels, first.aliases) == ("instance of", (("zh", "性质"),), ("is a", "是"))
    assert first.description == "that class of which this subject is a particular example"
    assert second.label == "P17"
    assert load_property_labels(path, ("en", "zh")) == [first, second]


def test_a_malformed_property_line_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError) as info:
        load_property_labels(_write(tmp_path / "p.jsonl", ['{"id": "P1"}', "{oops"]), ("en",))
    assert info.value.line == 2


def test_used_properties_are_emitted_once_from_the_label_file(dump: Path, tmp_path: Path) -> None:
    props = _write(tmp_path / "p.tsv", PROPS_TSV)
    batches = _read(dump, property_labels=props, languages=("zh", "en"))
    relations = [e for b in batches for e in b.entities if e.kind is EntityKind.RELATION]
    assert sorted(e.id for e in relations) == ["P17", "P31", "P31"]  # one from the file, one from the dump
    from_file = next(e for e in relations if e.id == "P17")
    assert from_file.label == "国家"
    assert from_file.provenance is not None and from_file.provenance.source == "src"


# --- real Wikidata files --------------------------------------------------------------------

def _real(name: str) -> Path:
    path = DATA / "json" / name
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (see ../shared/data/README.md)")
    return path


def test_real_dump_sample(caplog: pytest.LogCaptureFixture) -> None:
    path = _real("opentapioca_sample_wikidata_items.json.bz2")
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        batches = _read(path, languages=("en", "mul", "zh"))
    items = _entities(batches)
    assert len(items) == 100
    # 12,599 statements less 43 deprecated and 11 with a somevalue/novalue main snak
    assert sum(b.size for b in batches) == 12_545
    assert sum(1 for e in items.values() if e.label_in("zh")) == 94
    assert items["Q31"].label == "Belgium" and items["Q31"].label_in("zh") == "比利时"
    assert "43 deprecated statements, 11 novalue snaks, 3 somevalue snaks" in caplog.text


def test_real_dump_head_without_closing_bracket(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        batches = _read(_real("wikibase-dump-filter_latest-all_first50lines.json"))
    assert len(_entities(batches)) == 49
    assert sum(b.size for b in batches) == 4_265
    assert not caplog.records


def test_real_api_stream_with_property_labels() -> None:
    props = DATA / "properties" / "wikidata_properties_labels_en_zh.tsv"
    if not props.exists():
        pytest.skip(f"shared data not found at {props} (see ../shared/data/README.md)")
    batches = _read(_real("opentapioca_short_stream.json.bz2"), property_labels=props, batch_size=2_000)
    items = [e for b in batches for e in b.entities if e.kind is EntityKind.ENTITY]
    assert len(items) == 635  # one record per line: the stream repeats revisions of 574 items
    assert len({e.id for e in items}) == 574
    assert sum(b.size for b in batches) == 8_118
    assert len(batches) == 5
    relations = _entities(batches, EntityKind.RELATION)
    assert relations["P31"].label == "instance of"
    assert relations["P31"].label_in("zh") == "隶属于"
