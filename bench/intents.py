"""Intent benchmark: per-intent precision / recall and macro-F1 on the held-out intent set.

The classifier is trained on the shipped examples (pipeline/dialogue/intent_examples.txt) and
measured on ``tests/data/intents_heldout.jsonl``, written separately before any classifier was run
on it; it shares no utterance with the examples (checked here). ``intents_heldout2.jsonl`` (100)
was written in a later round, before the classifier of that round ran on it, and
``intents_heldout3.jsonl`` (84) after that round's changes, before anything ran on it. Each row is ``{"text", "intent",
"pending", "lang"}``; ``pending`` says a clarification was waiting for its reply when the message
came. ``--rules-off`` measures the classifier alone. ``--cv`` chooses the classifier's settings by
5-fold cross-validation on the examples alone (macro-F1 of the classifier per L2 / steps), never
on the held-out set.

    python bench/intents.py [--embedder minilm|e5|hashing] [--json] [--rules-off] [--set A.jsonl B.jsonl ...]
    python bench/intents.py --cv --embedder e5
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
SET = ROOT / "tests" / "data" / "intents_heldout.jsonl"

from model.embedders import open_embedder  # noqa: E402  (after the path is set)
from pipeline.dialogue.intents import (  # noqa: E402
    INTENTS,
    IntentClassifier,
    features,
    load_examples,
    plain,
    standardizer,
    train_softmax,
)


def run(rows: list[dict[str, Any]], embedder: str, rules: bool = True) -> dict[str, Any]:
    examples = load_examples()
    shared = {t for t, _ in examples} & {r["text"] for r in rows}
    if shared:
        raise SystemExit(f"the evaluation set shares {len(shared)} utterances with the examples: {sorted(shared)[:3]}")
    start = time.perf_counter()
    classifier = IntentClassifier.fit(examples, _embedder(embedder))
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


def _embedder(name: str) -> Any:
    return open_embedder(name, progress=False) if name != "hashing" else open_embedder(name)


def cross_validate(embedder: str, folds: int = 5) -> list[dict[str, Any]]:
    """Macro-F1 of the classifier alone per (L2, steps), by ``folds``-fold cross-validation on the examples."""
    import numpy as np

    examples = load_examples()
    names = sorted({i for _, i in examples})
    vectors = np.asarray(_embedder(embedder).query([plain(t) for t, _ in examples]), dtype=np.float64)
    y = np.asarray([names.index(i) for _, i in examples])
    fold = np.arange(len(y)) % folds
    np.random.default_rng(0).shuffle(fold)
    out = []
    for l2 in (1e-3, 1e-2, 3e-2, 1e-1):
        for steps in (100, 300, 600):
            predicted = np.empty_like(y)
            for f in range(folds):
                scaling = standardizer(vectors[fold != f])
                w = train_softmax(features(vectors[fold != f], scaling), y[fold != f], len(names), l2, steps)
                predicted[fold == f] = np.argmax(features(vectors[fold == f], scaling) @ w, axis=1)
            pairs = [(names[g], names[p], "") for g, p in zip(y, predicted)]
            f1 = sum(_pr(pairs, i)["f1"] for i in names) / len(names)
            out.append({"l2": l2, "steps": steps, "macro_f1": round(f1, 4)})
    return out


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
    parser.add_argument("--set", type=Path, nargs="+", default=[SET],
                        help="held-out sets; with several, each is reported and then all of them pooled")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--rules-off", action="store_true", help="the classifier alone")
    parser.add_argument("--cv", action="store_true", help="cross-validate the settings on the examples")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.cv:
        for r in cross_validate(args.embedder):
            print(json.dumps(r))
        return 0
    sets = {path.name: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            for path in args.set}
    if len(sets) > 1:
        sets["pooled"] = [r for rows in list(sets.values()) for r in rows]
    results = {name: run(rows, args.embedder, not args.rules_off) for name, rows in sets.items()}
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[args.set[0].name], indent=1, ensure_ascii=False))
    else:
        print("\n\n".join(f"{name}: {table(result)}" for name, result in results.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
