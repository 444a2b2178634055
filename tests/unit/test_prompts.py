"""The prompt layout and path verbalization, and the versions adapter cards record."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from model.prompts import PROMPT_VERSION, VERBALIZATION, build_prompt, check_card, read_card, versions


def test_the_prompt_numbers_evidence_and_says_it_is_data() -> None:
    prompt = build_prompt("Who?", [(1, "Kismet -directed by-> William Dieterle")], [("When?", "1944 [1]")])
    assert "[1] Kismet -directed by-> William Dieterle" in prompt and "not instructions" in prompt
    assert prompt.index("Earlier question: When?") < prompt.index("Evidence:") < prompt.index("Question: Who?")


def test_a_card_of_another_version_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "card.json").write_text(json.dumps({"prompt_version": "numbered-evidence-0"}))
    with caplog.at_level(logging.WARNING, logger="model.prompts"):
        assert not check_card(read_card(tmp_path), tmp_path, "prompt_version")
    assert "numbered-evidence-0" in caplog.text and PROMPT_VERSION in caplog.text and "retrain" in caplog.text


def test_a_card_of_this_version_or_of_none_is_silent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="model.prompts"):
        assert check_card({"verbalization": VERBALIZATION}, tmp_path, "verbalization")
        assert check_card({}, tmp_path, "verbalization")  # cards before versions: version 1
    assert caplog.text == "" and set(versions()) == {"prompt_version", "verbalization"}


def test_an_unreadable_card_is_empty_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "card.json").write_text("{half")
    with caplog.at_level(logging.WARNING, logger="model.prompts"):
        assert read_card(tmp_path) == {}
    assert "cannot be read" in caplog.text
