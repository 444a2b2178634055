"""One normalization of a user's question for every entry point (ask, chat, sessions, HTTP).

``clean_question`` returns the text to retrieve with, and a note for the person asking. When
the text comes back empty the question is refused and the note says why (nothing to ask,
only punctuation or symbols, too long); otherwise a note, when there is one, says what was
changed (control characters removed). Entry points call it first, so the same text gets the
same treatment everywhere: a chat follow-up of ``???`` is refused as ``kgqa ask ???`` is.

Deliberately not done here: spelling correction, language detection, or anything that needs
the knowledge base (the linker does that).
"""

from __future__ import annotations

import re
import unicodedata

MAX_QUESTION_CHARS = 2000  # what the retriever reads of a question (retrieval.retriever.MAX_QUESTION)
ASK = "Please ask a question."
WORDS = "Please ask a question in words: that input holds only symbols or emoji."
_KEEP = frozenset("\u200c\u200d")  # joiners inside emoji and scripts
# terminal escape sequences (CSI such as ESC [ 2 J, and OSC ... BEL): removed whole, not just their ESC
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")


def clean_question(text: object) -> tuple[str, str | None]:
    """The question to retrieve with and a note for the asker (see the module docstring).

    Args:
        text: what the person typed (anything; a non-string is refused).

    Returns:
        ``(question, note)``: an empty ``question`` means refused, and ``note`` says why.
    """
    if not isinstance(text, str):
        return "", ASK
    unescaped = _ESCAPES.sub("", text)
    stripped, removed = _strip_controls(unicodedata.normalize("NFC", unescaped))
    removed = removed or unescaped != text
    question = re.sub(r"\s+", " ", stripped).strip()
    if not question:
        return "", ASK
    if len(question) > MAX_QUESTION_CHARS:
        return "", (f"That question is too long ({len(question)} characters; at most {MAX_QUESTION_CHARS}): "
                    "please ask it in fewer words.")
    if not any(ch.isalnum() for ch in question):
        symbols = any(unicodedata.category(ch) in ("So", "Sk", "Sm", "Sc") for ch in question)
        return "", WORDS if symbols else ASK
    return question, ("Control characters were removed from the question." if removed else None)


def _strip_controls(text: str) -> tuple[str, bool]:
    """``text`` without control and format characters (tabs and newlines become spaces)."""
    out, removed = [], False
    for ch in text:
        if ch in "\t\n\r\v\f":
            out.append(" ")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") and ch not in _KEEP:
            removed = True
            if unicodedata.category(ch) in ("Zl", "Zp"):
                out.append(" ")
        else:
            out.append(ch)
    return "".join(out), removed
