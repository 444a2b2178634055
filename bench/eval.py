"""Side-by-side QA benchmark on MetaQA dev: kgqa, the dense-only RAG baseline and LlamaIndex.

On ``--limit`` held-out questions per hop (a seeded sample of ``pipeline.questions``' held-out
side of ../shared/data/metaqa/{1,2,3}-hop/qa_dev.txt.gz), every system answers twice: with the
gold topic entity given and end to end (brackets stripped, each system finds the entity
itself). Systems (``pipeline.evaluation.systems``): ``kgqa`` (hybrid retrieval with the path scorer that
``--scorer`` names, topic excluded from answers, paths up to 3 hops), ``dense`` (verbalized triples
embedded into FAISS; it has no use for a given topic, so both rows are the same system) and
``llamaindex`` (LlamaIndex's ``PropertyGraphIndex`` + ``VectorContextRetriever`` over the same
graph and embedder). The knowledge base is built once in ``--kb`` (default
/tmp/kgqa-bench/metaqa) and reused, with the baselines' vectors cached inside it. Prints one
markdown table: Hits@1 per hop, F1 and latency.

    python bench/eval.py [--limit 100] [--seed 0] [--embedder minilm] [--scorer auto]
                         [--systems kgqa,dense,llamaindex] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "metaqa"
HOPS = ("1-hop", "2-hop", "3-hop")


def knowledge_base(directory: Path) -> Path:
    """The MetaQA knowledge base in ``directory``, indexed when absent or changed (idempotent)."""
    from pipeline import KGQA

    with KGQA.open(directory, progress=False) as qa:
        qa.index(DATA / "kb.txt.gz")
    return directory


def evaluate(kb: Path, names: list[str], questions: list[Any], args: argparse.Namespace,
             topic_given: bool) -> tuple[dict[str, list[Any]], str]:
    """Every system's predictions in one setting (topic given or end to end), and kgqa's path scorer."""
    from pipeline import KGQA
    from pipeline.evaluation import metrics as ev
    from pipeline.evaluation.systems import make_systems
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    config = RetrieverConfig(paths=PathConfig(max_hops=3, exclude_topic=True), scorer=args.scorer)
    progress = not args.json
    with KGQA.open(kb, read_only=True, progress=progress, embedder=args.embedder, config=config) as qa:
        systems = make_systems(names, qa, args.embedder, topic_given)
        results = ev.run(systems, questions, progress)
        scorer = type(qa.retriever().paths.scorer).__name__ if "kgqa" in names else "-"
    return results, scorer


def rows(results: dict[str, list[Any]], setting: str) -> list[dict[str, Any]]:
    """One row per system: Hits@1 per hop and overall, F1, latency percentiles."""
    from pipeline.evaluation.metrics import metrics

    out = []
    for name, predictions in results.items():
        m = metrics(predictions)
        out.append({"system": name, "setting": setting, "n": m["n"],
                    **{hop: m["by_hop"].get(hop, {}).get("hits@1") for hop in HOPS},
                    "hits@1": m["hits@1"], "f1": m["f1"], "p50_ms": m["latency_ms"]["p50"],
                    "p95_ms": m["latency_ms"]["p95"]})
    return out


def markdown(table: list[dict[str, Any]]) -> str:
    cols = ["system", "setting", "n", *HOPS, "hits@1", "f1", "p50_ms", "p95_ms"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in table:
        lines.append("| " + " | ".join(_fmt(r.get(c), c.endswith("_ms")) for c in cols) + " |")
    return "\n".join(lines)


def _fmt(value: object, ms: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}" if ms else f"{value:.3f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=100, help="held-out questions per hop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--systems", default="kgqa,dense,llamaindex")
    parser.add_argument("--scorer", default="auto", help="kgqa's path scorer: auto, zero-shot or an adapter dir")
    parser.add_argument("--kb", type=Path, default=Path("/tmp/kgqa-bench/metaqa"), help="knowledge base cache")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (DATA / "kb.txt.gz").exists():
        print(f"skipping: {DATA} is absent (MetaQA is not bundled; see ../shared/data)")
        return
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one question at a time, as kgqa eval
    from pipeline.questions import load_questions

    files = [DATA / hop / "qa_dev.txt.gz" for hop in HOPS]
    types = [DATA / hop / "qa_dev_qtype.txt.gz" for hop in HOPS]
    questions = load_questions(files, "metaqa", types, "heldout", args.limit, args.seed)
    kb = knowledge_base(args.kb)
    names = [n.strip() for n in args.systems.split(",") if n.strip()]
    table, seconds, scorer = [], {}, "-"
    for setting, topic_given in (("topic given", True), ("end to end", False)):
        start = time.perf_counter()
        results, scorer = evaluate(kb, names, questions, args, topic_given)
        table += rows(results, setting)
        seconds[setting] = round(time.perf_counter() - start, 1)
    if args.json:
        print(json.dumps({"questions_per_hop": args.limit, "seed": args.seed, "kgqa_scorer": scorer, "rows": table,
                          "seconds": seconds}, indent=1))
        return
    print(f"MetaQA dev, held-out split, {args.limit} questions per hop (seed {args.seed}), embedder "
          f"{args.embedder}, kgqa path scorer {scorer}")
    print(markdown(table))
    print(f"\nwall time: {', '.join(f'{k} {v} s' for k, v in seconds.items())}")


if __name__ == "__main__":
    main()
