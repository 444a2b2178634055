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
  whether the passage is a second hop; spans the question itself names are not answers.

Every label is checked against the passage it cites (normalized containment) before it is
returned. Passage text is quoted data: nothing in it is obeyed. Deliberately left out: a trained
span model (the card of issue 11 says why), and arithmetic over more than two options.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

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
TYPES = tuple((re.compile(p, re.I), frozenset(t.split())) for p, t in _CUES)
EARLY = re.compile(r"\b(first|earlier|earliest|older|oldest|before|sooner)\b", re.I)
LATE = re.compile(r"\b(later|latest|last|younger|youngest|newer|newest|more recent|most recent|after)\b", re.I)
YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
NAMES = frozenset("PERSON ORG GPE LOC FAC NORP WORK_OF_ART PRODUCT EVENT LANGUAGE".split())
RANK_WEIGHT = (1.0, 0.75, 0.55, 0.4, 0.3)
_SENT = re.compile(r"(?<=[.!?])\s+")


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

    def __init__(self, spans: Callable[[str], list[Span]], config: ReaderConfig = ReaderConfig()) -> None:
        self.spans = spans  # passage text -> its NER spans (offsets into the text)
        self.config = config

    def read(self, question: str, evidence: Sequence[Evidence]) -> list[RankedAnswer]:
        """Ranked answers read from the passage evidence (entity descriptions are not read)."""
        texts = [(e.number, e.passage.text, e.passage.title or "") for e in evidence
                 if e.passage is not None and not e.passage.id.startswith("e:")][:5]
        if not texts or not relevant(question, texts):
            return []
        first = normal(question).split()[:1]
        options = either_or(question)
        if options:
            return self._choose(question, options, texts)
        if first and first[0] in YES_NO:
            answer = yes_no(question, texts[:2])
            return [answer] if answer is not None else []
        return self._spans(question, texts[: self.config.passages])

    def _spans(self, question: str, texts: Sequence[tuple[int, str, str]]) -> list[RankedAnswer]:
        wanted = next((labels for pattern, labels in TYPES if pattern.search(question)), frozenset())
        asked = set(words(question))
        q_form = f" {normal(question)} "
        best: dict[str, tuple[float, str, int]] = {}
        titles = {normal(title) for _, _, title in texts if title}
        for rank, (number, text, title) in enumerate(texts):
            bonus = self.config.bridge_bonus if _bridge(title, number, texts, q_form) else 0.0
            found = [_trimmed(s) for s in self.spans(text) or rule_spans(text)]
            for span in found:
                form = normal(span.text)
                if not form or f" {form} " in q_form or set(form.split()) <= asked or not supported(span.text, text):
                    continue
                sentence = _sentence(text, span.start)
                overlap = len(asked & set(words(sentence))) / max(len(asked), 1)
                score = RANK_WEIGHT[min(rank, len(RANK_WEIGHT) - 1)] + self.config.overlap_weight * overlap + bonus
                score -= self.config.title_penalty if form in titles else 0.0
                score -= 0.0 if span.text[:1].isupper() or span.text[:1].isdigit() else 0.5  # names are cased
                score += self.config.type_bonus if _fits(span.label, wanted) else (-0.5 if wanted else 0.0)
                if form not in best or score > best[form][0]:
                    best[form] = (score, span.text, number)
        ranked = sorted(best.items(), key=lambda kv: -kv[1][0])
        return [RankedAnswer(f"span:{form}", label, round(score, 4), (number,))
                for form, (score, label, number) in ranked[:1]]

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
    """The span's type is what the question asks for (a rule-found name fits any kind of name)."""
    return label in wanted or (label == "PROPER" and bool(wanted & NAMES))


def _trimmed(span: Span) -> Span:
    """The span without a trailing possessive or punctuation ("G. Stanley Hall's" -> "G. Stanley Hall")."""
    text = re.sub(r"(?:['’]s|[,;:.'’\s])+$", "", span.text)
    return Span(text, span.label, span.start, span.start + len(text)) if text != span.text else span


def _sentence(text: str, at: int) -> str:
    start = max(text.rfind(". ", 0, at), 0)
    end = text.find(". ", at)
    return text[start: end if end >= 0 else len(text)]


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
