"""Blocking work off the event loop, with a deadline, and answers streamed as Server-Sent Events.

``run_blocking`` runs a function on the thread pool and gives up after the request timeout
(504; the thread finishes its current step, it cannot be killed); ``run_cancellable`` also
stops the generation of an answer at the deadline. ``answer_events`` runs
one answering function on a worker thread with a sink that forwards text pieces to the event
loop; when the client goes away or the deadline passes, the sink raises ``Cancelled`` at the
next piece, so generation stops and the turn is not kept.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any, TypeVar

from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool

from kg.errors import KGQAError
from pipeline import Answer
from pipeline.serve.engine import Cancelled, Sink

log = logging.getLogger(__name__)
T = TypeVar("T")
Event = tuple[str, Any]  # ("piece", str) | ("answer", Answer) | ("error", str)


async def run_blocking(work: Callable[[], T], timeout: float) -> T:
    try:
        return await asyncio.wait_for(run_in_threadpool(work), timeout)
    except TimeoutError:
        raise HTTPException(504, f"the request took longer than {timeout:g}s") from None


async def run_cancellable(work: Callable[[Sink], T], timeout: float) -> T:
    """``run_blocking`` for answering: past the deadline (or when the request is cancelled) the
    sink given to ``work`` raises ``Cancelled`` at the next generated piece, so generation stops."""
    stop = threading.Event()

    def sink(piece: str) -> None:
        if stop.is_set():
            raise Cancelled("the request was cancelled")
    try:
        return await run_blocking(lambda: work(sink), timeout)
    finally:
        stop.set()


ALIVE_EVERY = 0.25  # seconds between heartbeats while an answer is generated
ALIVE = ": generating\n\n"  # an SSE comment: clients ignore it


def sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def answer_events(work: Callable[[Sink], Answer], timeout: float) -> AsyncGenerator[Event, None]:
    """Run ``work(sink)`` on a thread; yield its pieces, then the answer (or an error), within ``timeout``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Event] = asyncio.Queue()
    stop = threading.Event()

    def put(event: Event) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    beat = [0.0]

    def sink(piece: str) -> None:  # an empty piece only asks whether to go on
        if stop.is_set():
            raise Cancelled("the stream was cancelled")
        if piece:
            put(("piece", piece))
        elif time.monotonic() - beat[0] > ALIVE_EVERY:  # a heartbeat while generating: sending it is
            beat[0] = time.monotonic()  # how a client that hung up is noticed, and generation stopped
            put(("alive", ""))

    def run() -> None:
        try:
            put(("answer", work(sink)))
        except Cancelled:
            put(("error", "cancelled"))
        except KGQAError as exc:
            put(("error", str(exc)))
        except Exception:  # the server's boundary: log it, end the stream, keep serving
            log.exception("a streamed answer failed")
            put(("error", "internal error"))

    worker = loop.run_in_executor(None, run)
    deadline = loop.time() + timeout
    try:
        while True:
            left = deadline - loop.time()
            try:
                event = await asyncio.wait_for(queue.get(), max(left, 0.001))
            except TimeoutError:
                yield ("error", f"the answer took longer than {timeout:g}s")
                return
            yield event
            if event[0] not in ("piece", "alive"):
                return
    finally:
        stop.set()  # a client gone, a deadline passed or the end: the worker stops at its next piece
        worker.add_done_callback(lambda f: f.exception())
