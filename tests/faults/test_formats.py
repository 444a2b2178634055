"""Bad sources: a malformed line at line N, format guessing, folders of mixed files, a failed --format.

A malformed line in a triple file is an error naming the file and the line wherever it falls
(the first lines included: it must never turn the file into "passages"); a folder is read file
by file, each in its own format, and every file it skips is listed with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kg.errors import KGQAError, SourceFormatError, UnknownFormat
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions, guess_format, open_reader
from tests.faults.conftest import Outcome

N_LINES = 999
MALFORMED: dict[str, tuple[str, Callable[[int], str], str]] = {  # format -> (suffix, good line i, bad line)
    "delimited": (".txt", lambda i: f"m{i}|directed_by|d{i % 7}", "m|directed_by"),
    "tsv": (".tsv", lambda i: f"m{i}\tdirected_by\td{i % 7}", "m\tdirected_by"),
    "nt": (".nt", lambda i: f"<http://x/m{i}> <http://x/directed_by> <http://x/d{i % 7}> .",
           "<http://x/m> <http://x/directed_by> ."),
}


def malformed_file(tmp_path: Path, fmt: str, line: int) -> Path:
    suffix, good, bad = MALFORMED[fmt]
    lines = [good(i) for i in range(N_LINES)]
    lines[line - 1] = bad
    path = tmp_path / f"mal{line}{suffix}"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def kb(tmp_path: Path) -> Iterator[KnowledgeBase]:
    with KnowledgeBase.open(tmp_path / "kb", progress=False) as base:
        yield base


@pytest.mark.parametrize("fmt", list(MALFORMED))
@pytest.mark.parametrize("line", [1, 3, 15, 500])
def test_malformed_line_at_line_n(kb: KnowledgeBase, tmp_path: Path, fmt: str, line: int, outcome: Outcome) -> None:
    path = malformed_file(tmp_path, fmt, line)
    assert guess_format(path) == ("delimited" if fmt == "delimited" else fmt)
    with pytest.raises(SourceFormatError) as err:
        kb.index(path)
    assert err.value.line == line and err.value.path == str(path)
    assert kb.store.stats().triples == 0 and kb.sources() == []
    report = kb.index(path, options=ReaderOptions(skip_errors=True))
    assert report.skipped == 1 and report.triples == N_LINES - 1 and kb.store.stats().triples == N_LINES - 1
    outcome.clear(err.value, path.name)


def test_prose_is_passages_and_a_table_is_not(tmp_path: Path) -> None:
    prose = tmp_path / "essay.txt"
    prose.write_text("France is a country in Western Europe. Its capital is Paris.\n\n"
                     "Germany lies to the east of France; its capital is Berlin.\n")
    assert guess_format(prose) == "passages"
    table = tmp_path / "table.txt"
    table.write_text("".join(f"{i} {i * 2} {i * 3}\n" for i in range(30)))
    with pytest.raises(UnknownFormat, match="--format"):
        guess_format(table)


def mixed_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Kismet|directed_by|William Dieterle\nVamp|directed_by|Richard Wenk\n")
    (folder / "b.ttl").write_text("@prefix x: <http://x/> .\nx:Kismet x:release_year 1944 .\n")
    (folder / "sub" / "c.nt").write_text("<http://x/Vamp> <http://x/release_year> \"1986\" .\n")
    (folder / "d.jsonl").write_text(json.dumps({"id": "p1", "text": "Kismet is a 1944 film."}) + "\n")
    (folder / "e.md").write_text("Vamp is a 1986 comedy horror film.\n")
    (folder / "f.bin").write_bytes(b"\x00\x01\x02")
    (folder / "g.txt").write_bytes(b"\x00binary\x00")
    (folder / ".hidden.txt").write_text("x|y|z\n")
    return folder


def test_a_folder_is_read_file_by_file(kb: KnowledgeBase, tmp_path: Path, outcome: Outcome) -> None:
    folder = mixed_folder(tmp_path)
    assert guess_format(folder) == "folder"
    report = kb.index(folder)
    assert (report.triples, report.passages) == (4, 2)
    assert kb.store.stats().triples == 4
    cited = {(e.provenance.source, e.provenance.line) for e in kb.store.neighbors("Kismet")}
    assert ("mixed/a.txt", 1) in cited  # each file of a folder is cited under its own name and line
    skipped = "\n".join(report.notes)
    assert len(report.notes) == 3 and all(name in skipped for name in ("f.bin", "g.txt", ".hidden.txt"))
    assert "binary" in skipped
    assert kb.index(folder).status == "unchanged"
    outcome.recovered()


def test_a_bad_file_in_a_folder_names_the_file_and_keeps_nothing(kb: KnowledgeBase, tmp_path: Path,
                                                                 outcome: Outcome) -> None:
    folder = mixed_folder(tmp_path)
    (folder / "b.ttl").write_text("@prefix x: <http://x/> .\nx:Kismet x:release_year .\n")
    with pytest.raises(SourceFormatError) as err:
        kb.index(folder)
    assert "b.ttl" in str(err.value) and err.value.line == 2
    assert kb.store.stats().triples == 0 and kb.sources() == []
    outcome.clear(err.value, "b.ttl")


def test_a_folder_with_nothing_readable(kb: KnowledgeBase, tmp_path: Path, outcome: Outcome) -> None:
    folder = tmp_path / "junk"
    folder.mkdir()
    (folder / "x.bin").write_bytes(b"\x00")
    with pytest.raises(SourceFormatError, match="x.bin") as err:
        kb.index(folder)
    outcome.clear(err.value, "junk")


def test_a_failed_format_leaves_the_catalog_as_it_was(kb: KnowledgeBase, tmp_path: Path, outcome: Outcome) -> None:
    path = tmp_path / "m.txt"
    path.write_text("Kismet|directed_by|William Dieterle\nVamp|directed_by|Richard Wenk\n")
    kb.index(path)
    for fmt in ("nt", "ttl", "jsonld", "wikidata-json"):
        with pytest.raises(KGQAError):
            kb.index(path, fmt)
        (record,) = kb.sources()
        assert (record.format, record.state, record.triples) == ("delimited", "ok", 2), fmt
        assert kb.store.stats().triples == 2
    assert kb.index(path).status == "unchanged"
    new = tmp_path / "n.txt"
    new.write_text("a|b|c\n")
    with pytest.raises(KGQAError):
        kb.index(new, "nt")
    assert [r.path for r in kb.sources()] == [str(path.resolve())]
    outcome.recovered()


def test_a_wikidata_dump_with_one_long_entity_line_is_not_passages(tmp_path: Path) -> None:
    entity = {"type": "item", "id": "Q1", "labels": {"en": {"language": "en", "value": "x" * 9000}}, "claims": {}}
    path = tmp_path / "dump.json"
    path.write_text("[\n" + json.dumps(entity) + ",\n" + json.dumps(entity) + "\n]\n")
    assert guess_format(path) == "wikidata-json"


def test_text_passages_carry_their_first_line(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph.\n\n\nSecond\nparagraph.\n")
    passages = [p for b in open_reader("passages").read(path, "notes.txt", ReaderOptions()) for p in b.passages]
    assert [(p.provenance.line, p.provenance.offset) for p in passages if p.provenance] == [(1, 0), (4, 19)]
