"""The fault-injection suite: shared knowledge bases, outcome bookkeeping and the printed summary.

Every test here is marked ``faults`` (``pytest -m faults``). A case ends in one of three ways
that count as behaving well - the right answer (``recovered``: possibly after a rebuild with a
warning) or a clear error (``clear``: a ``KGQAError`` naming the file and what to do) - or it
fails. The summary at the end of the run says how many of each.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kg.errors import KGQAError

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "data" / "world.nt"
QUESTION = "What is the capital of France?"
PARIS = "http://kgqa.example/world/entity/Paris"
OUTCOMES: Counter[str] = Counter()


class Outcome:
    """What one case ended as; a test calls exactly one of these."""

    def recovered(self) -> None:
        OUTCOMES["recovered"] += 1

    def clear(self, exc: BaseException, *names: str) -> None:
        """A clear error: a ``KGQAError`` whose message names one of ``names`` (file or folder)."""
        assert isinstance(exc, KGQAError), f"not a kgqa error: {type(exc).__name__}: {exc}"
        text = str(exc)
        assert not names or any(n in text for n in names), f"the error names none of {names}: {text}"
        assert "Traceback" not in text
        OUTCOMES["clear"] += 1


@pytest.fixture()
def outcome() -> Outcome:
    return Outcome()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.faults)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if "faults" not in item.keywords or report.when != "call":
        return
    OUTCOMES["tried"] += 1
    if hasattr(report, "wasxfail"):
        OUTCOMES["xfail (needs wiring)" if report.skipped else "xpass (wiring done?)"] += 1
    elif report.failed:
        OUTCOMES["failures"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not OUTCOMES["tried"]:
        return
    counted = sum(OUTCOMES[k] for k in ("recovered", "clear", "failures", "xfail (needs wiring)",
                                         "xpass (wiring done?)"))
    OUTCOMES["other checks passed"] = max(OUTCOMES["tried"] - counted, 0)
    order = ["tried", "recovered", "clear", "other checks passed", "failures", "xfail (needs wiring)",
             "xpass (wiring done?)"]
    names = {"tried": "cases tried", "clear": "clear errors"}
    parts = [f"{names.get(k, k)} {OUTCOMES[k]}" for k in order if OUTCOMES[k] or k in ("tried", "failures")]
    terminalreporter.write_sep("=", "fault-injection summary")
    terminalreporter.write_line(", ".join(parts))


@pytest.fixture(scope="session")
def world_kb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A knowledge base of data/world.nt with every file it keeps (asked once: linker, dense index, feedback;
    and once in a conversation: the intent classifier's cache)."""
    from pipeline import KGQA
    from pipeline.dialogue.store import MemoryStore

    directory = tmp_path_factory.mktemp("world") / "kb"
    with KGQA.open(directory, progress=False, embedder="hashing", generator="off") as qa:
        qa.index(WORLD)
        assert [a.id for a in qa.ask(QUESTION).answers][:1] == [PARIS]
        assert [a.id for a in qa.session(store=MemoryStore()).ask(QUESTION).answers][:1] == [PARIS]
    return directory


@pytest.fixture()
def kb_copy(world_kb: Path, tmp_path: Path) -> Path:
    """A private copy of ``world_kb`` to damage."""
    target = tmp_path / "kb"
    shutil.copytree(world_kb, target)
    return target


def run_cli(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the ``kgqa`` command line (the one place that knows how it is invoked)."""
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *args], cwd=ROOT, input=stdin, text=True,
                          capture_output=True, timeout=timeout)
