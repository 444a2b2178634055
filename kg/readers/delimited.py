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
from typing import Any

import numpy as np

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
        done = 0
        if sep != ",":
            fast = _ArrowLines(path, sep, source, options.batch_size)
            yield from fast.batches()
            if fast.failed_at is None:
                return
            done = fast.failed_at  # the slow path takes over there, to name the line and error
        yield from self._read_lines(path, sep, source, options, done)

    def _read_lines(self, path: Path, sep: str, source: str, options: ReaderOptions,
                    skip: int) -> Iterator[Batch]:
        policy = ErrorPolicy(options.skip_errors)
        batch, seen = Batch(), set[str]()
        subjects, predicates, objects, lines = batch.subjects, batch.predicates, batch.objects, batch.lines
        for number, fields in _split_lines(path, sep):
            if number <= skip or (number == 1 and fields and fields[0].strip().lower() in _HEADS):
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


class _ArrowLines:
    """The fast path: pyarrow's CSV reader, one row per line (blank lines kept as empty rows).

    It stops at the first malformed line (wrong field count, an empty field, bad UTF-8) and
    records in ``failed_at`` how many lines it fully delivered, so that the line-by-line
    reader can continue from there with exact line numbers and messages.
    """

    def __init__(self, path: Path, sep: str, source: str, batch_size: int) -> None:
        self.path, self.sep, self.source, self.batch_size = path, sep, source, batch_size
        self.failed_at: int | None = None
        self.seen: set[str] = set()

    def batches(self) -> Iterator[Batch]:
        import pyarrow as pa
        import pyarrow.compute as pc

        first = sniff(self.path).split(b"\n", 1)[0].decode("utf-8", "replace")
        header = 1 if first.split(self.sep)[0].strip().lower() in _HEADS else 0
        done = header
        try:
            for table in self._tables(header):
                cols = [pc.utf8_trim_whitespace(table.column(i)) for i in range(3)]
                empty = [pc.equal(pc.utf8_length(c), 0) for c in cols]
                blank = pc.and_(pc.and_(empty[0], empty[1]), empty[2])
                if pc.any(pc.and_(pc.or_(pc.or_(empty[0], empty[1]), empty[2]), pc.invert(blank))).as_py():
                    self.failed_at = done
                    return
                keep = pc.invert(blank)
                lines = np.arange(done + 1, done + 1 + table.num_rows)[keep.to_numpy(zero_copy_only=False)]
                s, p, o = (pc.filter(c, keep) for c in cols)
                done += table.num_rows
                yield self._batch(s.to_pylist(), p.to_pylist(), o.to_pylist(), lines.tolist())
        except pa.ArrowInvalid:
            self.failed_at = done

    def _tables(self, header: int) -> Iterator[Any]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        suffix = self.path.suffix.lower()
        if suffix == ".xz":
            raise pa.ArrowInvalid("xz files are read line by line")
        compression = {".gz": "gzip", ".bz2": "bz2"}.get(suffix)
        stream = pa.input_stream(str(self.path), compression=compression)
        reader = pcsv.open_csv(
            stream, read_options=pcsv.ReadOptions(column_names=["s", "p", "o"], skip_rows=header,
                                                  block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=self.sep, quote_char=False, escape_char=False,
                                            ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys("spo", pa.string()),
                                                strings_can_be_null=False))
        pending = pa.Table.from_batches([], schema=reader.schema)
        for record_batch in reader:
            pending = pa.concat_tables([pending, pa.Table.from_batches([record_batch])])
            while pending.num_rows >= self.batch_size:
                yield pending.slice(0, self.batch_size)
                pending = pending.slice(self.batch_size)
        if pending.num_rows:
            yield pending

    def _batch(self, s: list[str], p: list[str], o: list[str], lines: list[int]) -> Batch:
        batch = Batch(subjects=s, predicates=p, objects=o, lines=lines, qualifiers=[None] * len(s))
        for name in dict.fromkeys(s + o):
            if name not in self.seen:
                self.seen.add(name)
                label = None if _WIKIDATA_ID.match(name) else name
                batch.entities.append(Entity(name, label, provenance=Provenance(self.source)))
        return batch


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
