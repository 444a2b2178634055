"""The FastAPI application: health, readiness, metrics, the page, the ``/v1`` API and the chat API.

``create_app(service)`` wires a ``Service`` into an app; the lifespan loads it on a thread so
``/healthz`` answers at once and ``/readyz`` is 200 only once the models and indices are in.
Two pure-ASGI middlewares wrap every request: one refuses bodies over the limit (413) before
the app reads them, one counts requests and their latency by route template. The pipeline's
errors map to HTTP statuses here (unknown ids 404, still loading 503, other kgqa errors 400),
so a bad request never becomes a 500. Logs name the token, never its value.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kg.errors import EntityNotFound, KGQAError, StoreLocked
from pipeline.api import GeneratorUnavailable
from pipeline.feedback import UnknownAnswer
from pipeline.serve import compat, routes
from pipeline.serve.engine import UnknownSession
from pipeline.serve.metrics import Metrics
from pipeline.serve.service import NotReady, Service

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
SWAGGER = "swagger-ui-5.35.0"  # vendored from npm (swagger-ui-dist), like cytoscape
STATUS: tuple[tuple[type[KGQAError], int], ...] = (
    (UnknownSession, 404), (UnknownAnswer, 404), (EntityNotFound, 404), (NotReady, 503),
    (GeneratorUnavailable, 409), (StoreLocked, 409), (KGQAError, 400))


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413 (by its length header, or as it arrives)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await too_large(self.limit)(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more and scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await too_large(self.limit)(scope, receive, send)
                return
        if not chunks:
            await self.app(scope, receive, send)
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: wait for the disconnect
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, replay, send)


def too_large(limit: int) -> JSONResponse:
    return JSONResponse({"detail": f"the request body is larger than {limit} bytes"}, status_code=413)


class Measure:
    """Count requests and time them per route template (``/v1/sessions/{session_id}``, never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.in_flight.dec()
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or ("/static" if scope["path"].startswith("/static/")
                                                         else "unmatched")
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - start)


def create_app(service: Service, load: bool = True, threads: int = 16) -> FastAPI:
    """The app serving ``service``; with ``load`` the lifespan loads it on a thread and closes it at the end.

    ``threads`` is how many requests do blocking work (answer questions) at the same time.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = threads
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="kgqa-ask"))
        if load:
            threading.Thread(target=service.load, name="kgqa-load", daemon=True).start()
        yield
        if load:
            service.close()

    app = FastAPI(title="kgqa", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Question answering over a knowledge graph, with cited evidence.")
    app.state.service = service
    app.state.conversations = compat.Conversations()
    app.include_router(routes.router)
    app.include_router(compat.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _plain_routes(app, service)
    _errors(app)
    if service.config.cors:
        app.add_middleware(CORSMiddleware, allow_origins=list(service.config.cors), allow_methods=["*"],
                           allow_headers=["Authorization", "Content-Type"])
    app.add_middleware(BodyLimit, limit=service.config.max_body)
    app.add_middleware(Measure, metrics=service.metrics)
    return app


def _plain_routes(app: FastAPI, service: Service) -> None:
    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:  # Swagger UI from the package (FastAPI's default loads it from a CDN)
        return get_swagger_ui_html(openapi_url="/openapi.json", title="kgqa API",
                                   swagger_js_url=f"/static/vendor/{SWAGGER}/swagger-ui-bundle.js",
                                   swagger_css_url=f"/static/vendor/{SWAGGER}/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="200 once the models and indices are loaded")
    async def readyz() -> JSONResponse:
        if service.ready:
            return JSONResponse({"status": "ready", "load_seconds": service.load_seconds})
        state = "failed" if service.error else "loading"
        return JSONResponse({"status": state, "detail": service.error}, status_code=503)

    @app.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        if service.ready:
            service.metrics.kb_size(service.qa.stats())
        return Response(service.metrics.render(), media_type=CONTENT_TYPE_LATEST)


def _errors(app: FastAPI) -> None:
    @app.exception_handler(KGQAError)
    async def kgqa_error(request: Request, exc: KGQAError) -> JSONResponse:
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)


def run(service: Service, host: str, port: int, workers: int = 16, **uvicorn_options: Any) -> None:
    """Serve ``service`` with uvicorn until interrupted: one process (the models load once), ``workers`` threads."""
    import uvicorn

    uvicorn.run(create_app(service, threads=workers), host=host, port=port, log_level="info", **uvicorn_options)
