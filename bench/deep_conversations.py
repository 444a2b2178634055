"""Conversations whose references reach two and three turns back, by type and by order, with
non-questions in between: the ``--deep`` set of bench/conversations.py.

Kinds (each turn records ``ref``, the kind of reference it makes, for per-reference accuracy):

- ``back2``: "who directed [M]" -> "when was it released?" -> "what other movies did that
  director make?" (the director from turn 1);
- ``back3``: the same with "who starred in it?" before the last turn (three turns back);
- ``order``: "which films did [D] direct" -> "when was the second movie released?" ->
  "who wrote the first movie?" (the first answer of turn 1, two turns back);
- ``interleaved``: "who directed [M]" -> "thanks!" -> "what else did he direct?" -> "hi" ->
  "what about D2?" (non-questions must get their intent, no answers, and leave the focus alone);
- ``mixed``: "who directed [M]" -> a non-question -> "when was it released?" -> "who starred in
  it?" -> a non-question -> "what other movies did that director make?" (the director from three
  questions and five messages back, across two non-questions).

Answers are ordered as the system orders ties (by label), so "the second movie" has one gold.
Phrasings rotate over several wordings so no single template carries the score.
"""

from __future__ import annotations

import random
from typing import Any

from conversations import KB, dev_questions, heldout, turn

TYPE_BACK = ["what other movies did that director make?", "which other films did that director direct?",
             "what else did that filmmaker direct?", "what other films has this director made?"]
RELEASED = ["when was it released?", "what year did it come out?", "and when was it released?"]
STARRED = ["who starred in it?", "who acted in it?", "and who was in it?"]
SECOND = ["when was the second movie released?", "what year was the second film released?"]
FIRST_WRITER = ["who wrote the first movie?", "who is the writer of the first film?"]
SOCIAL = [("thanks!", "thanks"), ("thank you", "thanks"), ("hi", "greeting"), ("hello there", "greeting"),
          ("what can you do?", "help"), ("what's the weather?", "off-topic")]
PRONOUN_ELSE = ["what else did he direct?", "which other films did she direct?", "what other movies did they direct?"]


def social(text: str, intent: str) -> dict[str, Any]:
    return {"question": text, "resolved": text, "answers": [], "clarify": False, "intent": intent,
            "ref": "non-question"}


def ref(t: dict[str, Any], kind: str) -> dict[str, Any]:
    return {**t, "ref": kind}


def back(kb: KB, q: Any, rng: random.Random, three: bool) -> list[dict[str, Any]] | None:
    if q.qtype != "movie_to_director" or len(q.gold) != 1:
        return None
    movie, director = q.topic, next(iter(q.gold))
    others = [m for m in kb.follow(director, "directed_by", False) if m != movie]
    year, actors = kb.follow(movie, "release_year"), kb.follow(movie, "starred_actors")
    if not others or not year or (three and not actors) or not kb.unique(movie):
        return None
    last = rng.choice(TYPE_BACK)
    resolved = last.replace("that director", "director " + director).replace("that filmmaker", "filmmaker " + director)
    resolved = resolved.replace("this director", "director " + director)
    released, starred = rng.choice(RELEASED), rng.choice(STARRED)
    turns = [ref(turn(q.text, sorted(q.gold)), "none"), ref(turn(released, year, _it(released, movie)), "pronoun")]
    if three:
        turns.append(ref(turn(starred, actors, _it(starred, movie)), "pronoun"))
    turns.append(ref(turn(last, others, resolved), "type-3-back" if three else "type-2-back"))
    return turns if heldout(q.text) else None


def _it(text: str, name: str) -> str:
    return text.replace(" it ", f" {name} ").replace(" it?", f" {name}?")


def order(kb: KB, director: str, rng: random.Random) -> list[dict[str, Any]] | None:
    films = kb.follow(director, "directed_by", False)
    if len(films) < 2 or not kb.unique(director):
        return None
    second_year, first_writers = kb.follow(films[1], "release_year"), kb.follow(films[0], "written_by")
    if not second_year or not first_writers:
        return None
    first = f"which films did {director} direct?"
    if not heldout(first):
        return None
    return [ref(turn(first, films), "none"), ref(turn(rng.choice(SECOND), second_year), "order-1-back"),
            ref(turn(rng.choice(FIRST_WRITER), first_writers), "order-2-back")]


def interleaved(kb: KB, q: Any, rng: random.Random, pool: list[str]) -> list[dict[str, Any]] | None:
    if q.qtype != "movie_to_director" or len(q.gold) != 1:
        return None
    director, second = next(iter(q.gold)), rng.choice(pool)
    others = [m for m in kb.follow(director, "directed_by", False) if m != q.topic]
    if not others or second == director or not kb.unique(second):
        return None
    a, b = rng.sample(SOCIAL, 2)
    follow = rng.choice(PRONOUN_ELSE)
    word = next(w for w in ("he", "she", "they") if f" {w} " in f" {follow} ")
    return [ref(turn(q.text, sorted(q.gold)), "none"), social(*a),
            ref(turn(follow, others, follow.replace(f" {word} ", f" {director} ")), "pronoun-after-non-question"),
            social(*b), ref(turn(f"what about {second}?", kb.follow(second, "directed_by", False)), "what-about")]


def mixed(kb: KB, q: Any, rng: random.Random) -> list[dict[str, Any]] | None:
    turns = back(kb, q, rng, True)
    if turns is None:
        return None
    a, b = rng.sample(SOCIAL, 2)
    first, released, starred, last = turns
    return [first, social(*a), ref(released, "pronoun-after-non-question"), starred, social(*b),
            ref(last, "type-3-back-interleaved")]


def build_deep(kb: KB, data: Any, n: int, seed: int) -> list[dict[str, Any]]:
    """About ``n`` conversations, a fifth of each kind."""
    rng = random.Random(seed + 1)
    questions = dev_questions(data / "1-hop")
    rng.shuffle(questions)
    directors = kb.pool("directed_by", False)
    out: list[dict[str, Any]] = []
    per, used = n // 5, set()
    for kind, make in (("back2", lambda q: back(kb, q, rng, False)), ("back3", lambda q: back(kb, q, rng, True)),
                       ("interleaved", lambda q: interleaved(kb, q, rng, directors)),
                       ("mixed", lambda q: mixed(kb, q, rng))):
        made = 0
        for q in questions:
            turns = make(q) if made < per and q.text not in used else None
            if turns:
                made += 1
                used.add(q.text)  # each first question opens one conversation only
                out.append({"id": f"{kind}-{made:03d}", "kind": kind, "turns": turns})
    made = 0
    for d in rng.sample(directors, min(len(directors), 4000)):
        turns = order(kb, d, rng) if made < per else None
        if turns:
            made += 1
            out.append({"id": f"order-{made:03d}", "kind": "order", "turns": turns})
    return out
