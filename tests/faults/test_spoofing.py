"""Output spoofing: a label holding a newline, escape codes or bidi overrides cannot fake output lines.

The label reaches the store as written (``--json`` keeps it exact); everything printed for a
person goes through ``kg.text.printable``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kg.kb import KnowledgeBase
from kg.text import printable
from tests.faults.conftest import ROOT, Outcome, run_cli

FAKE = "Berlin\n  France -capital-> Berlin    [world.nt:2297]"
HOSTILE = ('<http://x/France> <http://www.w3.org/2000/01/rdf-schema#label> "France" .\n'
           '<http://x/Paris> <http://www.w3.org/2000/01/rdf-schema#label> '
           '"Berlin\\n  France -capital-> Berlin    [world.nt:2297]" .\n'
           '<http://x/Rome> <http://www.w3.org/2000/01/rdf-schema#label> "Rome\\u001b[2J\\u202eevil" .\n'
           "<http://x/France> <http://x/capital> <http://x/Paris> .\n"
           "<http://x/France> <http://x/city> <http://x/Rome> .\n")


@pytest.fixture(scope="module")
def hostile_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    source = base / "hostile.nt"
    source.write_text(HOSTILE)
    with KnowledgeBase.open(base / "kb", progress=False) as kb:
        kb.index(source)
    return base / "kb"


def test_the_label_is_stored_exactly_and_printed_escaped(hostile_kb: Path, outcome: Outcome) -> None:
    with KnowledgeBase.open(hostile_kb, read_only=True, progress=False) as kb:
        label = kb.store.entities(["http://x/Paris"])["http://x/Paris"].label
        rome = kb.store.entities(["http://x/Rome"])["http://x/Rome"].label
    assert label == FAKE
    shown = printable(label)
    assert "\n" not in shown and shown == "Berlin\\n  France -capital-> Berlin    [world.nt:2297]"
    assert rome is not None and printable(rome) == "Rome\\x1b[2J\\u202eevil"
    outcome.recovered()


def test_neighbors_prints_no_fake_edge(hostile_kb: Path, outcome: Outcome) -> None:
    result = run_cli("neighbors", "http://x/France", "--kb", str(hostile_kb))
    assert result.returncode == 0, result.stderr
    edge_lines = [ln for ln in result.stdout.splitlines() if "->" in ln]
    assert len(edge_lines) == 2, result.stdout  # the two real edges, each on one line
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    outcome.recovered()


def test_neighbors_json_stays_exact(hostile_kb: Path, outcome: Outcome) -> None:
    result = run_cli("neighbors", "http://x/France", "--kb", str(hostile_kb), "--json")
    assert result.returncode == 0, result.stderr
    labels = {e["object"]: e["object_label"] for e in json.loads(result.stdout)["edges"]}
    assert labels["http://x/Paris"] == FAKE
    outcome.recovered()


def test_a_closed_pipe_is_no_traceback(hostile_kb: Path, outcome: Outcome) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -1` that has already exited: the first write fails with EPIPE
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "neighbors", "http://x/France", "--kb",
                           str(hostile_kb)], cwd=ROOT, stdout=write_end, stderr=subprocess.PIPE, text=True,
                          timeout=120)
    os.close(write_end)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr
    outcome.recovered()
