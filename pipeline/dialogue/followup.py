"""Follow-up resolution: pure rules over a turn's text and the conversation's ``Focus``.

The rules (pronouns, ellipsis, "what about X", positions, corrections, "else") are described in
pipeline/dialogue/session.py's docstring; the linker and the fit of a question to an entity are
passed in as functions, so the rules know nothing of the facade.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kg.base import LITERAL_PREFIX
from pipeline.dialogue.state import DialogueState
from pipeline.types import Option, ResolvedReference
from retrieval.base import Candidate, Mention
from retrieval.paths import mask

Link = Callable[[str], list[Mention]]


Fit = Callable[[str, str], float]  # (question without the reference, entity id) -> best relation path score


Reference = tuple[tuple[int, int], tuple[str, str], str, str]  # span, (id, label), rule, suffix


@dataclass(frozen=True)
class Focus:
    """What follow-ups refer to: the last answered question, its topic and answers."""

    question: str | None = None  # the stand-alone question last answered
    span: tuple[int, int] | None = None  # where its topic is named in ``question``
    topic: tuple[str, str] | None = None  # (id, label)
    relation: tuple[str, ...] = ()  # its relation path's hops (``^`` marks a reversed one)
    answers: tuple[tuple[str, str], ...] = ()
    mention: str | None = None  # the topic mention and all its candidates, for corrections
    candidates: tuple[Option, ...] = ()
    turn: int = 0  # the turn that set it


WHAT_ABOUT = re.compile(r"^(?:and\s+|so\s+)?(?:(?:what|how)\s+about|(?:the\s+)?same\s+(?:question|thing)\s+"
                        r"(?:for|about)|(?:now\s+)?(?:do\s+)?the\s+same\s+for)\s+(?P<x>.+?)\s*[?.]*$",
                        re.I)  # "!" may be a name's


PRONOUN = re.compile(r"\b(?:(?P<p>he|she|him|her|his|hers|they|them|their|it|its)|(?:this|that|the same)\s+"
                     r"(?:film|movie|one|book|person|country|city|place))\b", re.I)


POSITION = re.compile(r"\bthe\s+(?P<n>first|second|third|fourth|fifth|last|1st|2nd|3rd|4th|5th)(?:\s+one)?\b", re.I)


FIT_MARGIN = 0.05  # how much better a question must fit a pronoun's other referent to switch


ELSE = re.compile(r"\b(?:else|other|another)\b", re.I)


CORRECTION = re.compile(r"^(?:(?:no|nope|wrong)\s*[,.!;:-]+|not (?:that|this)(?: one)?\b[,.!]*)\s*"
                        r"(?:i\s+(?:meant|mean|wanted)\s+)?(?P<a>.*)$|^i\s+(?:meant|mean)\s+(?P<b>.+)$", re.I)


QUESTION = re.compile(r"[?？]\s*$|^(?:and\s+)?(?:who|whom|whose|what|which|when|where|why|how|list|name|tell)\b", re.I)


PERSON = frozenset("he she him her his hers they them their".split())


POSSESSIVE = frozenset("his its their".split())


ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "1st": 1, "2nd": 2, "3rd": 3,
            "4th": 4, "5th": 5, "two": 2, "three": 3, "four": 4, "five": 5, "last": -1}


FILLER = frozenset("""the a an one i meant mean want wanted no nope not that this it is was from with by of in
please which movie film option number released""".split())


@dataclass(frozen=True)
class Rewrite:
    """A turn as a stand-alone question, with its linked mentions (substituted entities first)."""

    question: str
    mentions: tuple[Mention, ...]
    exclude: tuple[str, ...] = ()
    rule: str = "none"  # none | pronoun | position | type | order | what-about | ellipsis | chosen
    original: dict[tuple[int, int], Mention] = field(default_factory=dict)  # linker's view of a substituted span
    link_ms: float = 0.0
    references: tuple[ResolvedReference, ...] = ()  # what was resolved, and from which turn


def resolve(text: str, focus: Focus, link: Link, fit: Fit | None = None,
            state: DialogueState | None = None) -> Rewrite:
    """The stand-alone form of ``text`` given the conversation's ``focus`` (see the module docstring).

    ``fit(question, entity id)`` says how well a question (its reference removed) can be asked
    of an entity; with it, a pronoun may switch to its other possible referent. ``state`` (all
    earlier turns' entities) resolves references by type and order ("that director", "the
    second movie") to whichever turn they name, before the focus rules.
    """
    start = time.perf_counter()
    found = link(text)
    typed = state.find(text, [(m.start, m.end) for m in found]) if state is not None else None
    said, turn = text, focus.turn
    span: tuple[int, int] | None
    entity: tuple[str, str] | None
    if typed is not None:  # "that director" -> "director James Cameron": the noun still says which relation
        r, noun = typed.referent, typed.noun
        s, e = typed.span
        head = f"{noun} " if noun else ""
        question, span, entity = text[:s] + head + r.label + text[e:], (s + len(head), s + len(head) + len(r.label)), \
            (r.id, r.label)
        rule, turn, said = typed.rule, r.turn, text[s:e]
    else:
        question, rule, span, entity = _rewrite(text, focus, found, fit)
    if rule != "none":
        found = link(question)
        said = said if typed is not None else _said(text, question, span) if rule in ("pronoun", "position") else ""
    elif not found and focus.topic and not _unknown_name(text):  # ellipsis: ask it of the topic
        question = text.rstrip(" ?.!") + " " + focus.topic[1] + "?"
        rule, span, entity = "ellipsis", (len(question) - 1 - len(focus.topic[1]), len(question) - 1), focus.topic
        found, said = link(question), ""
    mentions, original = _place(found, span, entity)
    earlier: tuple[str, ...] = (focus.topic[0],) if focus.topic else ()
    if typed is not None and state is not None:  # "what other films did that director make": not the turn's film
        earlier = tuple(r.id for r in state.referents if r.turn == typed.referent.turn and r.role == "topic")
    exclude = earlier if rule != "none" and ELSE.search(question) else ()
    refs = () if entity is None or rule == "none" else (ResolvedReference(said, entity[0], entity[1], turn, rule),)
    return Rewrite(question, mentions, exclude, rule, original, round((time.perf_counter() - start) * 1000, 2), refs)


def _unknown_name(text: str) -> bool:
    """A capitalised word after the first one ("the capital of Atlantis"), or a Chinese name owning
    the question ("亚特兰蒂斯的首都", not "那个国家的" or "它的"): a name the linker did not find, so
    the turn is not an ellipsis of the focus."""
    if _ZH_OWNER.match(text.strip()):
        return True
    return any(w[0].isupper() and w != "I" for w in re.findall(r"[^\W\d_][\w'’-]*", text)[1:])


_ZH_OWNER = re.compile(r"^(?![那这它他她其该此])[\u3400-\u9fff·]{2,}的")


def _said(text: str, question: str, span: tuple[int, int] | None) -> str:
    """The words of ``text`` a substitution replaced (``question[span]`` took their place)."""
    if span is None:
        return ""
    tail = len(question) - span[1]
    return text[span[0]: len(text) - tail].strip() if len(text) - tail >= span[0] else ""


def _rewrite(text: str, focus: Focus, found: list[Mention], fit: Fit | None
             ) -> tuple[str, str, tuple[int, int] | None, tuple[str, str] | None]:
    """(question, rule, span of the substituted name, its entity when known)."""
    about = WHAT_ABOUT.match(text)
    bare = text.rstrip(" ?.")
    name = about["x"] if about else bare if _reference(bare, focus, whole=True) else None  # "the second one?"
    if name is not None and focus.question and focus.span:
        s, e = focus.span
        question, span = focus.question[:s] + name + focus.question[e:], (s, s + len(name))
        ref = _reference(name, focus, whole=True)  # "what about the second one?"
        if ref is None:
            return question, "what-about", span, None
        question, span, entity = _put(question, span, ref[1], "")
        return question, "what-about", span, entity
    ref = _reference(text, focus, [(m.start, m.end) for m in found])
    if ref is None:
        return text, "none", None, None
    if ref[2] == "pronoun" and fit is not None:
        ref = _fitted(text, ref, focus, fit)
    question, span, entity = _put(text, ref[0], ref[1], ref[3])
    return question, ref[2], span, entity


def with_entity(question: str, span: tuple[int, int], entity: Option, link: Link,
                exclude: tuple[str, ...]) -> Rewrite:
    """``question`` with ``entity`` named at ``span`` and given as its linked mention."""
    text, at, ref = _put(question, span, (entity.id, entity.label), "")
    mentions, original = _place(link(text), at, ref)
    return Rewrite(text, mentions, exclude, "chosen", original)


def _reference(text: str, focus: Focus, names: list[tuple[int, int]] | None = None,
               whole: bool = False) -> Reference | None:
    """(span, (id, label), rule, suffix) of the first positional reference or pronoun in ``text``.

    A match inside a linked name (``names``: "It" in "It Happened One Night") is not a
    reference; with ``whole`` the reference must be all of ``text``.
    """
    def usable(m: re.Match[str] | None) -> bool:
        inside = any(a <= m.start() and m.end() <= b for a, b in names or ()) if m else True
        return m is not None and not inside and (not whole or m.span() == (0, len(text)))

    m = next((x for x in POSITION.finditer(text) if usable(x)), None)
    if m and focus.answers:
        n = ORDINALS[m["n"].lower()]
        if n <= len(focus.answers):
            return m.span(), focus.answers[n - 1 if n > 0 else -1], "position", ""
    m = next((x for x in PRONOUN.finditer(text) if usable(x)), None)
    if m and focus.topic:
        word = (m["p"] or "it").lower()
        return m.span(), _referent(word, focus), "pronoun", "'s" if word in POSSESSIVE else ""
    return None


def _fitted(text: str, ref: Reference, focus: Focus, fit: Fit) -> Reference:
    """The pronoun's other possible referent (topic or answer) when the question fits it clearly better."""
    answer = _entity_answer(focus)
    other = next((c for c in (focus.topic, answer) if c is not None and c != ref[1]), None)
    if other is None:
        return ref
    masked = mask(text, [ref[0]])
    return (ref[0], other, *ref[2:]) if fit(masked, other[0]) > fit(masked, ref[1][0]) + FIT_MARGIN else ref


def _entity_answer(focus: Focus) -> tuple[str, str] | None:
    """The last top answer, unless it is a literal (a year, a number)."""
    return focus.answers[0] if focus.answers and not focus.answers[0][0].startswith(LITERAL_PREFIX) else None


def _referent(word: str, focus: Focus) -> tuple[str, str]:
    assert focus.topic is not None
    entity = _entity_answer(focus)
    reversed_hop = bool(focus.relation) and focus.relation[-1].startswith("^")
    return entity if entity and (word in PERSON) != reversed_hop else focus.topic


def _put(text: str, span: tuple[int, int], entity: tuple[str, str], suffix: str
         ) -> tuple[str, tuple[int, int], tuple[str, str]]:
    s, e = span
    return text[:s] + entity[1] + suffix + text[e:], (s, s + len(entity[1])), entity


def _place(found: list[Mention], span: tuple[int, int] | None, entity: tuple[str, str] | None
           ) -> tuple[tuple[Mention, ...], dict[tuple[int, int], Mention]]:
    """The linked mentions, with the substituted entity (when any) as the first, certain one."""
    if span is None:
        return tuple(found), {}
    at = [m for m in found if m.start < span[1] and span[0] < m.end]
    rest = [m for m in found if m not in at]
    if entity is None:  # what-about: the linker decides what the new name means
        return tuple(at + rest), {}
    chosen = Mention(entity[1], span[0], span[1], (Candidate(entity[0], entity[1], 1.0, "chosen"),))
    return (chosen, *rest), {span: at[0]} if at else {}


def choose(reply: str, options: Sequence[Option], fallback_single: bool = False) -> Option | None:
    """The option a reply picks: by number ("2"), ordinal ("the second one"), or its words."""
    words = re.findall(r"\w+", reply.lower())
    numbers = [int(w) for w in words if w.isdigit() and 1 <= int(w) <= len(options)]
    if numbers and len(words) <= 3:
        return options[numbers[0] - 1]
    ordinals = [ORDINALS[w] for w in words if w in ORDINALS and ORDINALS[w] <= len(options)]
    if ordinals:
        return options[ordinals[0] - 1 if ordinals[0] > 0 else -1]
    content = {w for w in words if w not in FILLER}
    scores = [len(content & set(re.findall(r"\w+", o.describe().lower()))) for o in options]
    best = max(scores, default=0)
    if best > 0 and scores.count(best) == 1:
        return options[scores.index(best)]
    return options[0] if fallback_single and len(options) == 1 and content <= {"other"} else None


MEANT = re.compile(r"[,;.!]\s*i\s+(?:meant|mean|was\s+(?:asking|talking)\s+about)\s+(?P<x>.+)$", re.I)


def correction(text: str) -> str | None:
    """What a correction ("no, I meant the 1955 one") asks for, or None when ``text`` is not one."""
    m = CORRECTION.match(text)
    if m is not None:
        return (m["a"] if m["a"] is not None else m["b"]) or ""
    meant = MEANT.search(text)  # "that's the wrong one, I meant the original"
    return meant["x"].strip(" .!") or None if meant else None


def is_question(text: str) -> bool:
    return QUESTION.search(text) is not None


def as_mention(text: str, span: tuple[int, int], options: Sequence[Option]) -> Mention:
    return Mention(text, *span, tuple(Candidate(o.id, o.label, o.score, "linked") for o in options))
