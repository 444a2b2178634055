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
split's scores) and reported on ``test``. ``--fresh`` is a second set of other wordings (paraphrases
such as "How many people live in X?", other missing relations), built after those thresholds were
set; its dev split chose ``fit_path_zero_shot`` (``--sweep-zero-shot``; the world KB's scorer is
zero-shot), and its test split and the first set report the result.
"Confidently wrong" counts answers with confidence >= 0.5 that are wrong (any answer to an
unanswerable question is wrong).

    python bench/abstain.py --build
    python bench/abstain.py --world /tmp/world --metaqa /tmp/metaqa --split test  # one JSON line per setting
    python bench/abstain.py --build --fresh; python bench/abstain.py --fresh --split all --world ... --metaqa ...
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
# --fresh: wordings written after the thresholds were chosen, never used to choose them
FRESH_WORLD_TEMPLATES = {"capital": "Which city is the capital of {}?", "currency": "What money do people use in {}?",
                         "population": "How many people live in {}?",
                         "borders": "Which nations share a border with {}?",
                         "official_language": "Which language is official in {}?",
                         "demonym": "What do you call a person from {}?"}
FRESH_WORLD_MISSING = ["What is the national dish of {}?", "Who is the king of {}?", "What is the highest point of {}?",
                       "When did {} become independent?", "What is the national anthem of {}?",
                       "What is the literacy rate of {}?", "Who is the head of government of {}?",
                       "What is the main religion of {}?"]
FRESH_METAQA_MISSING = ["how much money did {} make at the box office?", "who edited {}?",
                        "which studio made {}?", "who designed the costumes for {}?", "where is {} set?",
                        "which awards was {} nominated for?", "who was the producer of {}?",
                        "what is the running time of {}?"]
FRESH_METAQA_GAPS = ("who was the director of {}?", "who is the screenwriter of {}?")
FRESH = ROOT / "tests" / "data" / "abstain_fresh.jsonl"
FAKE = ["Atlantis", "Wakanda", "Freedonia", "Ruritania", "Genovia", "Latveria", "Zubrowka", "Elbonia"]
FAKE_FILMS = ["The Glass Orchard of Venn", "Midnight Over Quarrowmere", "Seven Lanterns for Ashby"]


def split(question: str) -> str:
    return "dev" if hashlib.md5(question.encode()).digest()[0] % 2 == 0 else "test"


def row(kb: str, question: str, answers: list[str], kind: str) -> dict[str, Any]:
    return {"kb": kb, "question": question, "answerable": bool(answers), "answers": answers, "kind": kind,
            "split": split(question)}


def world_rows(path: Path, rng: random.Random, n: int, templates: dict[str, str] = WORLD_TEMPLATES,
               missing: list[str] = WORLD_MISSING) -> list[dict[str, Any]]:
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
        relation = rng.choice([r for r in templates if r in facts[c]])
        gold = [label.get(o, o) for o in facts[c][relation]]
        out.append(row("world", templates[relation].format(label[c]), gold, "answerable"))
        out.append(row("world", rng.choice(missing).format(label[c]), [], "relation not in the KB"))
    out += [row("world", f"What is the capital of {f}?", [], "entity not in the KB") for f in FAKE]
    return out


def metaqa_rows(data: Path, rng: random.Random, n: int, missing_relations: list[str] = METAQA_MISSING,
                gaps: tuple[str, str] = ("who directed {}?", "who wrote {}?")) -> list[dict[str, Any]]:
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
    out += [row("metaqa", gaps[0].format(m), [], missing) for m in rng.sample(undirected, n // 4)]
    out += [row("metaqa", gaps[1].format(m), [], missing) for m in rng.sample(unwritten, n // 4)]
    out += [row("metaqa", rng.choice(missing_relations).format(m), [], "relation not in the KB")
            for m in rng.sample(films, n // 2)]
    out += [row("metaqa", f"who directed {f}?", [], "entity not in the KB") for f in FAKE_FILMS]
    return out


def run(rows: list[dict[str, Any]], kbs: dict[str, Path], **thresholds: float) -> dict[str, Any]:
    from pipeline import KGQA
    from pipeline.abstain import AbstainConfig

    config = AbstainConfig(**thresholds)
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
    return {"fit_path": config.fit_path, "fit_path_zero_shot": config.fit_path_zero_shot, "min_link": config.min_link,
            "min_lead": config.min_lead, "groups": groups, "errors": errors}


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
    parser.add_argument("--sweep", type=float, nargs="*", help="fit_path values to try (trained scorers)")
    parser.add_argument("--sweep-zero-shot", type=float, nargs="*", help="fit_path_zero_shot values to try")
    parser.add_argument("--fresh", action="store_true",
                        help="the set of other wordings (tests/data/abstain_fresh.jsonl); its dev split chose "
                             "fit_path_zero_shot")
    args = parser.parse_args()
    target = FRESH if args.fresh else OUT
    if args.build:
        rng = random.Random(23 if args.fresh else 11)
        world = (FRESH_WORLD_TEMPLATES, FRESH_WORLD_MISSING) if args.fresh else (WORLD_TEMPLATES, WORLD_MISSING)
        rows = world_rows(ROOT / "data" / "world.nt", rng, args.n, *world)
        if (METAQA / "kb.txt.gz").exists():
            rows += metaqa_rows(METAQA, rng, args.n, *((FRESH_METAQA_MISSING, FRESH_METAQA_GAPS) if args.fresh else ()))
        target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} questions to {target}")
        return 0
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line]
    rows = [r for r in rows if args.split == "all" or r["split"] == args.split]
    kbs = {k: v for k, v in (("world", args.world), ("metaqa", args.metaqa)) if v is not None}
    for fit in args.sweep or [None]:
        for zero in args.sweep_zero_shot or [None]:
            chosen = {k: v for k, v in (("fit_path", fit), ("fit_path_zero_shot", zero)) if v is not None}
            print(json.dumps(run(rows, kbs, **chosen)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
