"""Training the passage reader's span scorer (``model.reader``) on passage QA train questions.

For each question of the given HotpotQA / MuSiQue files that falls in the TRAIN part of the
project's hash split (``pipeline.questions.split_of``) and that the reader answers with a span
(not yes/no or either/or), kgqa retrieves its passages exactly as at question time and the
reader lists its candidate spans with their features; a candidate's gold weight is its token F1
with the best answer (SQuAD normalization) when that is at least ``MATCH``, else 0. The
held-out part is never trained on: it is only scored, for
the card, by the heuristic and the trained pick side by side.

    python -m pipeline.training.reader --kb /tmp/kgqa-bench/passages [--out model/adapters/reader]

Not done yet: synthetic questions generated from KB triples and descriptions (the card says so).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from kg.files import file_sha256
from model.reader import SHIPPED, SpanModel, fit, loss
from pipeline.api import KGQA
from pipeline.evaluation.passages import FORMATS, PassageQuestion, f1, load
from pipeline.questions import split_of
from retrieval.reader import FEATURES, SpanReader, kind_of, passage_texts, relevant

Group = tuple[np.ndarray, np.ndarray, PassageQuestion, list[str]]
MATCH = 0.5


def gold_weight(text: str, answers: Sequence[str]) -> float:
    score = f1(text, answers)
    return score if score >= MATCH else 0.0


def groups(qa: KGQA, reader: SpanReader, questions: Sequence[PassageQuestion], with_gold: bool = False,
           progress: bool = True) -> list[Group]:
    """Per span question: candidate rows, gold labels, the question, the candidates' texts.

    With ``with_gold``, a second group per question reads the retrieved passages with the
    supporting ones that retrieval missed put in place of the last others (what the reader
    sees when retrieval succeeds): more questions with a gold candidate to learn from.
    """
    out: list[Group] = []
    for q in tqdm(questions, desc="reader examples", unit=" questions", disable=not progress):
        texts = passage_texts(qa.retrieve(q.text, k=5).evidence)[: reader.config.passages]
        if kind_of(q.text) != "span" or not texts or not relevant(q.text, texts):
            continue
        for read in [texts, *([with_support(texts, q)] if with_gold else [])]:
            found = reader.candidates(q.text, read)
            if found and (read is texts or read != texts):  # the second read only when it differs
                rows = np.array([c.features for c in found])
                gold = np.array([gold_weight(c.text, q.answers) for c in found])
                out.append((rows, gold, q, [c.text for c in found]))
    return out


def with_support(texts: Sequence[tuple[int, str, str]], q: PassageQuestion) -> list[tuple[int, str, str]]:
    """``texts`` with each supporting paragraph not among them in place of the last non-supporting one."""
    gold = [(title, text) for title, text in q.support]
    out = list(texts)
    missing = [g for g in gold if not any(t == g[0] and x.strip() == g[1] for _, x, t in out)]
    for i in range(len(out) - 1, -1, -1):
        if not missing:
            break
        if not any(out[i][2] == t and out[i][1].strip() == x for t, x in gold):
            title, text = missing.pop(0)
            out[i] = (out[i][0], text, title)
    return out


def picked_f1(scores: Sequence[np.ndarray], data: Sequence[Group]) -> float:
    """Mean answer F1 of the best-scored candidate per question."""
    values = [f1(texts[int(np.argmax(s))], q.answers) for s, (_, _, q, texts) in zip(scores, data)]
    return round(float(np.mean(values)), 3) if values else 0.0


def report(model: SpanModel, data: Sequence[Group]) -> dict[str, Any]:
    """Heuristic vs trained pick on ``data``: F1, share with a gold candidate, listwise loss."""
    heuristic = [x[:, FEATURES.index("heuristic")] for x, _, _, _ in data]
    return {"questions": len(data), "with_gold_candidate": int(sum(1 for _, y, _, _ in data if y.any())),
            "f1_heuristic": picked_f1(heuristic, data),
            "f1_trained": picked_f1([model.score(x) for x, *_ in data], data),
            "loss": loss(model, [(x, y) for x, y, _, _ in data])}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=Path, required=True, help="a KB indexed from the questions' corpora")
    parser.add_argument("--questions", type=Path, nargs="+", default=None)
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--l2", type=float, default=1.0)
    args = parser.parse_args(argv)
    data = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "passages"
    files = args.questions or [data / "hotpotqa-train100" / "hotpotqa_train.json",
                               data / "musique-train100" / "musique_train.json"]
    questions = [q for path in files for q in load(path, next((f for f in FORMATS if f in path.name), "hotpotqa"))]
    with KGQA.open(args.kb, read_only=True, progress=False, generator="off") as qa:
        reader = qa.retriever().reader
        if not isinstance(reader, SpanReader):
            raise SystemExit(f"{args.kb} has no passages to read")
        train = groups(qa, reader, [q for q in questions if split_of(q.text) == "train"], with_gold=True)
        held = groups(qa, reader, [q for q in questions if split_of(q.text) == "heldout"])
    model = fit([(x, y) for x, y, _, _ in train], FEATURES, l2=args.l2)
    card = {"model": "linear span scorer (listwise softmax), model/reader.py", "features": list(FEATURES),
            "data": [{"file": p.name, "sha256": file_sha256(p)} for p in files],
            "split": "pipeline.questions.split_of: trained on 'train' (each question read twice: as retrieved, and "
                     "with the supporting paragraphs retrieval missed put in), scored on 'heldout' only (as retrieved)",
            "labels": f"token F1 with the best answer when >= {MATCH}, else 0",
            "command": "python -m pipeline.training.reader --kb <KB indexed from both corpora>"
                       f" --l2 {args.l2}",
            "train": report(model, train), "heldout": report(model, held),
            "notes": "no synthetic questions from KB triples or descriptions yet; default reader stays the "
                     "heuristic unless the trained pick is better on the held-out part"}
    model.save(args.out, card)
    print({"train": card["train"], "heldout": card["heldout"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
