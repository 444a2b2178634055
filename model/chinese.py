"""Chinese script folding: traditional characters to simplified, one character at a time.

Labels in Wikidata come as ``zh``, ``zh-hans``, ``zh-hant``, ``zh-tw``...; a question written in
simplified characters must still find "道格拉斯·亞當斯". ``fold`` maps each traditional
character to its simplified form with OpenCC's character table (``TSCharacters.txt`` of the
``opencc-python-reimplemented`` package), taking the first candidate where OpenCC lists several.

It works per character on purpose: the output has the length of the input, so the entity
linker's map back to the question's characters stays exact, and folding both the indexed forms
and the question makes the two meet whichever script either was written in. OpenCC's phrase
tables (which can change lengths) and regional vocabulary ("计算机" / "電腦") are left out.
Without the package, ``fold`` is the identity (and says so once in the log).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def table() -> dict[int, str]:
    """Traditional -> simplified, by code point (empty when OpenCC's data is not installed)."""
    try:
        import opencc
    except ImportError:
        log.warning("opencc-python-reimplemented is not installed: traditional Chinese is not folded")
        return {}
    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    out: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        source, _, targets = line.partition("\t")
        first = targets.split(" ")[0] if targets else ""
        if len(source) == 1 and len(first) == 1 and source != first:
            out[ord(source)] = first
    return out


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds a CJK ideograph."""
    return any("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" for c in text)


def fold(text: str) -> str:
    """``text`` with traditional Chinese characters made simplified (same length)."""
    if text.isascii():
        return text
    return text.translate(table())
