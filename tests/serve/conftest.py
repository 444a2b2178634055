"""Fixtures of the server tests: the bundled world KB (hashing embedder) indexed once, and apps over it."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pipeline.serve.app import create_app
from pipeline.serve.engine import open_served
from pipeline.serve.service import ServeConfig, Service
from tests.serve.live import WORLD, index_world

__all__ = ["WORLD", "ScriptedGenerator", "SlowGenerator", "copy_kb"]



class ScriptedGenerator:
    """A fake generator that always says ``text``, streamed word by word."""

    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> str:
        return self.text

    def stream(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> Iterator[str]:
        yield from re.findall(r"\S+\s*", self.text)


class SlowGenerator(ScriptedGenerator):
    """Says ``text`` one word every ``delay`` seconds, counting the words it produced."""

    def __init__(self, text: str, delay: float) -> None:
        super().__init__(text)
        self.delay = delay
        self.produced = 0

    def generate(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> Iterator[str]:
        for piece in super().stream(prompt):
            time.sleep(self.delay)
            self.produced += 1
            yield piece


@pytest.fixture(scope="session")
def world_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    return index_world(root / "kb")


def copy_kb(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("writer.lock"))
    return target


@pytest.fixture()
def kb_copy(world_kb: Path, tmp_path: Path) -> Path:
    """A private copy of the world KB (for tests that change it or its tokens)."""
    return copy_kb(world_kb, tmp_path / "kb")


MakeClient = Callable[..., TestClient]


@pytest.fixture()
def make_client(kb_copy: Path) -> Iterator[MakeClient]:
    """``make_client(config=..., generator=...)``: a ready TestClient over a private KB copy."""
    clients: list[TestClient] = []

    def make(config: ServeConfig | None = None, generator: Any = "off", kb: Path = kb_copy) -> TestClient:
        service = Service(kb, config or ServeConfig(), lambda: open_served(kb, progress=False, embedder="hashing",
                                                          generator=generator))
        client = TestClient(create_app(service))
        client.__enter__()
        assert service.wait(60), service.error
        clients.append(client)
        return client
    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture()
def client(make_client: MakeClient) -> TestClient:
    return make_client()
