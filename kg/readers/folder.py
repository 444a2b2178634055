"""A folder as one source: every file in it read by the reader of its own format.

``plan_folder`` walks the folder in name order and decides, for each file, its format (by
``guess_format``) or why it is skipped (hidden, empty, binary, a format nobody can tell); the
indexer reports the skipped files with their reasons, so nothing is dropped without a word.
``FolderReader`` then streams the planned files one after the other; each file keeps its own
name in passage provenance (``folder/sub/file.txt``). A malformed record in any file stops the
whole source, as for a single file (or is counted with ``skip_errors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kg.base import Batch
from kg.errors import SourceFormatError, UnknownFormat
from kg.readers import guess_format, open_reader
from kg.readers.base import ReaderOptions, sniff


@dataclass(frozen=True)
class FolderPlan:
    """The files of a folder to read (with their formats) and those skipped (with why)."""

    files: tuple[tuple[Path, str], ...]
    skipped: tuple[tuple[Path, str], ...]

    def notes(self, root: Path) -> tuple[str, ...]:
        """One line per skipped file, relative to ``root``."""
        return tuple(f"skipped {path.relative_to(root)}: {reason}" for path, reason in self.skipped)


def plan_folder(path: Path) -> FolderPlan:
    """Which files under ``path`` are read, in which format, and which are skipped.

    Raises:
        SourceFormatError: the folder holds no readable file at all (the skipped ones are named).
    """
    files: list[tuple[Path, str]] = []
    skipped: list[tuple[Path, str]] = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path)
        if any(part.startswith(".") for part in rel.parts):
            skipped.append((file, "hidden file"))
            continue
        try:
            fmt = guess_format(file)
            if fmt == "folder":
                continue
            sniff(file)  # empty or binary files are skipped, not read
        except (UnknownFormat, SourceFormatError) as exc:
            skipped.append((file, _reason(exc, file)))
            continue
        files.append((file, fmt))
    if not files:
        listed = "; ".join(f"{p.relative_to(path)}: {r}" for p, r in skipped[:10]) or "it is empty"
        raise SourceFormatError(path, f"folder holds no file kgqa can read ({listed})")
    return FolderPlan(tuple(files), tuple(skipped))


def _reason(exc: Exception, file: Path) -> str:
    text = str(exc).split("; pass --format")[0]
    prefix = f"{file}: "
    return text[len(prefix):] if text.startswith(prefix) else text


class FolderReader:
    """Reads each file of a folder with the reader of its format."""

    format = "folder"

    def read(self, path: Path, source: str, options: ReaderOptions) -> Iterator[Batch]:
        for file, fmt in plan_folder(path).files:
            yield from open_reader(fmt).read(file, f"{source}/{file.relative_to(path)}", options)
