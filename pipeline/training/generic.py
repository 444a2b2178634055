"""The generic scorer adapter: a scorer head trained with no benchmark question at all.

A KB nobody has adapted yet gets, besides zero-shot cosine scoring, one trained candidate for
``auto``'s self-check: a head (model/head_scorer.py) trained on synthetic questions
(pipeline/training/synthetic.py) over Wikidata-derived KBs that are none of the KBs we evaluate
on (CoDEx, whose relations carry Wikidata property labels), mixed with templated questions over
all Wikidata property labels (``generic_examples``), so that what it learns is how questions
word relation paths in general (hop order, inverse relations, "which X ...") and not one KB's
vocabulary. MetaQA, the world KB and the Wikidata sample stay held out: no question of theirs,
synthetic or human, reaches it. It is also where ``kgqa adapt`` starts from.

    python -m pipeline.training.generic --out model/adapters/generic

Left out: entity labels (CoDEx has none: the topic is masked in every question anyway).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kg.files import file_sha256
from model.embedders import open_embedder
from model.head_scorer import HeadConfig, train_head
from model.path_scorer import PathExample
from pipeline.training.supervision import EndSets, SupervisionGraph, generic_examples, read_relation_names
from pipeline.training.synthetic import QuestionMaker, SyntheticConfig, fewer_negatives
from retrieval.graph_index import GraphIndex

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wikidata"
CODEX = SHARED / "codex"
PROPERTIES = SHARED / "properties" / "wikidata_properties_labels_en_zh.tsv"
ALIASES = SHARED / "properties" / "wikidata_properties_npm-1.0.0.selected-langs.jsonl.gz"
MAX_CANDIDATES = 200  # relation paths around a synthetic topic (CoDEx is dense: thousands otherwise)
NEGATIVES = 48


def triples_graph(path: Path, relation_labels: dict[str, str]) -> SupervisionGraph:
    """A ``SupervisionGraph`` of a whitespace-separated ``s p o`` file (plain or .gz), no entity labels."""
    s, p, o = [], [], []
    with (gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3:
                s.append(parts[0])
                p.append(parts[1])
                o.append(parts[2])
    n = len(s)
    index = GraphIndex.from_edges(s, p, o, list(range(n)), [None] * n, [None] * n, [None] * n)
    return SupervisionGraph(index, EndSets(index), {}, relation_labels, tuple(sorted(set(p))), {})


def read_aliases(path: Path = ALIASES) -> dict[str, list[str]]:
    """English label -> English aliases of every Wikidata property (the npm package's JSON lines)."""
    out: dict[str, list[str]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            item = json.loads(line)
            label = item.get("labels", {}).get("en")
            if label and item.get("aliases", {}).get("en"):
                out[label] = list(item["aliases"]["en"])
    return out


def codex_sources(codex: Path = CODEX) -> list[Path]:
    """The CoDEx training triples used (CoDEx-S: 36k triples, 42 relations; M adds little but time)."""
    return [codex / "triples" / "codex-s" / "train.txt"]


def examples(sources: Sequence[Path], relation_labels: dict[str, str], per_source: int, seed: int,
             progress: bool) -> tuple[list[tuple[PathExample, str]], list[tuple[PathExample, str]]]:
    """(train, validation) synthetic questions over ``sources``; validation topics are held out."""
    from pipeline.training.adapt import split_topics

    train: list[tuple[PathExample, str]] = []
    held: list[tuple[PathExample, str]] = []
    for i, source in enumerate(sources):
        graph = triples_graph(source, relation_labels)
        # topic answers allowed (most KBs allow them); a smaller candidate cap keeps dense KBs cheap
        maker = QuestionMaker(graph, SyntheticConfig(exclude_topic=False, max_candidates=MAX_CANDIDATES), seed + i)
        rng = random.Random(seed + i)
        made = [(fewer_negatives(e, NEGATIVES, rng), f"{source.name}:{t}")
                for e, t in maker.examples(per_source, progress)]
        tr, va = split_topics(made, len(made))
        train += [(e, "") for e in tr]
        held += [(e, "") for e in va]
    return train, held


def build(out: Path, per_source: int = 1500, templates: int = 1000, validation: int = 400, seed: int = 0,
          progress: bool = True, config: HeadConfig | None = None) -> dict[str, Any]:
    """Train the generic head into ``out``; returns its card."""
    labels = {k: v["label"] for k, v in json.loads((CODEX / "relations" / "en.json").read_text()).items()}
    sources = codex_sources()
    train, held = examples(sources, labels, per_source, seed, progress)
    names = read_relation_names(PROPERTIES)
    aliases = read_aliases() if ALIASES.exists() else {}
    replay = generic_examples(names, templates, seed, aliases=aliases)
    random.Random(seed).shuffle(held)
    card = {"command": "python -m pipeline.training.generic " + " ".join(sys.argv[1:]),
            "human_questions": 0, "benchmark_questions": 0,
            "data": {"synthetic": [{"path": str(p.relative_to(SHARED.parent.parent)), "sha256": file_sha256(p),
                                    "questions": per_source} for p in sources],
                     "templates": {"path": str(PROPERTIES.relative_to(SHARED.parent.parent)),
                                   "sha256": file_sha256(PROPERTIES), "questions": len(replay)},
                     "aliases": {"path": str(ALIASES.relative_to(SHARED.parent.parent)),
                                 "sha256": file_sha256(ALIASES), "properties": len(aliases)} if aliases else None,
                     "held_out_kbs": "MetaQA, the world KB, the Wikidata sample: nothing of theirs was read"},
            "started_from": "identity (zero-shot)"}
    return train_head([e for e, _ in train] + replay, [e for e, _ in held[:validation]], out, open_embedder("minilm"),
                      config or HeadConfig(), None, progress, card)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-source", type=int, default=1500)
    parser.add_argument("--templates", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    card = build(args.out, args.per_source, args.templates, seed=args.seed, config=HeadConfig(steps=args.steps))
    print(json.dumps({k: card[k] for k in ("validation_path_accuracy", "zero_shot_validation_path_accuracy",
                                           "train_examples", "stopped")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
