"""Fine-tuning the generator: a LoRA adapter on gemma-3-270m that answers from numbered evidence.

The loss is on the answer tokens only (the prompt is context), projected only at answer
positions so that the 262k-token output layer is never computed for the whole prompt. Each
epoch is followed by the validation loss; the best epoch's adapter is kept and saved in float16
with a ``card.json`` that records the data hash, settings, the prompt layout version
(``model.prompts.PROMPT_VERSION``) and metrics. Inference is model/generator.py's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import random
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from kg.errors import KGQAError
from model.base import pick_device
from model.generator import CARD, load_base, replace_dir, require
from model.prompts import PROMPT_VERSION

log = logging.getLogger(__name__)


def _data_hash(examples: Sequence[tuple[str, str]]) -> str:
    return hashlib.sha256(json.dumps([list(e) for e in examples], ensure_ascii=False).encode("utf-8")).hexdigest()


def _encode_example(tokenizer: Any, prompt: str, target: str, eos: int) -> tuple[list[int], list[int]]:
    """(input ids, labels): the prompt as at inference, then the target and EOS; labels mask the prompt."""
    prompt_ids = list(tokenizer(prompt).input_ids)
    target_ids = [*tokenizer(target, add_special_tokens=False).input_ids, eos]
    return prompt_ids + target_ids, [-100] * len(prompt_ids) + target_ids


def _batches(encoded: Sequence[tuple[list[int], list[int]]], size: int, pad: int, device: str,
             rng: random.Random | None) -> Iterator[tuple[Any, Any, Any]]:
    """(input ids, attention mask, labels) tensors, right-padded, shuffled when ``rng`` is given."""
    import torch

    order = list(range(len(encoded)))
    if rng is not None:
        rng.shuffle(order)
    for start in range(0, len(order), size):
        rows = [encoded[i] for i in order[start:start + size]]
        width = max(len(ids) for ids, _ in rows)
        ids = [x + [pad] * (width - len(x)) for x, _ in rows]
        labels = [y + [-100] * (width - len(y)) for _, y in rows]
        mask = [[1] * len(x) + [0] * (width - len(x)) for x, _ in rows]
        yield tuple(torch.tensor(t, device=device) for t in (ids, mask, labels))  # type: ignore[misc]


def _loss(model: Any, ids: Any, mask: Any, labels: Any) -> Any:
    """Mean cross-entropy on the target tokens, projecting only their positions onto the vocabulary.

    The full (batch, length, 262k) logits would take gigabytes; answers are a few tokens each.
    """
    import torch.nn.functional as F

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = inner.get_decoder()(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = labels[:, 1:] != -100
    logits = inner.get_output_embeddings()(hidden[:, :-1][keep])
    cap = getattr(inner.config, "final_logit_softcapping", None)
    if cap:
        logits = (logits / cap).tanh() * cap
    return F.cross_entropy(logits.float(), labels[:, 1:][keep])


def _evaluate(model: Any, encoded: Sequence[tuple[list[int], list[int]]], size: int, pad: int, device: str) -> float:
    """Token-weighted mean loss over ``encoded``."""
    import torch

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for ids, mask, labels in _batches(encoded, size, pad, device, None):
            tokens = int((labels[:, 1:] != -100).sum())
            total += float(_loss(model, ids, mask, labels)) * tokens
            count += tokens
    model.train()
    return total / max(count, 1)


def _peft_model(model: Any, r: int, init_adapter: Path | None) -> Any:
    require("peft")
    from peft import LoraConfig, PeftModel, get_peft_model

    if init_adapter is not None:
        return PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
    config = LoraConfig(r=r, lora_alpha=2 * r, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    return get_peft_model(model, config)


class _Trainer:
    """One LoRA fine-tuning run: the epochs, early stopping on validation loss, the best weights."""

    def __init__(self, model: Any, lr: float, batch_size: int, pad: int, device: str, seed: int) -> None:
        import torch

        self.model, self.batch_size, self.pad, self.device = model, batch_size, pad, device
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
        self.rng = random.Random(seed)
        self.steps = 0
        self.best: tuple[float, dict[str, Any]] | None = None

    def epoch(self, encoded: Sequence[tuple[list[int], list[int]]], max_steps: int | None, progress: bool,
              label: str) -> float:
        """Train one pass (or until ``max_steps``); returns the mean training loss."""
        losses: list[float] = []
        total = -(-len(encoded) // self.batch_size)
        bar = tqdm(_batches(encoded, self.batch_size, self.pad, self.device, self.rng), total=total, desc=label,
                   unit="step", disable=not progress)
        for ids, mask, labels in bar:
            if max_steps is not None and self.steps >= max_steps:
                break
            loss = _loss(self.model, ids, mask, labels)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.steps += 1
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
        return sum(losses) / max(len(losses), 1)

    def improved(self, validation_loss: float) -> bool:
        """Remember the adapter weights when ``validation_loss`` is the best so far."""
        from peft import get_peft_model_state_dict

        if self.best is not None and validation_loss >= self.best[0]:
            return False
        state = {k: v.detach().clone() for k, v in get_peft_model_state_dict(self.model).items()}
        self.best = (validation_loss, state)
        return True

    def restore_best(self) -> None:
        from peft import set_peft_model_state_dict

        if self.best is not None:
            set_peft_model_state_dict(self.model, self.best[1])


def _run_epochs(trainer: _Trainer, train: Sequence[tuple[list[int], list[int]]],
                validation: Sequence[tuple[list[int], list[int]]], epochs: int, max_steps: int | None,
                patience: int, progress: bool) -> dict[str, Any]:
    """Train up to ``epochs`` passes, stopping early after ``patience`` epochs without a better validation loss."""
    seconds, train_losses, validation_losses, stale = [], [], [], 0
    for epoch in range(epochs):
        if max_steps is not None and trainer.steps >= max_steps:
            break
        started = time.perf_counter()
        train_losses.append(trainer.epoch(train, max_steps, progress, f"training generator (epoch {epoch + 1})"))
        seconds.append(round(time.perf_counter() - started, 2))
        if validation:
            validation_losses.append(_evaluate(trainer.model, validation, trainer.batch_size, trainer.pad,
                                               trainer.device))
            stale = 0 if trainer.improved(validation_losses[-1]) else stale + 1
            log.info("epoch %d: train loss %.4f, validation loss %.4f", epoch + 1, train_losses[-1],
                     validation_losses[-1])
            if stale >= patience:
                break
    trainer.restore_best()
    return {"steps": trainer.steps, "epochs": len(train_losses), "seconds_per_epoch": seconds,
            "train_loss": train_losses, "validation_loss": validation_losses,
            "best_validation_loss": trainer.best[0] if trainer.best else None}


def _halve(weights: Path) -> None:
    """Store the adapter in float16: half the size to ship, the same greedy outputs (checked on
    MetaQA prompts); it is cast back to the model's dtype when loaded."""
    import torch
    from safetensors.torch import load_file, save_file

    if weights.exists():
        tensors = load_file(str(weights))
        save_file({k: v.to(torch.float16).contiguous() for k, v in tensors.items()}, str(weights),
                  metadata={"format": "pt"})


def _save_adapter(model: Any, out: Path, card: Mapping[str, Any]) -> None:
    """Write the adapter and its card into ``out`` through a temporary folder."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(str(tmp))
        _halve(tmp / "adapter_model.safetensors")
        (tmp / CARD).write_text(json.dumps({**card, "stored_dtype": "float16"}, indent=2, ensure_ascii=False) + "\n")
        replace_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass(frozen=True)
class GeneratorTrainConfig:
    """Settings of ``train_generator`` (recorded in the card).

    Args:
        epochs: passes over the examples; ``max_steps`` caps the optimizer steps in all.
        lr, r, batch_size, seed: AdamW learning rate, LoRA rank, examples per step, shuffling/init seed.
        patience: epochs without a better validation loss before stopping.
    """

    epochs: int = 1
    max_steps: int | None = None
    lr: float = 2e-4
    r: int = 16
    batch_size: int = 4
    seed: int = 0
    patience: int = 1

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.epochs < 1 or self.r < 1:
            raise KGQAError(f"need batch_size >= 1, epochs >= 1, r >= 1 (got batch_size={self.batch_size}, "
                            f"epochs={self.epochs}, r={self.r})")


def train_generator(examples: Sequence[tuple[str, str]], out: Path, config: GeneratorTrainConfig | None = None, *,
                    validation: Sequence[tuple[str, str]] = (), device: str | None = None,
                    base: str | Path | None = None, progress: bool = True, card: Mapping[str, object] | None = None,
                    init_adapter: Path | None = None, cache_dir: Path | None = None,
                    **settings: Any) -> dict[str, object]:
    """Fit a LoRA adapter so that each prompt is continued by its target, and save it with a card.

    Args:
        examples: (prompt ending with "Answer:", target such as " The answer is X [1].") pairs.
        out: the adapter folder to write (replaced atomically).
        config: the training settings; ``**settings`` (``epochs=``, ``lr=``...) override its fields.
        validation: held-out pairs; their loss is measured after each epoch and the best epoch kept.
        device, base, cache_dir: as for ``Generator.load``.
        progress: show a tqdm bar per epoch.
        card: extra entries for ``card.json`` (e.g. the command line; the prompt version is added).
        init_adapter: continue training this adapter instead of starting a new one (r is then its own).

    Returns:
        The card's metrics: steps, epochs, seconds per epoch, losses, sizes, data hash, settings.

    Raises:
        KGQAError: no examples or a bad setting.
    """
    c = dataclasses.replace(config or GeneratorTrainConfig(), **settings)
    if not examples:
        raise KGQAError("need examples to train the generator (got none)")
    import torch

    where = pick_device(device)
    torch.manual_seed(c.seed)
    model, tokenizer, manifest = load_base(base, cache_dir, where)
    model = _peft_model(model, c.r, init_adapter)
    model.train()
    eos, pad = int(tokenizer.eos_token_id), int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    train_enc = [_encode_example(tokenizer, p, t, eos) for p, t in examples]
    valid_enc = [_encode_example(tokenizer, p, t, eos) for p, t in validation]
    trainer = _Trainer(model, c.lr, c.batch_size, pad, where, c.seed)
    metrics = _run_epochs(trainer, train_enc, valid_enc, c.epochs, c.max_steps, c.patience, progress)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result: dict[str, object] = {
        "format": 1, "base_model": manifest.get("model"), "base_gguf_sha256": manifest.get("gguf_sha256"),
        "r": model.peft_config["default"].r, "lora_alpha": model.peft_config["default"].lora_alpha,
        "lr": c.lr, "batch_size": c.batch_size, "seed": c.seed, "trainable_parameters": trainable,
        "init_adapter": str(init_adapter) if init_adapter else None,
        "train_size": len(examples), "validation_size": len(validation),
        "data_sha256": _data_hash(examples), "validation_sha256": _data_hash(validation),
        **metrics, "prompt_version": PROMPT_VERSION, **dict(card or {}),
    }
    _save_adapter(model, Path(out), result)
    return result
