"""The served knowledge base: one ``KGQA`` shared by every request, and the state the server keeps.

``ServedKGQA`` is the facade with three changes a server needs:

- every call that touches the KB's SQLite catalog (opening, building the retriever, indexing,
  removing, listing sources, counting) runs on one *writer thread*, because the catalog's
  connection belongs to the thread that opened it. Questions run on any thread with the
  retriever built last; indexing builds the next retriever on the writer thread and swaps it
  in when done, so reads go on while a source is indexed;
- a *turn* (``with qa.turn(sink, generate):``) set on the current thread streams the text
  pieces of the answer being produced to ``sink`` and overrides whether to generate; this
  reaches into sessions too (``Session`` calls ``KGQA.answer``). A sink that raises
  ``Cancelled`` stops the generation at the next piece;
- ``snapshot`` holds the last stats and sources, refreshed after each change, so that reading
  them never waits for an index run.

``Sessions`` keeps conversations by id, persisted in the KB's session store (so they survive a
restart) with the most recently used held in memory, and ``Jobs`` the index, remove and learning
runs with their state. Left out: progress inside one index run (the indexer reports only when it
is done).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kg.catalog import SourceRecord
from kg.errors import KGQAError
from kg.ingest import IndexReport
from kg.readers import ReaderOptions
from pipeline import KGQA, Answer, Request, Session
from pipeline.dialogue.store import ID
from pipeline.types import pieces
from retrieval.retriever import HybridRetriever

if TYPE_CHECKING:
    import rdflib

T = TypeVar("T")
Sink = Callable[[str], None]


class Cancelled(KGQAError):
    """The client of a streamed answer went away, or its time ran out."""


@dataclass(frozen=True)
class Turn:
    sink: Sink | None = None
    generate: bool | None = None


@dataclass(frozen=True)
class Snapshot:
    """What the knowledge base holds, as of the last change."""

    stats: dict[str, object]
    sources: tuple[SourceRecord, ...]


class ServedKGQA(KGQA):
    """``KGQA`` for many threads at once (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer: ThreadPoolExecutor | None = None  # until ``bind``: the opening thread does all
        self._writer_ident = threading.get_ident()
        self._current: HybridRetriever | None = None
        self._local = threading.local()
        self.snapshot = Snapshot({}, ())

    def bind(self, writer: ThreadPoolExecutor, writer_ident: int) -> None:
        """Make ``writer`` (whose thread is ``writer_ident`` and opened this KB) the writer thread."""
        self._writer, self._writer_ident = writer, writer_ident

    def on_writer(self, work: Callable[[], T]) -> T:
        """Run ``work`` on the writer thread (at once when already there) and return its result."""
        if self._writer is None or threading.get_ident() == self._writer_ident:
            return work()
        return self._writer.submit(work).result()

    def retriever(self) -> HybridRetriever:
        current = self._current
        if current is None:
            current = self._current = self.on_writer(lambda: KGQA.retriever(self))
        return current

    def refresh(self) -> Snapshot:
        """Rebuild the retriever for the store as it is now and re-read the stats (writer thread)."""
        def work() -> Snapshot:
            fresh = KGQA.retriever(self)
            self.snapshot = Snapshot(KGQA.stats(self), tuple(KGQA.sources(self)))
            self._current = fresh
            return self.snapshot
        return self.on_writer(work)

    def index(self, source: str | Path | rdflib.Graph, fmt: str | None = None,
              options: ReaderOptions = ReaderOptions(), name: str = "graph") -> IndexReport:
        def work() -> IndexReport:
            try:
                return KGQA.index(self, source, fmt, options, name)
            finally:
                self.refresh()
        return self.on_writer(work)

    def remove(self, path: str | Path) -> IndexReport:
        def work() -> IndexReport:
            try:
                return KGQA.remove(self, path)
            finally:
                self.refresh()
        return self.on_writer(work)

    def sources(self) -> list[SourceRecord]:
        return list(self.snapshot.sources)

    def stats(self) -> dict[str, object]:
        return dict(self.snapshot.stats)

    def shutdown(self) -> None:
        """Close the knowledge base on its writer thread and stop that thread."""
        self.on_writer(self.close)
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    @contextlib.contextmanager
    def turn(self, sink: Sink | None = None, generate: bool | None = None) -> Iterator[None]:
        """Stream the answers produced on this thread to ``sink``; ``generate`` overrides the default."""
        self._local.turn = Turn(sink, generate)
        try:
            yield
        finally:
            self._local.turn = None

    def _generated_piece(self, piece: str) -> None:
        """While generating, ask the turn's sink whether to go on: an empty piece only checks, and the
        sink raises ``Cancelled`` past the deadline or when the client is gone (generation stops)."""
        turn: Turn | None = getattr(self._local, "turn", None)
        if turn is not None and turn.sink is not None:
            turn.sink("")

    def answer(self, request: Request, generate: bool | None = None) -> Answer:
        turn: Turn | None = getattr(self._local, "turn", None)
        if turn is None:
            return super().answer(request, generate)
        chosen = generate if turn.generate is None else turn.generate
        final = super().answer(request, chosen)
        if turn.sink is not None:  # the checked text, piece by piece (never a draft that is then replaced)
            for piece in pieces(final.text):
                turn.sink(piece)
        return final


def open_served(directory: str | Path, **options: Any) -> ServedKGQA:
    """Open ``directory`` on a new writer thread and build the retriever there (models load now)."""
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgqa-writer")
    ident: Future[int] = writer.submit(threading.get_ident)

    def work() -> ServedKGQA:
        qa = ServedKGQA.open(directory, **options)
        if not isinstance(qa, ServedKGQA):  # KGQA.open is typed to return the base class
            raise TypeError("KGQA.open did not build the subclass")
        qa.bind(writer, ident.result())
        return qa
    qa = writer.submit(work).result()
    qa.refresh()
    return qa


class UnknownSession(KGQAError):
    """No session has that id (it never existed or was deleted)."""


class Sessions:
    """Conversations by id: every turn is persisted through the KB's session store (``KGQA.session``),
    so a restarted server resumes them; at most ``capacity`` stay in memory (the least recently used
    is dropped from memory only, and read back from the store on its next turn)."""

    def __init__(self, qa: KGQA, capacity: int = 1000) -> None:
        self.qa = qa
        self.capacity = capacity
        self.store = qa.session_store()
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def create(self) -> Session:
        session = self.qa.session(store=self.store)
        self.store.put(session.id, session.to_data())  # an empty conversation exists too, before its first turn
        with self._lock:
            self._keep(session)
        return session

    def get(self, session_id: str) -> Session:
        with self._lock:
            session = self._items.get(session_id)
            if session is not None:
                self._items.move_to_end(session_id)
                return session
        if not ID.fullmatch(session_id) or self.store.get(session_id) is None:
            raise UnknownSession(f"no session {session_id!r}")
        session = self.qa.session(session_id, self.store)
        with self._lock:
            return self._keep(self._items.get(session_id) or session)

    def delete(self, session_id: str) -> None:
        with self._lock:
            held = self._items.pop(session_id, None) is not None
        if not (ID.fullmatch(session_id) and self.store.delete(session_id)) and not held:
            raise UnknownSession(f"no session {session_id!r}")

    def _keep(self, session: Session) -> Session:
        self._items[session.id] = session
        self._items.move_to_end(session.id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return session

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class Job:
    """One index or remove run on the server's disk."""

    id: str
    action: str  # index | remove | learn
    path: str
    state: str = "queued"  # queued | running | done | failed
    queued: float = 0.0
    started: float | None = None
    finished: float | None = None
    report: dict[str, Any] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        end = self.finished or time.time()
        data["elapsed"] = round(end - self.started, 3) if self.started else 0.0
        return data


class Jobs:
    """Index, remove and learning runs, one at a time, with their state readable meanwhile.

    Index and remove go through the writer thread (the KB's single-writer lock is the server's);
    a learning run (``pipeline.training.learning``) takes its own lock and refreshes the retriever when it
    promotes a new path scorer.
    """

    def __init__(self, qa: ServedKGQA, keep: int = 100) -> None:
        self.qa = qa
        self.keep = keep
        self._items: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kgqa-jobs")

    def submit(self, action: str, path: str, fmt: str | None = None) -> Job:
        job = Job(uuid.uuid4().hex, action, path, queued=time.time())
        self._put(job)
        self._runner.submit(self._run, job, fmt)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._items.get(job_id)

    def all(self) -> list[Job]:
        with self._lock:
            return list(self._items.values())

    def _put(self, job: Job) -> None:
        with self._lock:
            self._items[job.id] = job
            while len(self._items) > self.keep:
                self._items.popitem(last=False)

    def _run(self, job: Job, fmt: str | None) -> None:
        job = dataclasses.replace(job, state="running", started=time.time())
        self._put(job)
        try:
            self._put(dataclasses.replace(job, state="done", finished=time.time(), report=self._work(job, fmt)))
        except (KGQAError, OSError, ValueError) as exc:
            self._put(dataclasses.replace(job, state="failed", finished=time.time(), error=str(exc)))

    def _work(self, job: Job, fmt: str | None) -> dict[str, Any]:
        if job.action == "index":
            return self.qa.index(job.path, fmt).to_dict()
        if job.action == "remove":
            return self.qa.remove(job.path).to_dict()
        from pipeline.training.learning import learn  # torch and the trainer load only for a learning run

        report = learn(self.qa.kb.directory, embedder=self.qa.embedder_name, progress=False)
        if report.promoted:
            self.qa.refresh()  # the retriever picks up the promoted path scorer
        return report.to_dict()

    def wait(self, timeout: float = 30.0) -> None:
        """Block until every submitted job has finished (for tests and shutdown)."""
        self._runner.submit(lambda: None).result(timeout)

    def close(self) -> None:
        self._runner.shutdown(wait=True, cancel_futures=True)
