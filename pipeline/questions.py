"""Gold questions: their type, the readers of question files, and the one train / held-out split.

Questions come as MetaQA lines (``question with [topic]<TAB>ans1|ans2``) or generic TSV
(``question<TAB>ans1|ans2[<TAB>topic id]``), plain or gzipped, with an optional question-type
file aligned line by line; ``load_questions`` reads several files (globs allowed), labels each
file's questions with its hop (``2-hop`` from a path like ``.../2-hop/qa_dev.txt``), keeps one
side of the split and samples ``limit`` per file.

The split is shared by training, evaluation and benches. Only dev questions are available for
MetaQA (DESIGN.md), so they are split here, by a hash of the question text (lowercased, brackets
and extra spaces dropped): the split of a question never depends on which file, order or sample
it came in, and a model trained on ``train`` is never reported on it. ``heldout`` is about 30% of
each file (3,004 / 4,472 / 4,282 MetaQA dev questions for 1 / 2 / 3 hops).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Literal, TypeVar

from kg.errors import KGQAError, SourceFormatError

Split = Literal["train", "heldout"]


HELDOUT_PERCENT = 30


T = TypeVar("T")


FORMATS = ("metaqa", "tsv")


SPLITS = ("heldout", "train", "all")


_TOPIC = re.compile(r"\[([^\]]+)\]")


_HOP = re.compile(r"(?:^|[/\\_-])(\d+)-?hop(?:$|[/\\_.-])", re.IGNORECASE)


def split_of(question: str) -> Split:
    """``heldout`` for about 30% of questions, ``train`` for the rest, stable across runs."""
    key = " ".join(question.replace("[", " ").replace("]", " ").lower().split())  # brackets or not
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return "heldout" if int.from_bytes(digest, "big") % 100 < HELDOUT_PERCENT else "train"


def only(split: Split, items: Iterable[T], text: str = "text") -> list[T]:
    """The items (objects with a ``text`` attribute, or strings) that fall in ``split``."""
    return [i for i in items if split_of(i if isinstance(i, str) else getattr(i, text)) == split]


@dataclass(frozen=True)
class Question:
    """One gold question: the text users see, the gold answers, the topic (when known), the type."""

    text: str
    gold: frozenset[str]
    topic: str | None = None
    qtype: str | None = None
    topic_span: tuple[int, int] | None = None  # where the topic is named in ``text``
    hop: str | None = None  # which group (file) it came from: "2-hop", or the file name


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _metaqa(path: Path, n: int, line: str) -> Question:
    parts = line.split("\t")
    found = _TOPIC.search(parts[0])
    if len(parts) != 2 or not found or not parts[1].strip():
        raise SourceFormatError(path, "expected 'question with [topic]<TAB>answer|answer'", n)
    text = parts[0][: found.start()] + found.group(1) + parts[0][found.end():]
    text = text.replace("[", "").replace("]", "")
    span = (found.start(), found.start() + len(found.group(1)))
    return Question(text, _answers(parts[1]), found.group(1), topic_span=span)


def _tsv(path: Path, n: int, line: str) -> Question:
    parts = line.split("\t")
    if len(parts) not in (2, 3) or not parts[0].strip() or not parts[1].strip():
        raise SourceFormatError(path, "expected 'question<TAB>answer|answer[<TAB>topic id]'", n)
    topic = parts[2].strip() if len(parts) == 3 and parts[2].strip() else None
    return Question(parts[0].strip(), _answers(parts[1]), topic)


def _answers(field: str) -> frozenset[str]:
    return frozenset(a.strip() for a in field.split("|") if a.strip())


def read_questions(path: Path, fmt: str = "metaqa", qtypes: Path | None = None) -> list[Question]:
    """Gold questions from a MetaQA or TSV file (``.gz`` allowed), with types from ``qtypes``.

    Raises:
        SourceFormatError: a malformed line (names file and line), or a type file of another length.
        KGQAError: an unknown format or a missing file.
    """
    if fmt not in FORMATS:
        raise KGQAError(f"unknown question format {fmt!r}; known: {', '.join(FORMATS)}")
    parse = _metaqa if fmt == "metaqa" else _tsv
    try:
        with _open_text(path) as fh:
            out = [parse(path, n, line.rstrip("\n")) for n, line in enumerate(fh, 1) if line.strip()]
        types = None
        if qtypes is not None:
            with _open_text(qtypes) as fh:
                types = [line.strip() for line in fh if line.strip()]
    except OSError as exc:
        raise KGQAError(f"cannot read questions: {exc}") from exc
    if types is None:
        return out
    if len(types) != len(out):
        raise SourceFormatError(qtypes or path, f"{len(types)} types for {len(out)} questions")
    return [Question(q.text, q.gold, q.topic, t, q.topic_span) for q, t in zip(out, types)]


def sample(questions: Sequence[Question], limit: int | None, seed: int | None) -> list[Question]:
    """The first ``limit`` questions, or a seeded random sample of them (in file order).

    Raises:
        KGQAError: ``limit`` is below 1.
    """
    if limit is not None and limit < 1:
        raise KGQAError(f"--limit must be at least 1, got {limit}")
    if limit is None or limit >= len(questions):
        return list(questions)
    if seed is None:
        return list(questions[:limit])
    chosen = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in chosen]


def hop_of(path: Path) -> str | None:
    """``2-hop`` for a path like ``metaqa/2-hop/qa_dev.txt.gz`` (or ``2hop``), else ``None``."""
    found = _HOP.search(path.as_posix())
    return f"{int(found.group(1))}-hop" if found else None


def expand(patterns: Sequence[str | Path]) -> list[Path]:
    """Paths and glob patterns as paths; a pattern's matches are sorted, one that matches nothing is an error.

    Raises:
        KGQAError: a glob pattern matches no file.
    """
    out: list[Path] = []
    for pattern in map(str, patterns):
        if not glob.has_magic(pattern):
            out.append(Path(pattern))
            continue
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise KGQAError(f"no file matches {pattern!r}")
        out += [Path(m) for m in matches]
    return out


def load_questions(paths: Sequence[Path], fmt: str = "metaqa", qtypes: Sequence[Path] = (),
                   split: str | None = None, limit: int | None = None, seed: int | None = None) -> list[Question]:
    """Questions of several files: one side of the split, then ``limit`` (or a seeded sample) per file.

    Args:
        paths: question files (see ``read_questions``).
        fmt: ``metaqa`` or ``tsv``.
        qtypes: no type files, or one per question file, in the same order.
        split: ``heldout``, ``train`` or ``all``; ``None`` is ``heldout`` for MetaQA, else ``all``.
        limit, seed: as for ``sample``, applied to each file after the split.

    Raises:
        KGQAError: an unknown split, or type files given but not one per question file.
    """
    split = split or ("heldout" if fmt == "metaqa" else "all")
    if split not in SPLITS:
        raise KGQAError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if qtypes and len(qtypes) != len(paths):
        raise KGQAError(f"{len(qtypes)} question-type files for {len(paths)} question files")
    out: list[Question] = []
    for i, path in enumerate(paths):
        hop = hop_of(path) or (path.name if len(paths) > 1 else None)
        questions = [replace(q, hop=hop) for q in read_questions(path, fmt, qtypes[i] if qtypes else None)]
        if split != "all":
            questions = only("heldout" if split == "heldout" else "train", questions)
        out += sample(questions, limit, seed)
    return out
