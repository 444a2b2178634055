"""Intent recognition: what a chat message is before anything is asked of the knowledge base.

``recognize`` returns one of ``INTENTS``. Rules decide only where they are clearer than a model:
a message that is nothing but a greeting, a thank-you or a goodbye ("hi", "thanks!", "再见"),
a correction ("no, I meant the 1955 one"), and feedback in words ("that's wrong, it was X").
Everything else goes to a k-nearest-neighbour classifier over sentence embeddings of the
shipped examples (``intent_examples.txt``, English and Chinese), fitted at first use with
whatever embedder the knowledge base uses (MiniLM, e5, or the hashing embedder in tests).

A question the classifier files under ``question`` is reported as ``follow-up`` when it holds a
reference to the conversation (a pronoun, "what about", a position, "else"); ``clarification``
is only possible while the session waits for the reply to one (``pending``), and otherwise reads
as a follow-up ("the second one"). Left out: slot filling (the session's follow-up rules and the
linker do that) and any learning from the conversation.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.base import Embedder
from pipeline.dialogue.followup import CORRECTION, ELSE, POSITION, PRONOUN, WHAT_ABOUT, is_question

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).with_name("intent_examples.txt")
INTENTS = ("question", "follow-up", "clarification", "correction", "feedback", "greeting", "thanks", "help",
           "chit-chat", "off-topic", "goodbye")
ASKING = frozenset({"question", "follow-up"})  # the intents answered from the knowledge base
K = 5

_END = r"[\s!.,?~！。，？～:)]*"
_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|heya|howdy|yo|greetings|morning|evening)"
    r"(?:\s+(?:there|again|all|everyone|bot|friend|assistant|you))?|good\s+(?:morning|afternoon|evening|day)|"
    rf"你好|您好|嗨|哈喽|大家好|早上好|下午好|晚上好|早安){_END}$", re.I)
_THANKS = re.compile(
    r"^(?:(?:ok(?:ay)?|great|awesome|perfect|nice|cool)[\s,!]+)?"
    r"(?:thanks|thank\s+(?:you|u)|thx|ty|cheers|many\s+thanks|much\s+appreciated|谢谢|多谢|感谢|太感谢了|谢啦)"
    r"(?:\s+(?:so\s+much|a\s+lot|a\s+bunch|a\s+ton|very\s+much|again|mate|kindly|you|for\s+the\s+help))*"
    rf"{_END}(?:你|了)?{_END}$", re.I)
_GOODBYE = re.compile(
    r"^(?:(?:ok(?:ay)?|that'?s\s+all|i'?m\s+done|i\s+have\s+to\s+go)[\s,!]+)?"
    r"(?:bye(?:\s+bye|\s+for\s+now)?|goodbye|good\s+bye|see\s+(?:you|ya)(?:\s+(?:later|soon|tomorrow))?|cya|"
    rf"farewell|so\s+long|good\s+night|night\s+night|adios|再见|拜拜|拜拜啦|回头见|明天见|下次见|晚安){_END}$", re.I)
_FEEDBACK = re.compile(
    r"^(?:(?:that|this|it)(?:'s|\s+is|\s+was)\s+(?:not\s+)?(?:wrong|incorrect|right|correct|true|the\s+(?:right|wrong))|"
    r"(?:that|the|this)\s+answer\s+is\s+(?:wrong|right|correct|incorrect)|(?:wrong|bad|good|great|correct)\s+answer|"
    r"you(?:'re|\s+are)\s+(?:right|wrong)|you\s+got\s+it\s+(?:wrong|right)|(?:in)?correct!*$|wrong[,!.]|"
    r"the\s+(?:right\s+)?answer\s+(?:is|was|should\s+be)\s|答案(?:错|不对|是对的|正确)|回答(?:正确|错)|这个(?:答案|回答)(?:不对|错))",
    re.I)


@dataclass(frozen=True)
class Intent:
    """What a message is: one of ``INTENTS``, how sure (a share of the neighbours' votes), and by what."""

    name: str
    score: float
    source: str  # rule | knn | context

    @property
    def asks(self) -> bool:
        """Whether the message is answered from the knowledge base."""
        return self.name in ASKING


def load_examples(path: Path = EXAMPLES) -> list[tuple[str, str]]:
    """(utterance, intent) pairs from a ``intent<TAB>utterance`` file (``#`` lines are comments)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            intent, _, text = line.partition("\t")
            if intent not in INTENTS:
                raise ValueError(f"{path}: unknown intent {intent!r}")
            rows.append((text.strip(), intent))
    return rows


class IntentClassifier:
    """k-nearest neighbours (cosine, vote weighted by similarity) over embedded examples."""

    def __init__(self, labels: Sequence[str], vectors: np.ndarray, embedder: Embedder, k: int = K) -> None:
        self.labels = list(labels)
        self.vectors = vectors
        self.embedder = embedder
        self.k = k

    @classmethod
    def fit(cls, examples: Sequence[tuple[str, str]], embedder: Embedder, k: int = K) -> IntentClassifier:
        """Embed ``examples`` ((utterance, intent) pairs) with ``embedder``."""
        vectors = np.asarray(embedder.query([_plain(t) for t, _ in examples]), dtype=np.float32)
        log.info("intent classifier: %d examples, k=%d", len(examples), k)
        return cls([i for _, i in examples], vectors, embedder, k)

    def predict(self, text: str) -> Intent:
        """The classifier's intent for ``text`` (no rules)."""
        query = np.asarray(self.embedder.query([_plain(text)]), dtype=np.float32)[0]
        similarity = self.vectors @ query
        top = np.argsort(-similarity)[: self.k]
        votes: dict[str, float] = {}
        for i in top:
            votes[self.labels[int(i)]] = votes.get(self.labels[int(i)], 0.0) + max(float(similarity[int(i)]), 1e-6)
        name = max(votes, key=lambda n: votes[n])
        return Intent(name, round(votes[name] / sum(votes.values()), 4), "knn")

    def recognize(self, text: str, pending: bool = False) -> Intent:
        """The intent of one message; ``pending``: a clarification waits for its reply."""
        return recognize(text, self, pending)


def rule(text: str) -> Intent | None:
    """The intent the rules are sure of, or None."""
    plain = " ".join(text.split())
    for name, pattern in (("greeting", _GREETING), ("thanks", _THANKS), ("goodbye", _GOODBYE)):
        if pattern.match(plain):
            return Intent(name, 1.0, "rule")
    if CORRECTION.match(plain) and not _FEEDBACK.search(plain):
        return Intent("correction", 1.0, "rule")
    if _FEEDBACK.search(plain):
        return Intent("feedback", 1.0, "rule")
    return None


def recognize(text: str, classifier: IntentClassifier, pending: bool = False) -> Intent:
    """Rules first, then the classifier, then the conversation's context (see the module docstring)."""
    found = rule(text) or classifier.predict(text)
    if pending and found.name in ASKING and not is_question(text):
        return Intent("clarification", found.score, "context")  # "the city": a reply, not a question
    if found.name == "clarification" and not pending:
        return Intent("follow-up", found.score, "context")
    if found.name in ASKING:
        name = "follow-up" if referring(text) else "question"
        return Intent(name, found.score, found.source if name == found.name else "context")
    return found


def referring(text: str) -> bool:
    """Whether a question refers to the conversation (pronoun, "what about", position, "else", zh 那/它/他/她)."""
    if any(p.search(text) for p in (WHAT_ABOUT, PRONOUN, POSITION, ELSE)):
        return True
    return bool(re.match(r"^(?:and|so)\b", text.strip(), re.I) or re.search(r"^那|[它他她]|第[一二三四五]", text))


def _plain(text: str) -> str:
    return " ".join(text.lower().split())
