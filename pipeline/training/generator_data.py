"""Generator training data: (prompt, target) pairs from gold questions through the retriever."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from tqdm import tqdm

from model.checks import NO_ANSWER, fallback_sentence
from pipeline.api import KGQA
from pipeline.questions import Question


def generator_examples(qa: KGQA, questions: Sequence[Question], k: int, no_answer_share: float = 0.1,
                       progress: bool = True) -> list[tuple[str, str]]:
    """(prompt, target) pairs: the prompt the retriever builds, the rule sentence over the gold answers.

    The target names the gold answers found in the evidence, each cited by the evidence that
    ends in it (model.checks.fallback_sentence); a question whose evidence holds no gold answer
    is taught to say so, for at most ``no_answer_share`` of the examples.
    """
    examples: list[tuple[str, str]] = []
    empty: list[tuple[str, str]] = []
    for q in tqdm(questions, desc="prompts", disable=not progress, file=sys.stderr):
        r = qa.retrieve(q.text, k=k)
        gold = {g.lower() for g in q.gold}
        found = [(a.label, a.evidence) for a in r.answers
                 if a.evidence and (a.id.lower() in gold or a.label.lower() in gold)]
        (examples if found else empty).append((r.prompt, " " + (fallback_sentence(found) if found else NO_ANSWER)))
    keep = int(len(examples) * no_answer_share / (1 - no_answer_share))
    return examples + empty[:keep]
