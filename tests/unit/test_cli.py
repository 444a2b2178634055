"""The command line as a person meets it: --version, and output into a pipe that closes early."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("kgqa ")


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path: Path) -> None:
    rows = "".join(f"hub|links_to|node {i}\n" for i in range(20_000))
    (tmp_path / "hub.txt").write_text(rows)
    assert main(["index", str(tmp_path / "hub.txt"), "--kb", str(tmp_path / "kb"), "--no-progress"]) == 0
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "neighbors", "hub", "--kb", str(tmp_path / "kb"),
                             "--limit", "20000"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and first.startswith(b"hub") and "Traceback" not in err, err


def test_an_unexpected_error_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli import kb

    def broken(args: object) -> int:
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(kb, "cmd_stats", broken)
    assert main(["stats", "--kb", str(tmp_path / "kb")]) == 3
    err = capsys.readouterr().err
    assert "internal error (RuntimeError: something inside broke)" in err and "Traceback" not in err


def test_index_prepares_what_questions_read_unless_told_not_to(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "movies.txt").write_text("Kismet|directed_by|William Dieterle\nKismet|release_year|1944\n"
                                         "Vamp|directed_by|Richard Wenk\n")
    args = ["--kb", str(tmp_path / "kb"), "--no-progress", "--embedder", "hashing"]
    assert main(["index", str(tmp_path / "movies.txt"), *args, "--no-prepare"]) == 0
    assert not (tmp_path / "kb" / "graph_index").exists() and not (tmp_path / "kb" / "linker").exists()
    assert "preparing" not in capsys.readouterr().err
    (tmp_path / "more.txt").write_text("Dark City|directed_by|William Dieterle\n")
    assert main(["index", str(tmp_path / "more.txt"), *args]) == 0
    assert "preparing for questions: entity linker, graph index, path scorer" in capsys.readouterr().err
    assert (tmp_path / "kb" / "graph_index" / "manifest.json").exists()
    assert (tmp_path / "kb" / "linker" / "built_at_seq.json").exists()
    assert main(["index", str(tmp_path / "more.txt"), *args]) == 0  # unchanged: nothing to prepare
    assert "preparing" not in capsys.readouterr().err
