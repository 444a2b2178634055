"""Dialogue state over the whole conversation: every entity a turn named or answered.

Each answered turn adds its topic entity (role ``topic``) and its ranked answers (role
``answer``, with their rank) as ``Referent`` s, with the relation they were reached by and its
direction. A later turn can refer back to any of them, not only to the last focus:

- by type: "that director", "this actor", "the same film" (not "the director": that is an ellipsis
  of the focus, "and the director?"). A referent whose description in the KB names the noun
  ("country in Western Europe") is taken first; A person noun
  ("director", "actor", "writer") matches a referent whose relation shares its stem ("directed
  by", "starred actors", "written by"; "screenwriter" and "author" read as "writer"); a thing noun
  ("film", "movie", "book", "country") takes the most recent referent that is the subject of its
  relation (a topic asked about forwards, or an answer reached backwards);
- by order with a type: "the second movie" is the second answer of the most recent turn with
  several answers of that kind;
- pronouns keep the focus rules of ``followup``; a person pronoun whose focus holds no person
  takes the most recent person referent.

The most recent match wins, and the referent records its turn, so a session can explain what it
resolved and from where. Literals (years, numbers) are never referents. Left out: entity types
from the graph (``rdf:type``, P31) and coreference by description ("the French one").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from kg.base import LITERAL_PREFIX

PERSON_NOUNS = frozenset("""director directors actor actors actress actresses writer writers author authors screenwriter
producer producers composer composers star stars filmmaker person man woman guy singer cast""".split())
THING_NOUNS = frozenset("film films movie movies book books show series country city place title picture one".split())
SYNONYMS = {"screenwriter": "writer", "author": "writer", "filmmaker": "director", "actress": "actor", "star": "actor",
            "cast": "actor"}
ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": -1, "1st": 1, "2nd": 2, "3rd": 3}
TYPED = re.compile(r"\b(?P<det>that|this|the same|the|those|these)\s+(?:(?P<n>first|second|third|fourth|fifth|last|"
                   r"1st|2nd|3rd)\s+)?(?P<noun>[a-z]+)\b(?!\s+(?:of|for|in|from|by|who|that|which)\b)", re.I)


@dataclass(frozen=True)
class Referent:
    """An entity the conversation produced or named, and how."""

    id: str
    label: str
    turn: int
    role: str  # topic | answer
    relation: str = ""  # the label of the relation it was reached by or asked about
    forward: bool = True  # the relation's last hop was followed forwards
    rank: int = 0  # its place among the turn's answers (1 = top), 0 for a topic
    description: str = ""  # the entity's description in the KB ("country in Western Europe"), if any

    @property
    def subject(self) -> bool:
        """The subject of its relation: a topic asked about forwards, or an answer reached backwards."""
        return self.forward == (self.role == "topic")


@dataclass(frozen=True)
class Found:
    """A reference in a turn's text: its span, the referent, and the rule that matched."""

    span: tuple[int, int]
    referent: Referent
    rule: str  # type | order
    noun: str = ""  # the type noun, singular ("" for "one")


@dataclass(frozen=True)
class DialogueState:
    """Every referent so far, oldest first."""

    referents: tuple[Referent, ...] = ()

    def add(self, turn: int, topic: tuple[str, str] | None, relation: str, forward: bool,
            answers: tuple[tuple[str, str], ...], descriptions: Mapping[str, str] | None = None) -> DialogueState:
        """The state after a turn answered ``answers`` about ``topic`` over ``relation``."""
        said = descriptions or {}
        new = [Referent(topic[0], topic[1], turn, "topic", relation, forward, 0, said.get(topic[0], ""))
               ] if topic else []
        new += [Referent(i, label, turn, "answer", relation, forward, rank, said.get(i, ""))
                for rank, (i, label) in enumerate(answers, 1) if not i.startswith(LITERAL_PREFIX)]
        return DialogueState(self.referents + tuple(new))

    def find(self, text: str, names: list[tuple[int, int]] | None = None) -> Found | None:
        """The first typed or ordered reference in ``text`` outside linked names, or None."""
        for m in TYPED.finditer(text):
            if any(a <= m.start() < b for a, b in names or ()):
                continue
            noun = m["noun"].lower()
            if m["det"].lower() == "the" and m["n"] is None:
                continue  # "and the director?" asks the director of the focus (ellipsis), not an earlier one
            if m["n"] is not None:
                found = self.ordered(ORDINALS[m["n"].lower()], noun)
                rule = "order"
            else:
                found, rule = self.typed(noun), "type"
            if found is not None:
                singular = noun[:-1] if noun.endswith("s") and noun[:-1] in PERSON_NOUNS | THING_NOUNS else noun
                return Found(m.span(), found, rule, "" if singular == "one" else singular)
        return None

    def typed(self, noun: str) -> Referent | None:
        """The most recent referent a type noun fits (see the module docstring)."""
        noun = SYNONYMS.get(noun.rstrip("s") if noun.endswith("s") and noun[:-1] in PERSON_NOUNS else noun, noun)
        described = [r for r in self.referents if _stem(noun) in {_stem(w) for w in _words(r.description)}]
        if described:  # the KB says what it is: "country in Western Europe"
            return described[-1]
        if noun in THING_NOUNS or noun.rstrip("s") in THING_NOUNS:
            return next((r for r in reversed(self.referents) if r.subject), None)
        stem = _stem(noun)
        if len(stem) < 3:
            return None
        fits = [r for r in self.referents if not r.subject and any(w.startswith(stem) for w in _words(r.relation))]
        if fits:
            return fits[-1]
        return self.person() if noun in PERSON_NOUNS else None

    def ordered(self, n: int, noun: str) -> Referent | None:
        """The ``n``-th answer (-1: the last) of the most recent turn with several answers the noun fits."""
        turns = sorted({r.turn for r in self.referents}, reverse=True)
        for turn in turns:
            answers = [r for r in self.referents if r.turn == turn and r.role == "answer"]
            if len(answers) < 2 or not _fits(noun, answers[0]):
                continue
            if n == -1 or n <= len(answers):
                return answers[n - 1 if n > 0 else -1]
        return None

    def person(self) -> Referent | None:
        """The most recent referent in the object place of its relation (people mostly are)."""
        return next((r for r in reversed(self.referents) if not r.subject), None)


def _fits(noun: str, referent: Referent) -> bool:
    if noun == "one" or noun.rstrip("s") in THING_NOUNS:
        return referent.subject or noun == "one"
    stem = _stem(SYNONYMS.get(noun, noun))
    return any(w.startswith(stem) for w in _words(referent.relation))


def _stem(word: str) -> str:
    word = word.lower()
    word = word[:-1] if word.endswith("s") and len(word) > 4 else word
    for suffix in ("ress", "or", "er", "ist", "ing", "ed", "e"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower().replace("_", " "))
