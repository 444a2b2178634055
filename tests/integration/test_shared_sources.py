"""Every shared knowledge source ingests end to end through the CLI into the embedded store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli import main
from tests.conftest import shared


def kgqa_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.slow
def test_metaqa_kb_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = str(tmp_path / "kb")
    kgqa_json(capsys, "index", str(shared("metaqa/kb.txt.gz")), "--kb", kb, "--no-prepare")
    stats = kgqa_json(capsys, "stats", "--kb", kb)
    assert isinstance(stats, dict)
    assert (stats["triples"], stats["entities"], stats["relations"]) == (133_582, 43_234, 9)
    again = kgqa_json(capsys, "index", str(shared("metaqa/kb.txt.gz")), "--kb", kb, "--no-prepare")
    assert isinstance(again, dict) and again["sources"][0]["status"] == "unchanged"
    near = kgqa_json(capsys, "neighbors", "Kismet", "--kb", kb, "--predicate", "directed_by")
    assert isinstance(near, dict) and [e["object"] for e in near["edges"]] == ["William Dieterle"]


@pytest.mark.parametrize("relative", [
    "wikidata/json/opentapioca_sample_wikidata_items.json.bz2",
    "wikidata/json/wikibase-dump-filter_latest-all_first50lines.json",
    "wikidata/json/opentapioca_short_stream.json.bz2",
    "wikidata/rdf/Q42.ttl", "wikidata/rdf/Q24628793.ttl", "wikidata/rdf/Q37599471.ttl",
    "wikidata/rdf/small_dump_chunk.ttl", "wikidata/rdf/wikidata_triples_small.DERIVED.nt",
    "wikidata/codex/triples/codex-s/train.txt", "wikidata/codex/triples/codex-m/valid.txt",
])
def test_wikidata_samples_ingest(relative: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = shared(relative)
    props = shared("wikidata/properties/wikidata_properties_labels_en_zh.tsv")
    report = kgqa_json(capsys, "index", str(path), "--kb", str(tmp_path / "kb"),
                       "--property-labels", str(props), "--no-prepare")  # ingestion is tested here, not questions
    assert isinstance(report, dict)
    source = report["sources"][0]
    assert source["status"] == "new" and source["skipped"] == 0
    assert report["stats"]["triples"] == source["triples"] > 0


def test_q42_labels_in_english_and_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = str(tmp_path / "kb")
    kgqa_json(capsys, "index", str(shared("wikidata/rdf/Q42.ttl")), "--kb", kb, "--no-prepare")
    near = kgqa_json(capsys, "neighbors", "Douglas Adams", "--kb", kb, "--predicate", "P31")
    assert isinstance(near, dict) and near["entity"] == "Q42" and near["edges"][0]["object"] == "Q5"


def test_passage_corpora_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = str(tmp_path / "kb")
    hotpot = shared("passages/hotpotqa-train100/hotpotqa_train_corpus.json")
    musique = shared("passages/musique-train100/musique_train_corpus.json")
    report = kgqa_json(capsys, "index", str(hotpot), str(musique), "--kb", kb, "--no-prepare")
    assert isinstance(report, dict)
    assert [s["passages"] for s in report["sources"]] == [994, 1890]


def test_cli_bad_input_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = str(tmp_path / "kb")
    bad = tmp_path / "bad.txt"
    bad.write_text("a|b|c\nnot a triple\n")
    assert main(["index", str(bad), "--kb", kb]) == 2
    err = capsys.readouterr().err
    assert "bad.txt:2" in err and "Traceback" not in err
    assert main(["index", str(bad), "--kb", kb, "--skip-errors", "--no-prepare"]) == 0
    assert "1 malformed lines skipped" in capsys.readouterr().out
    assert main(["index", str(tmp_path / "missing.nt"), "--kb", kb]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["neighbors", "nobody", "--kb", kb]) == 2
    assert main(["stats", "--kb", str(tmp_path / "none")]) == 2
    assert "no knowledge base" in capsys.readouterr().err


def test_cli_sources_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = str(tmp_path / "kb")
    src = tmp_path / "kb.txt"
    src.write_text("a|r|b\nb|r|c\n")
    kgqa_json(capsys, "index", str(src), "--kb", kb, "--no-prepare")
    sources = kgqa_json(capsys, "sources", "--kb", kb)
    assert isinstance(sources, list) and sources[0]["triples"] == 2
    removed = kgqa_json(capsys, "remove", str(src), "--kb", kb)
    assert isinstance(removed, list) and removed[0]["removed"] == 2
    stats = kgqa_json(capsys, "stats", "--kb", kb)
    assert isinstance(stats, dict) and stats["triples"] == 0 and stats["sources"] == 0
