"""Tiny random models built from a config, for unit tests that train or load adapters offline."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tests.movies import MOVIES

MORE = """\
Dark City|starred_actors|Marlene Dietrich
Vamp|starred_actors|Grace Jones
Vamp|written_by|Richard Wenk
"""
WORDS = ("who", "directed", "when", "was", "released", "of", "the", "by", "in")


def tiny_bert(directory: Path, words: Iterable[str] = (), seed: int = 0) -> Path:
    """A random 2-layer BERT and a word-level tokenizer over the movie KB's words (plus ``words``).

    Saved as a model directory that ``TrainedPathScorer.load`` and ``train_scorer`` take as
    ``base``; no download. The weights are drawn with ``seed``, so tests that train are repeatable.
    """
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    kb_words = {w for line in (MOVIES + MORE).lower().replace("|", " ").replace("_", " ").split("\n")
                for w in line.split()}
    vocab_words = sorted(kb_words | set(WORDS) | {w.lower() for w in words})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *vocab_words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]",
                                                       special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]").save_pretrained(str(directory))
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(directory))
    return directory
