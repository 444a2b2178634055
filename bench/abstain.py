"""Abstention benchmark: answered precision and abstention rates on answerable and unanswerable questions.

Build ``tests/data/abstain.jsonl`` from the bundled world KB (``data/world.nt``) and MetaQA:

- answerable: world questions from templates over its relations (capital, currency, population,
  borders, official language, demonym) with the KB's values as gold; MetaQA held-out 1-hop dev
  questions with brackets stripped;
- unanswerable: relations neither KB has (president, GDP, budget, producer, filming location,
  runtime...), relations the KB has but the topic lacks ("who directed X" for films without a
  director), and made-up entities ("the capital of Atlantis").

Each row has a ``split`` (``dev`` / ``test`` by a hash of the question): thresholds are chosen on
``dev`` (``--split dev``, with ``--sweep`` over ``fit_path``; ``min_lead`` was read off the dev
split's scores) and reported on ``test``.
"Confidently wrong" counts answers with confidence >= 0.5 that are wrong (any answer to an
unanswerable question is wrong).

    python bench/abstain.py --build
    python bench/abstain.py --world /tmp/world --metaqa /tmp/metaqa --split test [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "tests" / "data" / "abstain.jsonl"
METAQA = ROOT.parent / "shared" / "data" / "metaqa"
WORLD_TEMPLATES = {"capital": "What is the capital of {}?", "currency": "What currency does {} use?",
                   "population": "What is the population of {}?", "borders": "Which countries border {}?",
                   "official_language": "What is the official language of {}?", "demonym": "What is the demonym of {}?"}
WORLD_MISSING = ["Who is the president of {}?", "What is the GDP of {}?", "What is the national animal of {}?",
                 "Who founded {}?", "What is the tallest mountain in {}?", "What is the national sport of {}?",
                 "Who is the prime minister of {}?", "What is the life expectancy in {}?"]
METAQA_MISSING = ["what is the budget of {}?", "who produced {}?", "where was {} filmed?", "how long is {}?",
                  "who composed the music for {}?", "what awards did {} win?", "who was the cinematographer of {}?"]
FAKE = ["Atlantis", "Wakanda", "Freedonia", "Ruritania", "Genovia", "Latveria", "Zubrowka", "Elbonia"]
FAKE_FILMS = ["The Glass Orchard of Venn", "Midnight Over Quarrowmere", "Seven Lanterns for Ashby"]


def split(question: str) -> str:
    return "dev" if hashlib.md5(question.encode()).digest()[0] % 2 == 0 else "test"


def row(kb: str, question: str, answers: list[str], kind: str) -> dict[str, Any]:
    return {"kb": kb, "question": question, "answerable": bool(answers), "answers": answers, "kind": kind,
            "split": split(question)}


def world_rows(path: Path, rng: random.Random, n: int) -> list[dict[str, Any]]:
    label, facts = {}, defaultdict(lambda: defaultdict(list))
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"<([^>]+)> <([^>]+)> (.+) \.$", line)
        if not m:
            continue
        s, p, o = m.groups()
        value = re.match(r'"(.*)"', o)
        if p.endswith("#label") and value and o.endswith("@en"):
            label[s] = value.group(1)
        elif "/prop/" in p:
            obj = o.strip("<>") if o.startswith("<") else value.group(1) if value else o
            facts[s][p.rsplit("/", 1)[-1]].append(obj)
    countries = sorted(s for s in facts if "capital" in facts[s] and s in label)
    out = []
    for c in rng.sample(countries, min(n, len(countries))):
        relation = rng.choice([r for r in WORLD_TEMPLATES if r in facts[c]])
        gold = [label.get(o, o) for o in facts[c][relation]]
        out.append(row("world", WORLD_TEMPLATES[relation].format(label[c]), gold, "answerable"))
        out.append(row("world", rng.choice(WORLD_MISSING).format(label[c]), [], "relation not in the KB"))
    out += [row("world", f"What is the capital of {f}?", [], "entity not in the KB") for f in FAKE]
    return out


def metaqa_rows(data: Path, rng: random.Random, n: int) -> list[dict[str, Any]]:
    from conversations import KB, dev_questions

    kb = KB(data / "kb.txt.gz")
    questions = dev_questions(data / "1-hop")
    rng.shuffle(questions)
    out = [row("metaqa", q.text.replace("[", "").replace("]", ""), sorted(q.gold), "answerable")
           for q in questions[:n] if kb.unique(q.topic)]
    films = [m for m in kb.pool("release_year", True) if kb.unique(m)]
    undirected = [m for m in films if not kb.follow(m, "directed_by")]
    unwritten = [m for m in films if not kb.follow(m, "written_by")]
    missing = "relation missing at the topic"
    out += [row("metaqa", f"who directed {m}?", [], missing) for m in rng.sample(undirected, n // 4)]
    out += [row("metaqa", f"who wrote {m}?", [], missing) for m in rng.sample(unwritten, n // 4)]
    out += [row("metaqa", rng.choice(METAQA_MISSING).format(m), [], "relation not in the KB")
            for m in rng.sample(films, n // 2)]
    out += [row("metaqa", f"who directed {f}?", [], "entity not in the KB") for f in FAKE_FILMS]
    return out


def run(rows: list[dict[str, Any]], kbs: dict[str, Path], fit_path: float | None = None) -> dict[str, Any]:
    from pipeline import KGQA
    from pipeline.abstain import AbstainConfig

    config = AbstainConfig() if fit_path is None else AbstainConfig(fit_path=fit_path)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: list[dict[str, Any]] = []
    for name, directory in kbs.items():
        with KGQA.open(directory, read_only=True, progress=False, generator="off", abstain=config) as qa:
            for r in (r for r in rows if r["kb"] == name):
                a = qa.ask(r["question"])
                top = a.answers[0].label if a.answers else None
                right = top is not None and top.casefold() in {g.casefold() for g in r["answers"]}
                c = counts[f"{name}/{'answerable' if r['answerable'] else 'unanswerable'}"]
                c["n"] += 1
                c["abstained"] += a.abstained or not a.answers
                c["answered_right"] += right
                c["answered_wrong"] += bool(a.answers) and not right
                c["confidently_wrong"] += bool(a.answers) and not right and a.confidence >= 0.5
                if (bool(a.answers) and not right) or (r["answerable"] and not a.answers):
                    errors.append({"question": r["question"], "gold": r["answers"][:3], "got": top, "why": a.why,
                                   "path": a.relation_path.text if a.relation_path else None,
                                   "confidence": a.confidence})
    groups = {k: _rates(v) for k, v in counts.items()}
    return {"fit_path": config.fit_path, "min_link": config.min_link, "min_lead": config.min_lead, "groups": groups,
            "errors": errors}


def _rates(c: dict[str, int]) -> dict[str, float]:
    answered = c["answered_right"] + c["answered_wrong"]
    return {"n": c["n"], "abstention_rate": round(c["abstained"] / max(1, c["n"]), 4),
            "answered_precision": round(c["answered_right"] / max(1, answered), 4),
            "answered_wrong": c["answered_wrong"], "confidently_wrong": c["confidently_wrong"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--n", type=int, default=60)
    parser.add_argument("--world", type=Path)
    parser.add_argument("--metaqa", type=Path)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--sweep", type=float, nargs="*", help="fit_path values to try")
    args = parser.parse_args()
    if args.build:
        rng = random.Random(11)
        rows = world_rows(ROOT / "data" / "world.nt", rng, args.n)
        if (METAQA / "kb.txt.gz").exists():
            rows += metaqa_rows(METAQA, rng, args.n)
        OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} questions to {OUT}")
        return 0
    rows = [json.loads(line) for line in OUT.read_text(encoding="utf-8").splitlines() if line]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    kbs = {k: v for k, v in (("world", args.world), ("metaqa", args.metaqa)) if v is not None}
    for fit in args.sweep or [None]:
        print(json.dumps(run(rows, kbs, fit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
