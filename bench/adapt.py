"""Adaptation benchmark: KB x {zero-shot, generic adapter, adapted, trained on real questions}, end to end.

For each knowledge base the bench indexes it (into ``--root``/NAME, reused), runs ``kgqa adapt``
once (no human question reaches training; the adapter is kept in the KB's ``learning/``), then
answers its gold questions end to end (the entity linker finds the topic, default settings) with
each scorer: zero-shot cosine scoring, the generic adapter (model/adapters/generic, when
installed), the KB's adapted scorer (the adapter of its latest ``kgqa adapt`` run, promoted or not:
on MetaQA the shipped adapter stays live and wins ``auto``), and the shipped MetaQA adapter where
the KB is MetaQA (it was trained on MetaQA dev questions of the train side of the split; the
questions here are the held-out side). Prints one markdown table of Hits@1 (per hop for MetaQA).

The hand-written question sets are split in two halves by a hash of the question text
(``half_of``): design decisions are made on ``dev``, ``test`` is reported beside it; no half is
ever trained on.

KBs: MetaQA (../shared/data/metaqa, held-out dev questions, ``--limit`` per hop) and the bundled
world KB (data/world.nt, tests/data/world_questions.tsv) and the Wikidata sample
(../shared/data/wikidata/json, 100 items, with property labels; tests/data/wikidata_questions.tsv),
questions written for this bench. The generic adapter never saw any of these KBs.

    python bench/adapt.py [--limit 1000] [--budget-minutes 12] [--kbs metaqa,world,wikidata] [--json]
                          [--halves dev,test] [--scorers zero-shot,generic adapter,adapted,trained on real questions]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared" / "data"
HOPS = ("1-hop", "2-hop", "3-hop")


@dataclass(frozen=True)
class Bench:
    name: str
    source: Path
    questions: tuple[Path, ...]
    fmt: str


BENCHES = {
    "metaqa": Bench("metaqa", SHARED / "metaqa" / "kb.txt.gz",
                    tuple(SHARED / "metaqa" / h / "qa_dev.txt.gz" for h in HOPS), "metaqa"),
    "world": Bench("world", ROOT / "data" / "world.nt", (ROOT / "tests" / "data" / "world_questions.tsv",), "tsv"),
    "wikidata": Bench("wikidata", SHARED / "wikidata" / "json" / "opentapioca_sample_wikidata_items.json.bz2",
                      (ROOT / "tests" / "data" / "wikidata_questions.tsv",), "tsv"),
}
PROPERTY_LABELS = SHARED / "wikidata" / "properties" / "wikidata_properties_labels_en_zh.tsv"


def half_of(text: str) -> str:
    """``dev`` or ``test``: the half of a hand-written question set ``text`` falls in (a stable hash)."""
    key = " ".join(text.replace("[", " ").replace("]", " ").lower().split())
    return "dev" if zlib.crc32(key.encode("utf-8")) % 2 == 0 else "test"


def _scorers(bench: Bench, kb: Path) -> dict[str, str]:
    from model.registry import GENERIC_SCORER, SHIPPED_SCORER, is_adapter, read_history

    out = {"zero-shot": "zero-shot"}
    if is_adapter(GENERIC_SCORER):
        out["generic adapter"] = str(GENERIC_SCORER)
    runs = [r for r in read_history(kb).get("runs", []) if r.get("kind") == "adapt"]
    if runs:
        out["adapted"] = str(kb / "learning" / runs[-1]["adapter"])
    if bench.name == "metaqa":
        out["trained on real questions"] = str(SHIPPED_SCORER)
    return out


def run(bench: Bench, root: Path, limit: int, budget: float, progress: bool, halves: Sequence[str] = ("dev", "test"),
        only: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One row per scorer (and half of a hand-written set): Hits@1 overall and per hop."""
    from kg.readers.base import ReaderOptions
    from model.registry import read_history
    from pipeline import KGQA
    from pipeline.evaluation import metrics as ev
    from pipeline.evaluation.systems import KGQASystem
    from pipeline.questions import load_questions
    from pipeline.training.adapt import AdaptConfig, adapt
    from retrieval.retriever import RetrieverConfig

    kb = root / bench.name
    with KGQA.open(kb, progress=progress) as qa:
        if bench.name == "wikidata":
            qa.index(bench.source, "wikidata-json", ReaderOptions(property_labels=PROPERTY_LABELS))
        else:
            qa.index(bench.source)
    if not any(r.get("kind") == "adapt" for r in read_history(kb).get("runs", [])):
        adapt(kb, AdaptConfig(budget_minutes=budget), progress=progress)
    questions = load_questions(list(bench.questions), bench.fmt, limit=limit if bench.fmt == "metaqa" else None,
                               seed=0)
    parts = {"held-out dev sample": questions} if bench.fmt == "metaqa" else {
        h: [q for q in questions if half_of(q.text) == h] for h in halves}
    rows = []
    for label, scorer in _scorers(bench, kb).items():
        if only and label not in only:
            continue
        with KGQA.open(kb, read_only=True, progress=False, config=RetrieverConfig(scorer=scorer)) as qa:
            for part, asked in parts.items():
                m = ev.metrics(ev.run([KGQASystem(qa)], asked, progress)["kgqa"])
                rows.append({"kb": bench.name, "questions": part, "scorer": label, "n": m["n"],
                             "hits@1": m["hits@1"], **{h: m["by_hop"].get(h, {}).get("hits@1") for h in HOPS}})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    cols = ["kb", "questions", "scorer", "n", "hits@1", *HOPS]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in rows:
        cells = [f"{r[c]:.3f}" if isinstance(r.get(c), float) else "-" if r.get(c) is None else str(r[c]) for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=1000, help="questions per file (MetaQA: per hop, held-out side)")
    parser.add_argument("--budget-minutes", type=float, default=12.0, help="kgqa adapt's budget per KB")
    parser.add_argument("--kbs", default="metaqa,world,wikidata")
    parser.add_argument("--root", type=Path, default=Path("/tmp/kgqa-bench/adapt"), help="knowledge bases cache")
    parser.add_argument("--halves", default="dev,test", help="halves of the hand-written sets to answer")
    parser.add_argument("--scorers", help="only these rows (comma-separated scorer names)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    halves = [h.strip() for h in args.halves.split(",") if h.strip()]
    only = [s.strip() for s in args.scorers.split(",")] if args.scorers else None
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows: list[dict[str, Any]] = []
    for name in [n.strip() for n in args.kbs.split(",") if n.strip()]:
        bench = BENCHES[name]
        if not bench.source.exists():
            print(f"skipping {name}: {bench.source} is absent", file=sys.stderr)
            continue
        rows += run(bench, args.root, args.limit, args.budget_minutes, not args.json, halves, only)
    print(json.dumps(rows, indent=1) if args.json else markdown(rows))


if __name__ == "__main__":
    main()
