"""RDF reader: N-Triples, Turtle, RDF/XML and JSON-LD, with Wikidata's RDF conventions.

Parsing uses pyoxigraph's streaming parser directly (``pyoxigraph.parse``, the Rust parser that
oxrdflib plugs into rdflib): quads come out lazily, so memory stays flat and nothing is built as
an rdflib ``Graph``. rdflib itself is not needed: pyoxigraph 0.5 parses all four syntaxes,
JSON-LD included, and unlike rdflib it never fetches a remote ``@context`` (offline; such a
document fails with a ``SourceFormatError`` asking for an inline context).

Terms become compact ids: ``wd:Q42`` -> ``Q42``, ``wdt:P31`` -> ``P31``, well-known namespaces ->
``rdfs:label``, ``schema:name``, ``dbr:Berlin`` ...; other IRIs stay whole; blank nodes ->
``_:<source tag>.<n>``, numbered by first appearance so that re-reading a file gives the same ids
(pyoxigraph names anonymous nodes randomly). Relative IRIs in Turtle, RDF/XML and JSON-LD
resolve against the file's ``file://`` URI.

Names are not triples: ``rdfs:label``, ``skos:prefLabel`` and ``schema:name`` give an entity's
labels, ``skos:altLabel`` its aliases, ``schema:description`` its description, filtered by
``ReaderOptions.languages`` with the rules of ``kg.readers.wikidata_props.pick_languages``
(untagged text counts as a label when the first language has none). They are gathered per
subject for the whole file (names are far smaller than triples) and yielded as entities after the
triples, which stream in batches of ``batch_size``.

Wikidata's reification machinery is skipped, because the truthy ``wdt:`` triples already carry
each best-rank statement:

* predicates under ``http://www.wikidata.org/prop/`` other than ``prop/direct/`` (``p:``, ``ps:``,
  ``psv:``, ``psn:``, ``pq:``, ``pqv:``, ``pr:``, ``prv:``, ``wdtn:``, ...) and every
  ``wikibase:`` predicate (ranks, sitelink counts, time/quantity value parts, property types);
* triples about statement (``s:``), reference (``ref:``), value (``v:``), property-namespace
  and ``wikibase:`` nodes, entity-data records (``data:``, with ``schema:about``, licence and
  version) and sitelink articles (``https://*.wikipedia.org/wiki/...`` and sister projects);
* ``rdf:type`` whose class is ``wikibase:`` (``a wikibase:Item``) or ``wdno:`` (no-value).

Ordinary ``rdf:type`` and every other predicate of non-Wikidata RDF are kept. Left out on
purpose: qualifiers (``pq:`` hangs off statement nodes that come after the ``wdt:`` triple in a
dump, so attaching them would mean holding triples back) and non-Earth globes of coordinates.

Provenance lines: exact for N-Triples. pyoxigraph reports no positions for parsed statements,
so for the other syntaxes every triple has line 0 (unknown); syntax errors do carry their line.
``skip_errors`` works for N-Triples only (one statement per line, so a bad line is dropped and
counted); the other syntaxes cannot resynchronise reliably and raise on the first error.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from kg.base import Batch, Entity, EntityKind, Literal, Provenance, Triple, ValueType
from kg.errors import SourceFormatError
from kg.readers.base import ErrorPolicy, ReaderOptions, open_binary, sniff
from kg.readers.rdf_terms import (
    LabelBook,
    NameKind,
    compact_iri,
    is_skipped_subject,
    is_skipped_type,
    name_kind,
    to_literal,
)
