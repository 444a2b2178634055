"""Entity linking: find the spans of a question that name entities of the graph, with candidates.

``EntityLinker.build`` reads every entity's surface forms (label, labels in other languages,
aliases; the id of an entity without any name) once, at index time, into column tables of
``normalized form -> (entity, original form)`` sorted by a hash of the form
(``retrieval.linker_tables``); ``save``/``load`` keep them on disk as Arrow files that are
memory-mapped, not parsed, so opening costs milliseconds at any size, and
``update`` applies a change of the graph. ``link``:

1. normalizes the question (``normalize``) keeping a map back to the original characters, so
   brackets and punctuation vanish and offsets still refer to the text as given;
2. finds the longest non-overlapping matches, with word boundaries in spaced scripts and none
   next to CJK, kana or Thai characters (every span between two boundaries, up to the longest
   form, looked up in the sorted tables at once);
3. ranks each mention's candidates by span length, exactness (the form as the question spells
   it, capitalization included), proper-noun evidence (capitals that are not only
   sentence-initial) and popularity (log degree); scores are in [0, 1];
4. repairs typos (``_fuzzy``): a word that no indexed name contains is respelled as the closest
   known word (rapidfuzz ``ratio`` >= 88, one edit in a 7-letter word) and the repaired question
   is matched again; only when nothing matched at all, and an embedder was given, embedded
   question n-grams are compared with embedded forms (``dense_threshold``).

Normalization: NFKC (full-width -> ASCII), casefold, accents stripped from Latin letters only
(other scripts keep their marks), every character that is not a letter, digit or mark becomes a
space, spaces collapse, and spaces between two CJK characters disappear ("道格拉斯·亞當斯" ->
"道格拉斯亞當斯"). Stopwords and one-character forms ("Up", "Her", "M") are indexed only when
their original has a capital or a digit, and then link only where the question spells them
exactly, not as its first word; single CJK characters are not indexed (mostly function words).

Traditional Chinese folds to simplified in ``normalize`` (so "道格拉斯·亚当斯" finds the stored
"道格拉斯·亞當斯"). Left out on purpose: disambiguation by context (callers see every candidate and
``Mention.ambiguous``) and relation nodes (they name predicates, not topics).

Why over the house's ~400 lines: mention detection is one algorithm over one index
(exact, fuzzy and dense passes share the normalised question, its token spans and the row
table), and its persistence must stay in step with that index; the span-scoring rules at the top
are the next piece to move out when the module grows.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from tqdm import tqdm

from kg.base import Entity, EntityKind
from kg.errors import SourceFormatError
from kg.files import write_atomic
from kg.stores.base import GraphStore
from model.base import Embedder
from retrieval.base import Candidate, Mention
from retrieval.linker_tables import MANIFEST, LinkerTables
from retrieval.normalize import no_space, normalize, normalize_mapped

log = logging.getLogger(__name__)

VECTORS, VECTOR_FORMS = "vectors.npy", "vector_forms.json"
STOPWORDS = frozenset("""
a an the and or but nor of to in on at by for from with without into onto about as is are was were be been
being am do does did done has have had having it its this that these those there here i me my we our
you your he him his she her they them their what which who whom whose where when why how whats not
no yes so if then than too very can could will would shall should may might must just also only all any
some each both more most other such own same up down out over under again off s t ll re ve d m
什么 哪里 哪个 哪些 谁 是 的 了 在 和 与 吗 呢 怎么 为什么 多少 哪 几
""".split())
_LOG_POPULAR = math.log1p(10_000)  # a degree that counts as fully popular, whatever the graph


@dataclass(frozen=True)
class LinkerConfig:
    """Settings of the linker.

    Args:
        fuzzy: repair typos in words that no exact match covers.
        fuzzy_threshold: least rapidfuzz ``ratio`` (0-100) of a misspelled word and the known word
            it is respelled as, and of the repaired span and its form; 88 lets one edit through
            in a 7-letter word ("kismett" -> "kismet" is 92) and no more.
        fuzzy_min_chars: shortest word that is respelled (short words match too much).
        dense_threshold: least cosine of a question n-gram and a form in the dense fallback.
        max_ngram: longest n-gram of the dense fallback, in words (CJK: twice as many characters).
        max_fallback_tokens: questions with more tokens skip both fallbacks (cost grows with it).
        weights: of span length, exact capitalization, proper-noun evidence and popularity in a
            candidate's score; they sum to 1 so that scores stay in [0, 1].
    """

    fuzzy: bool = True
    fuzzy_threshold: float = 88.0
    fuzzy_min_chars: int = 4
    dense_threshold: float = 0.8
    max_ngram: int = 6
    max_fallback_tokens: int = 64
    weights: tuple[float, float, float, float] = (0.3, 0.25, 0.3, 0.15)

    def __post_init__(self) -> None:
        if not 0 < self.fuzzy_threshold <= 100:
            raise ValueError("fuzzy_threshold must be in (0, 100]")
        if not -1 <= self.dense_threshold <= 1:
            raise ValueError("dense_threshold must be in [-1, 1]")
        if min(self.fuzzy_min_chars, self.max_ngram, self.max_fallback_tokens) < 1:
            raise ValueError("fuzzy_min_chars, max_ngram and max_fallback_tokens must be positive")
        if len(self.weights) != 4 or min(self.weights) < 0 or not math.isclose(sum(self.weights), 1.0):
            raise ValueError("weights must be four non-negative numbers summing to 1")


@lru_cache(maxsize=1 << 16)
def _shape(text: str) -> str:
    """Letters and digits only, case and accents kept: what "exact capitalization" compares."""
    return "".join(c for c in unicodedata.normalize("NFKC", text) if c.isalnum())


def _exactness(original: str, span: str, glued: str) -> float:
    """How exactly the question spells a form: 1 as is, with the punctuation glued to the span
    ("Moulin Rouge!"; a final "?.,;:" may be the question's own); 0.7 as is inside that
    punctuation; 0.5 up to punctuation and spacing; 0 otherwise (case or accents differ)."""
    if original in (glued, glued.rstrip("?.,;:")):
        return 1.0
    if original == span:
        return 0.7
    return 0.5 if _shape(original) == _shape(span) else 0.0


def _strict(form: str) -> bool:
    """A stopword or one character: linked only where the question spells it as is, mid-sentence."""
    return len(form) < 2 or form in STOPWORDS


def _content_length(form: str) -> int:
    """Length without a leading article: "the evil dead" should not outrun "evil dead ii"."""
    head, _, rest = form.partition(" ")
    return len(rest) if rest and head in ("the", "a", "an") else len(form)


def _case_agrees(original: str, span: str) -> bool:
    """Whether a fuzzy match differs from the form in spelling only, not in capitalization."""
    from rapidfuzz import fuzz

    a, b = _shape(original), _shape(span)
    return bool(fuzz.ratio(a, b) >= fuzz.ratio(a.casefold(), b.casefold()))


def _boundary(norm: str, i: int) -> bool:
    """Whether a mention may start or end at ``i`` (no word boundary needed next to CJK)."""
    if i <= 0 or i >= len(norm) or norm[i - 1] == " " or norm[i] == " ":
        return True
    return no_space(norm[i - 1]) or no_space(norm[i])


def _tokens(norm: str) -> list[tuple[int, int]]:
    """Spans of the words of a normalized text; each CJK character is a word of its own."""
    spans: list[tuple[int, int]] = []
    for m in re.finditer(r"\S+", norm):
        start = m.start()
        for i in range(m.start(), m.end()):
            if no_space(norm[i]):
                if start < i:
                    spans.append((start, i))
                spans.append((i, i + 1))
                start = i + 1
        if start < m.end():
            spans.append((start, m.end()))
    return spans


def _weight(text: str) -> int:
    """Span length for scoring: a CJK character carries about as much as three Latin letters."""
    return sum(3 if no_space(c) else 1 for c in text if c != " ")


def _proper(span: str, at_start: bool) -> float:
    """Proper-noun evidence of a question span: 1 with capitals, 0 all lowercase letters, else 0.5.

    0.5: digits, no cased letters (CJK), or only the question's first letter is a capital.
    """
    uppers = sum(c.isupper() for c in span)
    if uppers == 0:
        return 0.5 if any(c.isdigit() for c in span) or not any(c.islower() for c in span) else 0.0
    return 0.5 if at_start and uppers == 1 and span[0].isupper() else 1.0


def _only_stopwords(text: str) -> bool:
    return all(word in STOPWORDS for word in text.split())


@dataclass(frozen=True, slots=True)
class _Row:
    """What the linker keeps of an entity: its label, degree, description and surface forms."""

    label: str
    degree: int
    description: str | None
    forms: tuple[tuple[str, str], ...]  # (original, normalized)


def _row(entity: Entity, degree: int) -> _Row | None:
    """The linker's record of ``entity``, or None when it has no usable surface form."""
    if entity.kind is not EntityKind.ENTITY:
        return None
    names = entity.names() or ((entity.id,) if not re.search(r"[:/]", entity.id) else ())
    forms = dict.fromkeys((name, normalize(name)) for name in names)
    kept = tuple((o, n) for o, n in forms if n and (not _strict(n) or any(c.isupper() or c.isdigit() for c in o)))
    if not kept:
        return None
    return _Row(entity.label or names[0], degree, entity.description, kept)


@dataclass(frozen=True, slots=True)
class _Question:
    """A question, its normalized form and the map from normalized to original characters."""

    text: str
    norm: str
    starts: list[int]
    ends: list[int]

    def original(self, a: int, b: int) -> tuple[int, int]:
        return self.starts[a], self.ends[b - 1]

    def span(self, a: int, b: int) -> tuple[str, str, float]:
        """The original text of a normalized span, with its glued punctuation, and its ``_proper``."""
        start, end = self.original(a, b)
        outer_start, outer_end = start, end
        while outer_start > 0 and _glued(self.text[outer_start - 1]):
            outer_start -= 1
        while outer_end < len(self.text) and _glued(self.text[outer_end]):
            outer_end += 1
        text = self.text[start:end]
        return text, self.text[outer_start:outer_end], _proper(text, a == 0)


def _glued(ch: str) -> bool:
    return not ch.isspace() and not ch.isalnum() and ch not in "[](){}\"'"


# A matched span of the normalized question: (start, end, form, similarity, exact | fuzzy | dense).
_Hit = tuple[int, int, str, float, str]


def _select(hits: list[_Hit]) -> list[list[_Hit]]:
    """Non-overlapping spans, best similarity then longest first, each with all its hits."""
    by_span: dict[tuple[int, int], list[_Hit]] = {}
    for hit in hits:
        by_span.setdefault((hit[0], hit[1]), []).append(hit)
    order = sorted(by_span.values(), key=lambda hs: (-max(h[3] for h in hs), hs[0][0] - hs[0][1], hs[0][0]))
    taken: list[tuple[int, int]] = []
    chosen: list[list[_Hit]] = []
    for group in order:
        a, b = group[0][0], group[0][1]
        if all(b <= x or a >= y for x, y in taken):
            taken.append((a, b))
            chosen.append(group)
    return chosen


class EntityLinker:
    """Surface-form index of a graph's entities; ``link`` finds them in questions.

    Make one with ``build`` (from a store) or ``load`` (from ``save``: memory-mapped, see
    ``retrieval.linker_tables``); the constructor takes the tables.
    """

    def __init__(self, tables: LinkerTables, config: LinkerConfig = LinkerConfig(),
                 embedder: Embedder | None = None,
                 vectors: tuple[list[str], np.ndarray] | None = None, progress: bool = False) -> None:
        self.config = config
        self.embedder = embedder
        self._tables = tables
        self._lengths: list[int] | None = None
        self._vector_forms, self._vectors = vectors or ([], np.zeros((0, 0), dtype=np.float32))
        self._sync_vectors(progress)

    @classmethod
    def from_rows(cls, rows: dict[str, _Row], config: LinkerConfig = LinkerConfig(),
                  embedder: Embedder | None = None, progress: bool = False) -> EntityLinker:
        """A linker over ``rows`` (entity id -> its record)."""
        return cls(_tables(rows), config, embedder, progress=progress)

    @classmethod
    def build(cls, store: GraphStore, progress: bool = True, embedder: Embedder | None = None,
              config: LinkerConfig = LinkerConfig()) -> EntityLinker:
        """Index every entity of ``store`` (relation nodes are left out).

        Args:
            store: the graph to read names and degrees from.
            progress: show progress bars.
            embedder: when given, forms are embedded for the dense fallback (slow for big graphs).
            config: linking settings.
        """
        return cls.from_batches(store.scan_entities(), progress, embedder, config)

    @classmethod
    def from_batches(cls, batches: Iterable[list[tuple[Entity, int]]], progress: bool = True,
                     embedder: Embedder | None = None, config: LinkerConfig = LinkerConfig()) -> EntityLinker:
        """Index entities given as ``scan_entities`` yields them (batches of (entity, degree))."""
        rows: dict[str, _Row] = {}
        with tqdm(desc="linker: reading entities", unit=" entities", disable=not progress, leave=False) as bar:
            for batch in batches:
                for entity, degree in batch:
                    row = _row(entity, degree)
                    if row is not None:
                        rows[entity.id] = row
                bar.update(len(batch))
        linker = cls.from_rows(rows, config, embedder, progress=progress)
        log.info("entity linker: %d entities, %d surface forms", len(rows), linker.form_count)
        return linker

    @property
    def entity_count(self) -> int:
        return self._tables.entity_count

    @property
    def form_count(self) -> int:
        return self._tables.form_count

    def update(self, added: Sequence[tuple[Entity, int]], removed_ids: Sequence[str], progress: bool = False) -> None:
        """Apply a change of the graph: upsert ``added`` (entity, degree) records, drop ``removed_ids``."""
        rows = {entity_id: _Row(label, degree, description, forms)
                for entity_id, label, degree, description, forms in self._tables.rows()}
        for entity_id in removed_ids:
            rows.pop(entity_id, None)
        for entity, degree in added:
            row = _row(entity, degree)
            if row is None:
                rows.pop(entity.id, None)
            else:
                rows[entity.id] = row
        self._tables = _tables(rows)
        self._lengths = None
        self._sync_vectors(progress)

    def _sync_vectors(self, progress: bool) -> None:
        """Keep the dense vectors aligned with the forms: drop gone ones, embed new ones."""
        if not self._vector_forms and self.embedder is None:
            return
        distinct = self._tables.distinct_forms()
        surface = set(distinct)
        keep = [i for i, form in enumerate(self._vector_forms) if form in surface]
        forms = [self._vector_forms[i] for i in keep]
        vectors = [np.asarray(self._vectors[keep])] if keep else []
        have = set(forms)
        missing = [form for form in distinct if form not in have]
        if missing and self.embedder is None:
            log.warning("no embedder: %d new surface forms are left out of the dense fallback", len(missing))
        elif missing and self.embedder is not None:
            for i in tqdm(range(0, len(missing), 256), desc="linker: embedding forms", disable=not progress,
                          leave=False):
                chunk = missing[i:i + 256]
                vectors.append(np.asarray(self.embedder.passage([self._tables.first_original(f) for f in chunk]),
                                          dtype=np.float32))
                forms.extend(chunk)
        self._vector_forms = forms
        self._vectors = np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)

    def _matches(self, text: str) -> list[tuple[int, int, int, int]]:
        """(start, end, lo, hi) of each indexed form in ``text`` between word boundaries, with its
        form rows ``lo:hi``, in the order an Aho-Corasick scan reports them (by end, longest first).

        Every span between two boundaries no longer than the longest form is looked up in the
        sorted form keys at once: a question has few such spans, and nothing is built per KB.
        """
        limit = self._tables.max_len
        if not limit:
            return []
        starts = [i for i in range(len(text)) if text[i] != " " and _boundary(text, i)]
        ends = [i for i in range(1, len(text) + 1) if text[i - 1] != " " and _boundary(text, i)]
        spans = [(starts[i], b) for b in ends
                 for i in range(bisect.bisect_left(starts, b - limit), bisect.bisect_left(starts, b))]
        found = self._tables.find([text[a:b] for a, b in spans])
        return [(a, b, lo, hi) for (a, b), (lo, hi) in zip(spans, found) if hi > lo]

    def link(self, question: str, k: int = 5) -> list[Mention]:
        """The mentions of entities in ``question``, best first, each with up to ``k`` candidates.

        Brackets (MetaQA's topic marks) and other punctuation are ignored. Offsets refer to
        ``question`` as given. Scores are in [0, 1]; fuzzy and dense matches score below an
        exact match of the same span.

        Raises:
            ValueError: ``k`` is less than 1.
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        q = _Question(question, *normalize_mapped(question))
        if not q.norm:
            return []
        groups = self._exact(q)
        if self.config.fuzzy:
            fuzzy = self._fuzzy(q, [(g[0][0], g[0][1]) for g in groups])
            spans = [(g[0][0], g[0][1]) for g in fuzzy]  # a repaired longer name replaces its parts
            groups = [g for g in groups if not any(a <= g[0][0] and g[0][1] <= b for a, b in spans)]
            groups += fuzzy
        mentions = [self._mention(q, g, k) for g in groups]
        if not mentions and self.embedder is not None and len(self._vector_forms):
            mentions = [self._mention(q, g, k) for g in self._dense(q, k, self.embedder)]
        return sorted(mentions, key=lambda m: (-m.best.score, m.start))

    def _exact(self, q: _Question) -> list[list[_Hit]]:
        """Longest non-overlapping matches at word boundaries, each with its alternatives.

        Longest means most characters after leading stopwords; ties go to the more exact
        spelling. A match that differs from a chosen one by stopwords only ("the Tracker" /
        "Tracker"), or a capitalized exact match inside a chosen one that the question does not
        spell exactly ("John Ford" in "directed by John Ford"), joins its group.
        """
        found = []
        for a, b, lo, hi in self._matches(q.norm):
            form = q.norm[a:b]
            span, glued, proper = q.span(a, b)
            exact = max(_exactness(o, span, glued) for _, o in self._tables.entries(lo, hi))
            if not _strict(form) or (exact >= 0.7 and a > 0):
                found.append((a, b, form, exact, proper))
        found.sort(key=lambda m: (-_content_length(m[2]), -m[3], m[0]))
        owner = [-1] * len(q.norm)
        groups: list[list[_Hit]] = []
        head_exact: list[float] = []
        for a, b, form, exact, proper in found:
            owners = set(owner[a:b]) - {-1}
            if not owners:
                group = len(groups)
                groups.append([])
                head_exact.append(exact)
            elif len(owners) == 1:
                group = owners.pop()
                if exact == head_exact[group] == 1.0 or not self._joins(
                        q.norm, groups[group][0], a, b, exact > 0 and proper == 1.0 and not head_exact[group]):
                    continue
            else:
                continue
            owner[a:b] = [group] * (b - a)
            groups[group].append((a, b, form, 1.0, "exact"))
        return groups

    @staticmethod
    def _joins(norm: str, head: _Hit, a: int, b: int, capitalized_inside: bool) -> bool:
        """Whether the match ``a:b`` is an alternative reading of the span of ``head``."""
        lo, hi = max(a, head[0]), min(b, head[1])
        if capitalized_inside and (lo, hi) == (a, b):
            return True
        return _only_stopwords(norm[min(a, head[0]):lo] + " " + norm[hi:max(b, head[1])])

    def _mention(self, q: _Question, group: list[_Hit], k: int) -> Mention:
        """Score every entity the hits of one group may name; keep the best ``k``.

        The mention's span is where its best candidate was found."""
        best: dict[str, tuple[Candidate, int, int]] = {}
        found = self._tables.find(list(dict.fromkeys(hit[2] for hit in group)))
        rows = dict(zip(dict.fromkeys(hit[2] for hit in group), found))
        for a, b, form, similarity, match in group:
            span, glued, proper = q.span(a, b)
            for entity_row, original in self._tables.entries(*rows[form]):
                exact = _exactness(original, span, glued)
                if match == "exact" and _strict(form) and exact < 0.7:
                    continue
                entity = self._tables.entity(entity_row)
                candidate = self._candidate(entity, form, original, span, similarity, match, proper, exact)
                if entity[0] not in best or candidate.score > best[entity[0]][0].score:
                    best[entity[0]] = (candidate, a, b)
        ranked = sorted(best.values(), key=lambda c: (-c[0].score, -c[0].degree, c[0].id))[:k]
        start, end = q.original(ranked[0][1], ranked[0][2])
        return Mention(q.text[start:end], start, end, tuple(c for c, _, _ in ranked))

    def _candidate(self, entity: tuple[str, str, int, str | None], form: str, original: str, span: str,
                   similarity: float, match: str, proper: float, exact: float) -> Candidate:
        """similarity x (weighted length, exactness, proper-noun evidence and popularity), in [0, 1]."""
        if match == "exact":
            match = "exact" if exact else "normalized"
        else:  # half credit when the capitalization agrees up to the repaired typo
            exact = 0.5 if match == "fuzzy" and _case_agrees(original, span) else 0.0
        entity_id, label, degree, description = entity
        w_len, w_exact, w_proper, w_pop = self.config.weights
        length = 1.0 - math.exp(-_weight(form) / 10.0)
        popularity = min(1.0, math.log1p(degree) / _LOG_POPULAR)
        score = similarity * (w_len * length + w_exact * exact + w_proper * proper + w_pop * popularity)
        return Candidate(entity_id, label, round(min(max(score, 0.0), 1.0), 4), match, degree, description)

    def _ngrams(self, norm: str) -> list[tuple[int, int]]:
        """Spans of word n-grams that neither start nor end with a stopword."""
        tokens = _tokens(norm)
        if len(tokens) > self.config.max_fallback_tokens:
            return []
        longest = [self.config.max_ngram * (2 if no_space(norm[a]) else 1) for a, _ in tokens]  # CJK: chars
        return [(a, tokens[j][1]) for i, (a, b) in enumerate(tokens) if norm[a:b] not in STOPWORDS
                for j in range(i, min(i + longest[i], len(tokens))) if norm[slice(*tokens[j])] not in STOPWORDS]

    def _fuzzy(self, q: _Question, covered: list[tuple[int, int]]) -> list[list[_Hit]]:
        """Typo-tolerant matches: spell out-of-vocabulary words like the closest word of an indexed
        name, match the corrected question exactly, and keep the new spans close to their form.

        A span is kept when it holds a corrected word, overlaps no exact mention and its rapidfuzz
        ``ratio`` to the form reaches ``fuzzy_threshold``. A typo that spells another known word
        ("Heat" for "Heart") is missed; CJK text is matched exactly or densely only.
        """
        from rapidfuzz import fuzz

        tokens = _tokens(q.norm)
        words = self._corrected(q.norm, tokens, covered) if len(tokens) <= self.config.max_fallback_tokens else None
        if not self._tables.form_count or words is None:
            return []
        text, token_of = "", []
        for i, word in enumerate(words):
            if i and tokens[i - 1][1] < tokens[i][0]:
                text += " "
                token_of.append(-1)
            text += word
            token_of.extend([i] * len(word))
        hits: list[_Hit] = []
        for start, end, _, _ in self._matches(text):
            form = text[start:end]
            first, last = token_of[start], token_of[end - 1]
            a, b = tokens[first][0], tokens[last][1]
            if (any(words[i] != q.norm[slice(*tokens[i])] for i in range(first, last + 1))
                    and all(b <= x or a >= y or a <= x and y <= b for x, y in covered)):
                similarity = fuzz.ratio(q.norm[a:b], form)
                if similarity >= self.config.fuzzy_threshold:
                    hits.append((a, b, form, similarity / 100.0, "fuzzy"))
        return _select(hits)

    def _corrected(self, norm: str, tokens: list[tuple[int, int]], covered: list[tuple[int, int]]) -> list[str] | None:
        """The words of ``norm``, unknown ones replaced by their closest known word; None if none was."""
        from rapidfuzz import fuzz, process

        ratio = self.config.fuzzy_threshold / 100.0
        words, changed = [], False
        known = self._tables.known([norm[a:b] for a, b in tokens])
        for (a, b), is_known in zip(tokens, known.tolist()):
            word = norm[a:b]
            if (len(word) >= self.config.fuzzy_min_chars and not is_known and not no_space(word[0])
                    and all(b <= x or a >= y for x, y in covered)):
                vocabulary = self._tables.word_list()  # by length (mapped, materialized once)
                if self._lengths is None:
                    self._lengths = [len(w) for w in vocabulary]
                lo = bisect.bisect_left(self._lengths, math.ceil(len(word) * ratio / (2 - ratio)))
                hi = bisect.bisect_right(self._lengths, math.floor(len(word) * (2 - ratio) / ratio))
                best = process.extractOne(word, vocabulary[lo:hi], scorer=fuzz.ratio,
                                          score_cutoff=self.config.fuzzy_threshold)
                if best is not None:
                    word, changed = best[0], True
            words.append(word)
        return words if changed else None

    def _dense(self, q: _Question, k: int, embedder: Embedder) -> list[list[_Hit]]:
        """Matches by cosine of embedded n-grams (``query``) and embedded forms (``passage``)."""
        spans = self._ngrams(q.norm)
        if not spans:
            return []
        texts = [q.text[slice(*q.original(a, b))] for a, b in spans]
        similarities = np.asarray(embedder.query(texts), dtype=np.float32) @ self._vectors.T
        top = min(k, similarities.shape[1])
        hits: list[_Hit] = []
        for (a, b), row in zip(spans, similarities):
            for j in np.argpartition(-row, top - 1)[:top]:
                if row[j] >= self.config.dense_threshold:
                    hits.append((a, b, self._vector_forms[int(j)], float(row[j]), "dense"))
        return _select(hits)

    def save(self, directory: str | Path) -> None:
        """Write the index to ``directory`` (created if needed).

        The tables go to Arrow files that ``load`` maps without reading; the dense vectors (when
        any) to ``vectors.npy`` and ``vector_forms.json``. Each file is written under a temporary
        name and renamed; the manifest goes last with each file's size and checksum, so a reader
        never takes a half-written index for whole.
        """
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / MANIFEST).unlink(missing_ok=True)
        vectors_digest = None
        if self._vector_forms:
            buffer = io.BytesIO()
            np.save(buffer, np.asarray(self._vectors, dtype=np.float32))
            write_atomic(path / VECTORS, buffer.getvalue())
            write_atomic(path / VECTOR_FORMS, json.dumps(self._vector_forms, ensure_ascii=False).encode())
            vectors_digest = _digest(buffer.getvalue() + (path / VECTOR_FORMS).read_bytes())
        else:
            (path / VECTORS).unlink(missing_ok=True)
            (path / VECTOR_FORMS).unlink(missing_ok=True)
        self._tables.save(path, {"vectors": len(self._vector_forms),
                                 "dimension": int(self._vectors.shape[1]) if self._vector_forms else None,
                                 "embedder": getattr(self.embedder, "name", None), "vectors_digest": vectors_digest})

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder | None = None,
             config: LinkerConfig = LinkerConfig()) -> EntityLinker:
        """Map an index written by ``save`` (nothing is parsed or rebuilt: milliseconds at any size).

        Args:
            directory: where ``save`` wrote it.
            embedder: the embedder for the dense fallback; it should be the one the saved vectors
                came from (a different ``name`` gets the forms embedded again).
            config: linking settings.

        Raises:
            SourceFormatError: there is no index, it is of another format version, or it does
                not match its manifest (an interrupted save).
        """
        path = Path(directory)
        tables, manifest = LinkerTables.load(path)
        vectors = None
        name = getattr(embedder, "name", None)
        if manifest.get("vectors") and name in (None, manifest.get("embedder")):
            try:
                blob, forms_blob = (path / VECTORS).read_bytes(), (path / VECTOR_FORMS).read_bytes()
                if manifest.get("vectors_digest") != _digest(blob + forms_blob):
                    raise ValueError(f"{VECTORS} does not match its manifest (interrupted save?)")
                vectors = (list(json.loads(forms_blob)), np.load(io.BytesIO(blob), allow_pickle=False))
            except (OSError, ValueError, EOFError) as exc:
                raise SourceFormatError(path, f"damaged entity linker index ({exc!r})") from exc
            if len(vectors[1]) != len(vectors[0]):
                raise SourceFormatError(path / VECTORS, "does not match the index (interrupted save?)")
        return cls(tables, config, embedder, vectors)


def _tables(rows: dict[str, _Row]) -> LinkerTables:
    return LinkerTables.build((i, r.label, r.degree, r.description, r.forms) for i, r in rows.items())


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()

