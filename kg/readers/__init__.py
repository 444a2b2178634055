"""Source readers: one registry of format names, lazy imports, and format guessing.

``open_reader(name)`` returns a reader for a format name; ``guess_format(path)`` picks one from
the file name and, where the name is not enough (``.txt``, ``.json``), the first bytes. Guessing
never settles a doubt silently: a text file is taken for passages only when it reads as prose,
and one malformed line among triples keeps it a triple file (the reader then names that line).
A folder is read file by file, each in its own format (``kg.readers.folder``).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

from kg.errors import UnknownFormat
from kg.readers.base import COMPRESSED, SNIFF_BYTES, Reader, ReaderOptions, sniff

__all__ = ["FORMATS", "Reader", "ReaderOptions", "guess_format", "looks_like_prose", "open_reader"]

# format name -> (module, class, constructor keyword arguments)
FORMATS: dict[str, tuple[str, str, dict[str, str]]] = {
    "delimited": ("kg.readers.delimited", "DelimitedReader", {}),
    "tsv": ("kg.readers.delimited", "DelimitedReader", {"delimiter": "\t"}),
    "csv": ("kg.readers.delimited", "DelimitedReader", {"delimiter": ","}),
    "nt": ("kg.readers.rdf", "RdfReader", {"syntax": "nt"}),
    "ttl": ("kg.readers.rdf", "RdfReader", {"syntax": "ttl"}),
    "rdfxml": ("kg.readers.rdf", "RdfReader", {"syntax": "rdfxml"}),
    "jsonld": ("kg.readers.rdf", "RdfReader", {"syntax": "jsonld"}),
    "wikidata-json": ("kg.readers.wikidata_json", "WikidataJsonReader", {}),
    "passages": ("kg.readers.passages", "PassageReader", {}),
    "folder": ("kg.readers.folder", "FolderReader", {}),
}

_BY_SUFFIX = {
    ".tsv": "tsv", ".csv": "csv", ".nt": "nt", ".ttl": "ttl", ".turtle": "ttl",
    ".rdf": "rdfxml", ".owl": "rdfxml", ".xml": "rdfxml", ".jsonld": "jsonld",
    ".md": "passages",
}


def open_reader(name: str) -> Reader:
    """A reader for the format ``name``.

    Raises:
        UnknownFormat: the name is not one of ``FORMATS``.
    """
    try:
        module, cls, kwargs = FORMATS[name]
    except KeyError:
        raise UnknownFormat(f"unknown format {name!r}; supported: {', '.join(FORMATS)}") from None
    reader: Reader = getattr(importlib.import_module(module), cls)(**kwargs)
    return reader


def guess_format(path: Path) -> str:
    """The format name for ``path`` from its suffix (compression stripped) or its content.

    Raises:
        UnknownFormat: nothing identifies the format; the message lists the supported ones.
        SourceFormatError: the file is missing, empty or binary.
    """
    if path.is_dir():
        return "folder"
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSED:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in _BY_SUFFIX:
        return _BY_SUFFIX[suffix]
    if suffix in (".txt", ".json", ".jsonl", ""):
        return _guess_from_content(path, suffix)
    raise UnknownFormat(f"{path}: cannot tell the format from {suffix!r}; pass --format, one of: "
                        f"{', '.join(FORMATS)}")


def _guess_from_content(path: Path, suffix: str) -> str:
    head = sniff(path)
    read = [ln for ln in head.decode("utf-8", errors="replace").splitlines()[:50] if ln.strip()]
    lines = read[:-1] if len(head) >= SNIFF_BYTES and len(read) > 1 else read  # the sniff may cut the last line
    first = read[0].strip() if read else ""
    if first.startswith(("[", "{")):
        body = first.lstrip("[").strip() or (read[1].strip() if len(read) > 1 else "")
        if '"claims"' in body or ('"labels"' in body and '"id"' in body):
            return "wikidata-json"
        return "passages"
    if first.startswith(("@prefix", "PREFIX", "@base")):
        return "ttl"
    if _share(lines, _looks_ntriples) >= 0.5:
        return "nt"
    if suffix != ".json" and max(_field_share(lines, "|"), _field_share(lines, "\t")) >= 0.5:
        return "delimited"
    if suffix in (".txt", "") and looks_like_prose(lines):
        return "passages"
    if suffix != ".json" and _field_share(lines, ",") >= 0.8:
        return "delimited"
    raise UnknownFormat(f"{path}: cannot tell the format from its content (neither triples nor prose); "
                        f"pass --format, one of: {', '.join(FORMATS)}")


def _share(lines: list[str], test: Callable[[str], bool]) -> float:
    return sum(1 for ln in lines if test(ln)) / len(lines) if lines else 0.0


def _looks_ntriples(line: str) -> bool:
    text = line.strip()
    return text.startswith(("<", "_:", "#")) and (text.endswith(".") or text.startswith("#"))


def _field_share(lines: list[str], sep: str) -> float:
    """The share of ``lines`` that ``sep`` splits into three non-empty fields."""
    return _share(lines, lambda ln: len(f := ln.split(sep)) == 3 and all(x.strip() for x in f))


def looks_like_prose(lines: list[str]) -> bool:
    """Whether non-blank ``lines`` read as running text: mostly letters and spaces, and sentences.

    A line of prose has several words; most end in (or contain) sentence punctuation, or are
    long. Delimited rows, code and tables fail this, so they are never taken for passages.
    """
    if not lines:
        return False
    text = " ".join(lines)
    letters = sum(ch.isalpha() or ch.isspace() for ch in text) / len(text)
    sentences = _share(lines, lambda ln: bool(_SENTENCE.search(ln)) or len(ln) >= 60)
    words = sum(len(ln.split()) for ln in lines) / len(lines)
    return letters >= 0.75 and sentences >= 0.3 and words >= 1.5


_SENTENCE = re.compile(r"[.!?。！？…:;\"')\]]\s*$|[.!?。] ")
