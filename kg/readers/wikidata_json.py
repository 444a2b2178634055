"""Read Wikidata JSON entity dumps (``latest-all.json``, API-style streams) as batches.

The file is read line by line with flat memory: both the dump layout (``[``, one entity per
line ending in ``,``, ``]``) and one JSON object per line are accepted, plain or compressed.
Each item, property or lexeme becomes an ``Entity`` (properties as ``EntityKind.RELATION``),
named in ``options.languages`` by the rules of ``kg.readers.wikidata_props.pick_languages``
(exact code, else a regional variant; ``mul`` always kept as the last fallback). Each kept
statement becomes a ``Triple`` with its qualifiers; values map as follows:

* ``wikibase-entityid`` -> the entity id (``Q5``, ``P31``, ``L7``); string, external-id, url
  and commonsMedia -> ``Literal`` STRING; monolingualtext -> STRING with its language;
* quantity -> QUANTITY (amount without ``+``, unit as ``Q11573``, none for ``1``); bounds dropped;
* time -> DATETIME keeping the dump's value (``+`` stripped, ``-13798000000-01-01T00:00:00Z``
  kept) and precision; the calendar model is dropped;
* globecoordinate -> COORDINATES ``"lat lon"``, the globe as ``unit`` when it is not Earth.

Deliberately left out: references, sitelinks, lexeme forms and senses. Deprecated statements
are skipped; a preferred statement carries the qualifier ``(RANK, "preferred")`` (``RANK`` is
``"rank"``), so answers can put it before the normal-rank values of the same property.
``somevalue``/``novalue`` snaks (main or qualifier) are skipped rather than turned into invented
blank nodes, and so are value types this reader does not know; all of these are counted in one
debug log line per file. A last line cut short (an interrupted download) is logged as a warning
and the rest kept; a malformed line elsewhere is a ``SourceFormatError``, or counted in
``Batch.skipped`` with ``skip_errors``.

With ``options.property_labels``, each property is also emitted as a relation ``Entity`` from
that file the first time a statement or qualifier uses it, in the batch that holds that use
(its provenance is that line of this source, so removing the source removes it too).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kg.base import Batch, Entity, EntityKind, Literal, Provenance, Triple, ValueType
from kg.errors import SourceFormatError
from kg.readers.base import ErrorPolicy, ReaderOptions, numbered_lines
from kg.readers.wikidata_props import Names, load_property_labels, named_entity

logger = logging.getLogger(__name__)

_ENTITY_URI = "http://www.wikidata.org/entity/"
_EARTH = "Q2"
_ID_PREFIX = {"item": "Q", "property": "P", "lexeme": "L"}
RANK = "rank"  # the pseudo-qualifier that marks a preferred statement
Json = dict[str, Any]


@dataclass
class _Context:
    """What one read of one file carries from line to line."""

    path: Path
    source: str
    languages: tuple[str, ...]
    relations: dict[str, Entity]
    counts: Counter[str] = field(default_factory=Counter)
    emitted: set[str] = field(default_factory=set)


class WikidataJsonReader:
    """Streams a Wikidata JSON dump as batches of entities and statement triples."""

    format = "wikidata-json"

    def read(self, path: Path, source: str, options: ReaderOptions) -> Iterator[Batch]:
        """Yield batches of about ``options.batch_size`` triples with their entities.

        Args:
            path: the dump file (``.json``, ``.gz``, ``.bz2``, ``.xz``).
            source: the source id written into every record's provenance.
            options: languages, batch size, error policy and the property label file.

        Yields:
            Batches in file order; the last may be smaller.

        Raises:
            SourceFormatError: the file cannot be read, or a line other than the last is not a
                Wikidata entity and ``options.skip_errors`` is off.
        """
        relations = ({e.id: e for e in load_property_labels(options.property_labels, options.languages)}
                     if options.property_labels else {})
        ctx = _Context(path, source, options.languages, relations)
        policy = ErrorPolicy(options.skip_errors)
        batch = Batch()
        pending: SourceFormatError | None = None  # a line that did not parse, unless it was the last
        for number, text in numbered_lines(path):
            body = text.strip().rstrip(",")
            if body in ("", "[", "]"):
                continue
            if pending is not None:
                policy.handle(pending)  # not the last line after all: a real error
                pending = None
            try:
                records = _parse(number, body, ctx)
            except SourceFormatError as error:
                if isinstance(error.__cause__, json.JSONDecodeError):
                    pending = error
                else:
                    policy.handle(error)
                continue
            for entity, triples in records:
                _add(batch, ctx, entity, triples, number)
            if batch.size >= options.batch_size:
                batch.skipped = policy.take()
                yield batch
                batch = Batch()
        if pending is not None:
            logger.warning("%s:%s: last line is cut short, ignored (%s)", path, pending.line, pending.reason)
        _log_counts(ctx)
        batch.skipped = policy.take()
        if len(batch) or batch.skipped:
            yield batch


def _parse(number: int, body: str, ctx: _Context) -> list[tuple[Entity, list[Triple]]]:
    """The entities on one line, each with its triples, or a ``SourceFormatError``."""
    counts: Counter[str] = Counter()  # merged only once the whole line is good
    try:
        value = json.loads(body)
        records = value if isinstance(value, list) else [value]
        converted = [_convert(record, number, ctx.source, ctx.languages, counts) for record in records]
    except json.JSONDecodeError as exc:
        raise SourceFormatError(ctx.path, f"expected one JSON entity per line ({exc.msg})", number) from exc
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SourceFormatError(ctx.path, f"not a Wikidata entity ({type(exc).__name__}: {exc})",
                                number) from exc
    ctx.counts.update(counts)
    return converted


def _add(batch: Batch, ctx: _Context, entity: Entity, triples: list[Triple], number: int) -> None:
    batch.entities.append(entity)
    for triple in triples:
        batch.add(triple, number)
        if ctx.relations:
            for pid in (triple.predicate, *(p for p, _ in triple.qualifiers)):
                _emit_relation(batch, ctx, pid, number)


def _emit_relation(batch: Batch, ctx: _Context, pid: str, number: int) -> None:
    if pid in ctx.emitted:
        return
    ctx.emitted.add(pid)
    known = ctx.relations.get(pid)
    if known is not None:
        batch.entities.append(replace(known, provenance=Provenance(ctx.source, number)))


def _convert(record: Json, number: int, source: str, languages: Sequence[str],
             counts: Counter[str]) -> tuple[Entity, list[Triple]]:
    """One dump record as an ``Entity`` and the triples of its kept statements."""
    entity_id = record["id"]
    if not isinstance(entity_id, str):
        raise TypeError("the entity id must be a string")
    provenance = Provenance(source, number)
    kind = EntityKind.RELATION if record.get("type") == "property" else EntityKind.ENTITY
    aliases = record.get("aliases") or {}
    names = Names(_texts(record.get("labels") or record.get("lemmas") or {}),
                  _texts(record.get("descriptions") or {}),
                  {code: [a["value"] for a in values] for code, values in aliases.items()})
    entity = named_entity(entity_id, names, languages, kind, provenance)
    claims: Mapping[str, list[Json]] = record.get("claims") or {}
    triples = [triple for statements in claims.values() for statement in statements
               if (triple := _statement(entity_id, statement, provenance, counts)) is not None]
    return entity, triples


def _texts(values: Mapping[str, Json]) -> dict[str, str]:
    return {code: value["value"] for code, value in values.items()}


def _statement(subject: str, statement: Json, provenance: Provenance, counts: Counter[str]) -> Triple | None:
    """The triple of one statement, or None when its rank or main snak is skipped."""
    if statement.get("rank") == "deprecated":
        counts["deprecated statements"] += 1
        return None
    snak = statement["mainsnak"]
    value = _snak_value(snak, counts)
    if value is None:
        return None
    qualifiers = [(pid, qv) for pid in statement.get("qualifiers-order") or statement.get("qualifiers") or ()
                  for q in statement["qualifiers"][pid] if (qv := _snak_value(q, counts)) is not None]
    if statement.get("rank") == "preferred":
        qualifiers.append((RANK, "preferred"))
    return Triple(subject, snak["property"], value, provenance, tuple(qualifiers))


def _snak_value(snak: Json, counts: Counter[str]) -> str | Literal | None:
    """A snak's value as an entity id or a Literal; None (counted) for those not kept."""
    kind = snak["snaktype"]
    if kind != "value":
        counts[f"{kind} snaks"] += 1
        return None
    datavalue = snak["datavalue"]
    convert = _VALUES.get(datavalue["type"])
    if convert is None:
        counts[f"{datavalue['type']} values (unsupported)"] += 1
        return None
    return convert(datavalue["value"])


def _entity_id(value: Json) -> str:
    if "id" in value:
        return str(value["id"])
    return _ID_PREFIX[value["entity-type"]] + str(value["numeric-id"])


def _quantity(value: Json) -> Literal:
    unit = value.get("unit", "1")
    return Literal(str(value["amount"]).lstrip("+"), ValueType.QUANTITY,
                   unit=None if unit == "1" else unit.removeprefix(_ENTITY_URI))


def _time(value: Json) -> Literal:
    precision = value.get("precision")
    return Literal(value["time"].lstrip("+"), ValueType.DATETIME,
                   precision=int(precision) if precision is not None else None)


def _coordinates(value: Json) -> Literal:
    globe = str(value.get("globe") or _EARTH).removeprefix(_ENTITY_URI)
    return Literal(f"{value['latitude']} {value['longitude']}", ValueType.COORDINATES,
                   unit=None if globe == _EARTH else globe)


_VALUES: dict[str, Callable[[Any], str | Literal]] = {
    "wikibase-entityid": _entity_id,
    "string": lambda value: Literal(str(value)),
    "monolingualtext": lambda value: Literal(value["text"], lang=value["language"]),
    "quantity": _quantity,
    "time": _time,
    "globecoordinate": _coordinates,
}


def _log_counts(ctx: _Context) -> None:
    if ctx.counts:
        logger.debug("%s: skipped %s", ctx.path,
                     ", ".join(f"{n} {kind}" for kind, n in sorted(ctx.counts.items())))
