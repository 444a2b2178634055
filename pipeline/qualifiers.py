"""Statement qualifiers in answers: preferred rank first, time qualifiers shown and asked for.

Readers keep a statement's qualifiers on its edge (``Edge.qualifiers``, JSON ``[[property, value],
...]``); the Wikidata reader marks a preferred statement with ``["rank", "preferred"]`` and never
emits a deprecated one. For the ranked answers of a retrieval:

- ``qualified`` gives each answer the qualifiers of the edge that reaches it;
- ``arrange`` puts answers from preferred statements before the others (stable otherwise) and,
  when the question names a year ("in 2010") and some answers carry a time qualifier (point in
  time P585, start P580 / end P582), keeps those that hold in that year (all when none does);
- ``describe`` writes the time qualifiers for people: ``point in time: 2014``.

Left out: other qualifier semantics (units, applies-to-part), and reasoning over date ranges
finer than years.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from retrieval.base import RankedAnswer, Retrieval

RANK = "rank"
POINT, START, END = "P585", "P580", "P582"
YEAR = re.compile(r"(?<!\d)(1[0-9]{3}|20[0-9]{2})(?!\d)")


def qualified(retrieval: Retrieval) -> dict[str, tuple[tuple[str, str], ...]]:
    """Answer id -> the qualifiers of the last edge of its first evidence path."""
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for sp in retrieval.relation_paths:
        for gp in sp.paths:
            if gp.end not in out and gp.edges and gp.edges[-1].qualifiers:
                try:
                    out[gp.end] = tuple((str(p), str(v)) for p, v in json.loads(gp.edges[-1].qualifiers or "[]"))
                except (ValueError, TypeError):
                    continue
    return out


def arrange(question: str, answers: Sequence[RankedAnswer], quals: Mapping[str, tuple[tuple[str, str], ...]]
            ) -> list[RankedAnswer]:
    """Preferred first; answers holding in the year the question names, when it names one."""
    years = {int(y) for y in YEAR.findall(question)}
    timed = [a for a in answers if _span(quals.get(a.id, ())) is not None]
    kept = list(answers)
    if years and timed:
        holding = [a for a in timed if any(_holds(_span(quals[a.id]), y) for y in years)]
        kept = holding or kept
    return sorted(kept, key=lambda a: (RANK, "preferred") not in quals.get(a.id, ()))


def undated_question(question: str, names: Sequence[tuple[int, int]]) -> str | None:
    """``question`` without its "in 2010" (a year outside the linked ``names``), or None when it has none."""
    m = re.search(r"\s*\b(?:in|of|for|during)\s+(1[0-9]{3}|20[0-9]{2})\b|\s*(?:在)?(1[0-9]{3}|20[0-9]{2})年", question)
    if m is None or any(a < m.end() and m.start() < b for a, b in names):
        return None
    return (question[: m.start()] + question[m.end():]).strip()


def describe(quals: Sequence[tuple[str, str]], labels: Mapping[str, str]) -> str:
    """The time qualifiers for people: ``point in time: 2014``, ``start time: 1990; end time: 1994``."""
    return "; ".join(f"{labels.get(p, p)}: {v}" for p, v in quals if p in (POINT, START, END))


def _span(quals: Sequence[tuple[str, str]]) -> tuple[int, int] | None:
    found = {p: int(m.group(1)) for p, v in quals if p in (POINT, START, END) and (m := YEAR.search(v))}
    if POINT in found:
        return found[POINT], found[POINT]
    if START in found or END in found:
        return found.get(START, -10_000), found.get(END, 10_000)
    return None


def _holds(span: tuple[int, int] | None, year: int) -> bool:
    return span is not None and span[0] <= year <= span[1]
