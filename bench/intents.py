"""Intent benchmark: per-intent precision / recall and macro-F1 on the held-out intent set.

The classifier is fitted on the shipped examples (pipeline/dialogue/intent_examples.txt) and
measured on ``tests/data/intents.jsonl``, which shares no utterance with them (checked here).
Each row is ``{"text", "intent", "pending", "lang"}``; ``pending`` says a clarification was
waiting for its reply when the message came. ``--rules-off`` measures the classifier alone.

    python bench/intents.py [--embedder minilm|e5|hashing] [--json] [--rules-off]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SET = ROOT / "tests" / "data" / "intents.jsonl"

from model.embedders import open_embedder  # noqa: E402  (after the path is set)
from pipeline.dialogue.intents import INTENTS, IntentClassifier, load_examples  # noqa: E402


def run(rows: list[dict[str, Any]], embedder: str, rules: bool = True) -> dict[str, Any]:
    examples = load_examples()
    shared = {t for t, _ in examples} & {r["text"] for r in rows}
    if shared:
        raise SystemExit(f"the evaluation set shares {len(shared)} utterances with the examples: {sorted(shared)[:3]}")
    start = time.perf_counter()
    classifier = IntentClassifier.fit(examples, open_embedder(embedder, progress=False) if embedder != "hashing"
                                      else open_embedder(embedder))
    fitted = time.perf_counter() - start
    pairs, wrong = [], []
    for r in rows:
        got = classifier.recognize(r["text"], r["pending"]) if rules else _no_rules(classifier, r)
        pairs.append((r["intent"], got.name, r["lang"]))
        if got.name != r["intent"]:
            wrong.append({"text": r["text"], "gold": r["intent"], "got": got.name})
    per = {i: _pr(pairs, i) for i in INTENTS}
    return {"embedder": embedder, "rules": rules, "n": len(rows), "fit_s": round(fitted, 2), "per_intent": per,
            "macro_f1": round(sum(p["f1"] for p in per.values()) / len(per), 4),
            "accuracy": round(sum(g == p for g, p, _ in pairs) / len(pairs), 4),
            "accuracy_by_lang": {lang: round(sum(g == p for g, p, la in pairs if la == lang) /
                                             max(1, sum(la == lang for *_, la in pairs)), 4)
                                 for lang in sorted({la for *_, la in pairs})},
            "errors": wrong}


def _no_rules(classifier: IntentClassifier, row: dict[str, Any]) -> Any:
    from pipeline.dialogue.intents import Intent, referring

    got = classifier.predict(row["text"])
    if got.name == "clarification" and not row["pending"]:
        return Intent("follow-up", got.score, "context")
    if got.name in ("question", "follow-up"):
        return Intent("follow-up" if referring(row["text"]) else "question", got.score, "context")
    return got


def _pr(pairs: list[tuple[str, str, str]], intent: str) -> dict[str, float]:
    tp = sum(g == p == intent for g, p, _ in pairs)
    predicted, gold = sum(p == intent for _, p, _ in pairs), sum(g == intent for g, _, _ in pairs)
    precision, recall = tp / max(1, predicted), tp / max(1, gold)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n": gold, "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['n']} held-out utterances, embedder {result['embedder']}, rules "
             f"{'on' if result['rules'] else 'off'} (fit {result['fit_s']} s)", "",
             f"{'intent':14} {'n':>4} {'P':>6} {'R':>6} {'F1':>6}"]
    lines += [f"{i:14} {v['n']:>4} {v['precision']:>6.3f} {v['recall']:>6.3f} {v['f1']:>6.3f}"
              for i, v in result["per_intent"].items()]
    counts = Counter((e["gold"], e["got"]) for e in result["errors"])
    lines += ["", f"macro-F1 {result['macro_f1']:.3f}; accuracy {result['accuracy']:.3f} "
              f"({', '.join(f'{k} {v:.3f}' for k, v in result['accuracy_by_lang'].items())})",
              "confusions: " + ", ".join(f"{g}->{p} x{n}" for (g, p), n in counts.most_common(8))]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=SET)
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--rules-off", action="store_true", help="the classifier alone")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.set.read_text(encoding="utf-8").splitlines() if line.strip()]
    result = run(rows, args.embedder, not args.rules_off)
    print(json.dumps(result, indent=1, ensure_ascii=False) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
