"""Wikidata property labels, and the language rules every Wikidata reader shares.

``load_property_labels`` reads a file of Wikidata properties into relation ``Entity`` records,
so that ``P31`` can be shown and linked as "instance of" / "性质". Two layouts are accepted,
plain or compressed (.gz, .bz2, .xz):

* JSONL, one property per line: ``{"id", "datatype", "labels": {lang: text},
  "descriptions": {lang: text}, "aliases": {lang: [text, ...]}}`` (the npm package
  ``wikidata-properties``); ``aliases`` may be absent.
* TSV with a header ``id, datatype, <lang>, <lang>, ...`` and one label per language column
  (empty cell: no label).

Language rules (``pick_languages``): a requested code uses its exact entry, or failing that its
alphabetically first regional variant (``zh`` -> ``zh-cn``, else ``zh-hans``, ...). ``mul``, Wikidata's
"valid in every language" code, is always kept as the last fallback. The datatype column is
read but not kept: ``Entity`` has no field for it and no caller needs it yet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import chain
from pathlib import Path

from kg.base import Entity, EntityKind, Provenance
from kg.errors import SourceFormatError
from kg.readers.base import numbered_lines

MUL = "mul"


def pick_languages(available: Mapping[str, object], languages: Sequence[str]) -> list[str]:
    """The codes of ``available`` to use for ``languages``, in preference order.

    Args:
        available: values keyed by language code (labels, descriptions or aliases).
        languages: requested codes, most preferred first; ``mul`` is added last if absent.

    Returns:
        Distinct codes present in ``available``: for each requested code, the code itself or
        else its alphabetically first regional variant (``zh-cn`` before ``zh-hans``).
    """
    chosen: list[str] = []
    for code in (*languages, MUL):
        if code in available:
            found: str | None = code
        else:
            prefix = code + "-"
            found = min((c for c in available if c.startswith(prefix)), default=None)
        if found is not None and found not in chosen:
            chosen.append(found)
    return chosen


@dataclass(frozen=True)
class Names:
    """An entity's names as a Wikidata record gives them, keyed by language code."""

    labels: Mapping[str, str]
    descriptions: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, Sequence[str]] = field(default_factory=dict)


def named_entity(entity_id: str, names: Names, languages: Sequence[str], kind: EntityKind,
                 provenance: Provenance | None = None) -> Entity:
    """An ``Entity`` named in ``languages`` (see ``pick_languages``); no label if none applies.

    Args:
        entity_id: the Wikidata id (``Q42``, ``P31``).
        names: labels, descriptions and aliases per language code.
        languages: the languages to keep, most preferred first.
        kind: what the entity stands for.
        provenance: where the record was read.

    Returns:
        The entity: main label in the first kept language that has one, the other kept
        languages' labels in ``labels``, aliases of every kept language, one description.
    """
    labels = [(code, names.labels[code]) for code in pick_languages(names.labels, languages)
              if names.labels[code]]
    desc_codes = pick_languages(names.descriptions, languages)
    alias_texts = (a for code in pick_languages(names.aliases, languages) for a in names.aliases[code])
    return Entity(entity_id, labels[0][1] if labels else None,
                  aliases=tuple(dict.fromkeys(a for a in alias_texts if a)),
                  description=names.descriptions[desc_codes[0]] if desc_codes else None,
                  labels=tuple(labels[1:]), kind=kind, provenance=provenance)


def relation_entity(pid: str, names: Names, languages: Sequence[str],
                    provenance: Provenance | None = None) -> Entity:
    """A relation ``Entity`` for a property, its label falling back to ``en``, then the id."""
    entity = named_entity(pid, names, languages, EntityKind.RELATION, provenance)
    if entity.label is None:
        entity = replace(entity, label=names.labels.get("en") or pid)
    return entity


def load_property_labels(path: Path, languages: Sequence[str]) -> list[Entity]:
    """Read a property file (JSONL or TSV, see the module docstring) into relation entities.

    Results are cached per (file, modification time, languages): readers call this once per
    source, and the 13,865-property file takes a fraction of a second to parse.

    Args:
        path: the JSONL or TSV file, possibly compressed.
        languages: the label languages to keep, most preferred first.

    Returns:
        One ``EntityKind.RELATION`` entity per property, in file order.

    Raises:
        SourceFormatError: the file is missing, empty, or has a malformed line.
    """
    path = Path(path)
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    return list(_load(path.resolve(), mtime, tuple(languages)))


@lru_cache(maxsize=4)
def _load(path: Path, mtime: int, languages: tuple[str, ...]) -> tuple[Entity, ...]:
    del mtime  # part of the cache key only: a rewritten file is read again
    lines = ((n, text) for n, text in numbered_lines(path) if text.strip())
    first = next(lines, None)
    if first is None:
        raise SourceFormatError(path, "no properties in the file")
    if first[1].lstrip().startswith("{"):
        return tuple(_read_jsonl(path, first, lines, languages))
    return tuple(_read_tsv(path, first, lines, languages))


def _read_jsonl(path: Path, first: tuple[int, str], lines: Iterator[tuple[int, str]],
                languages: tuple[str, ...]) -> Iterator[Entity]:
    for number, text in chain([first], lines):
        try:
            record = json.loads(text)
            names = Names(record.get("labels") or {}, record.get("descriptions") or {},
                          record.get("aliases") or {})
            yield relation_entity(record["id"], names, languages, Provenance(str(path), number))
        except (ValueError, KeyError, TypeError) as exc:
            raise SourceFormatError(path, f"expected one JSON property per line ({exc})", number) from exc


def _read_tsv(path: Path, header: tuple[int, str], lines: Iterator[tuple[int, str]],
              languages: tuple[str, ...]) -> Iterator[Entity]:
    columns = header[1].split("\t")
    if columns[:2] != ["id", "datatype"]:
        raise SourceFormatError(path, "expected a JSONL file or a TSV header 'id, datatype, <lang>...'",
                                header[0])
    for number, text in lines:
        cells = text.split("\t")
        if len(cells) > len(columns) or not cells[0].startswith("P"):
            raise SourceFormatError(path, f"expected {len(columns)} tab-separated cells starting "
                                          "with a property id", number)
        pairs = zip(columns[2:], cells[2:], strict=False)  # trailing empty cells may be missing
        labels = {code: cell.strip() for code, cell in pairs if cell.strip()}
        yield relation_entity(cells[0], Names(labels), languages, Provenance(str(path), number))

