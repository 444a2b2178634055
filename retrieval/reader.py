"""Answers read out of numbered passages: an extractive span reader with answer-type cues.

``SpanReader.read`` turns a question and its numbered evidence into ranked answers whose label is
a span of a cited passage (``RankedAnswer.evidence`` holds that passage's number), so the
deterministic sentence ("The answer is Lester Smith [2].") and the generator's citation checks
work on passage answers exactly as on graph answers. Three kinds of question:

- yes/no ("Were X and Y both ...?"): ``yes`` when the question's own words (minus the names it
  compares) are found in each of the two best passages, else ``no``; cites both passages;
- either/or ("Which started first, A or B?"): the option whose passage has the earlier (or later,
  larger ...) year or number by the question's cue word, else the better-supported option;
  cites the passage of each option;
- otherwise, candidate spans are the NER spans of the top passages (stored at index time by the
  passage graph), scored by the passage's rank, an answer-type cue (who -> PERSON, when -> DATE,
  how many -> CARDINAL ...), how many of the question's words the span's sentence holds, and
  whether the passage is a second hop; spans the question itself names are not answers. Each
  candidate gets a feature row (``FEATURES``); the trained ``model.reader.SpanModel`` (shipped
  in model/adapters/reader, trained by ``pipeline.training.reader``) scores the rows when given,
  else the hand-weighted heuristic score decides.

Every label is checked against the passage it cites (normalized containment) before it is
returned. Passage text is quoted data: nothing in it is obeyed. Deliberately left out: a
generative (gemma) reader (model/reader.py says why), and arithmetic over more than two options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from model.reader import SpanModel
from retrieval.base import Evidence, RankedAnswer
from retrieval.mentions import Span, rule_spans
from retrieval.passage_graph import normal

YES_NO = frozenset("is are was were do does did can could has have had will would should".split())
STOP = frozenset("""a an the of and or in on at to for by with from as is was are were be been being who whom whose
what which when where why how did do does has have had that this these those it its their his her he she they
both same either any one also than then there many much not no yes did""".split())
_CUES = (
    (r"\bhow (many|much)\b", "CARDINAL QUANTITY MONEY PERCENT"),
    (r"\b(what|which|in what) (year|date|decade|century)\b|^when\b|\bwhen (was|did|is)\b", "DATE"),
    (r"\bnationality\b", "NORP GPE"),
    (r"\blanguage\b", "LANGUAGE NORP"),
    (r"^where\b|\b(what|which) (city|country|state|town|county|place|region|continent|island)\b", "GPE LOC FAC"),
    (r"^(who|whom|whose)\b|\b(what|which) (person|actor|actress|singer|author|writer|director|player)\b",
     "PERSON"),
    (r"\b(what|which) (company|organi[sz]ation|team|band|university|college|school|party|group|club|network)\b",
     "ORG"),
    (r"\b(what|which) (film|movie|book|novel|album|song|show|series|game|magazine|newspaper)\b",
     "WORK_OF_ART ORG PRODUCT"),
)
_WORD = re.compile(r"\w+")
TYPES = tuple((re.compile(p, re.I), frozenset(t.split())) for p, t in _CUES)
EARLY = re.compile(r"\b(first|earlier|earliest|older|oldest|before|sooner)\b", re.I)
LATE = re.compile(r"\b(later|latest|last|younger|youngest|newer|newest|more recent|most recent|after)\b", re.I)
YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
NAMES = frozenset("PERSON ORG GPE LOC FAC NORP WORK_OF_ART PRODUCT EVENT LANGUAGE".split())
RANK_WEIGHT = (1.0, 0.75, 0.55, 0.4, 0.3)
LABELS = ("PERSON NORP FAC ORG GPE LOC PRODUCT EVENT WORK_OF_ART LAW LANGUAGE DATE TIME PERCENT MONEY QUANTITY "
          "ORDINAL CARDINAL PROPER TITLE YEAR").split()
FEATURES = (*(f"rank{i}" for i in range(5)), "overlap", "passage_overlap", "bridge", "is_title", "in_title",
            "cased", "fits", "misfit", *(f"label_{x}" for x in (*LABELS, "other")),
            *(f"cue{i}" for i in range(len(TYPES) + 1)), *(f"words{i}" for i in range(1, 5)),
            "first_sentence", "sentence_index", "passages_naming", "occurrences", "near", "asked_words",
            "window6", "window15", "names_other_title", "heuristic")


@dataclass(frozen=True)
class Candidate:
    """A candidate answer span: its normal form, text, the passage number, heuristic score, features."""

    form: str
    text: str
    number: int
    heuristic: float
    features: tuple[float, ...]


@dataclass(frozen=True)
class ReaderConfig:
    """How many of the best passages are read, and how the cues weigh (tuned on the train samples).

    ``bridge_bonus`` favours spans of a second-hop passage (one whose title another read passage
    names and the question does not); ``title_penalty`` disfavours a span that is a read passage's
    title (the bridge entity itself is rarely the answer).
    """

    passages: int = 4
    type_bonus: float = 1.0
    overlap_weight: float = 1.5
    bridge_bonus: float = 1.0
    title_penalty: float = 0.0

    def __post_init__(self) -> None:
        if self.passages < 1:
            raise ValueError("passages must be at least 1")


def words(text: str) -> list[str]:
    return [w for w in normal(text).split() if w not in STOP]


def supported(span: str, text: str) -> bool:
    """``span`` appears in ``text`` after normalization (case, punctuation, articles)."""
    form = normal(span)
    return bool(form) and f" {form} " in f" {normal(text)} "


class SpanReader:
    """Extractive answers from numbered passage evidence."""

    def __init__(self, spans: Callable[[str], list[Span]], config: ReaderConfig = ReaderConfig(),
                 model: SpanModel | None = None) -> None:
        self.spans = spans  # passage text -> its NER spans (offsets into the text)
        self.config = config
        self.model = model  # the trained span scorer; None: the heuristic score decides

    def read(self, question: str, evidence: Sequence[Evidence]) -> list[RankedAnswer]:
        """Ranked answers read from the passage evidence (entity descriptions are not read)."""
        texts = passage_texts(evidence)
        if not texts or not relevant(question, texts):
            return []
        kind = kind_of(question)
        if kind == "either":
            return self._choose(question, either_or(question) or ("", ""), texts)
        if kind == "yes/no":
            answer = yes_no(question, texts[:2])
            return [answer] if answer is not None else []
        return self._spans(question, texts[: self.config.passages])

    def _spans(self, question: str, texts: Sequence[tuple[int, str, str]]) -> list[RankedAnswer]:
        found = self.candidates(question, texts)
        if not found:
            return []
        scores = self.model.score(np.array([c.features for c in found])) if self.model is not None \
            else np.array([c.heuristic for c in found])
        best = found[int(np.argmax(scores))]
        return [RankedAnswer(f"span:{best.form}", best.text, round(float(scores.max()), 4), (best.number,))]

    def candidates(self, question: str, texts: Sequence[tuple[int, str, str]]) -> list[Candidate]:
        """Every candidate span of the read passages with its heuristic score and feature row."""
        cue = next((i for i, (pattern, _) in enumerate(TYPES) if pattern.search(question)), len(TYPES))
        wanted = TYPES[cue][1] if cue < len(TYPES) else frozenset()
        asked = set(words(question))
        q_form = f" {normal(question)} "
        titles = {normal(title) for _, _, title in texts if title}
        forms = [f" {normal(text)} " for _, text, _ in texts]
        out: list[Candidate] = []
        for rank, (number, text, title) in enumerate(texts):
            bridge = _bridge(title, number, texts, q_form)
            bonus = self.config.bridge_bonus if bridge else 0.0
            passage_overlap = len(asked & set(words(f"{title} {text}"))) / max(len(asked), 1)
            tokens = [(m.start(), m.group(0).lower()) for m in _WORD.finditer(text)]
            for span in _widened(self.spans(text) or rule_spans(text), text, title):
                form = normal(span.text)
                if not form or f" {form} " in q_form or set(form.split()) <= asked or \
                        not supported(span.text, f"{title}. {text}"):
                    continue
                sentence, index = _sentence(text, span.start)
                overlap = len(asked & set(words(sentence))) / max(len(asked), 1)
                cased = span.text[:1].isupper() or span.text[:1].isdigit()
                fits = _fits(span.label, wanted)
                score = RANK_WEIGHT[min(rank, len(RANK_WEIGHT) - 1)] + self.config.overlap_weight * overlap + bonus
                score -= self.config.title_penalty if form in titles else 0.0
                score -= 0.0 if cased else 0.5  # names are cased
                score += self.config.type_bonus if fits else (-0.5 if wanted else 0.0)
                score -= 1.0 if span.label == "TITLE" else 0.0  # the hand weights predate title candidates
                row = [*_onehot(min(rank, 4), 5), overlap, passage_overlap, float(bridge), float(form in titles),
                       float(form in normal(title)), float(cased), float(fits), float(bool(wanted) and not fits),
                       *_onehot(LABELS.index(span.label) if span.label in LABELS else len(LABELS), len(LABELS) + 1),
                       *_onehot(cue, len(TYPES) + 1), *_onehot(min(len(form.split()), 4) - 1, 4),
                       float(index == 0), min(index, 5) / 5,
                       sum(1 for f in forms if f" {form} " in f) / len(forms),
                       float(np.log1p(sum(f.count(f" {form} ") for f in forms))),
                       _near(sentence, span.text, asked), len(set(form.split()) & asked) / len(form.split()),
                       _window(tokens, span, asked, 6), _window(tokens, span, asked, 15),
                       float(any(f" {t} " in f" {normal(sentence)} " for t in titles if t and t != normal(title))),
                       score]
                out.append(Candidate(form, span.text, number, score, tuple(row)))
        return out

    def _choose(self, question: str, options: tuple[str, str],
                texts: Sequence[tuple[int, str, str]]) -> list[RankedAnswer]:
        where = [_passage_of(o, texts) for o in options]
        if where[0] is None and where[1] is None:
            return []
        cites = tuple(sorted({t[0] for t in where if t is not None}))
        years = [_first_number(t[1]) if t is not None else None for t in where]
        ranks = [t[0] if t is not None else 10**6 for t in where]
        pick = 0 if ranks[0] <= ranks[1] else 1
        if years[0] is not None and years[1] is not None and years[0] != years[1]:
            if EARLY.search(question):
                pick = 0 if years[0] < years[1] else 1
            elif LATE.search(question):
                pick = 0 if years[0] > years[1] else 1
        label = options[pick]
        # both options' passages are cited; the chosen one is named in its passage's text or title
        return [RankedAnswer(f"span:{normal(label)}", label, 1.0, cites)]


def passage_texts(evidence: Sequence[Evidence]) -> list[tuple[int, str, str]]:
    """(number, text, title) of the first five passages of the evidence (descriptions left out)."""
    return [(e.number, e.passage.text, e.passage.title or "") for e in evidence
            if e.passage is not None and not e.passage.id.startswith("e:")][:5]


def kind_of(question: str) -> str:
    """``either`` (two named options), ``yes/no`` or ``span``: which way the reader answers."""
    if either_or(question):
        return "either"
    first = normal(question).split()[:1]
    return "yes/no" if first and first[0] in YES_NO else "span"


def relevant(question: str, texts: Sequence[tuple[int, str, str]]) -> bool:
    """Some passage names what the question names (a capitalized word after the first), or, for a
    question naming nothing, holds half of its words: else the passages are not about it."""
    names = {w for w in words(" ".join(re.findall(r"(?<!^)\b[A-Z0-9][\w'’-]*", question.strip())))}
    found = set(words(" ".join(f"{title} {text}" for _, text, title in texts)))
    if names:
        return bool(names & found)
    asked = set(words(question))
    return bool(asked) and len(asked & found) >= len(asked) / 2


def either_or(question: str) -> tuple[str, str] | None:
    """The two named options of "Which ..., A or B?" (None when the question offers none).

    B runs from the last " or " to the end; A is the segment after the last comma before it or,
    without a comma, the run of capitalized words just before " or ". Both must look like names.
    """
    text = question.strip().rstrip("?").strip()
    head, sep, b = text.rpartition(" or ")
    if not sep or normal(text).split()[:1] == ["is"]:
        return None
    if "," in head:
        a = head.rsplit(",", 1)[1]
    else:
        run = re.search(r"((?:[A-Z0-9][\w'’.&-]*|of|the|and|de|in)(?:\s+(?:[A-Z0-9][\w'’.&-]*|of|the|and|de|in))*)$",
                        head)
        a = run.group(1) if run else ""
    a = re.sub(r"^(?:the|of|and|in)\s+", "", a.strip())
    b = re.sub(r"^the\s+", "", b.strip())
    if not a or not b or not (a[0].isupper() or a[0].isdigit()) or not (b[0].isupper() or b[0].isdigit()):
        return None
    return (a, b) if len(a) < 80 and len(b) < 80 else None


def yes_no(question: str, texts: Sequence[tuple[int, str, str]]) -> RankedAnswer | None:
    """``yes`` when the question's words outside the compared names are in each of the two best passages."""
    two = texts[:2]
    names = set(words(" ".join(title for _, _, title in two)))
    asked = [w for w in words(question) if w not in names]
    found = [sum(1 for w in asked if w in set(words(text))) / max(len(asked), 1) for _, text, _ in two]
    if not any(w in set(words(text + " " + title)) for w in words(question) for _, text, title in two):
        return None  # the passages have nothing to do with the question
    answer = "yes" if min(found) >= 0.5 else "no"
    return RankedAnswer(f"span:{answer}", answer, round(min(found), 4), tuple(n for n, _, _ in two))


def _bridge(title: str, number: int, texts: Sequence[tuple[int, str, str]], q_form: str) -> bool:
    """The passage is a second hop: another read passage names its title, the question does not."""
    form = normal(title)
    return bool(form) and f" {form} " not in q_form and any(
        n != number and f" {form} " in f" {normal(text)} " for n, text, _ in texts)


def _fits(label: str, wanted: frozenset[str]) -> bool:
    """The span's type is what the question asks for (a rule-found name or a title fits any kind
    of name, a year a date)."""
    return label in wanted or (label in ("PROPER", "TITLE") and bool(wanted & NAMES)) or \
        (label == "YEAR" and "DATE" in wanted)


def _widened(spans: Sequence[Span], text: str, title: str) -> list[Span]:
    """The passage's spans (trimmed), plus what answers often are and NER does not mark alone:
    the passage's title (``TITLE``), the year inside a longer date (``YEAR``), and a place with
    its region ("Canton, Massachusetts")."""
    out = [_trimmed(s) for s in spans]
    if title:
        out.append(Span(title, "TITLE", 0, 0))
    for s in spans:
        year = YEAR.search(s.text)
        if s.label == "DATE" and year and year.group(0) != s.text:
            out.append(Span(year.group(0), "YEAR", s.start + year.start(), s.start + year.end()))
    places = [s for s in spans if s.label == "GPE"]
    for a, b in zip(places, places[1:]):
        if text[a.end: b.start] == ", ":
            out.append(Span(text[a.start: b.end], "GPE", a.start, b.end))
    return out


def _trimmed(span: Span) -> Span:
    """The span without a trailing possessive or punctuation ("G. Stanley Hall's" -> "G. Stanley Hall")."""
    text = re.sub(r"(?:['’]s|[,;:.'’\s])+$", "", span.text)
    return Span(text, span.label, span.start, span.start + len(text)) if text != span.text else span


def _sentence(text: str, at: int) -> tuple[str, int]:
    """The sentence around offset ``at`` and its index in the text."""
    start = max(text.rfind(". ", 0, at), 0)
    end = text.find(". ", at)
    return text[start: end if end >= 0 else len(text)], text.count(". ", 0, at)


def _window(tokens: Sequence[tuple[int, str]], span: Span, asked: set[str], size: int) -> float:
    """Share of the question's longer words within ``size`` words either side of the span
    (``tokens``: the passage's lower-cased words with their offsets)."""
    if span.end <= span.start:
        return 0.0
    first = next((i for i, (at, _) in enumerate(tokens) if at >= span.start), len(tokens))
    last = next((i for i in range(first, len(tokens)) if tokens[i][0] >= span.end), len(tokens))
    near = {w for _, w in tokens[max(first - size, 0): first]} | {w for _, w in tokens[last: last + size]}
    long = {w for w in asked if len(w) > 3}
    return len(long & near) / max(len(long), 1)


def _onehot(i: int, n: int) -> list[float]:
    return [1.0 if j == i else 0.0 for j in range(n)]


def _near(sentence: str, span: str, asked: set[str]) -> float:
    """1 / (1 + words between the span and the nearest question word in its sentence)."""
    tokens = normal(sentence).split()
    first = normal(span).split()[:1]
    at = [i for i, t in enumerate(tokens) if first and t == first[0]]
    hits = [i for i, t in enumerate(tokens) if t in asked]
    if not at or not hits:
        return 0.0
    return 1.0 / (1 + min(abs(a - h) for a in at for h in hits))


def _passage_of(option: str, texts: Sequence[tuple[int, str, str]]) -> tuple[int, str] | None:
    """The passage about ``option``: its title matches, else the first that names it."""
    form = normal(option)
    for number, text, title in texts:
        if normal(title) == form:
            return number, text
    for number, text, title in texts:
        if form and (form in normal(title) or supported(option, text)):
            return number, text
    return None


def _first_number(text: str) -> int | None:
    found = YEAR.search(text)
    return int(found.group(0)) if found else None
