"""A BERT encoder for inference only: the forward pass in plain torch, weights read from safetensors.

Why: importing transformers' modeling code pulls in torch.compile, torch.distributed and the
rest, about 2.8 s of every process's first question on 2 cores, for six BERT layers that are a
few dozen lines of torch. This runs the same computation on the same weights (tests check it
against sentence-transformers and transformers to 1e-5) and imports only torch, safetensors and
tokenizers (the Rust tokenizer transformers' fast tokenizers are built on, read from the model
folder's ``tokenizer.json``). Only what the shipped MiniLM needs is here: absolute positions,
exact GELU, post-layer norm; ``supported`` says whether a model folder is of that kind, and
callers load other models with transformers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Unit sentence vectors: the mean of the token states ``hidden`` (batch, tokens, d) over the
    tokens ``mask`` (batch, tokens) keeps, normalized (sentence-transformers' Pooling + Normalize)."""
    import torch

    weights = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=-1)


def supported(path: Path) -> bool:
    """Whether the model folder ``path`` holds a BERT this module runs (else use transformers)."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and (path / "model.safetensors").exists() and (path / "tokenizer.json").exists())


class BertEncoder:
    """Token states of a BERT model folder; ``mean_pooled`` gives unit sentence vectors.

    Args:
        path: a transformers model folder (config.json, model.safetensors, tokenizer.json).
        max_length: tokens per text, special tokens included (longer texts are truncated).
        device: a torch device name.
    """

    def __init__(self, path: Path, max_length: int, device: str = "cpu") -> None:
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.device = torch.device(device)
        weights = load_file(str(path / "model.safetensors"), device="cpu")
        prefix = "bert." if any(k.startswith("bert.") for k in weights) else ""
        self.w = {k[len(prefix):]: v.to(self.device, torch.float32) for k, v in weights.items()
                  if k.startswith(prefix)}
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_length)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    def merge_lora(self, adapter: Path) -> bool:
        """Fold a plain LoRA adapter (peft's format) into the weights: ``W += alpha / r * B @ A``.

        What ``PeftModel.merge_and_unload`` computes, without importing peft and transformers.
        Returns False and changes nothing when the adapter is of another kind (DoRA, rsLoRA,
        per-module ranks, trained biases or modules) or names a weight this model lacks.
        """
        from safetensors.torch import load_file

        try:
            config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
            lora = load_file(str(adapter / "adapter_model.safetensors"), device="cpu")
        except (OSError, ValueError):
            return False
        plain = (config.get("peft_type") == "LORA" and config.get("bias", "none") == "none"
                 and not any(config.get(k) for k in ("use_dora", "use_rslora", "fan_in_fan_out", "rank_pattern",
                                                     "alpha_pattern", "modules_to_save", "layer_replication")))
        pairs = {}
        for key in lora:
            if key.endswith(".lora_A.weight"):
                module = key[: -len(".lora_A.weight")].removeprefix("base_model.model.").removeprefix("bert.")
                b = lora.get(key.replace(".lora_A.", ".lora_B."))
                plain = plain and b is not None and module + ".weight" in self.w
                if b is not None:
                    pairs[module + ".weight"] = (lora[key], b)
            elif not key.endswith(".lora_B.weight"):
                plain = False  # something else was trained
        if not plain or not pairs:
            return False
        scale = float(config["lora_alpha"]) / float(config["r"])
        for name, (a, b) in pairs.items():
            self.w[name] = self.w[name] + scale * (b.float() @ a.float()).to(self.device)
        return True

    def mean_pooled(self, texts: list[str]) -> np.ndarray:
        """Unit float32 rows: the mean of each text's token states, normalized."""
        import torch

        encoded = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encoded], dtype=torch.long, device=self.device)
        types = torch.tensor([e.type_ids for e in encoded], dtype=torch.long, device=self.device)
        mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.float32, device=self.device)
        with torch.inference_mode():
            unit = mean_pool(self._forward(ids, types, mask), mask)
        return np.asarray(unit.cpu().numpy(), dtype=np.float32)

    def _forward(self, ids: Any, types: Any, mask: Any) -> Any:
        import torch
        from torch.nn.functional import gelu, layer_norm, linear, scaled_dot_product_attention

        w, eps = self.w, self.eps
        width = w["embeddings.word_embeddings.weight"].shape[1]
        positions = torch.arange(ids.shape[1], device=self.device)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][positions]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = layer_norm(x, (width,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        batch, length = ids.shape
        size = width // self.heads
        bias = ((1.0 - mask) * torch.finfo(torch.float32).min)[:, None, None, :]  # padding gets no attention

        def split(t: Any) -> Any:
            return t.view(batch, length, self.heads, size).transpose(1, 2)

        for n in range(self.layers):
            p = f"encoder.layer.{n}."
            q, k, v = (split(linear(x, w[f"{p}attention.self.{m}.weight"], w[f"{p}attention.self.{m}.bias"]))
                       for m in ("query", "key", "value"))
            context = scaled_dot_product_attention(q, k, v, attn_mask=bias)
            context = context.transpose(1, 2).reshape(batch, length, width)
            attended = linear(context, w[f"{p}attention.output.dense.weight"], w[f"{p}attention.output.dense.bias"])
            x = layer_norm(x + attended, (width,), w[f"{p}attention.output.LayerNorm.weight"],
                           w[f"{p}attention.output.LayerNorm.bias"], eps)
            inner = gelu(linear(x, w[f"{p}intermediate.dense.weight"], w[f"{p}intermediate.dense.bias"]))
            out = linear(inner, w[f"{p}output.dense.weight"], w[f"{p}output.dense.bias"])
            x = layer_norm(x + out, (width,), w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"], eps)
        return x
