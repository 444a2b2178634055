"""Text normalization for entity linking, with a map back to the original characters.

NFKC (full-width -> ASCII), casefold, accents stripped from Latin letters only (other scripts
keep their marks), every character that is not a letter, digit or mark becomes a space, spaces
collapse, spaces between two CJK (or kana, Thai) characters disappear, and traditional Chinese
characters become simplified (``model.chinese.fold``, one character for one). ASCII text takes a
fast path with the same result. Nothing here knows about entities.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from model.chinese import fold as fold_chinese

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_NO_SPACE = ((0x0E00, 0x0E7F), (0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
             (0x20000, 0x3134F))  # Thai, kana, CJK ideographs (ext A, unified, compatibility, ext B+)
_LATIN_EXTRA = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})


def no_space(ch: str) -> bool:
    code = ord(ch)
    return code >= 0x0E00 and any(lo <= code <= hi for lo, hi in _NO_SPACE)


def _is_latin(ch: str) -> bool:
    code = ord(ch)
    return ch.isascii() or 0xC0 <= code <= 0x24F or 0x1E00 <= code <= 0x1EFF


@lru_cache(maxsize=1 << 16)
def _fold(cluster: str) -> str:
    """One base character with its marks, normalized (may be empty, a space or several chars)."""
    text = fold_chinese(unicodedata.normalize("NFKC", cluster).casefold())  # 亞當 -> 亚当, length kept
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed and _is_latin(decomposed[0]):
        text = "".join(c for c in decomposed if not unicodedata.combining(c)).translate(_LATIN_EXTRA)
    return "".join(c if unicodedata.category(c)[0] in "LNM" else " " for c in text)


def _clusters(text: str) -> Iterable[tuple[int, int]]:
    """(start, end) of each base character and the combining marks that follow it."""
    i, n = 0, len(text)
    while i < n:
        j = i + 1
        while j < n and unicodedata.category(text[j])[0] == "M":
            j += 1
        yield i, j
        i = j


def normalize_mapped(text: str) -> tuple[str, list[int], list[int]]:
    """``normalize(text)`` and, per output character, the original span it came from."""
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    if text.isascii():  # fast path, same result: ASCII letters and digits are the only words
        for m in _ASCII_WORD.finditer(text):
            if chars:
                chars.append(" ")
                starts.append(ends[-1])
                ends.append(m.start())
            chars.extend(m.group().lower())
            starts.extend(range(m.start(), m.end()))
            ends.extend(range(m.start() + 1, m.end() + 1))
        return "".join(chars), starts, ends
    for begin, end in _clusters(text):
        for ch in _fold(text[begin:end]):
            if ch == " " and (not chars or chars[-1] == " "):
                continue
            if len(chars) > 1 and chars[-1] == " " and no_space(ch) and no_space(chars[-2]):
                chars.pop(), starts.pop(), ends.pop()
            chars.append(ch)
            starts.append(begin)
            ends.append(end)
    if chars and chars[-1] == " ":
        chars.pop(), starts.pop(), ends.pop()
    return "".join(chars), starts, ends


def normalize(text: str) -> str:
    """The matching form of ``text`` (see the module docstring): "Amélie" -> "amelie", "ＡＢＣ" -> "abc"."""
    if text.isascii():
        return " ".join(_ASCII_WORD.findall(text)).lower()
    return normalize_mapped(text)[0]
