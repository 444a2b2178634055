"""A path scorer adapted cheaply: frozen MiniLM embeddings with two learned linear maps.

Fine-tuning MiniLM itself (model/path_scorer.py) costs seconds per batch on two CPU cores. Here
the encoder stays frozen: questions and verbalized paths are embedded once, and training learns
a 384 x 384 map of the questions (and optionally one of the paths: ``train_paths``, which fit
the synthetic wording and did worse on real questions of the world KB), started at the identity
(so an untrained head is exactly zero-shot cosine scoring) and pulled back toward it by weight
decay around the identity. The hop prior is learned too when the training examples record their
paths' hop counts (synthetic questions do): ``b[h] + q . u[:, h]`` is added to the score of a path
of h+1 hops, started at the zero-shot penalty (``u`` = 0) so that the wording of a question, not a
fixed penalty, says how many hops it asks for; heads without ``u`` keep the fixed penalty of
their card. The loss is
the path scorer's: a softmax over each question's candidate paths, its positives against its
negatives. Thousands of questions train in seconds, so a KB's
adaptation fits a minutes budget, and the head (a few hundred KB in float16) ships with a card.

Left out: anything the frozen embedding cannot see (token order beyond what mean pooling keeps).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kg.errors import KGQAError
from model.base import Embedder
from model.path_scorer import PathExample, check_examples, data_hash
from model.prompts import VERBALIZATION, card_verbalization
from model.scorer import COVERAGE, HOP_PENALTY, ZeroShotPathScorer

log = logging.getLogger(__name__)
HEAD_FILE = "head.npz"
LEGACY_HOP_PENALTY = 0.1  # what heads whose card records none were trained and judged with
HOP_PRIOR_HOPS = 3  # hop counts a learned hop prior covers (PathConfig.max_hops at most)


def _unit(m: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(m, axis=-1, keepdims=True)
    out: np.ndarray = (m / np.maximum(norm, 1e-9)).astype(np.float32)
    return out


class HeadPathScorer(ZeroShotPathScorer):
    """Cosine of ``unit(q W)`` and ``unit(p V)`` over frozen embeddings; a ``PathScorer``."""

    trained = True

    def __init__(self, embedder: Embedder, w: np.ndarray, v: np.ndarray, card: Mapping[str, Any],
                 hops: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        # the zero-shot hop prior stays: synthetic wordings teach hop counts that real questions do not share
        # a head whose card predates ``coverage`` was judged without it
        super().__init__(embedder, verbalization=card_verbalization(card),
                         hop_penalty=float(card.get("hop_penalty", LEGACY_HOP_PENALTY)),
                         coverage=float(card.get("coverage", 0.0)), lexical=float(card.get("lexical", 0.0)))
        self.w, self.v = w.astype(np.float32), v.astype(np.float32)
        # the learned hop prior: b[h] + q . u[:, h] is added to the score of an (h+1)-hop path
        self.hops = None if hops is None else (hops[0].astype(np.float32), hops[1].astype(np.float32))
        self._asked: tuple[str, np.ndarray] | None = None
        self.card = dict(card)
        self.rules = dict(card.get("rules", {}))

    @classmethod
    def load(cls, directory: str | Path, embedder: Embedder) -> HeadPathScorer:
        """Read a head written by ``train_head``.

        Raises:
            KGQAError: no head there, or one for another embedding size.
        """
        directory = Path(directory)
        try:
            arrays = np.load(directory / HEAD_FILE)
            card = json.loads((directory / "card.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KGQAError(f"{directory} holds no readable scorer head: {exc}") from None
        if arrays["w"].shape != (embedder.dimension, embedder.dimension):
            raise KGQAError(f"the head in {directory} is for {arrays['w'].shape[0]}-d embeddings, "
                            f"the embedder {embedder.name!r} gives {embedder.dimension}")
        hops = (arrays["u"], arrays["b"]) if "u" in arrays.files else None
        return cls(embedder, arrays["w"], arrays["v"], card, hops)

    def path_vectors(self, texts: Sequence[str]) -> np.ndarray:
        return _unit(self.embedder.passage(texts) @ self.v)

    def question_vector(self, question: str) -> np.ndarray:
        vector: np.ndarray = _unit(self._raw(question)[None, :] @ self.w)[0]
        return vector

    def hop_prior(self, question: str, max_hops: int = 3) -> np.ndarray:
        if self.hops is None:
            return super().hop_prior(question, max_hops)
        u, b = self.hops
        out = np.full(max_hops, -1.0, dtype=np.float32)  # hops beyond what it learned: strongly disfavoured
        known = min(max_hops, len(b))
        out[:known] = (b + self._raw(question) @ u)[:known]
        return out

    def _raw(self, question: str) -> np.ndarray:
        """The question's frozen embedding (the last one is kept: ``score`` and ``hop_prior`` both need it)."""
        if self._asked is None or self._asked[0] != question:
            self._asked = (question, self.embedder.query([question])[0].astype(np.float32))
        return self._asked[1]


@dataclass(frozen=True)
class HeadConfig:
    """Settings of ``train_head`` (recorded in the card)."""

    steps: int = 300
    batch_size: int = 64
    lr: float = 2e-3
    decay: float = 1e-2  # pull toward the identity (toward zero-shot scoring)
    scale: float = 20.0
    eval_every: int = 25
    patience: int = 4
    train_paths: bool = False  # learn the path map too (it fits the synthetic wording, measured worse)
    # learn a hop prior from the question's wording (when every example records hops); off: measured,
    # MetaQA topic given 0.602 -> 0.623 but the world KB's dev half 0.773 -> 0.716 (bench/adapt_failures.py)
    hop_prior: bool = False
    hop_lr: float = 1e-2  # its learning rate: a few numbers per question, far from where the maps start
    max_seconds: float | None = None  # stop after this long, keeping the best state so far
    seed: int = 0


class _Data:
    """Examples as indices into embedded question and path tables (and each path's hop count)."""

    def __init__(self, examples: Sequence[PathExample], embedder: Embedder, progress: bool) -> None:
        texts = sorted({t for e in examples for t in (*e.positives, *e.negatives)})
        questions = sorted({e.question for e in examples})
        self.index = {t: i for i, t in enumerate(texts)}
        qindex = {q: i for i, q in enumerate(questions)}
        self.paths = _embed(embedder.passage, texts, "embedding paths", progress)
        self.questions = _embed(embedder.query, questions, "embedding questions", progress)
        self.rows = [(qindex[e.question], [self.index[t] for t in e.positives],
                      [self.index[t] for t in e.negatives]) for e in examples]
        hops = np.ones(len(texts), dtype=np.int64)
        for e in examples:
            for t, h in zip((*e.positives, *e.negatives), e.hops):
                hops[self.index[t]] = h
        self.hops = hops - 1  # index into the hop prior
        self.with_hops = bool(examples) and all(len(e.hops) == len(e.positives) + len(e.negatives) for e in examples)


def _embed(fn: Any, texts: list[str], desc: str, progress: bool, batch: int = 256) -> np.ndarray:
    from tqdm import tqdm

    parts = [fn(texts[i:i + batch]) for i in tqdm(range(0, len(texts), batch), desc=desc, disable=not progress,
                                                     file=sys.stderr, leave=False)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros((0, 1), dtype=np.float32)


def _scores(data: _Data, qrows: Sequence[int], used: Sequence[int], params: Mapping[str, Any]) -> Any:
    """Scores (questions ``qrows`` x paths ``used``): cosine of the mapped vectors, plus the hop prior."""
    import torch

    raw = torch.from_numpy(data.questions[list(qrows)])
    q = torch.nn.functional.normalize(raw @ params["w"], dim=-1)
    p = torch.nn.functional.normalize(torch.from_numpy(data.paths[list(used)]) @ params["v"], dim=-1)
    sims = q @ p.T
    if "u" in params:
        prior = raw @ params["u"] + params["b"]  # (questions, hops)
        sims = sims + prior[:, torch.from_numpy(data.hops[list(used)])]
    return sims


def _accuracy(data: _Data, params: Mapping[str, Any]) -> float:
    import torch

    with torch.no_grad():
        right = 0
        for qi, pos, neg in data.rows:
            s = _scores(data, [qi], pos + neg, params)[0]
            right += bool(s[: len(pos)].max() >= s.max())  # a tie goes to the positive
    return right / max(1, len(data.rows))


def _loss(data: _Data, batch: Sequence[tuple[int, list[int], list[int]]], params: Mapping[str, Any],
          cfg: HeadConfig, negatives: int = 63) -> Any:
    """Softmax loss of a batch: each question's positives against (at most ``negatives``) sampled negatives."""
    import random

    import torch

    rng = random.Random(len(batch) * 7919 + batch[0][0])
    rows = [(qi, pos[:4], rng.sample(neg, min(negatives, len(neg)))) for qi, pos, neg in batch]
    used = sorted({j for _, pos, neg in rows for j in (*pos, *neg)})
    at = {j: i for i, j in enumerate(used)}
    sims = _scores(data, [r[0] for r in rows], used, params) * cfg.scale
    losses = []
    for i, (_, pos, neg) in enumerate(rows):
        logits = sims[i, [at[j] for j in (*pos, *neg)]]
        losses.append(torch.logsumexp(logits, 0) - torch.logsumexp(logits[: len(pos)], 0))
    eye = torch.eye(params["w"].shape[0])
    decay = ((params["w"] - eye) ** 2).sum() + ((params["v"] - eye) ** 2).sum()
    if "u" in params:
        decay = decay + (params["u"] ** 2).sum()
    return torch.stack(losses).mean() + cfg.decay * decay


def _start(init: Path | None, d: int, cfg: HeadConfig, with_hops: bool) -> dict[str, Any]:
    """The trainable parameters, from ``init`` (its hop prior too, when it has one) or the identity."""
    import torch

    start = {"w": np.eye(d), "v": np.eye(d)} if init is None else _arrays(init)
    params = {"w": torch.tensor(start["w"], dtype=torch.float32, requires_grad=True),
              "v": torch.tensor(start["v"], dtype=torch.float32, requires_grad=cfg.train_paths)}
    if cfg.hop_prior and with_hops:
        u = start.get("u", np.zeros((d, HOP_PRIOR_HOPS)))
        b = start.get("b", -HOP_PENALTY * np.arange(HOP_PRIOR_HOPS))  # the zero-shot prior to start with
        params["u"] = torch.tensor(u, dtype=torch.float32, requires_grad=True)
        params["b"] = torch.tensor(b, dtype=torch.float32, requires_grad=True)
    return params


def train_head(train: Sequence[PathExample], validation: Sequence[PathExample], out: str | Path, embedder: Embedder,
               config: HeadConfig = HeadConfig(), init: str | Path | None = None, progress: bool = True,
               card: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Learn the two maps (and the hop prior when every example records its paths' hops); keep the
    state with the best validation path accuracy; write ``out`` atomically.

    Raises:
        KGQAError: no training examples, or an example without positives or negatives.
    """
    import torch

    check_examples(train, "no training examples for the scorer head")
    torch.manual_seed(config.seed)
    data, held = _Data(train, embedder, progress), _Data(validation, embedder, progress)
    d = data.paths.shape[1]
    params = _start(Path(init) if init else None, d, config, data.with_hops and (held.with_hops or not validation))
    eye = torch.eye(d)
    zero_shot = {"w": eye, "v": eye}
    if "u" in params:
        zero_shot.update(u=torch.zeros(d, HOP_PRIOR_HOPS), b=-HOP_PENALTY * torch.arange(HOP_PRIOR_HOPS))
    identity = _accuracy(held, zero_shot)  # zero-shot scoring's accuracy (with its hop penalty) on the same slice
    fit = _fit(data, held, params, config, progress)
    info = {"zero_shot_validation_path_accuracy": round(identity, 4),
            "kind": "scorer head (frozen encoder, linear maps)", "embedder": embedder.name,
            "settings": config.__dict__, "train_examples": len(train), "validation_examples": len(validation),
            "data_sha256": data_hash(list(train) + list(validation)), "verbalization": VERBALIZATION,
            "hop_penalty": HOP_PENALTY, "coverage": COVERAGE,
            "hop_prior": "learned from the questions' wording" if "u" in params else "fixed (hop_penalty)",
            "started_from": str(init) if init else "identity (zero-shot)",
            **{k: val for k, val in fit.items() if k != "best"}, **(card or {})}
    _save(out, fit["best"], info)
    return info


def _fit(data: _Data, held: _Data, params: dict[str, Any], cfg: HeadConfig, progress: bool) -> dict[str, Any]:
    import random

    import torch
    from tqdm import tqdm

    rng = random.Random(cfg.seed)
    groups = [{"params": [p for k, p in params.items() if p.requires_grad and k in ("w", "v")], "lr": cfg.lr}]
    if "u" in params:
        groups.append({"params": [params["u"], params["b"]], "lr": cfg.hop_lr})
    optimizer = torch.optim.Adam(groups)

    def snapshot() -> dict[str, np.ndarray]:
        return {k: p.detach().clone().numpy() for k, p in params.items()}

    best = (_accuracy(held, params), snapshot())
    checks = [{"step": 0, "validation_path_accuracy": round(best[0], 4)}]
    stale, began, stopped = 0, time.perf_counter(), "steps"
    bar = tqdm(range(1, cfg.steps + 1), desc="training head", disable=not progress, file=sys.stderr, leave=False)
    for step in bar:
        loss = _loss(data, rng.sample(data.rows, min(cfg.batch_size, len(data.rows))), params, cfg)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            acc = _accuracy(held, params)
            checks.append({"step": step, "loss": round(float(loss.detach()), 4),
                           "validation_path_accuracy": round(acc, 4)})
            bar.set_postfix(best=f"{best[0]:.3f}", acc=f"{acc:.3f}")
            best, stale = ((acc, snapshot()), 0) if acc > best[0] else (best, stale + 1)
            if stale > cfg.patience:
                stopped = "patience"
                break
        if cfg.max_seconds is not None and time.perf_counter() - began > cfg.max_seconds:
            stopped = "time budget"
            break
    return {"checks": checks, "validation_path_accuracy": round(best[0], 4), "stopped": stopped, "best": best[1]}


def _arrays(directory: Path) -> dict[str, np.ndarray]:
    arrays = np.load(directory / HEAD_FILE)
    return {k: arrays[k].astype(np.float32) for k in arrays.files}


def _save(out: str | Path, arrays: Mapping[str, np.ndarray], card: Mapping[str, Any]) -> None:
    """Head + card into a temporary sibling directory, then swapped in (never half-written)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        stored: dict[str, Any] = {k: a.astype(np.float16 if k in ("w", "v") else np.float32) for k, a in arrays.items()}
        np.savez(tmp / HEAD_FILE, **stored)
        (tmp / "card.json").write_text(json.dumps(card, indent=1, default=str) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
