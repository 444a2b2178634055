"""Passage corpora: JSONL, JSON and plain-text files, or folders of them.

- JSONL: one object per line with ``text`` (or ``contents``/``passage``/``paragraph_text``),
  optional ``id``, ``title`` and ``entities`` (linked entity ids).
- JSON: a list of such objects (MuSiQue-style) or ``{title: [sentences]}`` (HotpotQA-style);
  the whole file is parsed at once, so it is meant for corpora that fit in memory.
- Plain text (``.txt``, ``.md``): paragraphs separated by blank lines, titled by the file name,
  with their character offset as provenance.
A folder is read recursively in name order. Passages are kept whole: chunking into retrieval
units belongs to the dense index, not to reading.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kg.base import Batch, Passage, Provenance
from kg.errors import SourceFormatError
from kg.readers.base import ErrorPolicy, ReaderOptions, numbered_lines, open_binary, sniff

TEXT_KEYS = ("text", "contents", "passage", "paragraph_text", "content")
SUFFIXES = {".jsonl", ".json", ".txt", ".md"}


class PassageReader:
    """Reads passages from a file or a folder of files."""

    format = "passages"

    def read(self, path: Path, source: str, options: ReaderOptions) -> Iterator[Batch]:
        policy = ErrorPolicy(options.skip_errors)
        batch = Batch()
        for passage in self._passages(path, source, policy):
            batch.passages.append(passage)
            if len(batch.passages) >= options.batch_size:
                batch.skipped = policy.take()
                yield batch
                batch = Batch()
        batch.skipped = policy.take()
        if batch.passages or batch.skipped:
            yield batch

    def _passages(self, path: Path, source: str, policy: ErrorPolicy) -> Iterator[Passage]:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not files:
                raise SourceFormatError(path, f"folder holds no passage files ({', '.join(sorted(SUFFIXES))})")
            for file in files:
                yield from self._passages(file, f"{source}/{file.relative_to(path)}", policy)
            return
        suffix = path.suffix.lower()
        first = sniff(path).lstrip()[:1]
        if suffix == ".jsonl" or (suffix != ".json" and first == b"{" and _is_jsonl(path)):
            yield from _jsonl(path, source, policy)
        elif suffix == ".json" or first in (b"[", b"{"):
            yield from _json(path, source)
        else:
            yield from _text(path, source)


def _is_jsonl(path: Path) -> bool:
    line = sniff(path).split(b"\n", 1)[0]
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _record(obj: Any, source: str, index: int, line: int | None, path: Path) -> Passage:
    if not isinstance(obj, dict):
        raise SourceFormatError(path, f"expected a JSON object with 'text', got {type(obj).__name__}", line)
    text = next((obj[k] for k in TEXT_KEYS if isinstance(obj.get(k), str)), None)
    if not text or not text.strip():
        raise SourceFormatError(path, f"passage has no text (one of {', '.join(TEXT_KEYS)})", line)
    title = obj.get("title") if isinstance(obj.get("title"), str) else None
    pid = str(obj.get("id") or obj.get("idx") or f"{title or Path(source).name}#{index}")
    entities = tuple(str(e) for e in obj.get("entities") or ())
    return Passage(pid, text.strip(), title, entities, Provenance(source, line))


def _jsonl(path: Path, source: str, policy: ErrorPolicy) -> Iterator[Passage]:
    index = 0
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            passage = _record(obj, source, index, number, path)
        except ValueError as exc:
            policy.handle(SourceFormatError(path, f"invalid JSON ({exc})", number))
            continue
        except SourceFormatError as exc:
            policy.handle(exc)
            continue
        index += 1
        yield passage


def _json(path: Path, source: str) -> Iterator[Passage]:
    with open_binary(path) as fh:
        try:
            data = json.loads(fh.read().decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceFormatError(path, f"invalid JSON ({exc})") from exc
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        for index, (title, sentences) in enumerate(data.items()):
            text = "".join(str(s) for s in sentences).strip()
            if text:
                yield Passage(f"{title}#0", text, title, (), Provenance(source, None, index))
        return
    if not isinstance(data, list):
        raise SourceFormatError(path, "expected a list of passages or {title: [sentences]}")
    for index, obj in enumerate(data):
        passage = _record(obj, source, index, None, path)
        yield Passage(passage.id, passage.text, passage.title, passage.entities,
                      Provenance(source, None, index))


def _text(path: Path, source: str) -> Iterator[Passage]:
    """Blank-line separated paragraphs, with the line they start on and their character offset."""
    offset, start, first, index = 0, 0, 0, 0
    lines: list[str] = []
    for number, line in numbered_lines(path):
        if line.strip():
            if not lines:
                start, first = offset, number
            lines.append(line)
        elif lines:
            yield Passage(f"{path.stem}#{index}", "\n".join(lines).strip(), path.stem, (),
                          Provenance(source, first, start))
            lines, index = [], index + 1
        offset += len(line) + 1
    if lines:
        yield Passage(f"{path.stem}#{index}", "\n".join(lines).strip(), path.stem, (),
                      Provenance(source, first, start))
