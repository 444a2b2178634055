"""OpenAI-compatible chat: ``POST /v1/chat/completions`` (plain and streamed) and ``GET /v1/models``.

The conversation in ``messages`` is replayed through a ``Session``: the user messages before
the last one are asked again without generation (their answers only rebuild the focus), then the
last one is answered, so "what about Germany?" after "What is the capital of France?" is a
follow-up. The session a reply leaves behind is kept under a hash of the user messages so far,
so the next request of the same conversation continues it instead of replaying it. System and
assistant messages are not read (the knowledge base, not the prompt, decides the answer).

Citations ride along: in the text as ``[n]`` with a "Sources" list of the cited evidence, and in
the extra fields ``citations`` (the answer's citations) and ``kgqa`` (answer id, confidence,
clarification) of the completion and of the final stream chunk.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse

from pipeline import Answer, Session
from pipeline.serve.engine import ServedKGQA, Sink
from pipeline.serve.routes import checked, scope, service_of
from pipeline.serve.schemas import ChatBody
from pipeline.serve.streams import ALIVE, answer_events, run_cancellable

router = APIRouter(prefix="/v1")


class Conversations:
    """Sessions left by earlier replies, by a hash of their user messages (least recently used dropped)."""

    def __init__(self, capacity: int = 256) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(users: Sequence[str]) -> str:
        return hashlib.sha256(json.dumps(list(users)).encode("utf-8")).hexdigest()

    def take(self, users: Sequence[str]) -> Session | None:
        with self._lock:
            return self._items.pop(self.key(users), None)

    def put(self, users: Sequence[str], session: Session) -> None:
        with self._lock:
            self._items[self.key(users)] = session
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)


def sources_note(answer: Answer) -> str:
    cited = set(answer.cited) | {n for a in answer.answers for n in a.citations}
    lines = [f"[{c.number}] {c.text} ({c.where()})" for c in answer.citations if c.number in cited]
    return "\n\nSources:\n" + "\n".join(lines) if lines else ""


def extra(answer: Answer) -> dict[str, Any]:
    data = answer.to_dict()
    return {"citations": data["citations"],
            "kgqa": {"answer_id": answer.id, "confidence": answer.confidence, "answers": data["answers"],
                     "clarification": data["clarification"], "note": answer.note}}


def converse(qa: ServedKGQA, conversations: Conversations, users: list[str], sink: Sink | None,
             generate: bool | None = None) -> Answer:
    """Answer the last of ``users`` as a turn of the conversation the earlier ones make."""
    session = conversations.take(users[:-1])
    if session is None:
        session = qa.session()
        with qa.turn(None, False):  # replayed turns only rebuild the focus
            for text in users[:-1]:
                session.ask(text)
    with qa.turn(sink, generate):
        answer = session.ask(users[-1])
    conversations.put(users, session)
    return answer


def completion(answer: Answer, model: str, content: str) -> dict[str, Any]:
    words = len(answer.prompt.split())
    return {"id": f"chatcmpl-{answer.id}", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": words, "completion_tokens": len(content.split()),
                      "total_tokens": words + len(content.split())}, **extra(answer)}


def chunk(ident: str, model: str, delta: dict[str, Any], finish: str | None = None, **more: Any) -> str:
    data = {"id": ident, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **more}
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/models", dependencies=[scope("read")], summary="The model this server answers as (OpenAI-compatible)")
async def models(request: Request) -> dict[str, Any]:
    name = service_of(request).config.model
    return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "kgqa"}]}


@router.post("/chat/completions", dependencies=[scope("read")],
             summary="OpenAI-compatible chat over the knowledge base, with citations")
async def chat_completions(body: ChatBody, request: Request) -> Any:
    service = service_of(request)
    users = [checked(service, m.text(), "message") for m in body.messages if m.role == "user"]
    if not users:
        raise HTTPException(422, "messages: at least one message with role 'user' is needed")
    qa, model = service.qa, service.config.model
    conversations: Conversations = request.app.state.conversations
    if not body.stream:
        answer = await run_cancellable(lambda sink: converse(qa, conversations, users, sink), service.config.timeout)
        service.metrics.answered(answer)
        return completion(answer, model, answer.text + sources_note(answer))

    async def events() -> AsyncIterator[str]:
        ident, said = f"chatcmpl-{int(time.time() * 1000)}", []
        yield chunk(ident, model, {"role": "assistant", "content": ""})
        async for kind, data in answer_events(lambda sink: converse(qa, conversations, users, sink),
                                              service.config.timeout):
            if kind == "alive":
                yield ALIVE
            elif kind == "piece":
                said.append(data)
                yield chunk(ident, model, {"content": data})
            elif kind == "answer":
                service.metrics.answered(data)
                fixed = "" if "".join(said).strip() == data.text.strip() else "\n\n(checked answer) " + data.text
                yield chunk(ident, model, {"content": fixed + sources_note(data)})
                yield chunk(ident, model, {}, "stop", **extra(data))
            else:
                yield chunk(ident, model, {"content": f"\n\n(error: {data})"}, "stop")
        yield "data: [DONE]\n\n"
    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
