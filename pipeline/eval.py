"""Question-answering evaluation: read gold questions, run systems, score and report them.

Questions come as MetaQA lines (``question with [topic]<TAB>ans1|ans2``) or generic TSV
(``question<TAB>ans1|ans2[<TAB>topic id]``), plain or gzipped, with an optional question-type
file aligned line by line. A system turns a ``Question`` into a ``Prediction`` (answer ids, the
cited evidence as text, latency); ``kgqa`` is the hybrid retriever (with the linker, or with the
gold topic given), ``dense`` the dense-only RAG baseline of ``retrieval.baselines``. Metrics are
Hits@1, answer-set precision/recall/F1, exact set match, linker recall@1, the rate of uncited
answers and latency percentiles, overall and per question type. ``write_report`` saves a
summary, the per-question predictions and, when matplotlib is installed, PNG plots.

Deliberately left out: generation (answers are the retriever's ranked entities) and a
LlamaIndex peer.
"""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
from tqdm import tqdm

from kg.errors import KGQAError, SourceFormatError
from pipeline.api import KGQA
from retrieval.base import Candidate, Mention

log = logging.getLogger(__name__)
FORMATS = ("metaqa", "tsv")
SYSTEMS = ("kgqa", "dense")
_TOPIC = re.compile(r"\[([^\]]+)\]")


@dataclass(frozen=True)
class Question:
    """One gold question: the text users see, the gold answers, the topic (when known), the type."""

    text: str
    gold: frozenset[str]
    topic: str | None = None
    qtype: str | None = None
    topic_span: tuple[int, int] | None = None  # where the topic is named in ``text``


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


class KGQASystem:
    """kgqa's hybrid retriever; with ``topic_given`` the gold topic replaces the linker."""

    name = "kgqa"

    def __init__(self, qa: KGQA, topic_given: bool = False) -> None:
        self.qa = qa
        self.topic_given = topic_given

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


def make_systems(names: Sequence[str], qa: KGQA, embedder: str, topic_given: bool) -> list[System]:
    """The systems named, in order.

    Raises:
        KGQAError: an unknown name (the message lists the known ones).
    """
    systems: list[System] = []
    for name in names:
        if name == "kgqa":
            systems.append(KGQASystem(qa, topic_given))
        elif name == "dense":
            systems.append(DenseSystem(qa, embedder))
        elif name == "llamaindex":
            raise KGQAError("system 'llamaindex' is not part of kgqa eval yet (out of scope); "
                            f"known systems: {', '.join(SYSTEMS)}")
        else:
            raise KGQAError(f"unknown system {name!r}; known systems: {', '.join(SYSTEMS)}")
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
    """n, hits@1, precision, recall, f1, exact match, linker@1, uncited rate, latency, by_type."""
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
    return out


def by_type(predictions: Sequence[Prediction]) -> dict[str, dict[str, float]]:
    """n, hits@1 and f1 per question type (empty when no types were given)."""
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        if p.question.qtype:
            groups.setdefault(p.question.qtype, []).append(p)
    return {t: {"n": len(ps), "hits@1": _mean([correct(p) for p in ps]),
                "f1": _mean([_prf(p.answers, p.question.gold)[2] for p in ps])} for t, ps in sorted(groups.items())}


def correct(p: Prediction) -> bool:
    """The top answer is a gold answer (Hits@1)."""
    return bool(p.answers) and p.answers[0] in p.question.gold


def summarize(results: dict[str, list[Prediction]]) -> dict[str, Any]:
    """The ``--json`` document: the first system's metrics at the top, every system under ``systems``."""
    systems = {name: metrics(preds) for name, preds in results.items()}
    first = next(iter(systems.values()), {})
    return {**{k: first.get(k) for k in ("n", "hits@1", "f1", "latency_ms", "by_type")}, "systems": systems}


def table(summary: dict[str, Any]) -> str:
    """One readable row per system."""
    cols = ("n", "hits@1", "precision", "recall", "f1", "exact", "linker@1", "uncited")
    head = f"{'system':8} " + " ".join(f"{c:>9}" for c in cols) + f" {'p50 ms':>8} {'p95 ms':>8}"
    rows = [head, "-" * len(head)]
    for name, m in summary["systems"].items():
        cells = " ".join(f"{_cell(m[c]):>9}" for c in cols)
        rows.append(f"{name:8} {cells} {m['latency_ms']['p50']:>8.1f} {m['latency_ms']['p95']:>8.1f}")
    return "\n".join(rows)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_report(directory: Path, results: dict[str, list[Prediction]], summary: dict[str, Any]) -> list[Path]:
    """``summary.json``, ``questions.jsonl`` and, with matplotlib, PNG plots; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [directory / "summary.json", directory / "questions.jsonl"]
    written[0].write_text(json.dumps(summary, indent=1, ensure_ascii=False))
    with written[1].open("w", encoding="utf-8") as fh:
        for system, preds in results.items():
            for p in preds:
                fh.write(json.dumps({"system": system, "question": p.question.text, "type": p.question.qtype,
                                     "gold": sorted(p.question.gold), "predicted": list(p.answers),
                                     "cited": list(p.cited), "correct": correct(p),
                                     "latency_ms": round(p.latency_ms, 2)}, ensure_ascii=False) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only, never a window
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plots")
        return written
    systems: dict[str, dict[str, Any]] = summary["systems"]
    for name, plot in (("accuracy_by_type.png", _plot_types), ("latency.png", _plot_latency),
                       ("systems.png", _plot_systems)):
        fig = plot(plt, results, systems)
        fig.tight_layout()
        fig.savefig(directory / name, dpi=110)
        plt.close(fig)
        written.append(directory / name)
    return written


def _plot_types(plt: Any, results: dict[str, list[Prediction]], systems: dict[str, dict[str, Any]]) -> Any:
    """Hits@1 per question type, one bar per system in each group."""
    types = sorted({t for m in systems.values() for t in m["by_type"]}) or ["all"]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(types) * len(systems)), 4.5))
    width = 0.8 / max(1, len(systems))
    for i, (name, m) in enumerate(systems.items()):
        values = [m["by_type"][t]["hits@1"] if t in m["by_type"] else m["hits@1"] if t == "all" else 0.0
                  for t in types]
        ax.bar(np.arange(len(types)) + i * width, values, width, label=name)
    counts = {t: max(m["by_type"].get(t, {}).get("n", 0) for m in systems.values()) for t in types}
    ticks = [f"{t} (n={counts[t]})" if counts[t] else t for t in types]
    ax.set_xticks(np.arange(len(types)) + width * (len(systems) - 1) / 2, ticks, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("Hits@1")
    ax.set_title("Accuracy by question type")
    ax.legend()
    return fig


def _plot_latency(plt: Any, results: dict[str, list[Prediction]], systems: dict[str, dict[str, Any]]) -> Any:
    """A histogram of per-question latency per system."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, preds in results.items():
        ax.hist([p.latency_ms for p in preds], bins=30, alpha=0.6, label=name)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency per question")
    ax.legend()
    return fig


def _plot_systems(plt: Any, results: dict[str, list[Prediction]], systems: dict[str, dict[str, Any]]) -> Any:
    """The main metrics of every system side by side."""
    keys = ["hits@1", "precision", "recall", "f1", "exact"]
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    width = 0.8 / max(1, len(systems))
    for i, (name, m) in enumerate(systems.items()):
        ax.bar(np.arange(len(keys)) + i * width, [m[k] for k in keys], width, label=name)
    ax.set_xticks(np.arange(len(keys)) + width * (len(systems) - 1) / 2, keys)
    ax.set_ylim(0, 1)
    ax.set_title("Systems side by side")
    ax.legend()
    return fig
