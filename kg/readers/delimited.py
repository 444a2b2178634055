"""Delimited triple files: ``s|r|o`` (MetaQA), tab- and comma-separated, plain or compressed.

Each line is one triple. The delimiter is detected from the first lines (``|``, tab, comma)
unless the format or options fix it. A header line (``subject,predicate,object`` and the
like) is skipped. Fields are stripped; CSV fields may be quoted. Names become entity ids and
labels, except Wikidata-style ids (``Q42``), which get no label. Literal typing is out of scope:
every object is an entity.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

from kg.base import Batch, Entity, Provenance
from kg.errors import SourceFormatError
from kg.readers.base import ErrorPolicy, ReaderOptions, numbered_lines, sniff

_HEADS = {"subject", "head", "s", "source", "from", "h"}
_WIKIDATA_ID = re.compile(r"^[QPL]\d+$")


class DelimitedReader:
    """Reads ``subject<sep>predicate<sep>object`` lines."""

    format = "delimited"

    def __init__(self, delimiter: str | None = None) -> None:
        self.delimiter = delimiter
        if delimiter == "\t":
            self.format = "tsv"
        elif delimiter == ",":
            self.format = "csv"

    def read(self, path: Path, source: str, options: ReaderOptions) -> Iterator[Batch]:
        sep = options.delimiter or self.delimiter or detect_delimiter(path)
        policy = ErrorPolicy(options.skip_errors)
        batch, seen = Batch(), set[str]()
        subjects, predicates, objects, lines = batch.subjects, batch.predicates, batch.objects, batch.lines
        for number, fields in _split_lines(path, sep):
            if number == 1 and fields and fields[0].strip().lower() in _HEADS:
                continue
            if len(fields) == 3:
                s, p, o = fields[0].strip(), fields[1].strip(), fields[2].strip()
                if s and p and o:
                    subjects.append(s)
                    predicates.append(p)
                    objects.append(o)
                    lines.append(number)
                    for name in (s, o):
                        if name not in seen:
                            seen.add(name)
                            label = None if _WIKIDATA_ID.match(name) else name
                            batch.entities.append(Entity(name, label, provenance=Provenance(source, number)))
                    if len(subjects) >= options.batch_size:
                        yield _finish(batch, policy)
                        batch, seen = Batch(), set()
                        subjects, predicates, objects, lines = (batch.subjects, batch.predicates,
                                                                batch.objects, batch.lines)
                    continue
            if not fields:
                continue
            policy.handle(SourceFormatError(
                path, f"expected 3 non-empty fields separated by {_name(sep)}, got {len(fields)}", number))
        if len(batch) or policy.skipped:
            yield _finish(batch, policy)


def _finish(batch: Batch, policy: ErrorPolicy) -> Batch:
    batch.qualifiers = [None] * batch.size
    batch.skipped = policy.take()
    return batch


def detect_delimiter(path: Path) -> str:
    """``|``, tab or ``,``: the one that splits the first lines into three fields."""
    lines = [ln for ln in sniff(path).decode("utf-8", "replace").splitlines()[:21] if ln.strip()]
    lines = lines[:-1] if len(lines) > 1 else lines  # the last may be cut mid-line
    for sep in ("|", "\t", ","):
        if lines and all(len(ln.split(sep)) == 3 for ln in lines):
            return sep
    for sep in ("|", "\t", ","):
        if lines and sum(len(ln.split(sep)) == 3 for ln in lines) > len(lines) // 2:
            return sep
    raise SourceFormatError(path, "no delimiter ('|', tab or ',') splits the lines into "
                                  "subject, predicate, object", 1)


def _split_lines(path: Path, sep: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields); a blank line has no fields."""
    if sep != ",":
        for number, line in numbered_lines(path):
            yield number, line.split(sep) if line.strip() else []
        return
    for number, line in numbered_lines(path):
        try:
            yield number, next(csv.reader([line])) if line.strip() else []
        except (csv.Error, StopIteration):
            yield number, [line]


def _name(sep: str) -> str:
    return {"|": "'|'", "\t": "tabs", ",": "commas"}[sep]
