"""Passage QA evaluation: supporting-passage recall@2/@5, answer EM/F1 and latency, kgqa vs baselines.

Gold files are HotpotQA (``supporting_facts`` + ``context``) or MuSiQue (``paragraphs`` with
``is_supporting``) JSON lists, as in ../shared/data/passages. A retrieved passage (or chunk)
counts as a supporting one when its title matches and its text lies inside the gold paragraph.
Answers are scored with SQuAD's normalization (lower case, no punctuation or articles), the
best over the answer and its aliases.

Systems, all reading answers with the same ``SpanReader`` so that only retrieval differs:
``kgqa`` (``KGQA.retrieve``: passage graph + PPR, one slot per passage, the reader),
``dense`` (the dense index, one slot per passage), ``bm25`` (``bm25s``), and ``chunks`` (the
dense index as it was before issue 11: chunks, several per passage). Latency is the wall time of
retrieval plus reading per question. Deliberately left out: generation (the reader is extractive).
"""

from __future__ import annotations

import json
import re
import string
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kg.base import Passage
from kg.errors import KGQAError, SourceFormatError
from model.embedders import open_embedder
from pipeline.api import KGQA
from pipeline.questions import split_of
from retrieval.base import Evidence, RankedAnswer
from retrieval.bm25 import BM25Passages
from retrieval.passage_search import GraphPassages, SearchConfig, open_passage_search
from retrieval.passages import DensePassages
from retrieval.retriever import whole

FORMATS = ("hotpotqa", "musique")


@dataclass(frozen=True)
class PassageQuestion:
    """One gold question: its text, the answers accepted, the supporting (title, text) paragraphs."""

    text: str
    answers: tuple[str, ...]
    support: tuple[tuple[str, str], ...]
    kind: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one system did on one question."""

    question: PassageQuestion
    passages: tuple[Passage, ...]
    answer: str
    latency_ms: float


def load(path: Path, fmt: str) -> list[PassageQuestion]:
    """Gold questions of a HotpotQA or MuSiQue JSON file.

    Raises:
        SourceFormatError: the file is not a JSON list of questions of that format.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SourceFormatError(path, f"cannot read passage questions ({exc})") from exc
    if not isinstance(data, list):
        raise SourceFormatError(path, "expected a JSON list of questions")
    try:
        return [_hotpot(q) if fmt == "hotpotqa" else _musique(q) for q in data]
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceFormatError(path, f"not a {fmt} question file ({exc!r})") from exc


def _hotpot(q: dict[str, Any]) -> PassageQuestion:
    context = {title: "".join(sentences).strip() for title, sentences in q["context"]}
    titles = dict.fromkeys(title for title, _ in q["supporting_facts"])
    return PassageQuestion(q["question"], (q["answer"],), tuple((t, context[t]) for t in titles), q.get("type"))


def _musique(q: dict[str, Any]) -> PassageQuestion:
    support = tuple((p["title"], p["paragraph_text"].strip()) for p in q["paragraphs"] if p["is_supporting"])
    hops = f"{len(q.get('question_decomposition') or ())}-hop"
    return PassageQuestion(q["question"], (q["answer"], *q.get("answer_aliases", ())), support, hops)


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalization."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact(prediction: str, answers: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def f1(prediction: str, answers: Sequence[str]) -> float:
    """Token F1 (SQuAD), the best over ``answers``."""
    best = 0.0
    for gold in answers:
        p, g = normalize_answer(prediction).split(), normalize_answer(gold).split()
        common = sum((Counter(p) & Counter(g)).values())
        if common:
            best = max(best, 2 * common / (len(p) + len(g)))
    return best


def found(question: PassageQuestion, passages: Sequence[Passage], k: int) -> float:
    """Share of the supporting paragraphs among the first ``k`` passages."""
    if not question.support:
        return 0.0
    hits = sum(1 for title, text in question.support
               if any(p.title == title and p.text.strip() and p.text.strip() in text for p in passages[:k]))
    return hits / len(question.support)


Search = Callable[[str, int], list[tuple[Passage, float]]]
Read = Callable[[str, Sequence[Evidence]], list[RankedAnswer]]


def searched(name: str, search: Search, read: Read | None, n: int = 5) -> Callable[[PassageQuestion], Outcome]:
    """A system from a passage search and the reader (``name`` is for the report only)."""
    def run(q: PassageQuestion) -> Outcome:
        start = time.perf_counter()
        passages = [p for p, _ in search(q.text, n)]
        evidence = [whole(Evidence(i, "passage", "", 0.0, passage=p)) for i, p in enumerate(passages, 1)]
        answers = read(q.text, evidence) if read is not None else []
        return Outcome(q, tuple(passages), answers[0].label if answers else "", _ms(start))
    run.__name__ = name
    return run


def kgqa(qa: KGQA, n: int = 5) -> Callable[[PassageQuestion], Outcome]:
    """kgqa itself: the hybrid retriever's passages and its best answer."""
    def run(q: PassageQuestion) -> Outcome:
        start = time.perf_counter()
        r = qa.retrieve(q.text, k=n)
        passages = [e.passage for e in r.evidence if e.passage is not None]
        return Outcome(q, tuple(passages), r.answers[0].label if r.answers else "", _ms(start))
    return run


def evaluate(systems: dict[str, Callable[[PassageQuestion], Outcome]], questions: Sequence[PassageQuestion],
             progress: bool = True) -> dict[str, list[Outcome]]:
    """Every system on every question (systems interleaved per question, so load hits all alike)."""
    out: dict[str, list[Outcome]] = {name: [] for name in systems}
    for q in tqdm(questions, desc="passage QA", unit=" questions", disable=not progress):
        for name, system in systems.items():
            out[name].append(system(q))
    return out


def summary(outcomes: Sequence[Outcome], split: str = "all") -> dict[str, float]:
    """recall@2/@5, EM, F1 (over ``split``: all, train or heldout questions) and latency p50/p95."""
    kept = [o for o in outcomes if split == "all" or split_of(o.question.text) == split]
    if not kept:
        return {"n": 0}
    lat = np.array([o.latency_ms for o in outcomes])
    return {"n": len(kept),
            "recall@2": _mean([found(o.question, o.passages, 2) for o in kept]),
            "recall@5": _mean([found(o.question, o.passages, 5) for o in kept]),
            "em": _mean([exact(o.answer, o.question.answers) for o in kept]),
            "f1": _mean([f1(o.answer, o.question.answers) for o in kept]),
            "p50_ms": round(float(np.percentile(lat, 50)), 1), "p95_ms": round(float(np.percentile(lat, 95)), 1)}


def table(rows: Sequence[tuple[str, str, dict[str, float]]]) -> str:
    """A plain-text table of (dataset, system, summary) rows."""
    cols = [c for c in ("n", "recall@2", "recall@5", "em", "f1", "p50_ms", "p95_ms", "index_s", "store_mb")
            if c in {k for _, _, s in rows for k in s}]
    lines = [f"{'dataset':<18}{'system':<12}" + "".join(f"{c:>10}" for c in cols)]
    for dataset, system, s in rows:
        lines.append(f"{dataset:<18}{system:<12}" + "".join(f"{s.get(c, 0):>10}" for c in cols))
    return "\n".join(lines)


def _mean(values: Sequence[float]) -> float:
    return round(float(np.mean(values)), 3) if values else 0.0


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


SYSTEMS = ("kgqa", "dense", "bm25", "chunks")


def make_systems(qa: KGQA, names: Sequence[str], embedder: str) -> dict[str, Callable[[PassageQuestion], Outcome]]:
    """The named passage QA systems over ``qa``'s knowledge base (see the module docstring).

    Raises:
        KGQAError: a name is not one of ``SYSTEMS``.
    """
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise KGQAError(f"unknown passage QA system(s) {', '.join(unknown)}; choose from {', '.join(SYSTEMS)}")
    qa.retriever()  # syncs the dense index and the passage graph
    kb = qa.kb
    dense = DensePassages.open(kb.catalog, kb.store, kb.directory / "dense", open_embedder(embedder))
    _, reader = open_passage_search(kb.catalog, dense, kb.directory / "passage_graph", kb.store.applied_seq(),
                                    None, progress=False)
    read = reader.read if reader is not None else None
    makers: dict[str, Callable[[], Callable[[PassageQuestion], Outcome]]] = {
        "kgqa": lambda: kgqa(qa),
        "dense": lambda: searched("dense", GraphPassages(dense, None, SearchConfig(mode="dense")).search, read),
        "bm25": lambda: searched("bm25", BM25Passages.open(kb.catalog).search, read),
        "chunks": lambda: searched("chunks", lambda q, n: _chunks(dense, q, n), read),
    }
    return {n: makers[n]() for n in names}


def _chunks(dense: DensePassages, question: str, n: int) -> list[tuple[Passage, float]]:
    """The dense index as before issue 11: the ``n`` best chunks, several may come from one passage."""
    hits = dense.index.search(dense.embedder.query([question]), n)[0]
    return [(p, s) for p, s in ((dense.resolve(uid), s) for uid, s in hits) if p is not None]
