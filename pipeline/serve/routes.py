"""The JSON API under ``/v1``: ask (plain or streamed), sessions, feedback, answers, entities, search,
stats, sources and learning runs.

Every route names the scope it needs (``read`` or ``admin``, see ``pipeline.serve.auth``) and
runs its blocking work off the event loop. Errors the pipeline raises on purpose become 4xx
(see ``pipeline.serve.app``); nothing here writes to the KB except the admin source routes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from kg.errors import KGQAError
from pipeline import Answer
from pipeline import Request as AskRequest
from pipeline.serve.auth import Principal
from pipeline.serve.engine import ServedKGQA, Sink
from pipeline.serve.schemas import AskBody, FeedbackBody, SourceBody, TurnBody
from pipeline.serve.service import Service
from pipeline.serve.streams import ALIVE, answer_events, run_blocking, run_cancellable, sse
from retrieval.base import Candidate, Mention

router = APIRouter(prefix="/v1")


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


def scope(name: str) -> Any:
    """A dependency that authorizes the caller for scope ``name``."""
    async def check(request: Request) -> Principal:
        client = request.client.host if request.client else "?"
        return service_of(request).authorize(request.headers.get("authorization"), name, client)
    return Depends(check)


def checked(service: Service, text: str, what: str = "question") -> str:
    if len(text) > service.config.max_question:
        raise HTTPException(413, f"the {what} is longer than {service.config.max_question} characters")
    return text.strip()


def topic_request(qa: ServedKGQA, question: str, topic: str, history: tuple[tuple[str, str], ...]) -> AskRequest:
    """A request whose topic entity is given instead of linked (named in the question or not)."""
    entity = qa.entity(topic)
    label = entity.label or entity.id
    at = question.lower().find(label.lower())
    start, end = (at, at + len(label)) if at >= 0 else (0, 0)
    mention = Mention(question[start:end] or label, start, end, (Candidate(entity.id, label, 1.0, "given"),))
    return AskRequest(question, history=history, mentions=(mention,))


async def respond(service: Service, work: Callable[[Sink], Answer], stream: bool) -> Any:
    """The answer of ``work`` as JSON, or as SSE (``piece`` events, then ``answer`` or ``error``)."""
    if not stream:
        answer = await run_cancellable(work, service.config.timeout)
        service.metrics.answered(answer)
        return answer.to_dict()

    async def events() -> AsyncIterator[str]:
        async for kind, data in answer_events(work, service.config.timeout):
            if kind == "answer":
                service.metrics.answered(data)
                yield sse("answer", data.to_dict())
            elif kind == "alive":
                yield ALIVE
            else:
                yield sse(kind, {"text": data} if kind == "piece" else {"detail": data})
    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.post("/ask", dependencies=[scope("read")], summary="Answer a question with cited evidence")
async def ask(body: AskBody, request: Request) -> Any:
    service = service_of(request)
    question, qa = checked(service, body.question), service.qa
    hops = qa.config.paths.max_hops
    if body.hops is not None and body.hops != hops:
        raise HTTPException(422, f"hops: this server answers with paths of up to {hops} hops (kgqa serve --hops)")
    history = tuple((checked(service, q, "history"), a) for q, a in body.history)

    def work(sink: Sink) -> Answer:
        ask = topic_request(qa, question, body.topic, history) if body.topic else AskRequest(question, history=history)
        with qa.turn(sink, body.generate):
            return qa.answer(ask, body.generate)
    return await respond(service, work, body.stream)


@router.post("/sessions", dependencies=[scope("read")], status_code=201, summary="Start a conversation")
async def create_session(request: Request) -> dict[str, Any]:
    session = service_of(request).sessions.create()
    return {"id": session.id, "turns": []}


@router.get("/sessions/{session_id}", dependencies=[scope("read")], summary="A conversation's turns")
async def read_session(session_id: str, request: Request) -> dict[str, Any]:
    session = service_of(request).sessions.get(session_id)
    pending = session.pending
    return {"id": session.id, "turns": [a.to_dict() for a in session.turns],
            "pending": None if pending is None else {"mention": pending.mention,
                                                      "options": [vars(o) for o in pending.options]}}


@router.post("/sessions/{session_id}/turns", dependencies=[scope("read")], summary="Say one turn")
async def post_turn(session_id: str, body: TurnBody, request: Request) -> Any:
    service = service_of(request)
    session, text, qa = service.sessions.get(session_id), checked(service, body.text, "text"), service.qa

    def work(sink: Sink) -> Answer:
        with qa.turn(sink, body.generate):
            return session.ask(text)
    return await respond(service, work, body.stream)


@router.delete("/sessions/{session_id}", dependencies=[scope("read")], status_code=204, summary="End a conversation")
async def delete_session(session_id: str, request: Request) -> Response:
    service_of(request).sessions.delete(session_id)
    return Response(status_code=204)


@router.post("/feedback", dependencies=[scope("read")], summary="Say whether an answer was right")
async def feedback(body: FeedbackBody, request: Request) -> dict[str, Any]:
    service = service_of(request)
    for value, what in ((body.answer, "answer"), (body.text, "text")):
        checked(service, value or "", what)
    given = await run_blocking(lambda: service.qa.feedback(body.answer_id, body.correct, body.answer, body.text),
                               service.config.timeout)
    service.metrics.feedback.labels(str(body.correct).lower()).inc()
    return vars(given)


@router.get("/answers/{answer_id}", dependencies=[scope("read")], summary="A recorded answer")
async def read_answer(answer_id: str, request: Request) -> dict[str, Any]:
    qa = service_of(request).qa
    answer = await run_blocking(lambda: qa.feedback_store().answer(answer_id), 30)
    return answer.to_dict()


@router.get("/answers/{answer_id}/subgraph", dependencies=[scope("read")], response_class=PlainTextResponse,
            summary="A recorded answer's cited subgraph as Mermaid or DOT")
async def export_subgraph(answer_id: str, request: Request,
                          format: str = Query("mermaid", pattern="^(mermaid|dot)$")) -> PlainTextResponse:
    qa = service_of(request).qa
    answer = await run_blocking(lambda: qa.feedback_store().answer(answer_id), 30)
    text = answer.to_mermaid() if format == "mermaid" else answer.to_dot()
    name = f"kgqa-{answer_id[:8]}.{'mmd' if format == 'mermaid' else 'dot'}"
    return PlainTextResponse(text, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/entities/{entity_id:path}", dependencies=[scope("read")],
            summary="An entity with its neighbours and each edge's source and line")
async def entity(entity_id: str, request: Request, limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    qa = service_of(request).qa
    return await run_blocking(lambda: describe(qa, entity_id, limit), service_of(request).config.timeout)


def describe(qa: ServedKGQA, name: str, limit: int) -> dict[str, Any]:
    found = qa.entity(name)
    edges = qa.neighbors(found.id, limit=limit)
    labels = qa.labels(sorted({x for e in edges for x in (e.subject, e.predicate, e.object)} | {found.id}))
    return {"id": found.id, "label": labels[found.id], "description": found.description,
            "aliases": list(found.aliases), "kind": found.kind.value,
            "edges": [{"subject": e.subject, "predicate": e.predicate, "object": e.object,
                       "subject_label": labels[e.subject], "predicate_label": labels[e.predicate],
                       "object_label": labels[e.object], "source": e.provenance.source, "line": e.provenance.line}
                      for e in edges]}


@router.get("/search", dependencies=[scope("read")], summary="Entities a text may name (the linker's candidates)")
async def search(request: Request, q: str = Query(min_length=1)) -> dict[str, Any]:
    service = service_of(request)
    text, qa = checked(service, q, "query"), service.qa

    def work() -> list[dict[str, Any]]:
        found = [{"mention": m.text, "start": m.start, "end": m.end,
                  "candidates": [{"id": c.id, "label": c.label, "score": round(c.score, 4), "match": c.match,
                                  "description": c.description} for c in m.candidates]} for m in qa.link(text)]
        if not found:
            try:
                e = qa.entity(text)
                found = [{"mention": text, "start": 0, "end": len(text), "candidates": [
                    {"id": e.id, "label": e.label or e.id, "score": 1.0, "match": "exact",
                     "description": e.description}]}]
            except KGQAError:
                pass
        return found
    return {"query": text, "mentions": await run_blocking(work, service.config.timeout)}


@router.get("/stats", dependencies=[scope("read")], summary="Counts of the knowledge base")
async def stats(request: Request) -> dict[str, Any]:
    service = service_of(request)
    return {**service.qa.stats(), "sessions": len(service.sessions), "ready": service.ready,
            "load_seconds": service.load_seconds}


@router.get("/sources", dependencies=[scope("admin")], summary="Indexed sources and index runs")
async def sources(request: Request) -> dict[str, Any]:
    service = service_of(request)
    return {"sources": [vars(s) for s in service.qa.sources()], "jobs": [j.to_dict() for j in service.jobs.all()]}


@router.post("/sources", dependencies=[scope("admin")], status_code=202,
             summary="Index (or re-index) a file or folder on the server's disk")
async def add_source(body: SourceBody, request: Request) -> dict[str, Any]:
    return service_of(request).jobs.submit("index", body.path, body.format).to_dict()


@router.delete("/sources", dependencies=[scope("admin")], status_code=202,
               summary="Remove what a source contributed")
async def remove_source(request: Request, path: str = Query(min_length=1)) -> dict[str, Any]:
    return service_of(request).jobs.submit("remove", path).to_dict()


@router.post("/learn", dependencies=[scope("admin")], status_code=202,
             summary="A learning run: the path scorer learns from the feedback (kgqa learn)")
async def start_learning(request: Request) -> dict[str, Any]:
    service = service_of(request)
    return service.jobs.submit("learn", str(service.qa.kb.directory)).to_dict()


@router.get("/jobs/{job_id}", dependencies=[scope("admin")], summary="The state of an index or learning run")
@router.get("/sources/jobs/{job_id}", dependencies=[scope("admin")], summary="The state of an index run")
async def job(job_id: str, request: Request) -> dict[str, Any]:
    found = service_of(request).jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"no index run {job_id!r}")
    return found.to_dict()


READER = scope("read")


@router.get("/whoami", summary="The caller's token name and scope")
async def whoami(request: Request, principal: Principal = READER) -> dict[str, str]:
    return {"name": principal.name, "scope": principal.scope}
