"""Renderings of an ``Answer``: the reasoning for a terminal, and the cited subgraph as Mermaid,
Graphviz DOT or RDF (Turtle through rdflib, with each triple's provenance).

Labels are escaped for each format; node ids in Mermaid and DOT are generated (``n0``, ``n1``)
so that no label can break the syntax. Left out: HTML (the web page draws from ``to_dict``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from kg.base import LITERAL_PREFIX

if TYPE_CHECKING:
    from rdflib import Graph

    from pipeline.types import Answer

def _cite(numbers: tuple[int, ...]) -> str:
    """``[1, 3]``: citation numbers as the answer sentences write them."""
    return f"[{', '.join(map(str, numbers))}]" if numbers else ""


def explain(a: Answer) -> str:
    """The reasoning of ``a`` in readable lines (see ``Answer.explain``)."""
    lines = [f"Question: {a.question}    (intent: {a.intent})"]
    if a.resolved and a.resolved != a.question:
        lines.append(f"Resolved: {a.resolved}")
    for r in a.references:
        said = f'"{r.text}"' if r.text else "(nothing named)"
        lines.append(f"  {said} -> {r.label} [{r.id}] from turn {r.turn} (by {r.rule})")
    if a.intent not in ("question", "follow-up") and not a.citations:
        return "\n".join([*lines, f"Text: {a.text}"])
    if a.clarification is not None:
        return "\n".join([*lines, a.clarification.prompt()])
    lines.append("Linked entities:" if a.mentions else "Linked entities: none")
    for m in a.mentions:
        flag = " (ambiguous)" if m.ambiguous else ""
        lines.append(f'  "{m.text}" -> {m.label} [{m.id}] score {m.score:.2f}{flag}')
        if m.alternatives:
            lines.append("      also: " + ", ".join(f"{o.label} [{o.id}] {o.score:.2f}" for o in m.alternatives[:4]))
    rp = a.relation_path
    lines.append(f"Relation path: {rp.topic_label} -> {rp.text} ({rp.path}, score {rp.score:.2f})" if rp
                 else "Relation path: none")
    cited = a.subgraph()
    if cited:
        lines.append("Paths:")
        lines += [f"  [{c.number}] {c.text}    ({c.where()})" for c in cited]
    passages = [c for c in a.citations if c.kind == "passage" and c.number in a.cited]
    lines += [f"  [{c.number}] {c.text}    ({c.where()})" for c in passages]
    if a.answers:
        top = ", ".join(f"{x.label} {_cite(x.citations[:3])}".strip() for x in a.answers[:10])
        more = f" (and {len(a.answers) - 10} more)" if len(a.answers) > 10 else ""
        lines.append(f"Answer: {top}{more}    confidence {a.confidence:.2f}")
    how = "deterministic sentence" if a.generated is None else \
        "generated, failed checks: " + "; ".join(a.problems) if a.fallback else "generated, checked"
    if a.abstained:
        how = f"abstained: {a.why}"
    lines.append(f"Text: {a.text}    ({how})")
    if a.timings:
        lines.append("Timings: " + ", ".join(f"{k} {v:.1f} ms" for k, v in a.timings.items()))
    return "\n".join(lines)


def _graph(a: Answer) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """The cited subgraph: node id -> label, and (subject, predicate label, object) edges."""
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for c in a.subgraph():
        nodes.update(zip(c.nodes, c.labels))
        for t in c.triples:
            edge = (t.subject, t.predicate_label, t.object)
            if edge not in edges:
                edges.append(edge)
            for n in (t.subject, t.object):
                nodes.setdefault(n, n)
    return nodes, edges


def _roles(a: Answer) -> dict[str, str]:
    roles = {m.id: "topic" for m in a.mentions}
    roles.update({x.id: "answer" for x in a.answers})
    return roles


def _mermaid_text(text: str) -> str:
    out = text.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
    return " ".join(out.split())


def mermaid(a: Answer) -> str:
    """A Mermaid ``flowchart LR`` of the cited subgraph; node ids are ``n0, n1, ...``."""
    nodes, edges = _graph(a)
    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    roles = _roles(a)
    lines = ["flowchart LR"]
    for node, label in nodes.items():
        style = f":::{roles[node]}" if node in roles else ""
        lines.append(f'  {ids[node]}["{_mermaid_text(label)}"]{style}')
    lines += [f'  {ids[s]} -->|"{_mermaid_text(p)}"| {ids[o]}' for s, p, o in edges]
    lines += ["  classDef answer fill:#fff3b0,stroke:#b08900", "  classDef topic fill:#dbeafe,stroke:#1d4ed8"]
    return "\n".join(lines)


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "") + '"'


def dot(a: Answer) -> str:
    """A Graphviz ``digraph`` of the cited subgraph; node ids are ``n0, n1, ...``."""
    nodes, edges = _graph(a)
    ids = {node: f"n{i}" for i, node in enumerate(nodes)}
    roles = _roles(a)
    fill = {"answer": ', style=filled, fillcolor="#fff3b0"', "topic": ', style=filled, fillcolor="#dbeafe"'}
    lines = ["digraph cited {", "  rankdir=LR;", "  node [shape=box];"]
    for node, label in nodes.items():
        lines.append(f"  {ids[node]} [label={_dot_text(label)}{fill.get(roles.get(node, ''), '')}];")
    lines += [f"  {ids[s]} -> {ids[o]} [label={_dot_text(p)}];" for s, p, o in edges]
    lines.append("}")
    return "\n".join(lines)


KGQA_NS = "https://kgqa.dev/ns#"
NODE_NS = "https://kgqa.dev/node/"


def rdf_graph(a: Answer) -> Graph:
    """The cited subgraph as an rdflib ``Graph``: each cited triple asserted, labelled, and reified
    as a statement with its source (``prov:wasDerivedFrom``) and line (``kgqa:line``); the answer
    itself as a ``kgqa:Answer`` with its question, text and cited statements."""
    from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
    from rdflib.namespace import PROV

    ns = Namespace(KGQA_NS)
    graph = Graph()
    graph.bind("kgqa", ns)
    graph.bind("prov", PROV)
    answer = URIRef(f"urn:kgqa:answer:{a.id}")
    graph.add((answer, RDF.type, ns.Answer))
    graph.add((answer, ns.question, Literal(a.question)))
    graph.add((answer, ns.text, Literal(a.text)))
    for c in a.subgraph():
        labels = dict(zip(c.nodes, c.labels))
        for t in c.triples:
            s, o = _rdf_node(t.subject, labels, URIRef, Literal), _rdf_node(t.object, labels, URIRef, Literal)
            p = URIRef(_iri(t.predicate))
            graph.add((s, p, o))
            graph.add((p, RDFS.label, Literal(t.predicate_label)))
            for node, term in ((t.subject, s), (t.object, o)):
                if isinstance(term, URIRef) and node in labels:
                    graph.add((term, RDFS.label, Literal(labels[node])))
            statement = BNode()
            graph.add((statement, RDF.type, RDF.Statement))
            graph.add((statement, RDF.subject, s))
            graph.add((statement, RDF.predicate, p))
            graph.add((statement, RDF.object, o))
            graph.add((statement, PROV.wasDerivedFrom, Literal(t.source)))
            if t.line:
                graph.add((statement, ns.line, Literal(t.line)))
            graph.add((statement, ns.citation, Literal(c.number)))
            graph.add((answer, ns.cites, statement))
    for item in a.answers:
        graph.add((answer, ns.answer, _rdf_node(item.id, {item.id: item.label}, URIRef, Literal)))
    return graph


def _iri(node: str) -> str:
    """Node and predicate ids that are IRIs stay themselves; others get one under ``NODE_NS``."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|[^\s/])", node) and not node.startswith(LITERAL_PREFIX):
        return node
    return NODE_NS + quote(node, safe="")


def _rdf_node(node: str, labels: dict[str, str], uri: Any, literal: Any) -> Any:
    """A literal node becomes an RDF literal of its label (its value); others an IRI."""
    if node.startswith(LITERAL_PREFIX):
        return literal(labels.get(node, node))
    return uri(_iri(node))
