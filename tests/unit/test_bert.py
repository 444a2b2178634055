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
