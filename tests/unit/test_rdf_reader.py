"""RdfReader: the four syntaxes, Wikidata conventions, literals, errors, and real Wikidata files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from kg.base import Batch, Entity, EntityKind, Literal, ValueType
from kg.errors import SourceFormatError
from kg.readers import open_reader
from kg.readers.base import ReaderOptions
from kg.readers.rdf import RdfReader, compact_iri

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
WIKIDATA_RDF = DATA / "wikidata" / "rdf"
EN_ZH = ReaderOptions(languages=("en", "zh"))

PREFIXES_TTL = """\
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix schema: <http://schema.org/> .
@prefix wikibase: <http://wikiba.se/ontology#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix wd: <http://www.wikidata.org/entity/> .
@prefix data: <https://www.wikidata.org/wiki/Special:EntityData/> .
@prefix s: <http://www.wikidata.org/entity/statement/> .
@prefix ref: <http://www.wikidata.org/reference/> .
@prefix v: <http://www.wikidata.org/value/> .
@prefix wdt: <http://www.wikidata.org/prop/direct/> .
@prefix wdtn: <http://www.wikidata.org/prop/direct-normalized/> .
@prefix p: <http://www.wikidata.org/prop/> .
@prefix ps: <http://www.wikidata.org/prop/statement/> .
@prefix psv: <http://www.wikidata.org/prop/statement/value/> .
@prefix pq: <http://www.wikidata.org/prop/qualifier/> .
@prefix pr: <http://www.wikidata.org/prop/reference/> .
@prefix wdno: <http://www.wikidata.org/prop/novalue/> .
"""

# One small graph in each syntax: Alice knows Bob, is a Person, is 30, is labelled.
SAME_GRAPH = {
    "nt": "".join(f"<http://dbpedia.org/resource/Alice> {p} {o} .\n" for p, o in [
        ("<http://xmlns.com/foaf/0.1/knows>", "<http://dbpedia.org/resource/Bob>"),
        ("<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>", "<http://xmlns.com/foaf/0.1/Person>"),
        ("<http://dbpedia.org/ontology/age>", '"30"^^<http://www.w3.org/2001/XMLSchema#integer>'),
        ("<http://www.w3.org/2000/01/rdf-schema#label>", '"Alice"@en'),
    ]),
    "ttl": """\
@prefix dbr: <http://dbpedia.org/resource/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
dbr:Alice foaf:knows dbr:Bob ; a foaf:Person ;
    <http://dbpedia.org/ontology/age> 30 ; rdfs:label "Alice"@en .
""",
    "rdfxml": """\
<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:foaf="http://xmlns.com/foaf/0.1/" xmlns:dbo="http://dbpedia.org/ontology/">
  <foaf:Person rdf:about="http://dbpedia.org/resource/Alice">
    <foaf:knows rdf:resource="http://dbpedia.org/resource/Bob"/>
    <dbo:age rdf:datatype="http://www.w3.org/2001/XMLSchema#integer">30</dbo:age>
    <rdfs:label xml:lang="en">Alice</rdfs:label>
  </foaf:Person>
</rdf:RDF>
""",
    "jsonld": """\
{"@context": {"foaf": "http://xmlns.com/foaf/0.1/", "dbo": "http://dbpedia.org/ontology/",
              "rdfs": "http://www.w3.org/2000/01/rdf-schema#"},
 "@id": "http://dbpedia.org/resource/Alice", "@type": "foaf:Person",
 "foaf:knows": {"@id": "http://dbpedia.org/resource/Bob"},
 "dbo:age": 30,
 "rdfs:label": {"@value": "Alice", "@language": "en"}}
""",
}

WIKIDATA_TTL = PREFIXES_TTL + """\
data:Q1 a schema:Dataset ; schema:about wd:Q1 ; schema:version "7"^^xsd:integer .
wd:Q1 a wikibase:Item , wdno:P40 .
<https://fr.wikipedia.org/wiki/Un> a schema:Article ; schema:about wd:Q1 ;
    schema:inLanguage "fr" ; schema:name "Un"@fr , "One"@en .
wd:Q1 rdfs:label "Universe"@en , "宇宙"@zh , "Univers"@fr ;
    skos:prefLabel "Universe"@en ; schema:name "Universe"@en ;
    schema:description "all of space and time"@en , "一切空间和时间"@zh , "tout l'espace"@fr .
wd:Q1 wdt:P31 wd:Q36906466 ; wdt:P580 "-13798000000-01-01T00:00:00Z"^^xsd:dateTime ;
    wdtn:P646 <http://g.co/kg/m/0x> ; p:P31 s:Q1-abc .
s:Q1-abc a wikibase:Statement , wikibase:BestRank ; wikibase:rank wikibase:NormalRank ;
    ps:P31 wd:Q36906466 ; pq:P580 "2000-01-01T00:00:00Z"^^xsd:dateTime ;
    psv:P580 v:f00 ; prov:wasDerivedFrom ref:r1 .
ref:r1 a wikibase:Reference ; pr:P248 wd:Q5 .
v:f00 a wikibase:TimeValue ; wikibase:timePrecision "9"^^xsd:integer .
wd:Q1 skos:altLabel "cosmos"@en , "Kosmos"@fr , "天地"@zh , "cosmos"@en .
wd:P31 a wikibase:Property ; rdfs:label "instance of"@en , "性质"@zh ;
    wikibase:directClaim wdt:P31 .
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def read_all(path: Path, syntax: str, options: ReaderOptions = EN_ZH, source: str = "src") -> list[Batch]:
    return list(RdfReader(syntax).read(path, source, options))


def triples(batches: list[Batch]) -> list[tuple[str, str, str | Literal]]:
    return [(t.subject, t.predicate, t.object) for b in batches for t in b.triples("src")]


def named(batches: list[Batch]) -> dict[str, Entity]:
    return {e.id: e for b in batches for e in b.entities if e.kind is not EntityKind.LITERAL}


@pytest.mark.parametrize("syntax", ["nt", "ttl", "rdfxml", "jsonld"])
def test_each_syntax_gives_the_same_graph(tmp_path: Path, syntax: str) -> None:
    path = write(tmp_path, f"g.{syntax}", SAME_GRAPH[syntax])
    batches = read_all(path, syntax)
    assert sorted(triples(batches), key=str) == sorted([
        ("dbr:Alice", "foaf:knows", "dbr:Bob"),
        ("dbr:Alice", "rdf:type", "foaf:Person"),
        ("dbr:Alice", "dbo:age", Literal("30", ValueType.NUMBER)),
    ], key=str)
    alice = named(batches)["dbr:Alice"]
    assert alice.label == "Alice" and alice.kind is EntityKind.ENTITY
    assert open_reader(syntax).format == syntax


def test_compact_ids() -> None:
    assert compact_iri("http://www.wikidata.org/entity/Q42") == "Q42"
    assert compact_iri("http://www.wikidata.org/entity/L7-S1") == "L7-S1"
    assert compact_iri("http://www.wikidata.org/prop/direct/P31") == "P31"
    assert compact_iri("http://schema.org/name") == "schema:name"
    assert compact_iri("http://www.w3.org/2002/07/owl#sameAs") == "owl:sameAs"
    assert compact_iri("http://example.org/a/b") == "http://example.org/a/b"
    assert compact_iri("http://dbpedia.org/resource/") == "http://dbpedia.org/resource/"


def test_wikidata_conventions(tmp_path: Path) -> None:
    batches = read_all(write(tmp_path, "q1.ttl", WIKIDATA_TTL), "ttl")
    assert triples(batches) == [
        ("Q1", "P31", "Q36906466"),
        ("Q1", "P580", Literal("-13798000000-01-01T00:00:00Z", ValueType.DATETIME)),
    ]
    entities = named(batches)
    assert set(entities) == {"Q1", "P31"}  # no entity for the sitelink article or data: node
    q1 = entities["Q1"]
    assert q1.label == "Universe"
    assert q1.labels == (("zh", "宇宙"),)
    assert q1.aliases == ("cosmos", "天地")
    assert q1.description == "all of space and time"
    p31 = entities["P31"]
    assert p31.kind is EntityKind.RELATION
    assert (p31.label, p31.label_in("zh")) == ("instance of", "性质")


def test_main_label_falls_back_to_untagged_then_other_languages(tmp_path: Path) -> None:
    text = """\
<http://x.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "plain" .
<http://x.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "中文"@zh .
<http://x.org/b> <http://www.w3.org/2000/01/rdf-schema#label> "只有中文"@zh .
<http://x.org/c> <http://www.w3.org/2000/01/rdf-schema#label> "English"@EN-GB .
<http://x.org/c> <http://www.w3.org/2000/01/rdf-schema#label> "untagged" .
<http://x.org/d> <http://schema.org/description> "only French"@fr .
"""
    entities = named(read_all(write(tmp_path, "l.nt", text), "nt"))
    a = entities["http://x.org/a"]
    assert (a.label, a.labels) == ("plain", (("zh", "中文"),))
    assert entities["http://x.org/b"].label == "只有中文"
    assert entities["http://x.org/c"].label == "English"
    assert entities["http://x.org/c"].aliases == ("untagged",)
    assert a.provenance is not None and a.provenance.line == 1
    assert "http://x.org/d" not in entities


XSD = "http://www.w3.org/2001/XMLSchema#"
LITERALS = [
    (f'"42"^^<{XSD}integer>', Literal("42", ValueType.NUMBER)),
    (f'"1.5"^^<{XSD}decimal>', Literal("1.5", ValueType.NUMBER)),
    (f'"1.5E3"^^<{XSD}double>', Literal("1.5E3", ValueType.NUMBER)),
    (f'"2.5"^^<{XSD}float>', Literal("2.5", ValueType.NUMBER)),
    (f'"1952-03-11T00:00:00Z"^^<{XSD}dateTime>', Literal("1952-03-11T00:00:00Z", ValueType.DATETIME)),
    (f'"-13798000000-01-01T00:00:00Z"^^<{XSD}dateTime>',
     Literal("-13798000000-01-01T00:00:00Z", ValueType.DATETIME)),
    (f'"1952-03-11"^^<{XSD}date>', Literal("1952-03-11", ValueType.DATETIME, precision=11)),
    (f'"1952"^^<{XSD}gYear>', Literal("1952", ValueType.DATETIME, precision=9)),
    ('"Point(12.5 41.9)"^^<http://www.opengis.net/ont/geosparql#wktLiteral>',
     Literal("41.9 12.5", ValueType.COORDINATES)),
    ('"Rome"@IT', Literal("Rome", ValueType.STRING, lang="it")),
    ('"plain"', Literal("plain")),
    (f'"true"^^<{XSD}boolean>', Literal("true", ValueType.OTHER)),
    ('"x+1"^^<http://www.w3.org/1998/Math/MathML>', Literal("x+1", ValueType.OTHER)),
]


def test_literal_types(tmp_path: Path) -> None:
    lines = [f"<http://www.wikidata.org/entity/Q1> <http://www.wikidata.org/prop/direct/P{i}> {obj} ."
             for i, (obj, _) in enumerate(LITERALS)]
    batches = read_all(write(tmp_path, "lit.nt", "\n".join(lines) + "\n"), "nt")
    got = [obj for _, _, obj in triples(batches)]
    assert got == [expected for _, expected in LITERALS]
    assert Literal("-13798000000-01-01T00:00:00Z", ValueType.DATETIME).display() == "-13798000000-01-01"
    literal_nodes = [e for b in batches for e in b.entities if e.kind is EntityKind.LITERAL]
    assert len(literal_nodes) == len(LITERALS)


def test_nt_lines_and_batches(tmp_path: Path) -> None:
    body = "# a comment\n\n" + "".join(
        f"<http://x.org/s{i}> <http://x.org/p> <http://x.org/o{i}> .\n" for i in range(5))
    batches = read_all(write(tmp_path, "b.nt", body), "nt", ReaderOptions(batch_size=2))
    assert [b.size for b in batches] == [2, 2, 1]
    assert [line for b in batches for line in b.lines] == [3, 4, 5, 6, 7]


@pytest.mark.parametrize(("syntax", "text", "line"), [
    ("ttl", "@prefix ex: <http://x.org/> .\nex:a ex:p ex:b .\nex:a ex:p bad .\n", 3),
    ("nt", "<http://x.org/a> <http://x.org/p> <http://x.org/b> .\n<http://x.org/a> <http://x.org/p> x\n", 2),
])
def test_syntax_error_names_file_and_line(tmp_path: Path, syntax: str, text: str, line: int) -> None:
    path = write(tmp_path, f"bad.{syntax}", text)
    with pytest.raises(SourceFormatError) as info:
        read_all(path, syntax)
    assert info.value.line == line
    assert f"{path}:{line}" in str(info.value)


def test_nt_error_line_after_many_chunks(tmp_path: Path) -> None:
    good = "<http://x.org/a> <http://x.org/p> \"%s\" .\n"
    text = "".join(good % ("v" * 200 + str(i)) for i in range(12_000)) + "<a> <b> <c> .\n"
    with pytest.raises(SourceFormatError) as info:
        read_all(write(tmp_path, "long.nt", text), "nt")
    assert info.value.line == 12_001


def test_rdfxml_and_jsonld_errors(tmp_path: Path) -> None:
    xml = SAME_GRAPH["rdfxml"].replace("</foaf:Person>", "</foaf:Thing>")
    with pytest.raises(SourceFormatError, match=r"bad\.rdf"):
        read_all(write(tmp_path, "bad.rdf", xml), "rdfxml")
    remote = '{"@context": "https://schema.org/", "@id": "http://x.org/a", "name": "A"}'
    with pytest.raises(SourceFormatError, match="inline the context"):
        read_all(write(tmp_path, "remote.jsonld", remote), "jsonld")


def test_skip_errors_on_nt_counts_bad_lines(tmp_path: Path) -> None:
    text = ("<http://x.org/a> <http://x.org/p> \"1\" .\n"
            "<http://x.org/a> <http://x.org/p> bad .\n"
            "<http://x.org/a> <http://x.org/p> \"3\" .\n"
            "<http://x.org/a> <http://x.org/p \"4\" .\n"
            "<http://x.org/a> <http://x.org/p> \"5\" .\n")
    batches = read_all(write(tmp_path, "skip.nt", text), "nt", ReaderOptions(skip_errors=True))
    assert sum(b.skipped for b in batches) == 2
    assert [line for b in batches for line in b.lines] == [1, 3, 5]


def test_skip_errors_cannot_resync_turtle(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.ttl", "@prefix ex: <http://x.org/> .\nex:a ex:p bad .\nex:a ex:p ex:b .\n")
    with pytest.raises(SourceFormatError, match="N-Triples only") as info:
        read_all(path, "ttl", ReaderOptions(skip_errors=True))
    assert info.value.line == 2


@pytest.mark.parametrize("syntax", ["nt", "ttl"])
def test_gzip_input(tmp_path: Path, syntax: str) -> None:
    path = tmp_path / f"g.{syntax}.gz"
    path.write_bytes(gzip.compress(SAME_GRAPH[syntax].encode()))
    batches = read_all(path, syntax)
    assert len(triples(batches)) == 3
    assert named(batches)["dbr:Alice"].label == "Alice"


def test_truncated_gzip_is_a_source_error(tmp_path: Path) -> None:
    lines = (f"<http://x.org/a> <http://x.org/p> <http://x.org/{i * 7919 % 100_003}> .\n"
             for i in range(50_000))
    data = gzip.compress("".join(lines).encode())
    path = tmp_path / "cut.ttl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceFormatError, match="truncated or corrupt"):
        read_all(path, "ttl")


def test_blank_nodes_are_stable_and_scoped_by_source(tmp_path: Path) -> None:
    path = write(tmp_path, "b.ttl", "@prefix ex: <http://x.org/> .\nex:a ex:p [ ex:q ex:b ] ; ex:r _:n1 .\n")
    first, again = triples(read_all(path, "ttl")), triples(read_all(path, "ttl"))
    other = triples(read_all(path, "ttl", source="other"))
    assert first == again
    blanks = {str(node) for t in first for node in (t[0], t[2]) if str(node).startswith("_:")}
    assert len(blanks) == 2
    assert blanks.isdisjoint({str(node) for t in other for node in (t[0], t[2])})


def test_empty_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError, match="empty"):
        read_all(write(tmp_path, "e.ttl", ""), "ttl")
    with pytest.raises(SourceFormatError, match="no such file"):
        read_all(tmp_path / "missing.nt", "nt")
    with pytest.raises(ValueError, match="unknown RDF syntax"):
        RdfReader("n3")


def test_property_labels_option(tmp_path: Path) -> None:
    props = write(tmp_path, "props.tsv", "id\tdatatype\ten\tzh\nP31\twikibase-item\tinstance of\t性质\n"
                  "P279\twikibase-item\tsubclass of\t子类\n")
    text = ("<http://www.wikidata.org/entity/Q1> <http://www.wikidata.org/prop/direct/P31> "
            "<http://www.wikidata.org/entity/Q2> .\n"
            "<http://www.wikidata.org/entity/Q2> <http://www.wikidata.org/prop/direct/P279> "
            "<http://www.wikidata.org/entity/Q3> .\n"
            "<http://www.wikidata.org/entity/P31> <http://www.w3.org/2000/01/rdf-schema#label> "
            '"is a"@en .\n')
    options = ReaderOptions(languages=("en", "zh"), property_labels=props)
    entities = named(read_all(write(tmp_path, "p.nt", text), "nt", options))
    assert entities["P31"].label == "is a"  # the file's own label wins
    assert entities["P279"].kind is EntityKind.RELATION
    assert entities["P279"].label_in("zh") == "子类"
    unused = "<http://www.wikidata.org/entity/Q1> <http://www.wikidata.org/prop/direct/P31> <http://x/y> .\n"
    only_used = named(read_all(write(tmp_path, "q.nt", unused), "nt", options))
    assert "P31" in only_used and "P279" not in only_used  # labels only for predicates in the file


def real_file(name: str) -> Path:
    path = WIKIDATA_RDF / name
    if not path.exists():
        pytest.skip(f"shared Wikidata RDF samples not found at {WIKIDATA_RDF} (see shared/data/README.md)")
    return path


@pytest.mark.parametrize(("name", "n_triples", "n_named", "n_literals"), [
    ("Q42.ttl", 300, 1, 212),
    ("Q24628793.ttl", 35, 1, 11),
    ("Q37599471.ttl", 106, 1, 10),
    ("small_dump_chunk.ttl", 1, 0, 0),
    ("wikidata_triples_small.DERIVED.nt", 306, 23, 115),
])
def test_real_wikidata_files(name: str, n_triples: int, n_named: int, n_literals: int) -> None:
    path = real_file(name)
    batches = read_all(path, "nt" if name.endswith(".nt") else "ttl")
    assert sum(b.size for b in batches) == n_triples
    assert len(named(batches)) == n_named
    assert sum(1 for b in batches for e in b.entities if e.kind is EntityKind.LITERAL) == n_literals
    predicates = {p for b in batches for p in b.predicates}
    assert all(p.startswith("P") and p[1:].isdigit() for p in predicates)  # truthy wdt: only
    if name.endswith(".nt"):
        assert all(line > 0 for b in batches for line in b.lines)


def test_real_q42_names() -> None:
    batches = read_all(real_file("Q42.ttl"), "ttl")
    q42 = named(batches)["Q42"]
    assert q42.label == "Douglas Adams"
    assert q42.label_in("zh") == "道格拉斯·亞當斯"
    assert q42.description == "English author and humourist (1952\u20132001)"
    assert "DNA" in q42.aliases
    assert ("Q42", "P31", "Q5") in triples(batches)


def test_ntriples_names_come_before_the_triples(tmp_path: Path) -> None:
    """Names first, so the store creates each node with its record instead of updating it."""
    wd, wdt, label = "http://www.wikidata.org/entity/", "http://www.wikidata.org/prop/direct/", \
        "<http://www.w3.org/2000/01/rdf-schema#label>"
    text = (f"<{wd}Q1> <{wdt}P50> <{wd}Q2> .\n"
            f"<{wd}Q2> {label} \"Two\"@en .\n"
            "<http://x.org/p> <http://x.org/q> <http://x.org/r> .\n"
            f"<{wd}Q1> {label} \"One\"@en .\n"
            '<http://x.org/q> <http://www.w3.org/2000/01/rdf-schema\\u0023label> "q label"@en .\n'
            '_:b1 <http://x.org/q> _:b2 .\n'
            f"_:b2 {label} \"blank\"@en .\n")
    batches = read_all(write(tmp_path, "g.nt", text), "nt")
    first_triples = next(i for i, b in enumerate(batches) if b.size)
    assert {e.id for e in batches[first_triples - 1].entities} == {"Q1", "Q2"}  # before any triple
    assert named(batches)["Q1"].label == "One" and named(batches)["Q2"].label == "Two"
    # a name the byte pattern misses (escaped IRI) and a blank node's name arrive after the triples
    assert named(batches)["http://x.org/q"].label == "q label"
    assert named(batches)["http://x.org/q"].kind is EntityKind.RELATION
    blank = [e for e in named(batches).values() if e.id.startswith("_:")]
    assert [e.label for e in blank] == ["blank"]
    assert [(t[0], t[1]) for t in triples(batches)] == [("Q1", "P50"), ("http://x.org/p", "http://x.org/q"),
                                                         (blank[0].id.rsplit(".", 1)[0] + ".0", "http://x.org/q")]
    # lines stay exact in both passes
    lines = [line for b in batches for line in b.lines]
    assert lines == [1, 3, 6]


def test_ntriples_relation_named_early_is_sent_again_as_a_relation(tmp_path: Path) -> None:
    text = ('<http://x.org/q> <http://www.w3.org/2000/01/rdf-schema#label> "q label"@en .\n'
            "<http://x.org/p> <http://x.org/q> <http://x.org/r> .\n")
    batches = read_all(write(tmp_path, "g.nt", text), "nt")
    kinds = [e.kind for b in batches for e in b.entities if e.id == "http://x.org/q"]
    assert kinds == [EntityKind.ENTITY, EntityKind.RELATION]  # the last record wins in the indexer


def test_ntriples_names_parked_between_the_passes_come_back_whole(tmp_path: Path) -> None:
    """The first pass's names wait on disk; a late alias and a relation's kind find them there."""
    label, alt = "<http://www.w3.org/2000/01/rdf-schema#label>", "<http://www.w3.org/2004/02/skos/core\\u0023altLabel>"
    text = (f'<http://x.org/a> {label} "Alpha"@en .\n'
            f'<http://x.org/q> {label} "q label"@en .\n'
            "<http://x.org/a> <http://x.org/q> <http://x.org/r> .\n"
            f'<http://x.org/a> {alt} "First"@en .\n')
    batches = read_all(write(tmp_path, "g.nt", text), "nt")
    records = [e for b in batches for e in b.entities]
    last = {e.id: e for e in records}
    assert (last["http://x.org/a"].label, last["http://x.org/a"].aliases) == ("Alpha", ("First",))
    assert (last["http://x.org/q"].label, last["http://x.org/q"].kind) == ("q label", EntityKind.RELATION)
    assert [e.id for e in records].count("http://x.org/a") == 2  # named early, then again with the alias


def test_ntriples_names_gathered_in_parts_give_the_same_records(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A large file's first-pass names are gathered a part at a time; the records do not change."""
    import kg.readers.rdf as rdf

    wd, wdt = "http://www.wikidata.org/entity/", "http://www.wikidata.org/prop/direct/"
    label, alt = "<http://www.w3.org/2000/01/rdf-schema#label>", "<http://www.w3.org/2004/02/skos/core#altLabel>"
    lines = [f"<{wd}Q{i}> <{wdt}P{i % 3}> <{wd}Q{(i * 7) % 40}> ." for i in range(40)]
    lines += [f'<{wd}Q{i}> {label} "item {i}"@en .' for i in range(40)]
    lines += [f'<{wd}Q{i}> {alt} "alias {i}"@en .' for i in range(0, 40, 3)]  # a node's names far apart
    lines += ['<http://x.org/q> <http://www.w3.org/2000/01/rdf-schema#label> "q label"@en .',
              "<http://x.org/p> <http://x.org/q> <http://x.org/r> ."]
    path = write(tmp_path, "g.nt", "\n".join(lines) + "\n")
    whole = read_all(path, "nt")
    monkeypatch.setattr(rdf, "_NAME_PART_BYTES", 600)  # several parts for this small file
    assert rdf._name_parts(path) > 3
    parted = read_all(path, "nt")
    last = {e.id: e for b in parted for e in b.entities}
    assert last == {e.id: e for b in whole for e in b.entities}
    assert last["Q3"].aliases == ("alias 3",) and last["http://x.org/q"].kind is EntityKind.RELATION
    assert triples(parted) == triples(whole)
