"""Labels made safe for a terminal: what a source says can never pose as kgqa's own output.

A label comes from a source file and may hold a newline (a fake output line with a fake
citation), ANSI escape sequences, other control characters, or bidirectional overrides that
reorder what is shown. ``printable`` escapes all of them visibly (``\\n``, ``\\x1b``,
``\\u202e``), keeping every other character, any script, as it is. It is for text meant for a
person; ``--json`` output stays exact (JSON escapes control characters itself).
"""

from __future__ import annotations

import unicodedata

# bidirectional formatting characters (embeddings, overrides, isolates, marks)
BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_JOINERS = frozenset("\u200c\u200d")  # zero-width (non-)joiners shape emoji and scripts; they cannot move text


def printable(label: object, limit: int | None = None) -> str:
    """``label`` as one safe line: control, format (incl. bidi) and line separator characters escaped.

    Args:
        label: any value; ``None`` becomes an empty string.
        limit: cut the result to about this many characters, marking the cut with an ellipsis.
    """
    text = "" if label is None else str(label)
    out = "".join(_escape(ch) for ch in text)
    if limit is not None and len(out) > limit:
        out = out[: max(limit - 1, 0)] + "…"
    return out


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if (ch.isprintable() and ch not in BIDI) or ch in _JOINERS or unicodedata.category(ch) == "Zs":
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
