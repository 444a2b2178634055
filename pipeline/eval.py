"""Question-answering evaluation: read gold questions, run systems, score them.

Questions come as MetaQA lines (``question with [topic]<TAB>ans1|ans2``) or generic TSV
(``question<TAB>ans1|ans2[<TAB>topic id]``), plain or gzipped, with an optional question-type
file aligned line by line; ``load_questions`` reads several files (globs allowed), labels each
file's questions with its hop (``2-hop`` from a path like ``.../2-hop/qa_dev.txt``), keeps one
side of the train / held-out split of ``pipeline.splits`` and samples ``limit`` per file. A
system turns a ``Question`` into a ``Prediction`` (answer ids, the cited evidence as text,
latency): ``kgqa`` is the hybrid retriever (with the linker, or with the gold topic given),
``dense`` the dense-only RAG baseline of ``retrieval.baselines``, ``llamaindex`` LlamaIndex's
own property-graph retriever (``retrieval.llamaindex_peer``); the baselines cache their vectors
in the knowledge base directory. Metrics are Hits@1, answer-set precision/recall/F1, exact set
match, linker recall@1, the rate of uncited answers and latency percentiles, overall, per
question type and per hop; ``pipeline.eval_report`` prints and plots them.

Deliberately left out: generation (answers are each system's ranked entities).
"""

from __future__ import annotations

import glob
import gzip
import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
from tqdm import tqdm

from kg.errors import KGQAError, SourceFormatError
from pipeline.api import KGQA
from pipeline.splits import only
from retrieval.base import Candidate, Mention

log = logging.getLogger(__name__)
FORMATS = ("metaqa", "tsv")
SYSTEMS = ("kgqa", "kgqa-zero-shot", "dense", "llamaindex")
SPLITS = ("heldout", "train", "all")
_TOPIC = re.compile(r"\[([^\]]+)\]")
_HOP = re.compile(r"(?:^|[/\\_-])(\d+)-?hop(?:$|[/\\_.-])", re.IGNORECASE)


@dataclass(frozen=True)
class Question:
    """One gold question: the text users see, the gold answers, the topic (when known), the type."""

    text: str
    gold: frozenset[str]
    topic: str | None = None
    qtype: str | None = None
    topic_span: tuple[int, int] | None = None  # where the topic is named in ``text``
    hop: str | None = None  # which group (file) it came from: "2-hop", or the file name


@dataclass(frozen=True)
class Prediction:
    """What one system returned for one question."""

    question: Question
    answers: tuple[str, ...]  # answer ids, best first
    cited: tuple[str, ...]  # the cited evidence as text
    uncited: int  # answers without any evidence
    latency_ms: float
    linked: str | None = None  # top candidate of the first mention
    linking: bool = False  # the system linked entities itself (else linker@1 does not apply)


class System(Protocol):
    name: str

    def predict(self, question: Question) -> Prediction: ...


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _metaqa(path: Path, n: int, line: str) -> Question:
    parts = line.split("\t")
    found = _TOPIC.search(parts[0])
    if len(parts) != 2 or not found or not parts[1].strip():
        raise SourceFormatError(path, "expected 'question with [topic]<TAB>answer|answer'", n)
    text = parts[0][: found.start()] + found.group(1) + parts[0][found.end():]
    text = text.replace("[", "").replace("]", "")
    span = (found.start(), found.start() + len(found.group(1)))
    return Question(text, _answers(parts[1]), found.group(1), topic_span=span)


def _tsv(path: Path, n: int, line: str) -> Question:
    parts = line.split("\t")
    if len(parts) not in (2, 3) or not parts[0].strip() or not parts[1].strip():
        raise SourceFormatError(path, "expected 'question<TAB>answer|answer[<TAB>topic id]'", n)
    topic = parts[2].strip() if len(parts) == 3 and parts[2].strip() else None
    return Question(parts[0].strip(), _answers(parts[1]), topic)


def _answers(field: str) -> frozenset[str]:
    return frozenset(a.strip() for a in field.split("|") if a.strip())


def read_questions(path: Path, fmt: str = "metaqa", qtypes: Path | None = None) -> list[Question]:
    """Gold questions from a MetaQA or TSV file (``.gz`` allowed), with types from ``qtypes``.

    Raises:
        SourceFormatError: a malformed line (names file and line), or a type file of another length.
        KGQAError: an unknown format or a missing file.
    """
    if fmt not in FORMATS:
        raise KGQAError(f"unknown question format {fmt!r}; known: {', '.join(FORMATS)}")
    parse = _metaqa if fmt == "metaqa" else _tsv
    try:
        with _open_text(path) as fh:
            out = [parse(path, n, line.rstrip("\n")) for n, line in enumerate(fh, 1) if line.strip()]
        types = None
        if qtypes is not None:
            with _open_text(qtypes) as fh:
                types = [line.strip() for line in fh if line.strip()]
    except OSError as exc:
        raise KGQAError(f"cannot read questions: {exc}") from exc
    if types is None:
        return out
    if len(types) != len(out):
        raise SourceFormatError(qtypes or path, f"{len(types)} types for {len(out)} questions")
    return [Question(q.text, q.gold, q.topic, t, q.topic_span) for q, t in zip(out, types)]


def sample(questions: Sequence[Question], limit: int | None, seed: int | None) -> list[Question]:
    """The first ``limit`` questions, or a seeded random sample of them (in file order).

    Raises:
        KGQAError: ``limit`` is below 1.
    """
    if limit is not None and limit < 1:
        raise KGQAError(f"--limit must be at least 1, got {limit}")
    if limit is None or limit >= len(questions):
        return list(questions)
    if seed is None:
        return list(questions[:limit])
    chosen = sorted(random.Random(seed).sample(range(len(questions)), limit))
    return [questions[i] for i in chosen]


def hop_of(path: Path) -> str | None:
    """``2-hop`` for a path like ``metaqa/2-hop/qa_dev.txt.gz`` (or ``2hop``), else ``None``."""
    found = _HOP.search(path.as_posix())
    return f"{int(found.group(1))}-hop" if found else None


def expand(patterns: Sequence[str | Path]) -> list[Path]:
    """Paths and glob patterns as paths; a pattern's matches are sorted, one that matches nothing is an error.

    Raises:
        KGQAError: a glob pattern matches no file.
    """
    out: list[Path] = []
    for pattern in map(str, patterns):
        if not glob.has_magic(pattern):
            out.append(Path(pattern))
            continue
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise KGQAError(f"no file matches {pattern!r}")
        out += [Path(m) for m in matches]
    return out


def load_questions(paths: Sequence[Path], fmt: str = "metaqa", qtypes: Sequence[Path] = (),
                   split: str | None = None, limit: int | None = None, seed: int | None = None) -> list[Question]:
    """Questions of several files: one side of the split, then ``limit`` (or a seeded sample) per file.

    Args:
        paths: question files (see ``read_questions``).
        fmt: ``metaqa`` or ``tsv``.
        qtypes: no type files, or one per question file, in the same order.
        split: ``heldout``, ``train`` or ``all``; ``None`` is ``heldout`` for MetaQA, else ``all``.
        limit, seed: as for ``sample``, applied to each file after the split.

    Raises:
        KGQAError: an unknown split, or type files given but not one per question file.
    """
    split = split or ("heldout" if fmt == "metaqa" else "all")
    if split not in SPLITS:
        raise KGQAError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
    if qtypes and len(qtypes) != len(paths):
        raise KGQAError(f"{len(qtypes)} question-type files for {len(paths)} question files")
    out: list[Question] = []
    for i, path in enumerate(paths):
        hop = hop_of(path) or (path.name if len(paths) > 1 else None)
        questions = [replace(q, hop=hop) for q in read_questions(path, fmt, qtypes[i] if qtypes else None)]
        if split != "all":
            questions = only("heldout" if split == "heldout" else "train", questions)
        out += sample(questions, limit, seed)
    return out


class KGQASystem:
    """kgqa's hybrid retriever; with ``topic_given`` the gold topic replaces the linker."""

    name = "kgqa"

    def __init__(self, qa: KGQA, topic_given: bool = False, name: str = "kgqa") -> None:
        self.qa = qa
        self.topic_given = topic_given
        self.name = name

    def predict(self, question: Question) -> Prediction:
        start = time.perf_counter()
        linked: str | None
        if self.topic_given and question.topic:
            r = self.qa.retrieve(question.text, mentions=[_given(question, question.topic)])
            linked = None
        else:
            r = self.qa.retrieve(question.text)
            linked = r.mentions[0].best.id if r.mentions and r.mentions[0].candidates else None
        answers = list(r.answers)
        cited = [e.content for e in r.evidence if e.kind == "path"]
        ms = (time.perf_counter() - start) * 1000
        return Prediction(question, tuple(a.id for a in answers), tuple(cited),
                          sum(not a.evidence for a in answers), ms, linked, linked is not None or not self.topic_given)


def _given(question: Question, topic: str) -> Mention:
    """The gold topic as a mention, at its span in the question when known."""
    start, end = question.topic_span or (0, 0)
    return Mention(question.text[start:end], start, end, (Candidate(topic, topic, 1.0, "given"),))


class DenseSystem:
    """The dense-only RAG baseline over the knowledge base's verbalized triples."""

    name = "dense"

    def __init__(self, qa: KGQA, embedder: str, cache: Path | None = None) -> None:
        from model.embedders import open_embedder
        from retrieval.baselines import DenseBaseline

        self.baseline = DenseBaseline.from_store(qa.kb.store, open_embedder(embedder), cache)

    def predict(self, question: Question) -> Prediction:
        start = time.perf_counter()
        found = self.baseline.answer(question.text)
        ms = (time.perf_counter() - start) * 1000
        if found is None:
            return Prediction(question, (), (), 0, ms)
        return Prediction(question, (found.id,), (found.sentence,), 0, ms)


class LlamaIndexSystem:
    """LlamaIndex's property-graph retriever; with ``topic_given`` the gold topic is its query."""

    name = "llamaindex"

    def __init__(self, qa: KGQA, embedder: str, topic_given: bool = False, cache: Path | None = None) -> None:
        from model.embedders import open_embedder
        from retrieval.llamaindex_peer import LlamaIndexPeer

        self.peer = LlamaIndexPeer.from_store(qa.kb.store, open_embedder(embedder), cache,
                                              progress=qa.kb.progress)
        self.topic_given = topic_given

    def predict(self, question: Question) -> Prediction:
        start = time.perf_counter()
        topic = question.topic if self.topic_given else None
        found = self.peer.answer(question.text, topic)
        ms = (time.perf_counter() - start) * 1000
        linked = None if topic else next(iter(found.matched), None)
        return Prediction(question, found.answers, found.triplets, 0, ms, linked, not topic)


def make_systems(names: Sequence[str], qa: KGQA, embedder: str, topic_given: bool,
                 cache: Path | None = None) -> list[System]:
    """The systems named, in order; the baselines keep their vectors under ``cache``.

    ``cache`` defaults to ``baselines/`` in the knowledge base directory.

    Raises:
        KGQAError: an unknown name (the message lists the known ones).
    """
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:  # before any system loads its models
        raise KGQAError(f"unknown system {unknown[0]!r}; known systems: {', '.join(SYSTEMS)}")
    cache = cache or qa.kb.directory / "baselines"
    systems: list[System] = []
    for name in names:
        if name == "kgqa":
            systems.append(KGQASystem(qa, topic_given))
        elif name == "kgqa-zero-shot":  # the same retriever with the untrained path scorer
            zero = KGQA(qa.kb, qa.embedder_name, replace(qa.config, scorer="zero-shot"), generator="off")
            systems.append(KGQASystem(zero, topic_given, name))
        elif name == "dense":
            systems.append(DenseSystem(qa, embedder, cache / f"dense-{embedder}.npy"))
        elif name == "llamaindex":
            systems.append(LlamaIndexSystem(qa, embedder, topic_given, cache / f"llamaindex-{embedder}.npy"))
    return systems


def run(systems: Sequence[System], questions: Sequence[Question], progress: bool = True) -> dict[str, list[Prediction]]:
    """Every system's predictions for every question.

    Each system first answers the first question once, untimed, so that loading models and
    indexes is not counted as the latency of a question.
    """
    out: dict[str, list[Prediction]] = {}
    for system in systems:
        if questions:
            system.predict(questions[0])
        out[system.name] = [system.predict(q) for q in tqdm(questions, desc=system.name, disable=not progress)]
    return out


def _prf(predicted: Sequence[str], gold: frozenset[str]) -> tuple[float, float, float]:
    hit = len(set(predicted) & gold)
    p = hit / len(set(predicted)) if predicted else 0.0
    r = hit / len(gold) if gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _mean(values: Sequence[float]) -> float:
    return round(float(np.mean(values)), 4) if values else 0.0


def metrics(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """n, hits@1, precision, recall, f1, exact match, linker@1, uncited rate, latency, by_type, by_hop."""
    prf = [_prf(p.answers, p.question.gold) for p in predictions]
    linked = [p.linked == p.question.topic for p in predictions if p.question.topic and p.linking]
    answers = sum(len(p.answers) for p in predictions)
    latency = [p.latency_ms for p in predictions]
    out: dict[str, Any] = {
        "n": len(predictions),
        "hits@1": _mean([correct(p) for p in predictions]),
        "precision": _mean([x[0] for x in prf]), "recall": _mean([x[1] for x in prf]),
        "f1": _mean([x[2] for x in prf]),
        "exact": _mean([set(p.answers) == p.question.gold for p in predictions]),
        "linker@1": _mean(linked) if linked else None,
        "uncited": round(sum(p.uncited for p in predictions) / answers, 4) if answers else 0.0,
        "latency_ms": {k: round(float(f(latency)), 2) if latency else 0.0 for k, f in
                       (("p50", lambda x: np.percentile(x, 50)), ("p95", lambda x: np.percentile(x, 95)),
                        ("max", np.max))},
    }
    out["by_type"] = by_type(predictions)
    out["by_hop"] = by_hop(predictions)
    return out


def by_type(predictions: Sequence[Prediction]) -> dict[str, dict[str, float]]:
    """n, hits@1 and f1 per question type (empty when no types were given)."""
    return _groups(predictions, lambda q: q.qtype)


def by_hop(predictions: Sequence[Prediction]) -> dict[str, dict[str, float]]:
    """n, hits@1, f1 and median latency per hop (question file); empty when no hop is known."""
    out = _groups(predictions, lambda q: q.hop)
    for hop, m in out.items():
        m["p50_ms"] = round(float(np.median([p.latency_ms for p in predictions if p.question.hop == hop])), 2)
    return out


def _groups(predictions: Sequence[Prediction], key: Callable[[Question], str | None]) -> dict[str, dict[str, float]]:
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        if (k := key(p.question)) is not None:
            groups.setdefault(k, []).append(p)
    return {k: {"n": len(ps), "hits@1": _mean([correct(p) for p in ps]),
                "f1": _mean([_prf(p.answers, p.question.gold)[2] for p in ps])} for k, ps in sorted(groups.items())}


def correct(p: Prediction) -> bool:
    """The top answer is a gold answer (Hits@1)."""
    return bool(p.answers) and p.answers[0] in p.question.gold


def summarize(results: dict[str, list[Prediction]]) -> dict[str, Any]:
    """The ``--json`` document: the first system's metrics at the top, every system under ``systems``."""
    systems = {name: metrics(preds) for name, preds in results.items()}
    first = next(iter(systems.values()), {})
    return {**{k: first.get(k) for k in ("n", "hits@1", "f1", "latency_ms", "by_type", "by_hop")},
            "systems": systems}
