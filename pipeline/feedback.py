"""The feedback store: every answer given, and what users said about it, in one SQLite file.

``KGQA`` records each ``Answer`` (its JSON, the session and turn it belongs to) as it is given,
so that feedback can refer to it by id later, from another process too. Feedback rows hold a
correct/incorrect flag, a corrected answer and free text. ``examples`` joins the two into what
the continual-learning step trains on: the question, the topic mentions the system linked, the
answers it gave and the correction.

The file lives in the knowledge base directory (``feedback.sqlite``). One connection is shared
by the threads of a process behind a lock; other processes wait on SQLite's own lock (a busy
timeout). Left out: deleting or editing feedback, and any training (see the learning step).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kg.errors import KGQAError
from pipeline.types import Answer

FEEDBACK_FILE = "feedback.sqlite"
SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY, time REAL NOT NULL, question TEXT NOT NULL, answer TEXT NOT NULL,
    session TEXT, turn INTEGER);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, answer_id TEXT NOT NULL REFERENCES answers(id),
    correct INTEGER NOT NULL, corrected TEXT, text TEXT, time REAL NOT NULL);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
"""


class UnknownAnswer(KGQAError):
    """No answer with that id was recorded in this knowledge base."""


@dataclass(frozen=True)
class Feedback:
    """One piece of feedback on a recorded answer."""

    answer_id: str
    correct: bool
    corrected: str | None
    text: str | None
    time: float


@dataclass(frozen=True)
class Example:
    """A training example from feedback: what was asked, answered and said about it.

    ``question`` is the question retrieval saw (follow-ups resolved); ``topics`` the linked
    entities as (mention, entity id, label); ``given`` the answer labels, best first.
    """

    answer_id: str
    question: str
    topics: tuple[tuple[str, str, str], ...]
    relation_path: str | None
    given: tuple[str, ...]
    text: str
    correct: bool
    corrected: str | None
    comment: str | None
    session: str | None
    turn: int | None


class FeedbackStore:
    """Answers and feedback in ``feedback.sqlite`` of a knowledge base directory."""

    def __init__(self, path: Path, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._lock = threading.Lock()

    @classmethod
    def open_file(cls, path: str | Path) -> FeedbackStore:
        """Open (or create) the store in the SQLite file ``path``.

        Raises:
            KGQAError: the file cannot be created or is not a feedback store.
        """
        try:
            db = sqlite3.connect(path, timeout=10, check_same_thread=False)
            with db:
                db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise KGQAError(f"cannot open the feedback store {path}: {exc}; it keeps the answers and feedback "
                            "given (not rebuildable): move it aside to start a new one") from None
        return cls(Path(path), db)

    @classmethod
    def open(cls, directory: str | Path) -> FeedbackStore:
        """The store of the knowledge base in ``directory`` (created when missing)."""
        return cls.open_file(Path(directory) / FEEDBACK_FILE)

    def record(self, answer: Answer, session: str | None = None, turn: int | None = None) -> None:
        """Keep ``answer`` so that feedback can refer to it (recording it again replaces it)."""
        with self._lock, self._db:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?)",
                             (answer.id, time.time(), answer.question, answer.to_json(), session, turn))

    def answer(self, answer_id: str) -> Answer:
        """The recorded answer with this id.

        Raises:
            UnknownAnswer: nothing was recorded under ``answer_id``.
        """
        with self._lock:
            row = self._db.execute("SELECT answer FROM answers WHERE id = ?", (answer_id,)).fetchone()
        if row is None:
            raise UnknownAnswer(f"no answer with id {answer_id!r} was recorded in {self.path}")
        return Answer.from_dict(json.loads(row[0]))

    def add(self, answer_id: str, correct: bool, corrected: str | None = None, text: str | None = None) -> Feedback:
        """Store feedback on a recorded answer.

        Raises:
            UnknownAnswer: nothing was recorded under ``answer_id``.
        """
        now = time.time()
        with self._lock, self._db:
            if self._db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
                raise UnknownAnswer(f"no answer with id {answer_id!r} was recorded in {self.path}")
            self._db.execute("INSERT INTO feedback (answer_id, correct, corrected, text, time) VALUES (?, ?, ?, ?, ?)",
                             (answer_id, int(correct), corrected, text, now))
        return Feedback(answer_id, correct, corrected, text, now)

    def feedback(self, answer_id: str | None = None) -> list[Feedback]:
        """All feedback (or that on one answer), oldest first."""
        query = "SELECT answer_id, correct, corrected, text, time FROM feedback"
        args: tuple[str, ...] = ()
        if answer_id is not None:
            query, args = query + " WHERE answer_id = ?", (answer_id,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY id", args).fetchall()
        return [Feedback(a, bool(c), k, t, w) for a, c, k, t, w in rows]

    def examples(self) -> list[Example]:
        """Every piece of feedback joined with its answer and turn, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT a.answer, a.session, a.turn, f.correct, f.corrected, f.text FROM feedback f "
                "JOIN answers a ON a.id = f.answer_id ORDER BY f.id").fetchall()
        return [_example(Answer.from_dict(json.loads(data)), session, turn, bool(correct), corrected, comment)
                for data, session, turn, correct, corrected, comment in rows]

    def count(self) -> tuple[int, int]:
        """(answers recorded, pieces of feedback)."""
        with self._lock:
            answers = self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            feedback = self._db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
        return int(answers), int(feedback)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def _example(answer: Answer, session: str | None, turn: int | None, correct: bool, corrected: str | None,
             comment: str | None) -> Example:
    topics = tuple((m.text, m.id, m.label) for m in answer.mentions)
    path = answer.relation_path.path if answer.relation_path else None
    return Example(answer.id, answer.resolved or answer.question, topics, path,
                   tuple(a.label for a in answer.answers), answer.text, correct, corrected, comment, session, turn)
