"""Turn a hand-written question spec into a gold TSV: the answers are the ends of the path in the KB.

A spec line is ``question<TAB>topic label<TAB>path`` (``a/b``: ``a`` then ``b``; ``^r``: ``r`` walked
backwards; relation names are the last segment of the predicate ids). The gold answers are the
entity ids the path reaches from the topic, the topic itself left out (the questions ask about
other things). Output lines are ``question<TAB>id|id<TAB>topic id`` (``kgqa eval --format tsv``).

    python bench/questions.py tests/data/world_questions.spec --kb /tmp/world --out tests/data/world_questions.tsv
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _tail(predicate: str) -> str:
    return re.split(r"[/#:]", predicate.rstrip("/#"))[-1]


def build(spec: Path, kb_dir: Path) -> list[str]:
    """The TSV lines of ``spec`` answered on the knowledge base in ``kb_dir``; unanswerable lines are reported."""
    from kg.kb import KnowledgeBase
    from kg.stores.base import Step
    from pipeline.training.supervision import SupervisionGraph

    with KnowledgeBase.open(kb_dir, read_only=True, progress=False) as kb:
        graph = SupervisionGraph.read(kb.store)
    by_tail = {_tail(p): p for p in graph.predicates}
    out = []
    for n, line in enumerate(spec.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        question, topic_label, path_spec = line.split("\t")
        topic = graph.by_label.get(topic_label.lower())
        steps = tuple(Step(by_tail[s.lstrip("^")], not s.startswith("^")) for s in path_spec.split("/"))
        ends = graph.ends.ends(topic, steps, False, {}) - {topic} if topic else set()
        if not ends:
            print(f"{spec}:{n}: no answer for {question!r} ({topic_label}: {path_spec})", file=sys.stderr)
            continue
        out.append(f"{question}\t{'|'.join(sorted(ends))}\t{topic}")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", type=Path)
    parser.add_argument("--kb", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = build(args.spec, args.kb)
    args.out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    print(f"{len(lines)} questions written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
