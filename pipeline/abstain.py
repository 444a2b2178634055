"""Abstention: when the knowledge base does not answer a question, say so instead of answering another one.

``judge`` reads a retrieval and decides whether its best relation path answers the question.
It abstains (``Verdict``) when

- ``no entity``: nothing of the knowledge base was linked;
- ``no such relation``: a word of the question names a relation the knowledge base has ("who
  directed ...": "directed by") but the topic has no path over it, so the best path is another
  relation ("who directed The Matrix?" on a KB without its director would list its actors);
- ``path does not fit``: no word of the question (entity masked) shares a stem with the best
  path, and its score is below ``fit_path`` (``fit_path_zero_shot`` for a zero-shot scorer, whose
  cosines run lower) or it leads the topic's next path by less than
  ``min_lead`` of its own score (a shared word is evidence enough: scores of different
  embedders and scorers are on different scales, words are not; the relative lead is scale-free,
  and separates "where was X filmed?" -> "directed by" (a near tie) from "which topics is X
  about?" -> "has tags" (a clear winner without a shared word));
- ``weak link``: the topic was linked weakly (``min_link``) and the path shares no word with the
  question ("hi" read as the language code); or the question names more than the linked entity:
  capitalised words run on from the mention ("Midnight Over Quarrowmere" linked as "Midnight"), or
  a Chinese name joined by "·" holds more than the mention ("道格拉斯·亚当斯" linked as "格拉").

Words are compared by crude stems (``director`` ~ ``directed``, ``wrote`` ~ ``written``);
Chinese text by shared character pairs outside function words, or a character that stands alone
between them ("哪国") and is part of a path word ("国家"). The thresholds are on the path
scorer's cosine scale (zero-shot or trained MiniLM, e5) and were calibrated on the dev sets
named in bench/abstain.py. Left out: any model of answerability; this is a check on evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from model.chinese import fold, has_cjk
from retrieval.base import Retrieval
from retrieval.lexical import STOP, overlap, stem, stems
from retrieval.paths import mask


@dataclass(frozen=True)
class AbstainConfig:
    """Thresholds of ``judge`` (path scores are cosines; a link score is the linker's, in [0, 1])."""

    fit_path: float = 0.60  # trained scorers: the lowest with no confident wrong answer on the dev split
    fit_path_zero_shot: float = 0.30  # zero-shot cosines run lower (0.4-0.5 for a right paraphrase)
    min_link: float = 0.45
    min_lead: float = 0.14  # (best - next) / best for a path that shares no word with the question
    enabled: bool = True


@dataclass(frozen=True)
class Verdict:
    """Why the knowledge base does not answer: ``why`` is one of the module docstring's reasons."""

    why: str
    topic: str | None = None  # the topic's label
    wanted: str | None = None  # the relation the question asked for, when the KB has it elsewhere


def judge(retrieval: Retrieval, relations: Mapping[str, str], labels: Mapping[str, str],
          config: AbstainConfig = AbstainConfig(), trained: bool = True) -> Verdict | None:
    """A ``Verdict`` when the best relation path does not answer the question, else None.

    Args:
        retrieval: what retrieval found.
        relations: every relation of the knowledge base: predicate id -> label.
        labels: display labels of the retrieval's nodes and predicates.
        config: thresholds.
        trained: whether the path scores come from a trained scorer (``fit_path``) or a zero-shot
            one (``fit_path_zero_shot``).
    """
    if not config.enabled:
        return None
    if not retrieval.answers:
        return Verdict("no entity") if not retrieval.mentions else None
    if not retrieval.relation_paths:  # answers read from passages: the reader judged their relevance itself
        return None
    best = retrieval.relation_paths[0]
    mention = next((m for m in retrieval.mentions if any(c.id == best.topic for c in m.candidates)), None)
    question = mask(retrieval.question, [(mention.start, mention.end)]) if mention else retrieval.question
    topic = labels.get(best.topic, mention.text if mention else best.topic)
    asked = stems(question)
    on_path = {s for step in best.path for s in stems(labels.get(step.predicate, relations.get(step.predicate, "")))}
    on_path |= stems(best.text)
    shared = overlap(asked, on_path)
    if not shared:
        wanted = _named_relation(asked, relations, on_path, question)
        if wanted is not None:
            return Verdict("no such relation", topic, wanted)
    if mention is not None and _runs_on(retrieval.question, mention.start, mention.end):
        return Verdict("weak link", retrieval.question[_name_start(retrieval.question, mention.start):
                                                       _name_end(retrieval.question, mention.end)].strip())
    named = _transliterated(retrieval.question, mention.start, mention.end) if mention is not None else None
    if named is not None:
        return Verdict("weak link", named)
    link = next((c.score for c in mention.candidates if c.id == best.topic), 1.0) if mention else 1.0
    lead = _lead(retrieval, asked, labels, relations, config.min_lead) if not shared else 1.0
    fit = config.fit_path if trained else config.fit_path_zero_shot
    if not shared and (best.score < fit or lead < config.min_lead):
        return Verdict("path does not fit", topic)
    if not shared and link < config.min_link:
        return Verdict("weak link", topic)
    return None


def _lead(retrieval: Retrieval, asked: set[str], labels: Mapping[str, str], relations: Mapping[str, str],
          within: float) -> float:
    """How far the best path leads the next one of its topic, as a share of its score (1 alone).

    A close runner-up (within ``within`` of the best) that shares a word with the question backs
    the best path instead of rivalling it ("葡萄牙的首都" scores "首府所属地 of" just above "首都":
    both say where the capital is).
    """
    paths = retrieval.relation_paths
    top = paths[0].score
    rivals = [p for p in paths[1:] if p.topic == paths[0].topic]
    if not rivals or top <= 0:
        return 1.0
    for rival in (p for p in rivals if p.score >= top * (1 - within)):
        words = {s for step in rival.path for s in stems(labels.get(step.predicate, relations.get(step.predicate, "")))}
        if overlap(asked, words | stems(rival.text)):
            return 1.0
    return (top - rivals[0].score) / top


_CAPITAL = re.compile(r"[A-Z][\w'’-]*")


def _runs_on(question: str, start: int, end: int) -> bool:
    """Whether a capitalised word directly follows the mention, or precedes it mid-sentence."""
    return _name_end(question, end) > end or _name_start(question, start) < start


def _transliterated(question: str, start: int, end: int) -> str | None:
    """A name joined by "·" ("道格拉斯·亚当斯") that holds the mention and is longer than it."""
    for m in re.finditer(r"[\u3400-\u9fff]+(?:[·・•][\u3400-\u9fff]+)+", question):
        last = re.match(r"[^出去在是的有哪谁什么为和与了吗呢]{1,4}", question[m.start() + m.group().rfind("·") + 1:])
        stop = m.start() + m.group().rfind("·") + 1 + (last.end() if last else 0)
        if m.start() <= start and end <= stop and (m.start(), stop) != (start, end):
            return question[m.start():stop]
    return None


def _name_end(question: str, end: int) -> int:
    m = re.match(r"\s+([A-Z][\w'’-]*)", question[end:])
    return end + m.end() if m else end


def _name_start(question: str, start: int) -> int:
    m = re.search(r"(?<![.!?]\s)(?<!^)\b([A-Z][\w'’-]*)\s+$", question[:start])
    return m.start(1) if m and m.start(1) > 0 else start


def _named_relation(asked: set[str], relations: Mapping[str, str], on_path: set[str], question: str) -> str | None:
    """The label of a relation of the KB that the question's words name (and the chosen path is not):
    its head word, or all of its words.

    A Chinese label names it only when the question holds the whole label: one shared character
    pair is too weak ("城市" of "哪座城市" is not "友好城市", "属于" is not "隶属于").
    """
    folded = fold(question)
    for predicate, label in sorted(relations.items()):
        words = stems(label or predicate)
        if not words & asked or words <= on_path:
            continue
        if has_cjk(label):
            named = fold(label) in folded
        else:
            named = _head(label or predicate) in asked or words <= asked
        if named:
            return label or predicate
    return None


def _head(label: str) -> str | None:
    """The stem of an English label's last content word, its head ("code" of "calling code", "birth"
    of "place of birth"): a question names the relation when it asks for the head, not for a modifier
    ("what do you call a person from X?" does not ask for a calling code)."""
    words = [w for w in re.findall(r"[a-z]+", fold(label.lower()).replace("_", " ")) if w not in STOP and len(w) > 1]
    return stem(words[-1]) if words else None


def sentence(verdict: Verdict, nearest: Iterable[tuple[str, tuple[int, ...]]], chinese: bool = False) -> str:
    """What to say: the knowledge base does not answer, and the nearest evidence it did find."""
    near = [f"{label} {_cite(ns)}" for label, ns in nearest if ns][:3]
    if chinese:
        head = {"no entity": "我在知识库中没有找到这个问题提到的实体。",
                "no such relation": f"知识库中没有{verdict.topic}的“{verdict.wanted}”。",
                "weak link": f"知识库中没有名为“{verdict.topic}”的实体。"}.get(
            verdict.why, f"知识库中没有能回答这个关于{verdict.topic}的问题的信息。")
        return head + (f"最接近的证据：{'、'.join(near)}。" if near else "")
    head = {"no entity": "I found no entity of the knowledge base in that question.",
            "no such relation": f'The knowledge base has no "{verdict.wanted}" for {verdict.topic}.',
            "weak link": f'The knowledge base has nothing named "{verdict.topic}".'}.get(
        verdict.why, f"The knowledge base has nothing that answers this about {verdict.topic}.")
    return head + (f" The nearest evidence it has: {', '.join(near)}." if near else "")


def _cite(numbers: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(n) for n in numbers) + "]"
