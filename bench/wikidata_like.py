"""Synthetic Wikidata-like graphs for the scale benchmark, with questions whose answers are known.

``generate(directory, triples)`` writes ``graph.nt`` (N-Triples in Wikidata's RDF form: ``wd:Q..``
items, ``wdt:P..`` truthy statements, English ``rdfs:label`` for every item), ``properties.tsv``
(labels of the predicates, for ``--property-labels``) and ``questions.jsonl``. Made like
bench/ingest.py's synthetic graph (random distinct triples, seeded), but shaped like a Wikidata
slice: ``relations`` predicates with skewed use (Zipf, s=1: the first carries ~16% of the edges
at 300), power-law degrees (subjects and especially objects concentrate on a few hubs), readable
unique labels. Predicate ids and labels are real Wikidata item-valued properties (from
../shared/data when present, else ``property N``).

Questions are random forward walks of 1-3 hops from a non-hub topic, phrased "what is the
<last relation> of the <...> of the <first relation> of <topic label>?", with the walk's end
nodes as answers (the graph decides how many).
"""

from __future__ import annotations

import json
import random
from bisect import bisect
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROPS = ROOT.parent / "shared" / "data" / "wikidata" / "properties" / "wikidata_properties_labels_en_zh.tsv"
WD, WDT = "http://www.wikidata.org/entity/", "http://www.wikidata.org/prop/direct/"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
_SYL = ["ka", "lo", "mer", "ti", "va", "son", "dra", "bel", "qui", "ron", "sa", "nel", "tor", "mi", "ga", "pel",
        "ro", "vin", "de", "lu", "xa", "bor", "fen", "ha", "jo", "lem", "nu", "or", "pra", "sel", "tan", "wy"]


def properties(n: int) -> list[tuple[str, str]]:
    """``n`` (id, English label) pairs of item-valued Wikidata properties, by id."""
    found: list[tuple[int, str, str]] = []
    if PROPS.exists():
        for line in PROPS.read_text(encoding="utf-8").splitlines()[1:]:
            cols = line.split("\t")
            if len(cols) > 2 and cols[1] == "wikibase-item" and cols[2]:
                found.append((int(cols[0][1:]), cols[0], cols[2]))
    found.sort()
    out = [(pid, label) for _, pid, label in found[:n]]
    out += [(f"P{900000 + i}", f"property {i}") for i in range(n - len(out))]
    return out


def label(i: int) -> str:
    """A unique pronounceable two-word name for item number ``i``."""
    digits = []
    while True:
        i, r = divmod(i, len(_SYL))
        digits.append(_SYL[r])
        if i == 0:
            break
    first = "".join(digits[:2]).capitalize()
    rest = "".join(digits[2:]) or "a"
    return f"{first} {rest.capitalize()}{len(digits)}"


def generate(directory: Path, triples: int, relations: int = 300, seed: int = 7,
             questions: int = 60) -> dict[str, object]:
    """Write the graph, its property labels and questions into ``directory``; returns counts."""
    rng = random.Random(seed)
    props = properties(relations)
    items = max(triples // 8, 100)
    weights = list(accumulate(1.0 / (r + 1) for r in range(relations)))
    out: dict[int, list[tuple[int, int]]] = {}
    seen: set[tuple[int, int, int]] = set()
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "graph.nt").open("w", encoding="utf-8") as fh:
        while len(seen) < triples:
            s = int(items * rng.random() ** 2)
            o = int(items * rng.random() ** 3)
            p = bisect(weights, rng.random() * weights[-1])
            if s == o or (s, p, o) in seen:
                continue
            seen.add((s, p, o))
            out.setdefault(s, []).append((p, o))
            fh.write(f"<{WD}Q{s}> <{WDT}{props[p][0]}> <{WD}Q{o}> .\n")
        used = {s for s, _, _ in seen} | {o for _, _, o in seen}
        for i in sorted(used):
            fh.write(f'<{WD}Q{i}> {LABEL} "{label(i)}"@en .\n')
    with (directory / "properties.tsv").open("w", encoding="utf-8") as fh:
        fh.write("id\tdatatype\ten\n" + "".join(f"{pid}\twikibase-item\t{text}\n" for pid, text in props))
    asked = _questions(rng, out, props, items, questions)
    with (directory / "questions.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(q) + "\n" for q in asked)
    return {"triples": triples, "items": len(used), "relations": relations, "questions": len(asked)}


def _questions(rng: random.Random, out: dict[int, list[tuple[int, int]]], props: list[tuple[str, str]],
               items: int, n: int) -> list[dict[str, object]]:
    """Random 1-3 hop forward walks from topics outside the densest 1% of items."""
    asked: list[dict[str, object]] = []
    topics = [s for s in out if s > items // 100]
    tries = 0
    while len(asked) < n and tries < 100 * n:
        tries += 1
        hops = 1 + len(asked) % 3
        node = rng.choice(topics)
        start, walk = node, []
        for _ in range(hops):
            if node not in out:
                break
            p, node = rng.choice(out[node])
            walk.append(p)
        if len(walk) < hops:
            continue
        names = " of the ".join(props[p][1] for p in reversed(walk))
        answers = _ends(out, start, walk)
        asked.append({"question": f"what is the {names} of {label(start)}?", "topic": f"Q{start}",
                      "hops": hops, "path": [props[p][0] for p in walk], "answers": sorted(answers)})
    return asked


def _ends(out: dict[int, list[tuple[int, int]]], start: int, walk: list[int]) -> list[str]:
    frontier = {start}
    for p in walk:
        frontier = {o for s in frontier for q, o in out.get(s, []) if q == p}
    return [f"Q{o}" for o in frontier]
