"""RDF reader: N-Triples, Turtle, RDF/XML and JSON-LD, with Wikidata's RDF conventions.

Parsing uses pyoxigraph's streaming parser directly (``pyoxigraph.parse``, the Rust parser that
oxrdflib plugs into rdflib): statements come out lazily and memory stays flat. No rdflib
``Graph`` is built and rdflib is not needed: pyoxigraph 0.5 parses all four syntaxes, JSON-LD
included, and never fetches a remote ``@context`` (the error asks for an inline context).

Terms become compact ids: ``wd:Q42`` -> ``Q42``, ``wdt:P31`` -> ``P31``, well-known namespaces ->
``rdfs:label``, ``dbr:Berlin`` ...; other IRIs stay whole; blank nodes -> ``_:<source tag>.<n>``,
numbered by first appearance so that re-reading a file gives the same ids (pyoxigraph names
anonymous nodes randomly). Relative IRIs resolve against the file's URI.

Names are not triples: ``rdfs:label``, ``skos:prefLabel`` and ``schema:name`` give labels,
``skos:altLabel`` aliases, ``schema:description`` the description, filtered by
``ReaderOptions.languages`` as ``kg.readers.wikidata_props.pick_languages`` does (untagged text
is the main label when the first language has none). They are gathered per subject for the whole
file (names are far smaller than triples). N-Triples files are read twice, name lines first, so
the entities are yielded before the triples (the store then creates each node with its record);
the other syntaxes are parsed once and yield the entities after the streamed triples.

Wikidata's reification machinery is skipped, as the truthy ``wdt:`` triples already carry each
best-rank statement: predicates under ``prop/`` other than ``prop/direct/`` (``p:``, ``ps:``,
``psv:``, ``pq:``, ``pr:``, ``wdtn:``, ...) and all ``wikibase:`` predicates (rank, counts, value
node parts); triples about statement (``s:``), reference (``ref:``), value (``v:``), ``prop/`` and
``wikibase:`` nodes, entity-data records (``data:``, with ``schema:about``) and sitelink articles
(``https://<site>.wikipedia.org/...`` and sister projects); ``rdf:type`` with a ``wikibase:``
(``a wikibase:Item``) or ``wdno:`` (no value) class; and an entity's ``schema:version``,
``schema:dateModified``, ``schema:softwareVersion``, ``cc:license`` (revision bookkeeping).
Ordinary ``rdf:type`` and all other predicates of non-Wikidata RDF are kept. Left out on purpose:
qualifiers (``pq:`` hangs off statement nodes that follow the ``wdt:`` triple; attaching them
would mean holding triples back) and the globe of non-Earth coordinates.

Provenance lines are exact for N-Triples. pyoxigraph gives no position for parsed statements, so
in the other syntaxes triples carry line 0 (unknown); their syntax errors do carry a line where
the parser reports one (not RDF/XML). ``skip_errors`` drops and counts bad N-Triples lines; the
other syntaxes cannot resynchronise reliably and raise on the first error.

Why just over the house's ~400 lines: the Wikidata RDF conventions (what is skipped, how terms
become ids) must stay beside the streaming loop that applies them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

import pyoxigraph as ox

from kg.base import Batch, Entity, EntityKind, Literal, Provenance, Triple, ValueType
from kg.errors import SourceFormatError
from kg.readers.base import COMPRESSED, ErrorPolicy, ReaderOptions, open_binary, sniff
from kg.readers.wikidata_props import MUL, pick_languages
from kg.spill import Partitions, SpilledRecords

SYNTAXES = {"nt": ox.RdfFormat.N_TRIPLES, "ttl": ox.RdfFormat.TURTLE,
            "rdfxml": ox.RdfFormat.RDF_XML, "jsonld": ox.RdfFormat.JSON_LD}

RDF, RDFS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "http://www.w3.org/2000/01/rdf-schema#"
XSD, SKOS = "http://www.w3.org/2001/XMLSchema#", "http://www.w3.org/2004/02/skos/core#"
GEO, WIKIBASE = "http://www.opengis.net/ont/geosparql#", "http://wikiba.se/ontology#"
WD = "http://www.wikidata.org/"
WD_ENTITY, WD_PROP, WD_DIRECT, WD_NOVALUE = (WD + "entity/", WD + "prop/", WD + "prop/direct/",
                                             WD + "prop/novalue/")

PREFIXES = {
    RDF: "rdf", RDFS: "rdfs", XSD: "xsd", SKOS: "skos", GEO: "geo", WIKIBASE: "wikibase",
    "http://www.w3.org/2002/07/owl#": "owl", "http://schema.org/": "schema",
    "http://xmlns.com/foaf/0.1/": "foaf", "http://purl.org/dc/terms/": "dct",
    "http://purl.org/dc/elements/1.1/": "dc", "http://www.w3.org/ns/prov#": "prov",
    "http://dbpedia.org/resource/": "dbr", "http://dbpedia.org/ontology/": "dbo",
    "http://dbpedia.org/property/": "dbp", "http://www.w3.org/ns/lemon/ontolex#": "ontolex",
    "http://creativecommons.org/ns#": "cc", WD_ENTITY: "wd", WD_PROP: "p",
    WD + "prop/statement/": "ps", WD + "prop/qualifier/": "pq", WD + "prop/reference/": "pr",
    WD_NOVALUE: "wdno", WD + "entity/statement/": "s", WD + "reference/": "ref",
    WD + "value/": "v",
}

# Subjects whose triples are Wikidata bookkeeping, not knowledge (see the module docstring).
_SKIPPED_SUBJECTS = (WD + "entity/statement/", WD + "reference/", WD + "value/", WD_PROP,
                     WIKIBASE, "https://www.wikidata.org/wiki/Special:EntityData/")
_SITELINK = re.compile(r"https://[^/]+\.(?:wikipedia|wikivoyage|wikiquote|wikisource|wikibooks|"
                       r"wikinews|wikiversity|wiktionary|wikimedia|wikidata|mediawiki)\.org/")
_WIKIDATA_ID = re.compile(r"[A-Z]\d+(?:-[A-Z]\d+)?")
_POINT = re.compile(r"\s*(?:<[^>]*>\s*)?POINT\s*\(\s*(\S+)\s+(\S+)\s*\)\s*", re.IGNORECASE)
_ERROR_AT = re.compile(r"Parser error at line \d+ (?:between columns (\d+) and \d+|column (\d+)): ")

_NUMBER_TYPES = {"integer", "decimal", "double", "float", "int", "long", "short", "byte",
                 "nonNegativeInteger", "positiveInteger", "negativeInteger", "nonPositiveInteger",
                 "unsignedLong", "unsignedInt", "unsignedShort", "unsignedByte"}
_DATE_PRECISION = {"dateTime": None, "dateTimeStamp": None, "date": 11, "gYearMonth": 10, "gYear": 9}
_STRING_TYPES = {XSD + "string", RDF + "langString"}

# What a predicate does to a statement.
_KEEP, _SKIP, _TYPE, _METADATA, _LABEL, _ALIAS, _DESCRIPTION = range(7)
# Entity-data bookkeeping that the query service's dumps move onto the entity itself.
_METADATA_PREDICATES = {"http://schema.org/version", "http://schema.org/dateModified",
                        "http://schema.org/softwareVersion", "http://creativecommons.org/ns#license"}
_NAME_PREDICATES = {
    RDFS + "label": _LABEL, SKOS + "prefLabel": _LABEL, "http://schema.org/name": _LABEL,
    "https://schema.org/name": _LABEL, SKOS + "altLabel": _ALIAS,
    "http://schema.org/description": _DESCRIPTION, "https://schema.org/description": _DESCRIPTION,
}
_NT_CHUNK_BYTES = 1 << 20
# The first N-Triples pass gathers names one part at a time, a part per this many bytes of file
# (compressed files count 8 bytes a byte): a 10M-triple Wikidata-like file (1.4 GB, 1.25M named
# items) gets 6 parts, about 200k named nodes in memory at once instead of 1.25M.
_NAME_PART_BYTES = 256 << 20
# An N-Triples line naming a non-blank subject: a name predicate IRI right after the subject.
_NAME_LINE = re.compile(rb"\s*<[^>]*>\s*<(?:" + b"|".join(re.escape(iri.encode()) for iri in _NAME_PREDICATES)
                        + rb")>")
_T = TypeVar("_T")


def compact_iri(iri: str) -> str:
    """The compact id of an IRI: ``Q42``, ``P31`` for Wikidata, ``prefix:local`` or the IRI."""
    if iri.startswith(WD_ENTITY):
        local = iri[len(WD_ENTITY):]
        if (local[:1].isupper() and local[1:].isdecimal()) or _WIKIDATA_ID.fullmatch(local):
            return local
    if iri.startswith(WD_DIRECT):
        return iri[len(WD_DIRECT):]
    cut = max(iri.rfind("/"), iri.rfind("#")) + 1
    prefix = PREFIXES.get(iri[:cut])
    return f"{prefix}:{iri[cut:]}" if prefix and cut < len(iri) else iri


def to_literal(term: ox.Literal) -> Literal:
    """The ``Literal`` for an RDF literal: numbers, dates, WKT points, strings, other values."""
    value, lang = term.value, term.language
    if lang:
        return Literal(value, ValueType.STRING, lang=lang.lower())
    datatype = term.datatype.value
    if datatype in _STRING_TYPES:
        return Literal(value)
    if datatype.startswith(XSD):
        local = datatype[len(XSD):]
        if local in _NUMBER_TYPES:
            return Literal(value, ValueType.NUMBER)
        if local in _DATE_PRECISION:
            # Kept as text: Wikidata writes years such as -13798000000 that no date type holds.
            return Literal(value, ValueType.DATETIME, precision=_DATE_PRECISION[local])
    if datatype == GEO + "wktLiteral":
        point = _POINT.fullmatch(value)
        if point:
            return Literal(f"{point[2]} {point[1]}", ValueType.COORDINATES)
    return Literal(value, ValueType.OTHER)


def _classify(predicate: str) -> int:
    if predicate in _NAME_PREDICATES:
        return _NAME_PREDICATES[predicate]
    if predicate == RDF + "type":
        return _TYPE
    if predicate in _METADATA_PREDICATES:
        return _METADATA
    if predicate.startswith(WIKIBASE) or (predicate.startswith(WD_PROP)
                                          and not predicate.startswith(WD_DIRECT)):
        return _SKIP
    return _KEEP


def _pick(available: dict[str, _T], languages: tuple[str, ...]) -> list[str]:
    """``pick_languages``: without regional codes (``zh-hans``) it keeps exact matches in order."""
    if "-" in "".join(available):
        return pick_languages(available, languages)
    return [code for code in dict.fromkeys((*languages, MUL)) if code in available]


def _variant_of(code: str, wanted: str) -> bool:
    return code == wanted or code.startswith(wanted + "-")


def _skipped_subject(subject: str) -> bool:
    return subject.startswith(_SKIPPED_SUBJECTS) or (
        subject.startswith("https://") and _SITELINK.match(subject) is not None)


@dataclass
class _Names:
    """One subject's names, per language code ("" for untagged text)."""

    line: int
    labels: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, list[str]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def entity(self, node: str, languages: tuple[str, ...], kind: EntityKind, source: str) -> Entity:
        tagged = {code: text for code, text in self.labels.items() if code}
        codes = _pick(tagged, languages)
        untagged = self.labels.get("")
        first_is_main = bool(codes) and _variant_of(codes[0], languages[0])
        main_code = codes[0] if first_is_main or (codes and untagged is None) else None
        label = tagged[main_code] if main_code else untagged
        others = tuple((code, tagged[code]) for code in codes if code != main_code)
        alias_texts = [t for code in _pick(self.aliases, languages) for t in self.aliases[code]]
        if untagged is not None and untagged != label:
            alias_texts.append(untagged)
        alias_texts.extend(self.aliases.get("", ()))
        desc = _pick(self.descriptions, languages)
        description = self.descriptions[desc[0]] if desc else self.descriptions.get("")
        return Entity(node, label, aliases=tuple(dict.fromkeys(alias_texts)), description=description,
                      labels=others, kind=kind, provenance=Provenance(source, self.line or None))

    def to_bytes(self) -> bytes:
        return json.dumps([self.line, self.labels, self.aliases, self.descriptions], ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> _Names:
        line, labels, aliases, descriptions = json.loads(blob)
        return cls(line, labels, aliases, descriptions)


class _FileState:
    """What one read keeps across statements: blank-node ids, names, predicates seen."""

    def __init__(self, source: str, languages: tuple[str, ...]) -> None:
        self.source = source
        self.languages = languages
        self.tag = hashlib.blake2b(source.encode(), digest_size=4).hexdigest()
        self.blanks: dict[str, str] = {}
        self.names: dict[str, _Names] = {}
        self.spool: Partitions | None = None  # the first pass's names of a large file, by part
        self.parked: list[SpilledRecords] = []  # names whose entities were yielded, on disk, by part
        self.relations: set[str] = set()
        self.rules: dict[ox.NamedNode, tuple[int, str]] = {}
        self.last_subject: ox.NamedNode | ox.BlankNode | None = None
        self.last_subject_id: str | None = None
        self.kept: dict[str, bool] = {}
        self.late: set[str] | None = None  # subjects named after their entities were yielded

    def node(self, term: ox.NamedNode | ox.BlankNode) -> str:
        if isinstance(term, ox.NamedNode):
            return compact_iri(term.value)
        found = self.blanks.get(term.value)
        if found is None:
            found = self.blanks[term.value] = f"_:{self.tag}.{len(self.blanks)}"
        return found

    def keeps(self, code: str) -> bool:
        """Whether names in language ``code`` can matter (the language, a variant, or ``mul``)."""
        kept = self.kept.get(code)
        if kept is None:
            kept = self.kept[code] = not code or code == MUL or any(
                _variant_of(code, wanted) for wanted in self.languages)
        return kept

    def add_name(self, subject: str, action: int, term: ox.Literal, line: int) -> None:
        code = (term.language or "").lower()
        if not self.keeps(code):
            return
        if self.spool is not None:
            self.spool.add(subject, json.dumps([subject, action, code, term.value, line], ensure_ascii=False).encode())
            return
        self._add_name(subject, action, code, term.value, line)

    def _add_name(self, subject: str, action: int, code: str, text: str, line: int) -> None:
        names = self.names_of(subject)
        if names is None:
            names = self.names[subject] = _Names(line)
        if self.late is not None:
            self.late.add(subject)
        if action == _LABEL:
            names.labels.setdefault(code, text)
        elif action == _DESCRIPTION:
            names.descriptions.setdefault(code, text)
        else:
            names.aliases.setdefault(code, []).append(text)

    def gather(self, part: int) -> None:
        """Read one part of the spooled names into memory."""
        for record in self.spool.read(part) if self.spool is not None else ():
            self._add_name(*json.loads(record))

    def park(self) -> None:
        """Move the names in memory to a temporary file (their entities have been yielded)."""
        self.parked.append(SpilledRecords((node, names.to_bytes()) for node, names in self.names.items()))
        self.names = {}

    def _parked_part(self, node: str) -> SpilledRecords | None:
        part = self.spool.part(node) if self.spool is not None else 0
        return self.parked[part] if part < len(self.parked) else None  # parts not parked yet hold nothing

    def names_of(self, node: str) -> _Names | None:
        """The node's names, taken back into memory when they were parked; None if it has none."""
        found = self.names.get(node)
        parked = None if found is not None else self._parked_part(node)
        if parked is not None:
            blob = parked.get(node)
            if blob is not None:
                found = self.names[node] = _Names.from_bytes(blob)
        return found

    def named(self, node: str) -> bool:
        parked = self._parked_part(node)
        return node in self.names or (parked is not None and node in parked)

    def close(self) -> None:
        for parked in self.parked:
            parked.close()
        if self.spool is not None:
            self.spool.close()

    def rule(self, predicate: ox.NamedNode) -> tuple[int, str]:
        """What to do with ``predicate`` and its compact id (cached: predicates are few)."""
        found = self.rules.get(predicate)
        if found is None:
            found = self.rules[predicate] = (_classify(predicate.value), compact_iri(predicate.value))
        return found

    def subject_id(self, subject: ox.NamedNode | ox.BlankNode) -> str | None:
        """The subject's id, or None for Wikidata bookkeeping nodes (cached: subjects repeat)."""
        if subject != self.last_subject:
            self.last_subject = subject
            skipped = isinstance(subject, ox.NamedNode) and _skipped_subject(subject.value)
            self.last_subject_id = None if skipped else self.node(subject)
        return self.last_subject_id

    def take(self, quad: ox.Quad, line: int, batch: Batch) -> None:
        """Add one statement to ``batch`` as a triple, to the names, or drop it."""
        subject, predicate, obj, _ = quad
        action, pid = self.rule(predicate)
        sid = None if action == _SKIP else self.subject_id(subject)
        if sid is None or isinstance(obj, ox.Triple):
            return
        if isinstance(obj, ox.Literal):
            if action >= _LABEL:
                self.add_name(sid, action, obj, line)
            elif action != _METADATA or not subject.value.startswith(WD_ENTITY):
                self.relations.add(pid)
                batch.add(Triple(sid, pid, to_literal(obj), Provenance(self.source, line or None)), line)
            return
        if action == _TYPE and obj.value.startswith((WIKIBASE, WD_NOVALUE)):
            return
        self.relations.add(pid)
        # Entity objects skip Batch.add: no literal node to make, nothing to look up.
        batch.subjects.append(sid)
        batch.predicates.append(pid)
        batch.objects.append(self.node(obj))
        batch.lines.append(line)
        batch.qualifiers.append(None)

    def entities(self, nodes: Iterable[str] | None = None) -> Iterator[Entity]:
        """The named nodes' entities (of ``nodes`` only, when given)."""
        for node in self.names if nodes is None else nodes:
            names = self.names[node]
            relation = node in self.relations or bool(node[:1] == "P" and _WIKIDATA_ID.fullmatch(node))
            kind = EntityKind.RELATION if relation else EntityKind.ENTITY
            yield names.entity(node, self.languages, kind, self.source)


class RdfReader:
    """Streams an RDF file (N-Triples, Turtle, RDF/XML or JSON-LD, plain or compressed)."""

    def __init__(self, syntax: str) -> None:
        if syntax not in SYNTAXES:
            raise ValueError(f"unknown RDF syntax {syntax!r}; expected one of {', '.join(SYNTAXES)}")
        self.format = syntax

    def read(self, path: Path, source: str, options: ReaderOptions) -> Iterator[Batch]:
        """Yield the file's triples in batches of ``options.batch_size``, then its named entities.

        Args:
            path: the RDF file, possibly .gz/.bz2/.xz compressed.
            source: the source id recorded in provenance.
            options: batch size, ``skip_errors`` (N-Triples only), languages, property labels.

        Raises:
            SourceFormatError: the file is missing, empty, binary, or not valid RDF (with its line).
        """
        sniff(path)
        state = _FileState(source, tuple(code.lower() for code in options.languages))
        policy = ErrorPolicy(options.skip_errors)
        if self.format == "nt":
            yield from _nt_batches(path, state, policy, options)
            return
        with open_binary(path) as fh:
            yield from _statement_batches(_document_statements(fh, path, SYNTAXES[self.format], policy.skip),
                                          state, policy, options.batch_size)
        yield from _entity_batches(_with_property_labels(state, options), options.batch_size)


def _statement_batches(statements: Iterator[tuple[int, ox.Quad]], state: _FileState, policy: ErrorPolicy,
                       size: int) -> Iterator[Batch]:
    batch = Batch()
    for line, quad in statements:
        state.take(quad, line, batch)
        if batch.size >= size:
            batch.skipped = policy.take()
            yield batch
            batch = Batch()
    batch.skipped = policy.take()
    if len(batch) or batch.skipped:
        yield batch


def _nt_batches(path: Path, state: _FileState, policy: ErrorPolicy, options: ReaderOptions) -> Iterator[Batch]:
    """N-Triples in two passes over the file: the name lines first, then the rest.

    Names first means each entity's record reaches the store with the node itself (one bulk
    COPY) instead of updating, after the triples, nodes they created bare: updating a node in
    LadybugDB costs far more than creating it. Names are found by a byte pattern (a line whose
    predicate IRI is a name predicate and whose subject is not a blank node, so blank nodes are
    numbered in file order as before); a name the pattern misses (an escaped IRI) is read in
    the second pass, and its entity is yielded again at the end, as are named nodes that the
    second pass shows to be relations (their kind changes). Memory does not grow with the
    number of named nodes (``kg.spill``): a large file's first-pass names go to part files by
    node and are gathered a part at a time; once a part's entities are yielded its names wait
    in a temporary file for the second pass.
    """
    parts = _name_parts(path)
    state.spool = Partitions(parts) if parts > 1 else None
    try:
        with open_binary(path) as fh:
            yield from _statement_batches(_nt_statements(fh, path, policy, names=True), state, policy,
                                          options.batch_size)
        known = set(state.relations)  # what the entities yielded next are told
        for part in range(parts):
            if state.spool is not None:
                state.gather(part)
            yield from _entity_batches(state.entities(), options.batch_size)
            state.park()
        state.late = set()
        with open_binary(path) as fh:
            yield from _statement_batches(_nt_statements(fh, path, policy, names=False), state, policy,
                                          options.batch_size)
        for node in state.relations - known:
            state.names_of(node)  # a node named in the first pass is a relation after all
        again = [node for node in state.names if node in state.late or (node in state.relations and node not in known)]
        yield from _entity_batches(_with_property_labels(state, options, again), options.batch_size)
    finally:
        state.close()


def _name_parts(path: Path) -> int:
    size = path.stat().st_size * (8 if path.suffix.lower() in COMPRESSED else 1)
    return 1 + size // _NAME_PART_BYTES


def _document_statements(fh: IO[bytes], path: Path, syntax: ox.RdfFormat,
                         skip: bool) -> Iterator[tuple[int, ox.Quad]]:
    base = path.resolve().as_uri()
    try:
        for quad in ox.parse(fh, syntax, base_iri=base):
            yield 0, quad
    except SyntaxError as exc:
        error = _syntax_error(path, exc, 0)
        note = " (skip_errors applies to N-Triples only: this syntax cannot resume after an error)"
        raise SourceFormatError(path, error.reason + (note if skip else ""), error.line) from exc
    except (OSError, EOFError) as exc:
        raise SourceFormatError(path, f"truncated or corrupt ({exc})") from exc


def _nt_statements(fh: IO[bytes], path: Path, policy: ErrorPolicy,
                   names: bool | None = None) -> Iterator[tuple[int, ox.Quad]]:
    """N-Triples in chunks of lines; a chunk with an error is parsed again line by line.

    A clean chunk has one statement per non-blank, non-comment line, which gives exact line
    numbers at full parser speed. ``names`` keeps only the name lines (True) or only the
    others (False); None keeps every line.
    """
    first = 1
    while True:
        try:
            lines = fh.readlines(_NT_CHUNK_BYTES)
        except (OSError, EOFError) as exc:
            raise SourceFormatError(path, f"truncated or corrupt ({exc})", first) from exc
        if not lines:
            return
        numbered = [(first + i, raw) for i, raw in enumerate(lines)
                    if raw.strip() and not raw.lstrip().startswith(b"#")
                    and (names is None or (_NAME_LINE.match(raw) is not None) is names)]
        first += len(lines)
        if not numbered:
            continue
        try:
            quads = list(ox.parse(b"".join(raw for _, raw in numbered), ox.RdfFormat.N_TRIPLES))
        except SyntaxError:
            quads = []
        if quads and len(quads) == len(numbered):
            yield from zip((n for n, _ in numbered), quads, strict=True)
        else:
            yield from _nt_lines(numbered, path, policy)


def _nt_lines(numbered: list[tuple[int, bytes]], path: Path,
              policy: ErrorPolicy) -> Iterator[tuple[int, ox.Quad]]:
    for number, raw in numbered:
        try:
            quads = list(ox.parse(raw, ox.RdfFormat.N_TRIPLES))
        except SyntaxError as exc:
            policy.handle(_syntax_error(path, exc, number - 1))
            continue
        for quad in quads:
            yield number, quad


def _syntax_error(path: Path, exc: SyntaxError, offset: int) -> SourceFormatError:
    """A ``SourceFormatError`` from pyoxigraph's error, its line shifted by ``offset``."""
    message = str(exc.msg)
    where = _ERROR_AT.match(message)
    if where:
        message = f"{message[where.end():]} (column {where[1] or where[2]})"
    if "LoadDocumentCallback" in message:
        message = "remote JSON-LD @context documents are not fetched; inline the context"
    line = exc.lineno + offset if exc.lineno else None
    return SourceFormatError(path, f"invalid RDF: {message}", line)


def _with_property_labels(state: _FileState, options: ReaderOptions,
                          nodes: Iterable[str] | None = None) -> Iterator[Entity]:
    yield from state.entities(nodes)
    if options.property_labels is not None:
        from kg.readers.wikidata_props import load_property_labels

        for entity in load_property_labels(options.property_labels, options.languages):
            if entity.id in state.relations and not state.named(entity.id):  # only those used
                yield entity


def _entity_batches(entities: Iterator[Entity], size: int) -> Iterator[Batch]:
    batch = Batch()
    for entity in entities:
        batch.entities.append(entity)
        if len(batch.entities) >= size:
            yield batch
            batch = Batch()
    if batch.entities:
        yield batch
