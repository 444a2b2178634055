"""Source readers: one registry of format names, lazy imports, and format guessing.

``open_reader(name)`` returns a reader for a format name; ``guess_format(path)`` picks one from
the file name and, where the name is not enough (``.txt``, ``.json``), the first bytes.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from kg.errors import UnknownFormat
from kg.readers.base import COMPRESSED, Reader, ReaderOptions, sniff

__all__ = ["FORMATS", "Reader", "ReaderOptions", "guess_format", "open_reader"]

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
        return "passages"
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
    head = sniff(path).decode("utf-8", errors="replace")
    lines = [ln for ln in head.splitlines()[:20] if ln.strip()]
    first = lines[0].strip() if lines else ""
    if first.startswith(("[", "{")):
        body = first.lstrip("[").strip() or (lines[1].strip() if len(lines) > 1 else "")
        if '"claims"' in body or ('"labels"' in body and '"id"' in body):
            return "wikidata-json"
        return "passages"
    if first.startswith(("<", "_:")) and first.endswith("."):
        return "nt"
    if first.startswith(("@prefix", "PREFIX", "@base")):
        return "ttl"
    candidates = [sep for sep in ("|", "\t", ",") if all(len(ln.split(sep)) >= 3 for ln in lines[:-1] or lines)]
    if candidates and suffix != ".json":
        return "delimited"
    if suffix in (".txt", ""):
        return "passages"
    raise UnknownFormat(f"{path}: cannot tell the format from its content; pass --format, one of: "
                        f"{', '.join(FORMATS)}")
