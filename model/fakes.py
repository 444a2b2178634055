"""A scripted text generator: the ``TextGenerator`` for tests, demos and a server without gemma.

``ScriptedGenerator`` says what it is told, or what a function makes of the prompt, and streams
it word by word, so code that generates can be tested offline and fast. It is shipped (like the
hashing embedder in model/embedders.py) so that users' own tests can use it too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator


class ScriptedGenerator:
    """Always answers ``text`` (or ``script(prompt)``), streamed word by word; remembers the prompts."""

    def __init__(self, text: str = "", script: Callable[[str], str] | None = None) -> None:
        self.text = text
        self.script = script
        self.prompts: list[str] = []

    def generate(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> str:
        self.prompts.append(prompt)
        return self.script(prompt) if self.script is not None else self.text

    def stream(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> Iterator[str]:
        yield from re.findall(r"\S+\s*", self.generate(prompt, max_new_tokens, constrain))
