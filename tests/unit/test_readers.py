"""Delimited and passage readers, format guessing, and the shared bad-input handling."""

from __future__ import annotations

import bz2
import gzip
import json
from pathlib import Path

import pytest

from kg.base import Batch, Literal, Triple, ValueType, triple_keys
from kg.errors import SourceFormatError, UnknownFormat
from kg.readers import FORMATS, ReaderOptions, guess_format, open_reader
from tests.conftest import shared

MOVIES = "Kismet|directed_by|William Dieterle\nKismet|release_year|1944\nVamp|directed_by|Richard Wenk\n"


def read_all(path: Path, fmt: str, **options: object) -> list[Batch]:
    return list(open_reader(fmt).read(path, path.name, ReaderOptions(**options)))  # type: ignore[arg-type]


def triples_of(batches: list[Batch]) -> list[tuple[str, str, str]]:
    return [(s, p, o) for b in batches for s, p, o in zip(b.subjects, b.predicates, b.objects)]


@pytest.mark.parametrize(("sep", "suffix"), [("|", ".txt"), ("\t", ".tsv"), (",", ".csv")])
def test_delimited_reads_each_separator(tmp_path: Path, sep: str, suffix: str) -> None:
    path = tmp_path / f"kb{suffix}"
    path.write_text(MOVIES.replace("|", sep))
    fmt = guess_format(path)
    assert fmt in ("delimited", "tsv", "csv")
    batches = read_all(path, fmt)
    assert triples_of(batches)[0] == ("Kismet", "directed_by", "William Dieterle")
    assert [b.lines for b in batches] == [[1, 2, 3]]
    assert {e.id for b in batches for e in b.entities} == {"Kismet", "William Dieterle", "1944", "Vamp",
                                                            "Richard Wenk"}


def test_delimited_reads_gzip_and_bz2_and_skips_header(tmp_path: Path) -> None:
    gz = tmp_path / "kb.txt.gz"
    gz.write_bytes(gzip.compress(MOVIES.encode()))
    bz = tmp_path / "kb.csv.bz2"
    bz.write_bytes(bz2.compress(("subject,predicate,object\n" + MOVIES.replace("|", ",")).encode()))
    assert guess_format(gz) == "delimited" and guess_format(bz) == "csv"
    assert triples_of(read_all(gz, "delimited")) == triples_of(read_all(bz, "csv"))


def test_csv_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "kb.csv"
    path.write_text('"Crouching Tiger, Hidden Dragon",directed_by,Ang Lee\n')
    assert triples_of(read_all(path, "csv")) == [("Crouching Tiger, Hidden Dragon", "directed_by", "Ang Lee")]


def test_wikidata_ids_get_no_label(tmp_path: Path) -> None:
    path = tmp_path / "codex.txt"
    path.write_text("Q7604\tP1412\tQ188\n")
    entities = [e for b in read_all(path, "tsv") for e in b.entities]
    assert {e.id: e.label for e in entities} == {"Q7604": None, "Q188": None}


def test_malformed_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt"
    path.write_text(MOVIES + "just two|fields\n" + MOVIES)
    with pytest.raises(SourceFormatError) as err:
        read_all(path, "delimited")
    assert err.value.line == 4 and str(path) in str(err.value) and "expected 3" in str(err.value)
    batches = read_all(path, "delimited", skip_errors=True)
    assert sum(b.skipped for b in batches) == 1 and len(triples_of(batches)) == 6


def test_batches_respect_batch_size(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt"
    path.write_text("".join(f"e{i}|r|e{i + 1}\n" for i in range(25)))
    batches = read_all(path, "delimited", batch_size=10)
    assert [b.size for b in batches] == [10, 10, 5]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"), (b"\n\n  \n", "empty"), (b"\x00\x01\x02binary", "binary"),
])
def test_bad_files_are_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "kb.txt"
    path.write_bytes(content)
    with pytest.raises(SourceFormatError, match=message):
        read_all(path, "delimited")


def test_missing_file_and_wrong_encoding(tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError, match="no such file"):
        read_all(tmp_path / "nope.txt", "delimited")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("a|b|c\nCaf\xe9|r|x\n".encode("latin-1"))
    with pytest.raises(SourceFormatError, match="UTF-8") as err:
        read_all(latin, "delimited")
    assert err.value.line == 2


def test_corrupt_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "kb.txt.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00not really gzip")
    with pytest.raises(SourceFormatError):
        read_all(path, "delimited")


def test_unknown_format_lists_the_supported_ones(tmp_path: Path) -> None:
    with pytest.raises(UnknownFormat) as err:
        open_reader("parquet")
    assert all(name in str(err.value) for name in FORMATS)
    path = tmp_path / "kb.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(UnknownFormat, match="--format"):
        guess_format(path)


def test_guess_format_by_content(tmp_path: Path) -> None:
    cases = {
        "a.txt": "s|p|o\n", "b.txt": "Some prose.\n\nMore prose here.\n",
        "c.json": '[{"title": "T", "text": "x"}]', "d.jsonl": '{"text": "x"}\n',
        "e.json": '[\n{"type":"item","id":"Q1","labels":{},"claims":{}},\n',
        "f.nt": "<a> <b> <c> .\n", "g.ttl": "@prefix x: <http://x/> .\n",
    }
    expected = {"a.txt": "delimited", "b.txt": "passages", "c.json": "passages", "d.jsonl": "passages",
                "e.json": "wikidata-json", "f.nt": "nt", "g.ttl": "ttl"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert guess_format(tmp_path / name) == expected[name], name


def test_passages_from_jsonl_json_text_and_folder(tmp_path: Path) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.jsonl").write_text(json.dumps({"id": "p1", "title": "Kismet", "text": "A 1944 film."}) + "\n")
    (folder / "b.json").write_text(json.dumps({"Vamp": ["Vamp is a film.", " It is from 1986."]}))
    (folder / "c.txt").write_text("First paragraph.\n\nSecond\nparagraph.\n")
    passages = [p for b in read_all(folder, "passages") for p in b.passages]
    assert [p.id for p in passages] == ["p1", "Vamp#0", "c#0", "c#1"]
    assert passages[1].text == "Vamp is a film. It is from 1986."
    assert passages[3].text == "Second\nparagraph." and passages[3].provenance.offset == 18


def test_passage_without_text_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"text": "ok"}\n{"title": "no text"}\n')
    with pytest.raises(SourceFormatError, match="no text") as err:
        read_all(path, "passages")
    assert err.value.line == 2


def test_triple_keys_are_content_derived() -> None:
    a = triple_keys(["s", "s"], ["p", "p"], ["o", "o2"])
    assert a[0] != a[1]
    assert Triple("s", "p", "o").key() == int(a[0])
    assert triple_keys(["o"], ["p"], ["s"])[0] != a[0]


def test_literal_display_and_batch_add() -> None:
    big_bang = Literal("-13798000000-01-01T00:00:00Z", ValueType.DATETIME, precision=3)
    assert big_bang.display() == "-13798000000"
    assert Literal("+1952-03-11T00:00:00Z", ValueType.DATETIME, precision=11).display() == "1952-03-11"
    batch = Batch()
    batch.add(Triple("Q1", "P580", big_bang))
    assert batch.objects[0] == big_bang.node_id() and batch.entities[0].literal == big_bang
    assert next(batch.triples("src")).object == big_bang


def test_metaqa_kb_reads_whole() -> None:
    path = shared("metaqa/kb.txt.gz")
    batches = read_all(path, guess_format(path))
    keys = triple_keys(*zip(*triples_of(batches)))
    assert len(set(keys.tolist())) == 133_582
