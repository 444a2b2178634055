"""The knowledge model: frozen value types that every layer passes around.

Records carry their provenance (source and line or offset), so a citation is just data.
Triples are also kept column-wise in a ``Batch``: readers stream millions of rows, and one
object per row would cost more than the parse. This module does no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd

LITERAL_PREFIX = "lit:"


class ValueType(str, Enum):
    """The kinds of literal value a triple's object may hold."""

    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    QUANTITY = "quantity"
    COORDINATES = "coordinates"
    OTHER = "other"


class EntityKind(str, Enum):
    """What a node of the graph stands for."""

    ENTITY = "entity"
    LITERAL = "literal"
    RELATION = "relation"


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a record came from: a source id and a 1-based line or a byte/char offset."""

    source: str
    line: int | None = None
    offset: int | None = None


@dataclass(frozen=True, slots=True)
class Literal:
    """A typed value: a string with a language, a number, a date, a quantity or coordinates.

    ``value`` is the lexical form: ``"42"``, ``"1952-03-11T00:00:00Z"``, ``"41.9 12.5"``
    (latitude, longitude). ``precision`` is Wikidata's time precision (9 year, 11 day).
    """

    value: str
    type: ValueType = ValueType.STRING
    lang: str | None = None
    unit: str | None = None
    precision: int | None = None

    def node_id(self) -> str:
        """The content-derived id of the graph node that holds this value."""
        text = json.dumps([self.type.value, self.value, self.lang, self.unit, self.precision])
        return LITERAL_PREFIX + hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def display(self) -> str:
        """A short human-readable form, used as the literal node's label."""
        if self.type is ValueType.DATETIME:
            return _display_date(self.value, self.precision)
        if self.type is ValueType.QUANTITY and self.unit:
            return f"{self.value} {self.unit}"
        if self.type is ValueType.COORDINATES:
            lat, _, lon = self.value.partition(" ")
            return f"{lat}, {lon}"
        return self.value

    def to_entity(self, provenance: Provenance | None = None) -> Entity:
        """The node that stands for this value in the graph."""
        return Entity(self.node_id(), self.display(), kind=EntityKind.LITERAL, literal=self,
                      provenance=provenance)


def _display_date(value: str, precision: int | None) -> str:
    sign = "-" if value.startswith("-") else ""
    body = value.lstrip("+-")
    date, _, _ = body.partition("T")
    parts = date.split("-")
    if precision is not None and precision <= 9 or len(parts) < 3:
        return sign + parts[0].lstrip("0").rjust(1, "0")
    if precision == 10:
        return sign + "-".join(parts[:2])
    return sign + date


@dataclass(frozen=True, slots=True)
class Entity:
    """A node: an entity with its names, a literal value, or a relation (property) with its label.

    ``labels`` holds (language, label) pairs for languages other than the main ``label``;
    ``aliases`` holds other names in any kept language.
    """

    id: str
    label: str | None = None
    aliases: tuple[str, ...] = ()
    description: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    kind: EntityKind = EntityKind.ENTITY
    literal: Literal | None = None
    provenance: Provenance | None = None

    def label_in(self, lang: str) -> str | None:
        """The label in ``lang``, if the source gave one."""
        return next((text for code, text in self.labels if code == lang), None)

    def names(self) -> tuple[str, ...]:
        """Every surface form: label, labels in other languages, aliases (deduplicated)."""
        seen = dict.fromkeys(n for n in (self.label, *(t for _, t in self.labels), *self.aliases) if n)
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Triple:
    """A statement ``subject -predicate-> object``; the object is an entity id or a Literal."""

    subject: str
    predicate: str
    object: str | Literal
    provenance: Provenance | None = None
    qualifiers: tuple[tuple[str, str | Literal], ...] = ()

    @property
    def object_id(self) -> str:
        return self.object.node_id() if isinstance(self.object, Literal) else self.object

    def key(self) -> int:
        """The content-derived 64-bit id of this statement (see ``triple_keys``)."""
        return int(triple_keys([self.subject], [self.predicate], [self.object_id])[0])


@dataclass(frozen=True, slots=True)
class Passage:
    """A piece of text with the entities it is linked to."""

    id: str
    text: str
    title: str | None = None
    entities: tuple[str, ...] = ()
    provenance: Provenance | None = None


_MIX = np.uint64(0x9E3779B97F4A7C15)


def triple_keys(subjects: Sequence[str] | np.ndarray, predicates: Sequence[str] | np.ndarray,
                objects: Sequence[str] | np.ndarray) -> np.ndarray:
    """Content-derived signed 64-bit keys for triples, computed column-wise.

    The same (subject, predicate, object) always gets the same key, whichever source or run
    produced it; this is what makes ingestion idempotent and lets re-indexing diff key sets.
    """
    cols = [pd.util.hash_array(np.asarray(c, dtype=object)) for c in (subjects, predicates, objects)]
    with np.errstate(over="ignore"):
        h = cols[0]
        for c in cols[1:]:
            h = (h * _MIX) ^ c
    keys: np.ndarray = h.view(np.int64)
    return keys


def qualifiers_json(qualifiers: Sequence[tuple[str, str | Literal]]) -> str | None:
    """Qualifiers as compact JSON (``[[predicate, id-or-literal-display], ...]``), or None."""
    if not qualifiers:
        return None
    return json.dumps([[p, v.display() if isinstance(v, Literal) else v] for p, v in qualifiers],
                      ensure_ascii=False)


@dataclass
class Batch:
    """One slice of a source: triples column-wise, plus entities and passages as records.

    A literal object is stored by its node id in ``objects``; its value lives in ``literals``
    and it also appears in ``entities`` as a literal node. ``skipped`` counts malformed
    records that a reader passed over with ``skip_errors``.
    """

    subjects: list[str] = field(default_factory=list)
    predicates: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    qualifiers: list[str | None] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    literals: dict[str, Literal] = field(default_factory=dict)
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.subjects) + len(self.entities) + len(self.passages)

    @property
    def size(self) -> int:
        """Number of triples in the batch."""
        return len(self.subjects)

    def add(self, triple: Triple, line: int = 0) -> None:
        """Append one triple (and, for a literal object, its literal node)."""
        obj = triple.object
        if isinstance(obj, Literal):
            node = obj.node_id()
            if node not in self.literals:
                self.literals[node] = obj
                self.entities.append(obj.to_entity(triple.provenance))
            obj = node
        self.subjects.append(triple.subject)
        self.predicates.append(triple.predicate)
        self.objects.append(obj)
        self.lines.append(line)
        self.qualifiers.append(qualifiers_json(triple.qualifiers))

    def extend(self, other: Batch) -> None:
        """Append ``other``'s records to this batch."""
        for name in ("subjects", "predicates", "objects", "lines", "qualifiers", "entities", "passages"):
            getattr(self, name).extend(getattr(other, name))
        self.literals.update(other.literals)
        self.skipped += other.skipped

    def triples(self, source: str) -> Iterator[Triple]:
        """The triples as records (literal objects restored to ``Literal``)."""
        for s, p, o, line in zip(self.subjects, self.predicates, self.objects, self.lines):
            obj: str | Literal = self.literals.get(o, o)
            yield Triple(s, p, obj, Provenance(source, line))
