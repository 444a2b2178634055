"""The one train / held-out split of gold questions, shared by training, evaluation and benches.

Only dev questions are available for MetaQA (DESIGN.md), so they are split here, by a hash of
the question text (lowercased, brackets and extra spaces dropped): the split of a question
never depends on which file, order or sample it came in, and a model trained on ``train`` is
never reported on it. ``heldout`` is about 30% of each file (3,004 / 4,472 / 4,282 MetaQA dev
questions for 1 / 2 / 3 hops).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal, TypeVar

Split = Literal["train", "heldout"]
HELDOUT_PERCENT = 30
T = TypeVar("T")


def split_of(question: str) -> Split:
    """``heldout`` for about 30% of questions, ``train`` for the rest, stable across runs."""
    key = " ".join(question.replace("[", " ").replace("]", " ").lower().split())  # brackets or not
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest()
    return "heldout" if int.from_bytes(digest, "big") % 100 < HELDOUT_PERCENT else "train"


def only(split: Split, items: Iterable[T], text: str = "text") -> list[T]:
    """The items (objects with a ``text`` attribute, or strings) that fall in ``split``."""
    return [i for i in items if split_of(i if isinstance(i, str) else getattr(i, text)) == split]
