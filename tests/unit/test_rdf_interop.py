"""rdflib both ways: an in-memory ``rdflib.Graph`` indexed, and an answer's cited subgraph as RDF."""

from __future__ import annotations

from pathlib import Path

import rdflib
from rdflib import RDF, RDFS, Literal, URIRef
from rdflib.namespace import PROV

from pipeline import KGQA
from pipeline.cli import main
from pipeline.render import KGQA_NS

EX = "http://example.org/"


def _graph(capital: str) -> rdflib.Graph:
    g = rdflib.Graph()
    france, city = URIRef(EX + "France"), URIRef(EX + capital)
    g.add((france, RDFS.label, Literal("France", lang="en")))
    g.add((city, RDFS.label, Literal(capital, lang="en")))
    g.add((URIRef(EX + "capital"), RDFS.label, Literal("capital", lang="en")))
    g.add((france, URIRef(EX + "capital"), city))
    g.add((france, URIRef(EX + "population"), Literal(66000000)))
    return g


def test_an_rdflib_graph_is_indexed_and_reindexed_by_difference(tmp_path: Path) -> None:
    with KGQA.open(tmp_path / "kb", progress=False, embedder="hashing", generator="off") as qa:
        first = qa.index(_graph("Paris"), name="demo")
        assert first.added == 2 and (tmp_path / "kb" / "graphs" / "demo.nt").exists()
        again = qa.index(_graph("Paris"), name="demo")
        assert again.status == "unchanged"
        changed = qa.index(_graph("Lyon"), name="demo")
        assert changed.added == 1 and changed.removed == 1
        answer = qa.ask("What is the capital of France?")
        assert [a.label for a in answer.answers][:1] == ["Lyon"]


def test_the_cited_subgraph_round_trips_as_rdf_with_provenance(tmp_path: Path) -> None:
    with KGQA.open(tmp_path / "kb", progress=False, embedder="hashing", generator="off") as qa:
        qa.index(_graph("Paris"), name="demo")
        answer = qa.ask("What is the capital of France?")
    parsed = rdflib.Graph().parse(data=answer.to_rdf(), format="turtle")
    assert (URIRef(EX + "France"), URIRef(EX + "capital"), URIRef(EX + "Paris")) in parsed
    statements = list(parsed.subjects(RDF.type, RDF.Statement))
    assert statements and all(parsed.value(s, PROV.wasDerivedFrom) for s in statements)
    assert any(parsed.value(s, URIRef(KGQA_NS + "line")) is not None for s in statements)
    assert parsed.value(URIRef(EX + "Paris"), RDFS.label) == Literal("Paris")


def test_ask_prints_the_subgraph_in_the_format_asked(tmp_path: Path, capsys: object) -> None:
    with KGQA.open(tmp_path / "kb", progress=False, embedder="hashing", generator="off") as qa:
        qa.index(_graph("Paris"), name="demo")
    for fmt, mark in (("ttl", "@prefix"), ("mermaid", "flowchart"), ("dot", "digraph")):
        assert main(["ask", "What is the capital of France?", "--kb", str(tmp_path / "kb"), "--embedder", "hashing",
                     "--generator", "off", "--format", fmt]) == 0
        out = capsys.readouterr().out  # type: ignore[attr-defined]
        assert mark in out, fmt
