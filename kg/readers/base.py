"""The reader contract and the file handling every reader shares.

A reader streams one source file as ``Batch``es with flat memory. This module opens files
(plain, .gz, .bz2, .xz), rejects missing, empty, binary and wrongly encoded ones with a clear
``SourceFormatError``, and numbers lines. It knows nothing of stores or the catalog.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from kg.base import Batch
from kg.errors import SourceFormatError

COMPRESSED: dict[str, Callable[..., Any]] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
SNIFF_BYTES = 8192
# what a truncated or corrupt compressed file raises while it is read
CORRUPT = (OSError, EOFError, lzma.LZMAError, zlib.error)


@dataclass(frozen=True)
class ReaderOptions:
    """Settings every reader accepts; a reader ignores those that do not apply to it.

    Args:
        batch_size: triples (or records) per batch.
        skip_errors: pass over malformed records and count them instead of raising.
        languages: label/description languages to keep (Wikidata); the first is the main label.
        delimiter: for delimited files, force ``|``, tab or ``,`` instead of detecting it.
        property_labels: a file of Wikidata property labels (JSONL or TSV), or None.
    """

    batch_size: int = 100_000
    skip_errors: bool = False
    languages: tuple[str, ...] = ("en", "mul", "zh")
    delimiter: str | None = None
    property_labels: Path | None = None

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be positive")
        if self.delimiter is not None and self.delimiter not in ("|", "\t", ","):
            raise ValueError(f"delimiter must be '|', tab or ',', not {self.delimiter!r}")
        if not self.languages:
            raise ValueError("languages must name at least one language")

    def settings(self) -> dict[str, object]:
        """The options that change what is read, for the catalog (batch size does not)."""
        return {"skip_errors": self.skip_errors, "languages": list(self.languages),
                "delimiter": self.delimiter,
                "property_labels": str(self.property_labels) if self.property_labels else None}


class Reader(Protocol):
    """Streams one source file as batches."""

    format: str

    def read(self, path: Path, source: str, options: ReaderOptions) -> Iterator[Batch]:
        """Yield batches of the file's records, each with provenance ``source`` and line."""
        ...


def check_file(path: Path) -> None:
    """Raise ``SourceFormatError`` unless ``path`` is a readable, non-empty file."""
    if not path.exists():
        raise SourceFormatError(path, "no such file")
    if not path.is_file():
        raise SourceFormatError(path, "not a file")
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as exc:
        raise SourceFormatError(path, f"cannot be read ({exc.strerror})") from exc
    if path.stat().st_size == 0:
        raise SourceFormatError(path, "file is empty")


def open_binary(path: Path) -> IO[bytes]:
    """Open a possibly compressed file for reading bytes, after ``check_file``."""
    check_file(path)
    opener = COMPRESSED.get(path.suffix.lower())
    if opener is None:
        return path.open("rb")
    # a large buffer in front of the decompressor makes line iteration several times faster
    fh = io.BufferedReader(opener(path, "rb"), buffer_size=1 << 20)
    try:
        fh.peek(1)
    except CORRUPT as exc:
        fh.close()
        raise SourceFormatError(path, f"not a valid {path.suffix} file ({exc})") from exc
    return fh


def sniff(path: Path) -> bytes:
    """The first bytes of the (decompressed) file, rejecting binary and empty content."""
    with open_binary(path) as fh:
        try:
            head = fh.read(SNIFF_BYTES)
        except CORRUPT as exc:
            raise SourceFormatError(path, f"not a valid {path.suffix} file ({exc})") from exc
    if not head.strip():
        raise SourceFormatError(path, "file is empty")
    if b"\x00" in head:
        raise SourceFormatError(path, "binary content, expected UTF-8 text")
    return head


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its newline), with clear decoding errors."""
    sniff(path)
    with open_binary(path) as fh:
        number = 0
        try:
            for number, raw in enumerate(fh, 1):  # noqa: B007 - number is read after the loop
                try:
                    yield number, raw.decode("utf-8").rstrip("\r\n")
                except UnicodeDecodeError as exc:
                    raise SourceFormatError(path, f"not valid UTF-8 ({exc.reason})", number) from exc
        except CORRUPT as exc:
            raise SourceFormatError(path, f"truncated or corrupt ({exc})", number + 1) from exc


class ErrorPolicy:
    """Raise on the first malformed record, or count them when ``skip_errors`` is set."""

    def __init__(self, skip: bool) -> None:
        self.skip = skip
        self.skipped = 0

    def handle(self, error: SourceFormatError) -> None:
        if not self.skip:
            raise error
        self.skipped += 1

    def take(self) -> int:
        """The count since the last call (so each batch reports its own)."""
        count, self.skipped = self.skipped, 0
        return count
