"""Multi-turn benchmark: conversations over the MetaQA knowledge base, run through ``Session``.

Build (deterministic for a seed) ``tests/data/conversations.jsonl`` from the MetaQA KB and the
1-hop dev questions, keeping only held-out questions (``pipeline.questions``): every turn's
stand-alone form must fall in the held-out split. Four kinds of conversation:

- ``pronoun``: "who directed [M]" (a dev question with one director) -> "what else did he
  direct?" (gold: his other films) -> "what about D2?" (another director's films);
- ``it``: "when was [M] released" (dev) -> "who directed it?" -> "and who wrote it?" ->
  "what about M2?" -> "who directed it?";
- ``what-about``: a dev question -> "what about E2?" -> "what about E3?" (same relation);
- ``ambiguous``: a question naming, in lower case, a title two films share up to punctuation
  or accents ("moulin rouge": "Moulin Rouge" and "Moulin Rouge!"): the system should ask which
  one; the reply names a release year only one of them has; then a pronoun follow-up.

Gold answers of follow-ups come from the KB. Run: ``--kb DIR`` (a knowledge base indexed from
``metaqa/kb.txt.gz``) answers every turn in a fresh session per conversation and prints Hits@1
per turn position and per kind, how often a follow-up was rewritten into the expected
stand-alone question (counted after a turn that went right, so that it measures the session,
not retrieval), and how often the system asked for clarification.

    python bench/conversations.py [--n 80] [--seed 7]           # build the file
    kgqa index ../shared/data/metaqa/kb.txt.gz --kb /tmp/metaqa
    python bench/conversations.py --kb /tmp/metaqa [--limit 20] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "metaqa"
OUT = ROOT / "tests" / "data" / "conversations.jsonl"

from pipeline.questions import split_of  # noqa: E402  (after the path is set)
from retrieval.normalize import normalize  # noqa: E402

Graph = dict[str, dict[str, list[str]]]
RELATION = {"movie_to_director": ("directed_by", True), "movie_to_writer": ("written_by", True),
            "movie_to_actor": ("starred_actors", True), "movie_to_year": ("release_year", True),
            "movie_to_genre": ("has_genre", True), "movie_to_language": ("in_language", True),
            "director_to_movie": ("directed_by", False), "writer_to_movie": ("written_by", False),
            "actor_to_movie": ("starred_actors", False)}
AMBIGUOUS_TEMPLATES = ["who directed {}", "who is the director of {}", "who wrote {}", "who acted in {}",
                       "what genre is {}"]  # not "when was {} released": the reply names a year
PRONOUNS = ["he", "she", "they"]


class KB:
    """The MetaQA triples, both ways, and which labels collide after normalization."""

    def __init__(self, path: Path) -> None:
        self.out: Graph = defaultdict(lambda: defaultdict(list))
        self.back: Graph = defaultdict(lambda: defaultdict(list))
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                s, r, o = line.rstrip("\n").split("|")
                self.out[s][r].append(o)
                self.back[o][r].append(s)
        forms: dict[str, set[str]] = defaultdict(set)
        for node in set(self.out) | set(self.back):
            forms[normalize(node)].add(node)
        self.clashes = {n for group in forms.values() if len(group) > 1 for n in group}
        self._pools: dict[tuple[str, bool], list[str]] = {}

    def follow(self, node: str, relation: str, forward: bool = True) -> list[str]:
        return sorted(set((self.out if forward else self.back)[node].get(relation, [])))

    def pool(self, relation: str, forward: bool) -> list[str]:
        """The subjects (``forward``) or objects of ``relation``, sorted."""
        key = (relation, forward)
        if key not in self._pools:
            ends = {o for s in self.out for o in self.out[s].get(relation, [])}
            self._pools[key] = sorted(s for s in self.out if relation in self.out[s]) if forward else sorted(ends)
        return self._pools[key]

    def unique(self, node: str) -> bool:
        """A label no other node shares up to case and punctuation (so linking it is not ambiguous)."""
        return node not in self.clashes and len(node) > 3


def dev_questions(hop_dir: Path) -> list[Any]:
    from pipeline.questions import read_questions

    qs = read_questions(hop_dir / "qa_dev.txt.gz", "metaqa", hop_dir / "qa_dev_qtype.txt.gz")
    return [q for q in qs if split_of(q.text) == "heldout" and q.topic and q.topic_span]


def turn(question: str, answers: list[str], resolved: str | None = None, clarify: bool = False) -> dict[str, Any]:
    return {"question": question, "resolved": resolved or question, "answers": answers, "clarify": clarify}


def heldout(*texts: str) -> bool:
    return all(split_of(t) == "heldout" for t in texts)


def swapped(q: Any, entity: str) -> str:
    start, end = q.topic_span
    return q.text[:start] + entity + q.text[end:]


FOLLOW_UPS = {  # "{}" is where the pronoun goes; alternatives so that some phrasing is held out
    "directed_by": ["who directed {}?", "and who directed {}?", "who is the director of {}?"],
    "written_by": ["who wrote {}?", "and who wrote {}?", "who is the writer of {}?"],
    "release_year": ["when was {} released?", "and when was {} released?", "what year was {} released?"],
    "directed_by/else": ["what else did {} direct?", "which other films did {} direct?",
                         "what other movies did {} direct?"],
}


def phrase(key: str, word: str, entity: str) -> tuple[str, str] | None:
    """(as typed with ``word``, stand-alone with ``entity``) for the first held-out phrasing."""
    return next(((t.format(word), t.format(entity)) for t in FOLLOW_UPS[key] if heldout(t.format(entity))), None)


def pronoun(kb: KB, q: Any, rng: random.Random, pool: list[str]) -> list[dict[str, Any]] | None:
    """who directed [M] -> what else did he direct? -> what about D2?"""
    if q.qtype != "movie_to_director" or len(q.gold) != 1:
        return None
    director = next(iter(q.gold))
    others = [m for m in kb.follow(director, "directed_by", False) if m != q.topic]
    second = rng.choice(pool)
    typed = phrase("directed_by/else", rng.choice(PRONOUNS), director)
    if not others or second == director or not kb.unique(second) or typed is None:
        return None
    resolved = typed[1].replace(director, second)
    if not heldout(resolved):
        return None
    return [turn(q.text, sorted(q.gold)), turn(typed[0], others, typed[1]),
            turn(f"what about {second}?", kb.follow(second, "directed_by", False), resolved)]


def it_chain(kb: KB, q: Any, rng: random.Random, pool: list[str]) -> list[dict[str, Any]] | None:
    """when was [M] released -> who directed it? -> and who wrote it? -> what about M2? -> who directed it?"""
    movie, second = q.topic, rng.choice(pool)
    if q.qtype != "movie_to_year" or second == movie or not kb.unique(second):
        return None
    golds = {r: (kb.follow(movie, r), kb.follow(second, r)) for r in ("directed_by", "written_by")}
    texts = [phrase("directed_by", "it", movie), phrase("written_by", "it", movie),
             phrase("directed_by", "it", second)]
    if not all(a and b for a, b in golds.values()) or None in texts:
        return None
    (t2, r2), (t3, r3), (t5, r5) = texts  # type: ignore[misc]
    r4 = r3.replace(movie, second)
    if not heldout(r4):
        return None
    return [turn(q.text, sorted(q.gold)), turn(t2, golds["directed_by"][0], r2),
            turn(t3, golds["written_by"][0], r3), turn(f"what about {second}?", golds["written_by"][1], r4),
            turn(t5, golds["directed_by"][1], r5)]


def what_about(kb: KB, q: Any, rng: random.Random) -> list[dict[str, Any]] | None:
    """A dev question -> what about E2? -> what about E3? (the same relation each time)."""
    if q.qtype not in RELATION:
        return None
    relation, forward = RELATION[q.qtype]
    turns = [turn(q.text, sorted(q.gold))]
    for _ in range(2):
        entity = rng.choice(kb.pool(relation, forward))
        gold = kb.follow(entity, relation, forward)
        resolved = swapped(q, entity)
        if entity == q.topic or not gold or not kb.unique(entity) or not heldout(resolved):
            return None
        turns.append(turn(f"what about {entity}?", gold, resolved))
    return turns


def ambiguous(kb: KB, rng: random.Random) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Lower-case titles two films share: ask, reply with a year only the intended one has, follow up."""
    groups: dict[str, list[str]] = defaultdict(list)
    for node in sorted(kb.clashes):
        if kb.follow(node, "release_year"):
            groups[normalize(node)].append(node)
    for form, films in sorted(groups.items()):
        if len(films) != 2:
            continue
        for intended, other in (films, films[::-1]):
            years = sorted(set(kb.follow(intended, "release_year")) - set(kb.follow(other, "release_year")))
            conversation = _ambiguous_turns(kb, form, intended, years, rng)
            if conversation:
                yield f"{form}/{intended}", conversation


def _ambiguous_turns(kb: KB, form: str, film: str, years: list[str], rng: random.Random
                     ) -> list[dict[str, Any]] | None:
    if not years:
        return None
    templates = AMBIGUOUS_TEMPLATES[:]
    rng.shuffle(templates)
    for template in templates:
        first, follow = template.format(form), _ambiguous_follow_up(kb, film, template)
        relation = _template_relation(template)
        gold = kb.follow(film, relation)
        if gold and follow and heldout(first, template.format(film), follow["resolved"]):
            return [turn(first, [], clarify=True), turn(f"the {years[0]} one", gold, template.format(film)), follow]
    return None


def _template_relation(template: str) -> str:
    words = {"directed": "directed_by", "director": "directed_by", "wrote": "written_by",
             "acted": "starred_actors", "genre": "has_genre"}
    return next(rel for word, rel in words.items() if word in template)


def _ambiguous_follow_up(kb: KB, film: str, template: str) -> dict[str, Any] | None:
    """A pronoun follow-up about another relation than the first question's."""
    for relation in ("written_by", "release_year") if "direct" in template else ("directed_by",):
        gold, texts = kb.follow(film, relation), phrase(relation, "it", film)
        if gold and texts:
            return turn(texts[0], gold, texts[1])
    return None


def build(data: Path, n: int, seed: int) -> list[dict[str, Any]]:
    """About ``n`` conversations: a fifth ambiguous (as many as the KB has), the rest split evenly."""
    kb = KB(data / "kb.txt.gz")
    rng = random.Random(seed)
    questions = dev_questions(data / "1-hop")
    rng.shuffle(questions)
    movies, directors = kb.pool("directed_by", True), kb.pool("directed_by", False)
    amb = list(ambiguous(kb, rng))[: n // 5]
    per_kind = (n - len(amb)) // 3
    makers: list[tuple[str, Callable[[Any], list[dict[str, Any]] | None]]] = [
        ("pronoun", lambda q: pronoun(kb, q, rng, directors)),
        ("it", lambda q: it_chain(kb, q, rng, movies)),
        ("what-about", lambda q: what_about(kb, q, rng))]
    out = [{"id": f"amb-{i:03d}", "kind": "ambiguous", "about": about, "turns": turns}
           for i, (about, turns) in enumerate(amb, 1)]
    used: set[str] = set()
    for kind, make in makers:
        made = 0
        for q in questions:
            turns = make(q) if made < per_kind and q.text not in used else None
            if turns:
                made, _ = made + 1, used.add(q.text)
                out.append({"id": f"{kind}-{made:03d}", "kind": kind, "turns": turns})
    return out


# Running the conversations through Session.

def hit(answer: Any, gold: list[str]) -> bool:
    """The top answer is gold (exactly, or up to case: MetaQA labels are the node ids)."""
    if not answer.answers:
        return False
    top = answer.answers[0].label
    return top in gold or top.casefold() in {g.casefold() for g in gold}


def run(kb_dir: Path, conversations: list[dict[str, Any]], embedder: str, hops: int,
        progress: bool) -> dict[str, Any]:
    """Hits@1 per turn position and per kind, and clarification counts."""
    from tqdm import tqdm

    from pipeline import KGQA
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    config = RetrieverConfig(paths=PathConfig(max_hops=hops))
    by_turn: dict[int, list[bool]] = defaultdict(list)
    by_kind: dict[str, list[bool]] = defaultdict(list)
    resolved: list[bool] = []  # follow-ups rewritten as expected, when the turn before went right
    asked = {"expected": 0, "asked_when_expected": 0, "other_turns": 0, "asked_otherwise": 0}
    with KGQA.open(kb_dir, read_only=True, progress=progress, embedder=embedder, config=config,
                   generator="off") as qa:
        for conv in tqdm(conversations, desc="conversations", disable=not progress):
            session, before_ok = qa.session(), False
            for i, t in enumerate(conv["turns"], 1):
                answer = session.ask(t["question"])
                clarified = answer.clarification is not None
                asked["expected" if t["clarify"] else "other_turns"] += 1
                asked["asked_when_expected" if t["clarify"] else "asked_otherwise"] += clarified
                if i > 1 and before_ok and not t["clarify"]:
                    resolved.append((answer.resolved or answer.question).casefold() == t["resolved"].casefold())
                ok = clarified if t["clarify"] else hit(answer, t["answers"])
                if not t["clarify"]:
                    by_turn[i].append(ok)
                    by_kind[conv["kind"]].append(ok)
                before_ok = ok
    turns = asked["expected"] + asked["other_turns"]
    return {"conversations": len(conversations), "turns": turns, "embedder": embedder, "hops": hops,
            "hits@1_by_turn": {str(i): _rate(v) for i, v in sorted(by_turn.items())},
            "hits@1_by_kind": {k: _rate(v) for k, v in sorted(by_kind.items())},
            "hits@1": _rate([x for v in by_turn.values() for x in v]),
            "follow_ups_resolved": _rate(resolved),
            "clarification_rate": round((asked["asked_when_expected"] + asked["asked_otherwise"]) / max(1, turns), 4),
            "clarification_recall": round(asked["asked_when_expected"] / max(1, asked["expected"]), 4),
            "unneeded_clarifications": asked["asked_otherwise"]}


def _rate(values: list[bool]) -> dict[str, float]:
    return {"n": len(values), "hits@1": round(sum(values) / max(1, len(values)), 4)}  # or a plain rate


def table(result: dict[str, Any]) -> str:
    lines = [f"{result['conversations']} conversations, {result['turns']} turns "
             f"(embedder {result['embedder']}, up to {result['hops']} hops)", "",
             f"{'turn':12} {'n':>5} {'hits@1':>7}"]
    for name, group in (("", result["hits@1_by_turn"]), ("kind ", result["hits@1_by_kind"])):
        lines += [f"{name + key:12} {v['n']:>5} {v['hits@1']:>7.3f}" for key, v in group.items()]
    follow = result["follow_ups_resolved"]
    lines += [f"{'all':12} {result['hits@1']['n']:>5} {result['hits@1']['hits@1']:>7.3f}", "",
              f"follow-ups rewritten as expected (after a right turn): {follow['hits@1']:.3f} of {follow['n']}",
              f"clarification rate {result['clarification_rate']:.3f} of all turns; asked on "
              f"{result['clarification_recall']:.3f} of the turns that needed it; "
              f"{result['unneeded_clarifications']} unneeded"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metaqa", type=Path, default=DATA, help="MetaQA folder (kb.txt.gz, 1-hop/)")
    parser.add_argument("--out", type=Path, default=OUT, help="the conversations file (written, or read with --kb)")
    parser.add_argument("--n", type=int, default=80, help="conversations to build")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kb", type=Path, help="run the conversations on this knowledge base instead of building")
    parser.add_argument("--limit", type=int, help="run the first N conversations")
    parser.add_argument("--embedder", default="minilm")
    parser.add_argument("--hops", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.kb is not None:
        conversations = [json.loads(line) for line in args.out.read_text(encoding="utf-8").splitlines() if line]
        result = run(args.kb, conversations[: args.limit], args.embedder, args.hops, not args.json)
        print(json.dumps(result, indent=1) if args.json else table(result))
        return 0
    if not (args.metaqa / "kb.txt.gz").exists():
        print(f"skipped: the MetaQA data is absent ({args.metaqa}; see ../shared/data/README.md)")
        return 0
    conversations = build(args.metaqa, args.n, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations), encoding="utf-8")
    kinds = defaultdict(int)
    for c in conversations:
        kinds[c["kind"]] += 1
    print(f"wrote {len(conversations)} conversations to {args.out}: {dict(sorted(kinds.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
