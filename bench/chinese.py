"""Chinese end to end: linking with and without script folding, answers and their sentences.

Build ``tests/data/zh_questions.jsonl`` from the Wikidata sample: for every item with a ``zh``
label, questions from hand-written Chinese templates for the properties it has (capital,
currency, official language, continent, neighbours, head of state...), naming the item in
simplified characters (``model.chinese.fold`` of its label: 17 of the 94 ``zh`` labels are
written in traditional characters), with the statement's values (not deprecated) as gold.

``tests/data/zh_handwritten.jsonl`` holds 56 questions written one by one (varied wording, no
template) over the sample's zh labels, with every non-deprecated value of the asked property in
the dump as gold; ``--set`` picks the set (default: the hand-written one).

Run on a knowledge base indexed from the sample with ``--languages zh,en``: linking accuracy
(the gold item is the top candidate of a mention) with the linker built with and without
folding, and end to end (e5, 1-hop paths by default) Hits@1, abstentions and how many answer
sentences are Chinese.

    python bench/chinese.py --build
    kgqa index ../shared/data/wikidata/json/opentapioca_sample_wikidata_items.json.bz2 --kb /tmp/wd \\
        --languages zh,en --property-labels ../shared/data/wikidata/properties/wikidata_properties_labels_en_zh.tsv
    python bench/chinese.py --kb /tmp/wd [--set tests/data/zh_questions.jsonl] [--hops 1] [--json]
"""

from __future__ import annotations

import argparse
import bz2
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SAMPLE = ROOT.parent / "shared" / "data" / "wikidata" / "json" / "opentapioca_sample_wikidata_items.json.bz2"
OUT = ROOT / "tests" / "data" / "zh_questions.jsonl"
HANDWRITTEN = ROOT / "tests" / "data" / "zh_handwritten.jsonl"

from model import chinese  # noqa: E402  (after the path is set)

TEMPLATES = {"P36": "{}的首都是哪里？", "P38": "{}使用什么货币？", "P37": "{}的官方语言是什么？",
             "P30": "{}位于哪个大洲？", "P47": "哪些国家与{}接壤？", "P35": "{}的国家元首是谁？",
             "P6": "{}的政府首脑是谁？", "P17": "{}位于哪个国家？", "P85": "{}的国歌是什么？",
             "P19": "{}出生在哪里？", "P20": "{}在哪里去世？", "P131": "{}位于哪个行政区？"}


def build(sample: Path, per_item: int = 2) -> list[dict[str, Any]]:
    rows = []
    with bz2.open(sample, "rt", encoding="utf-8") as fh:
        for line in fh:
            line = line.strip().rstrip(",")
            if not line.startswith("{"):
                continue
            item = json.loads(line)
            label = item.get("labels", {}).get("zh", {}).get("value")
            if not label:
                continue
            made = 0
            for pid, template in TEMPLATES.items():
                gold = [s["mainsnak"]["datavalue"]["value"]["id"] for s in item.get("claims", {}).get(pid, [])
                        if s.get("rank") != "deprecated" and s["mainsnak"].get("snaktype") == "value"
                        and s["mainsnak"]["datavalue"]["type"] == "wikibase-entityid"]
                if gold and made < per_item:
                    made += 1
                    rows.append({"question": template.format(chinese.fold(label)), "topic": item["id"],
                                 "label": label, "traditional": chinese.fold(label) != label,
                                 "property": pid, "answers": gold})
    return rows


def linking(kb: Path, rows: list[dict[str, Any]], fold: bool) -> dict[str, Any]:
    """Top-candidate accuracy of a linker built from the store, with or without folding."""
    import retrieval.normalize as norm
    from pipeline import KGQA
    from retrieval.linker import EntityLinker

    original = norm.fold_chinese
    norm.fold_chinese = original if fold else (lambda text: text)  # what normalize calls
    norm._fold.cache_clear()
    try:
        with KGQA.open(kb, read_only=True, progress=False, embedder="hashing", generator="off") as qa:
            linker = EntityLinker.build(qa.kb.store, progress=False)
            hits = [any(m.best.id.rsplit("/", 1)[-1] == r["topic"] for m in linker.link(r["question"])) for r in rows]
    finally:
        norm.fold_chinese = original
        norm._fold.cache_clear()
    trad = [h for h, r in zip(hits, rows) if r["traditional"]]
    return {"fold": fold, "n": len(rows), "linked": round(sum(hits) / len(rows), 4),
            "traditional_labels": {"n": len(trad), "linked": round(sum(trad) / max(1, len(trad)), 4)}}


def answering(kb: Path, rows: list[dict[str, Any]], hops: int) -> dict[str, Any]:
    from pipeline import KGQA
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    out: dict[str, Any] = {"n": len(rows), "hits@1": 0, "abstained": 0, "wrong_answered": 0, "chinese_sentences": 0}
    misses = []
    config = RetrieverConfig(paths=PathConfig(max_hops=hops))
    with KGQA.open(kb, read_only=True, progress=False, embedder="e5", generator="off", config=config) as qa:
        for r in rows:
            a = qa.ask(r["question"])
            top = a.answers[0].id.rsplit("/", 1)[-1] if a.answers else None
            out["hits@1"] += top in r["answers"]
            out["abstained"] += a.abstained
            out["wrong_answered"] += bool(a.answers) and top not in r["answers"]
            out["chinese_sentences"] += chinese.has_cjk(a.text.split("[")[0][:4])
            if top not in r["answers"]:
                misses.append({"question": r["question"], "gold": r["answers"][:3], "got": top, "why": a.why,
                               "path": a.relation_path.text if a.relation_path else None, "text": a.text[:80]})
    rates = {k: (round(v / len(rows), 4) if k != "n" else v) for k, v in out.items()}
    return {**rates, "misses": misses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--kb", type=Path)
    parser.add_argument("--set", type=Path, default=HANDWRITTEN, help="the questions (JSONL)")
    parser.add_argument("--hops", type=int, default=1, choices=(1, 2, 3))
    parser.add_argument("--no-answers", action="store_true", help="linking only")
    parser.add_argument("--limit", type=int, help="answer the first N questions only")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.build:
        rows = build(SAMPLE)
        OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} questions ({sum(r['traditional'] for r in rows)} on traditional labels) to {OUT}")
        return 0
    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line]
    result: dict[str, Any] = {"before": linking(args.kb, rows, False), "after": linking(args.kb, rows, True)}
    if not args.no_answers:
        result["answers"] = answering(args.kb, rows[: args.limit], args.hops)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
