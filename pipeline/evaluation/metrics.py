"""Scores of systems on gold questions: Hits@1, answer-set precision/recall/F1, exact set match,
linker recall@1, the rate of uncited answers and latency percentiles, overall, per question type
and per hop. ``run`` lets every system answer every question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.evaluation.systems import Prediction, System
from pipeline.questions import Question


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
