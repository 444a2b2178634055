"""Adaptation benchmark: KB x {zero-shot, generic adapter, adapted, trained on real questions}, end to end.

For each knowledge base the bench indexes it (into ``--root``/NAME, reused), runs ``kgqa adapt``
once (no human question reaches training; the adapter is kept in the KB's ``learning/``), then
answers its gold questions end to end (the entity linker finds the topic, default settings) with
each scorer: zero-shot cosine scoring, the generic adapter (model/adapters/generic, when
installed), the KB's adapted scorer, and the shipped MetaQA adapter where the KB is MetaQA (it was
trained on MetaQA dev questions of the train side of the split; the questions here are the held-out
side). Prints one markdown table of Hits@1 (per hop for MetaQA).

KBs: MetaQA (../shared/data/metaqa, held-out dev questions, ``--limit`` per hop) and the bundled
world KB (data/world.nt, tests/data/world_questions.tsv) and the Wikidata sample
(../shared/data/wikidata/json, 100 items, with property labels; tests/data/wikidata_questions.tsv),
questions written for this bench. The generic adapter never saw any of these KBs.

    python bench/adapt.py [--limit 1000] [--budget-minutes 12] [--kbs metaqa,world,wikidata] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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


def _scorers(bench: Bench, kb: Path) -> dict[str, str]:
    from model.registry import GENERIC_SCORER, SHIPPED_SCORER, is_adapter, read_history

    out = {"zero-shot": "zero-shot"}
    if is_adapter(GENERIC_SCORER):
        out["generic adapter"] = str(GENERIC_SCORER)
    live = read_history(kb).get("live")
    if live:
        out["adapted"] = str(kb / "learning" / live)
    if bench.name == "metaqa":
        out["trained on real questions"] = str(SHIPPED_SCORER)
    return out


def run(bench: Bench, root: Path, limit: int, budget: float, progress: bool) -> list[dict[str, Any]]:
    """One row per scorer: Hits@1 overall and per hop, on ``bench``'s questions."""
    from kg.readers.base import ReaderOptions
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
    if not (kb / "learning" / "history.json").exists():
        adapt(kb, AdaptConfig(budget_minutes=budget), progress=progress)
    questions = load_questions(list(bench.questions), bench.fmt, limit=limit, seed=0)
    rows = []
    for label, scorer in _scorers(bench, kb).items():
        with KGQA.open(kb, read_only=True, progress=False, config=RetrieverConfig(scorer=scorer)) as qa:
            m = ev.metrics(ev.run([KGQASystem(qa)], questions, progress)["kgqa"])
        rows.append({"kb": bench.name, "scorer": label, "n": m["n"], "hits@1": m["hits@1"],
                     **{h: m["by_hop"].get(h, {}).get("hits@1") for h in HOPS}})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    cols = ["kb", "scorer", "n", "hits@1", *HOPS]
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    rows: list[dict[str, Any]] = []
    for name in [n.strip() for n in args.kbs.split(",") if n.strip()]:
        bench = BENCHES[name]
        if not bench.source.exists():
            print(f"skipping {name}: {bench.source} is absent", file=sys.stderr)
            continue
        rows += run(bench, args.root, args.limit, args.budget_minutes, not args.json)
    print(json.dumps(rows, indent=1) if args.json else markdown(rows))


if __name__ == "__main__":
    main()
