"""Words of a question against words of a relation label: crude stems, Chinese character pairs.

``stems`` reduces text to the stems of its content words (``director`` ~ ``directed``, ``wrote`` ~
``written``, ``born`` ~ ``birth``) and Chinese text to its runs of content characters as pairs
("首都" is not "国家元首"); ``overlap`` says whether a question's stems meet a label's. Abstention
(pipeline/abstain.py) reads them as evidence that a path fits a question, and relation-path
scoring (retrieval/paths.py, ``PathConfig.lexical``) as a small bonus for zero-shot scorers.
Left out: real morphology and any synonym list.
"""

from __future__ import annotations

import re

from model.chinese import fold, has_cjk

STOP = frozenset("""a an the and or but of to in on at by for from with into about as is are was were be been being am
do does did has have had it its this that these those there here i me my we our you your he him his she her they them
their what which who whom whose where when why how not no yes so if than very can could will would should may might
must also only all any some each more most other else such same tell me list name give show please many much kind
type sort one ones s t does get got""".split())
ZH_STOP = frozenset("什么哪里哪个些谁是的了在和与吗呢怎么为多少几个有呀吧啊请问告诉我一下那它他她们儿")
IRREGULAR = {"wrote": "writ", "written": "writ", "write": "writ", "writes": "writ", "born": "birth", "died": "death",
             "dead": "death", "die": "death", "buried": "burial", "spoken": "speak", "spoke": "speak", "made": "make",
             "acted": "act", "stars": "star", "starring": "star", "starred": "star", "lives": "live",
             "located": "locat", "where": "locat"}


def overlap(asked: set[str], said: set[str]) -> bool:
    """Whether the question's stems meet a path's: a shared stem, or a Chinese character that stood
    alone between function words in the question and is part of a path word ("哈瑙在哪国" ~ "国家")."""
    if asked & said:
        return True
    singles = {s for s in asked if len(s) == 1 and has_cjk(s)}
    return bool(singles) and any(c in word for word in said if has_cjk(word) for c in singles)


def stems(text: str) -> set[str]:
    """Crude stems of the content words of ``text`` (Chinese: its content characters)."""
    text = fold(text.lower())
    out = {stem(w) for w in re.findall(r"[a-z]+", text.replace("_", " ")) if w not in STOP and len(w) > 1}
    if has_cjk(text):  # runs of content characters, as bigrams ("首都" is not "国家元首")
        for run in re.findall(r"[\u3400-\u9fff]+", "".join(" " if c in ZH_STOP else c for c in text)):
            out |= {run} if len(run) == 1 else {run[i:i + 2] for i in range(len(run) - 1)}
    return out


def stem(word: str) -> str:
    if word in IRREGULAR:
        return IRREGULAR[word]
    for suffix in ("ations", "ation", "ings", "ing", "ers", "ors", "ies", "ed", "er", "or", "es", "s", "e", "y"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return _final(word[: -len(suffix)])
    return word


def _final(stem: str) -> str:
    """``directed`` / ``director`` -> ``direct``; ``produced`` -> ``produc``; doubled ends once."""
    return stem[:-1] if len(stem) > 4 and stem[-1] == stem[-2] else stem
