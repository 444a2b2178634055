"""model/bert.py: the plain-torch BERT forward pass gives transformers' token states, pooled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model.bert import BertEncoder, supported
from tests.tiny_models import tiny_bert


def test_mean_pooled_vectors_equal_transformers(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = tiny_bert(tmp_path / "bert")
    assert supported(folder)
    texts = ["who directed kismet", "kismet", "when was dark city released by the directed of vamp", ""]
    ours = BertEncoder(folder, max_length=8).mean_pooled(texts)  # the long text is truncated to 8 tokens
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(texts, padding=True, truncation=True, max_length=8, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    expected = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=1).numpy()
    assert ours.shape == (4, 32) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_other_models_are_left_to_transformers(tmp_path: Path) -> None:
    assert not supported(tmp_path)  # no config at all
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "roberta", "hidden_act": "gelu"}))
    (tmp_path / "model.safetensors").write_bytes(b"")
    (tmp_path / "tokenizer.json").write_text("{}")
    assert not supported(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_act": "gelu_new"}))
    assert not supported(tmp_path)


def test_a_lora_adapter_merged_by_hand_scores_like_peft(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    peft = pytest.importorskip("peft")
    from model.path_scorer import MAX_TOKENS, TrainedPathScorer, _BiEncoder, _MergedEncoder

    base = tiny_bert(tmp_path / "bert")
    torch.manual_seed(1)
    model = transformers.AutoModel.from_pretrained(str(base))
    config = peft.LoraConfig(r=4, lora_alpha=8, target_modules=["query", "key", "value", "output.dense"],
                             init_lora_weights=False)  # random B: the adapter changes the vectors
    peft.get_peft_model(model, config).save_pretrained(str(tmp_path / "adapter"))
    (tmp_path / "adapter" / "card.json").write_text("{}")
    scorer = TrainedPathScorer.load(tmp_path / "adapter", device="cpu", base=base)
    assert isinstance(scorer.encoder, _MergedEncoder)
    texts = ["who directed kismet", "directed by", "release year of directed by"]
    merged = peft.PeftModel.from_pretrained(transformers.AutoModel.from_pretrained(str(base)),
                                            str(tmp_path / "adapter")).merge_and_unload().eval()
    expected = _BiEncoder(merged, transformers.AutoTokenizer.from_pretrained(str(base)), "cpu").vectors(texts)
    np.testing.assert_allclose(scorer.encoder.vectors(texts), expected, atol=1e-5)
    plain = BertEncoder(base, MAX_TOKENS).mean_pooled(texts)
    assert np.abs(plain - expected).max() > 1e-3  # the merge did something

    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps(
        {**json.loads((tmp_path / "adapter" / "adapter_config.json").read_text()), "use_dora": True}))
    assert not BertEncoder(base, MAX_TOKENS).merge_lora(tmp_path / "adapter")  # left to peft
