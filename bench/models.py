"""Models benchmark: zero-shot vs fine-tuned path scorer, and the generator's answers, in one run.

Part 1, on held-out MetaQA dev questions (pipeline/questions.py; the adapters never saw them),
per hop, topic entity given and end to end (brackets stripped, the linker finds the entity):
Hits@1, answer-set F1 and retrieval latency with the zero-shot scorer and with the trained
adapter. Part 2, for ``--generator N`` held-out questions per hop: the generator's raw answers
checked against their evidence (uncited-entity rate; citation precision: cited items that end
in a ranked answer; recall: the evidence of the five best answers that is cited; fallback
rate, and "complete": the final text names every one of the top five cited answers), tokens/s
and seconds per answer on this machine, and the adapter's training time per
epoch from its card.

    python bench/models.py [--kb DIR] [--per-hop 300] [--seed 0] [--generator 30] [--json]

Needs ../shared/data (skips with a message without it); builds the MetaQA KB in ``--kb``
(default /tmp/kgqa-bench/metaqa) when it is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one question at a time, as in `kgqa ask`
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"


def open_kb(directory: Path) -> Any:
    from pipeline.api import KGQA

    qa = KGQA.open(directory, progress=False)
    if not qa.sources():
        qa.index(DATA / "metaqa/kb.txt.gz")
    return qa


def questions(per_hop: int, seed: int) -> list[Any]:
    from pipeline.questions import load_questions

    files = [DATA / f"metaqa/{h}-hop/qa_dev.txt.gz" for h in (1, 2, 3)]
    return load_questions(files, "metaqa", split="heldout", limit=per_hop, seed=seed)  # type: ignore[no-any-return]


def scorer_rows(qa: Any, items: list[Any], scorers: dict[str, str]) -> list[dict[str, Any]]:
    from pipeline.api import KGQA
    from pipeline.evaluation.metrics import by_hop, metrics, run
    from pipeline.evaluation.systems import KGQASystem
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    rows = []
    for name, setting in scorers.items():
        config = RetrieverConfig(scorer=setting, paths=PathConfig(exclude_topic=True))
        facade = KGQA(qa.kb, "minilm", config)
        for given in (True, False):
            preds = run([KGQASystem(facade, topic_given=given)], items, progress=False)["kgqa"]
            for hop, m in sorted(by_hop(preds).items()):
                hop_preds = [p for p in preds if p.question.hop == hop]
                rows.append({"scorer": name, "topic": "given" if given else "linked", "hop": hop,
                             "n": len(hop_preds), "hits@1": m["hits@1"], "f1": m.get("f1"),
                             "p50_ms": metrics(hop_preds)["latency_ms"]["p50"]})
    return rows


def generator_rows(qa: Any, items: list[Any], adapter: Path) -> dict[str, Any]:
    """The generator on ``items``: raw answers checked, citations scored, speed measured."""
    from model.checks import check_answer, finalize
    from model.generator import Generator

    generator = Generator.load(adapter if adapter.exists() else None)
    stats: dict[str, list[float]] = {k: [] for k in ("uncited", "precision", "recall", "fallback", "complete",
                                                     "tps", "sec")}
    for q in items:
        r = qa.retrieve(q.text)
        evidence = {e.number: e.content for e in r.evidence}
        answers = [(a.label, a.evidence) for a in r.answers]
        names = {a.label for a in r.answers}
        start = time.perf_counter()
        raw = generator.generate(r.prompt)
        seconds = time.perf_counter() - start
        final = finalize(raw, evidence, answers, names)
        check = check_answer(final.text, evidence, names)
        supporting = {n for a in r.answers for n in a.evidence}  # evidence ending in some answer
        top = {n for a in r.answers[:5] for n in a.evidence}  # ... in one of the five best
        cited = set(final.cited)
        stats["uncited"].append(float(any("not in the evidence" in p for p in final.problems)))
        stats["fallback"].append(float(final.fallback))
        stats["precision"].append(len(cited & supporting) / len(cited) if cited else float(not supporting))
        stats["recall"].append(len(cited & top) / len(top) if top else 1.0)
        shown = [a.label.lower() for a in r.answers[:5] if a.evidence]
        stats["complete"].append(float(all(label in final.text.lower() for label in shown)))  # names them all
        stats["sec"].append(seconds)
        stats["tps"].append(getattr(generator, "last_tokens", 0) / seconds if seconds else 0.0)
        assert check.ok or final.fallback, final  # a final answer always passes its checks
    card = json.loads((adapter / "card.json").read_text()) if (adapter / "card.json").exists() else {}
    return {"n": len(items), **{k: round(statistics.mean(v), 4) for k, v in stats.items() if v},
            "train_seconds_per_epoch": card.get("seconds_per_epoch"), "adapter": str(adapter)}


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| scorer | topic | hop | n | Hits@1 | F1 | p50 ms |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['scorer']} | {r['topic']} | {r['hop']} | {r['n']} | {r['hits@1']:.3f} | "
                     f"{(r['f1'] or 0):.3f} | {r['p50_ms']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kb", type=Path, default=Path("/tmp/kgqa-bench/metaqa"))
    parser.add_argument("--per-hop", type=int, default=300, help="questions per hop for the scorers (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scorer", type=Path, default=ROOT / "model/adapters/scorer")
    parser.add_argument("--generator-adapter", type=Path, default=ROOT / "model/adapters/generator")
    parser.add_argument("--generator", type=int, default=30, help="questions per hop for the generator (0: skip)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (DATA / "metaqa/kb.txt.gz").exists():
        print(f"skipped: {DATA / 'metaqa'} is not there (see ../shared/data/README.md)")
        return 0
    qa = open_kb(args.kb)
    scorers = {"zero-shot": "zero-shot"}
    if (args.scorer / "adapter_config.json").exists():
        scorers["fine-tuned"] = str(args.scorer)
    rows = scorer_rows(qa, questions(args.per_hop, args.seed), scorers) if args.per_hop else []
    report: dict[str, Any] = {"scorers": rows}
    if args.generator:
        from pipeline.api import KGQA
        from retrieval.paths import PathConfig
        from retrieval.retriever import RetrieverConfig

        config = RetrieverConfig(scorer=scorers.get("fine-tuned", "zero-shot"), paths=PathConfig(exclude_topic=True))
        few = questions(args.generator, args.seed + 1)
        report["generator"] = generator_rows(KGQA(qa.kb, "minilm", config), few, args.generator_adapter)
    qa.close()
    print(json.dumps(report, indent=1) if args.json else table(rows))
    if args.generator and not args.json:
        print("\ngenerator: " + json.dumps(report["generator"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
