"""Intent recognition: what a chat message is before anything is asked of the knowledge base.

``recognize`` returns one of ``INTENTS``. Rules decide only where they are clearer than a model:
a message that is nothing but a greeting, a thank-you or a goodbye ("hi", "thanks!", "再见"),
a correction ("no, I meant the 1955 one"), and feedback in words ("that's wrong, it was X").
Everything else goes to a multinomial logistic regression over the frozen sentence embeddings of
the shipped examples (``intent_examples.txt``, English and Chinese), trained at first use (well
under a second on the ~800 examples, so no weights are shipped) with whatever embedder the
knowledge base uses (e5, MiniLM, or the hashing embedder in tests). It replaced a k-nearest-
neighbour vote, which let a few near-duplicate examples of one intent outvote the rest: the
linear model weighs every example of every intent.

A question the classifier files under ``question`` is reported as ``follow-up`` when it holds a
reference to the conversation (a pronoun, "what about", a position, "else"); ``clarification``
is only possible while the session waits for the reply to one (``pending``), and otherwise reads
as a follow-up ("the second one"). Left out: slot filling (the session's follow-up rules and the
linker do that) and any learning from the conversation.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kg.files import write_atomic
from model.base import Embedder
from pipeline.dialogue.followup import CORRECTION, ELSE, POSITION, PRONOUN, WHAT_ABOUT, is_question

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).with_name("intent_examples.txt")
INTENTS = ("question", "follow-up", "clarification", "correction", "feedback", "greeting", "thanks", "help",
           "chit-chat", "off-topic", "goodbye")
ASKING = frozenset({"question", "follow-up"})  # the intents answered from the knowledge base
L2, STEPS = 1e-3, 600  # chosen by 5-fold cross-validation on the examples alone (bench/intents.py --cv)

_END = r"[\s!.,?~！。，？～:)]*"
_GREETING = re.compile(
    r"^(?:(?:hi|hello|hey|hiya|heya|howdy|yo|greetings|morning|evening)"
    r"(?:\s+(?:there|again|all|everyone|bot|friend|assistant|you))?|good\s+(?:morning|afternoon|evening|day)|"
    r"(?:你好|您好|你们好|嗨|哈喽|哈罗|大家好|早上好|下午好|晚上好|早安)+(?:呀|啊|哇)?)"
    rf"(?:[\s,!]+how\s+are\s+you(?:\s+doing)?(?:\s+today)?|[，,！!\s]*你好吗)?{_END}$", re.I)
_THANKS = re.compile(
    r"^(?:(?:ok(?:ay)?|great|awesome|perfect|nice|cool|好的|好|嗯)[\s,!，！]*)?"
    r"(?:thanks|thank\s+(?:you|u)|thx|ty|cheers|many\s+thanks|much\s+appreciated|(?:much\s+)?obliged|"
    r"appreciate\s+it|谢谢|多谢|感谢|太感谢了|谢啦)"
    r"(?:\s+(?:so\s+much|a\s+lot|a\s+bunch|a\s+ton|very\s+much|again|mate|kindly|you|for\s+the\s+help))*"
    rf"{_END}(?:你|了)?{_END}$", re.I)
_GOODBYE = re.compile(
    r"^(?:(?:ok(?:ay)?|that'?s\s+all|i'?m\s+done|i\s+have\s+to\s+go|好的|那就这样|就这样|我走了)[\s,!，！]*)?"
    r"(?:bye(?:\s+bye|\s+for\s+now)?|goodbye|good\s+bye|see\s+(?:you|ya)(?:\s+(?:later|soon|tomorrow))?|cya|"
    r"farewell|so\s+long|good\s+night|night\s+night|adios|"
    rf"(?:再见|拜拜|回头见|明天见|下次见|晚安)(?:啦|了|咯)?){_END}$", re.I)
_FEEDBACK = re.compile(
    r"^(?:(?:that|this|it)(?:'s|\s+is|\s+was)\s+(?:not\s+)?(?:wrong|incorrect|right|correct|true|the\s+(?:right|wrong))|"
    r"(?:that|the|this)\s+answer\s+is\s+(?:wrong|right|correct|incorrect)|(?:wrong|bad|good|great|correct)\s+answer|"
    r"you(?:'re|\s+are)\s+(?:right|wrong)|you\s+got\s+it\s+(?:wrong|right)|(?:in)?correct!*$|wrong[,!.]|"
    r"the\s+(?:right\s+)?answer\s+(?:is|was|should\s+be)\s|答案(?:错|不对|是对的|正确)|回答(?:正确|错)|这个(?:答案|回答)(?:不对|错))",
    re.I)


_MEANT = re.compile(r"\bi\s+(?:meant|mean|was\s+(?:asking|talking)\s+about)\b|我(?:说|问|指)的(?:是|不是)", re.I)
_STATED = re.compile(r"^(?:it\s+(?:was|is)|it'?s|that\s+was|the\s+(?:right\s+|correct\s+)?answer\s+(?:is|was))\s", re.I)


@dataclass(frozen=True)
class Intent:
    """What a message is: one of ``INTENTS``, how sure (the model's probability), and by what."""

    name: str
    score: float
    source: str  # rule | model | context

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
    """Softmax regression (L2-regularised) on the embeddings of the examples."""

    def __init__(self, names: Sequence[str], weights: np.ndarray, scaling: tuple[np.ndarray, np.ndarray],
                 embedder: Embedder) -> None:
        self.names = list(names)
        self.weights = weights  # (dimension + 1, intents): the last row is the bias
        self.scaling = scaling  # the examples' mean and spread per dimension
        self.embedder = embedder

    @classmethod
    def fit(cls, examples: Sequence[tuple[str, str]], embedder: Embedder, l2: float = L2,
            steps: int = STEPS, cache: Path | None = None) -> IntentClassifier:
        """Embed ``examples`` ((utterance, intent) pairs) with ``embedder`` and train on them.

        With ``cache`` (a directory) the trained classifier is kept there under a hash of the
        examples, the embedder and the settings, so that the next chat starts without embedding
        the examples again (about 40 s with e5 on a busy CPU).
        """
        key = hashlib.sha256(json.dumps([embedder.name, l2, steps, list(examples)]).encode()).hexdigest()[:16]
        path = cache / f"intents-{key}.npz" if cache is not None else None
        if path is not None and path.exists():
            try:
                with np.load(path) as saved:
                    return cls(list(saved["names"]), saved["weights"], (saved["mean"], saved["spread"]), embedder)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
                log.warning("intent classifier cache %s unreadable (%s): training again", path, exc)
        made = cls._train(examples, embedder, l2, steps)
        if path is not None:
            buffer = io.BytesIO()
            np.savez(buffer, names=np.asarray(made.names), weights=made.weights, mean=made.scaling[0],
                     spread=made.scaling[1])
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(path, buffer.getvalue())
            except OSError as exc:  # a read-only knowledge base: train again next time
                log.info("intent classifier not cached in %s: %s", path, exc)
        return made

    @classmethod
    def _train(cls, examples: Sequence[tuple[str, str]], embedder: Embedder, l2: float, steps: int) -> IntentClassifier:
        names = sorted({i for _, i in examples})
        vectors = np.asarray(embedder.query([plain(t) for t, _ in examples]), dtype=np.float64)
        scaling = standardizer(vectors)
        y = np.asarray([names.index(i) for _, i in examples])
        weights = train_softmax(features(vectors, scaling), y, len(names), l2, steps)
        log.info("intent classifier: %d examples, %d intents", len(examples), len(names))
        return cls(names, weights, scaling, embedder)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """One row of intent probabilities (in ``names`` order) per text."""
        vectors = np.asarray(self.embedder.query([plain(t) for t in texts]), dtype=np.float64)
        return _softmax(features(vectors, self.scaling) @ self.weights)

    def predict(self, text: str) -> Intent:
        """The classifier's intent for ``text`` (no rules)."""
        p = self.probabilities([text])[0]
        best = int(np.argmax(p))
        return Intent(self.names[best], round(float(p[best]), 4), "model")

    def recognize(self, text: str, pending: bool = False) -> Intent:
        """The intent of one message; ``pending``: a clarification waits for its reply."""
        return recognize(text, self, pending)


def train_softmax(x: np.ndarray, y: np.ndarray, classes: int, l2: float = L2, steps: int = STEPS) -> np.ndarray:
    """Weights minimising mean cross-entropy + ``l2``/2 |W|^2, by Adam on the full batch (deterministic).

    Classes are weighted inversely to their frequency so that a large intent (questions) does
    not swallow a small one (thanks).
    """
    onehot = np.eye(classes)[y]
    weight = (len(y) / (classes * onehot.sum(axis=0)))[y][:, None] / len(y)
    w = np.zeros((x.shape[1], classes))
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step in range(1, steps + 1):
        grad = x.T @ ((_softmax(x @ w) - onehot) * weight) + l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def standardizer(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread per dimension: sentence embeddings (e5 above all) crowd into a narrow cone,
    so raw they leave a linear model little to separate."""
    return vectors.mean(axis=0), vectors.std(axis=0) + 1e-6


def features(vectors: np.ndarray, scaling: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Standardised vectors with a constant column for the bias."""
    return np.hstack([(vectors - scaling[0]) / scaling[1], np.ones((len(vectors), 1))])


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def rule(text: str) -> Intent | None:
    """The intent the rules are sure of, or None."""
    plain = " ".join(text.split())
    for name, pattern in (("greeting", _GREETING), ("thanks", _THANKS), ("goodbye", _GOODBYE)):
        if pattern.match(plain):
            return Intent(name, 1.0, "rule")
    if _MEANT.search(plain):  # "that's the wrong one, I meant the original": what was meant, not a verdict
        return Intent("correction", 1.0, "rule")
    corrected = CORRECTION.match(plain)
    rest = (corrected["a"] or corrected["b"] or "") if corrected else ""
    verdict = _FEEDBACK.search(plain) or (corrected and (_FEEDBACK.search(rest) or _STATED.match(rest)))
    if verdict:  # "nope, that answer is wrong", "no, it was 1964"
        return Intent("feedback", 1.0, "rule")
    if corrected:
        return Intent("correction", 1.0, "rule")
    return None


_CHOICE = re.compile(r"^(?:(?:(?:the|option|number|no\.?|choice|#)\s*)?(?:\d{1,2}|first|second|third|fourth|fifth|last|"
                     r"one|two|three|four|five|1st|2nd|3rd|4th|5th)(?:\s+(?:one|option))?(?:\s+please)?|"
                     rf"(?:选|要)?第?[一二三四五六七八九十\d]+个?(?:吧|呢|啊)?){_END}$", re.I)


_PICKED = re.compile(r"^(?:the|that|this|those|a|an|one|just)\s|^(?:这|那|就是|要|选|第)|\d", re.I)


def recognize(text: str, classifier: IntentClassifier, pending: bool = False) -> Intent:
    """Rules first, then the classifier, then the conversation's context (see the module docstring).

    While a clarification waits, a bare choice ("the second", "option 2", "第二个吧") is its reply, and
    so is a description the rules do not claim that starts like one ("the later version", "那个城市").
    """
    if pending and _CHOICE.match(" ".join(text.split())):
        return Intent("clarification", 1.0, "rule")
    found = rule(text) or classifier.predict(text)
    if pending and found.source == "model" and not is_question(text) and _PICKED.match(text.strip()):
        return Intent("clarification", found.score, "context")  # "the later version": a description of one option
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


def plain(text: str) -> str:
    """Lower case, single spaces: what is embedded, for examples and messages alike."""
    return " ".join(text.lower().split())
