"""What one server holds: its settings, the served KB (loaded off the event loop), tokens, limits, metrics.

``Service.load`` opens the knowledge base and loads the models once (``/readyz`` is 503 until it
is done); ``authorize`` turns an ``Authorization`` header into a ``Principal`` or an HTTP error.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import HTTPException

from kg.errors import KGQAError
from pipeline.serve.auth import ANONYMOUS, Principal, RateLimit, TokenError, TokenStore
from pipeline.serve.engine import Jobs, ServedKGQA, Sessions
from pipeline.serve.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServeConfig:
    """Limits and switches of a server (``kgqa serve`` flags).

    Args:
        host: the address bound; a non-loopback one requires tokens.
        max_body: largest request body in bytes (413 above).
        max_question: longest question or chat message in characters (413 above).
        rate_per_minute: requests per token per minute (0: no limit); bursts of a tenth of it.
        timeout: seconds one request may take (504 after; a stream is cut).
        cors: allowed origins (none: CORS off).
        sessions: live sessions kept (least recently used dropped).
        model: the model name ``/v1/models`` lists.
    """

    host: str = "127.0.0.1"
    max_body: int = 1_000_000
    max_question: int = 2000
    rate_per_minute: float = 600.0
    timeout: float = 120.0
    cors: tuple[str, ...] = ()
    sessions: int = 1000
    model: str = "kgqa"

    def __post_init__(self) -> None:
        if self.max_body < 1024 or self.max_question < 1 or self.timeout <= 0 or self.rate_per_minute < 0:
            raise ValueError("max_body >= 1024, max_question >= 1, timeout > 0 and rate_per_minute >= 0")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class NotReady(KGQAError):
    """The models and indices are still loading (or failed to load)."""


class Service:
    """The state of one server; ``load`` once, then ``qa``, ``sessions`` and ``jobs`` are there."""

    def __init__(self, directory: str | Path, config: ServeConfig, opener: Callable[[], ServedKGQA]) -> None:
        self.directory = Path(directory)
        self.config = config
        self.tokens = TokenStore(directory)
        self.limit = RateLimit(config.rate_per_minute)
        self.metrics = Metrics()
        self.opener = opener
        self.error: str | None = None
        self.load_seconds: float | None = None
        self._qa: ServedKGQA | None = None
        self._sessions: Sessions | None = None
        self._jobs: Jobs | None = None
        self._loaded = threading.Event()

    def load(self) -> None:
        """Open the KB and load models and indices (errors are kept for ``/readyz``, not raised)."""
        start = time.perf_counter()
        try:
            qa = self.opener()
            qa.generator()  # the generator too, when one is configured: the first question should not wait
        except (KGQAError, OSError, ValueError, ImportError) as exc:
            self.error = str(exc)
            log.error("kgqa serve: cannot load the knowledge base: %s", exc)
            self._loaded.set()
            return
        self.load_seconds = round(time.perf_counter() - start, 3)
        self.metrics.model_load.set(self.load_seconds)
        self.metrics.kb_size(qa.stats())
        self._sessions = Sessions(qa, self.config.sessions)
        self._jobs = Jobs(qa)
        self._qa = qa
        self._loaded.set()
        log.info("kgqa serve: ready in %.1fs", self.load_seconds)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``load`` finished (true when it succeeded)."""
        self._loaded.wait(timeout)
        return self._qa is not None

    @property
    def ready(self) -> bool:
        return self._qa is not None

    @property
    def qa(self) -> ServedKGQA:
        if self._qa is None:
            raise NotReady(self.error or "the models and indices are still loading")
        return self._qa

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            raise NotReady(self.error or "still loading")
        return self._sessions

    @property
    def jobs(self) -> Jobs:
        if self._jobs is None:
            raise NotReady(self.error or "still loading")
        return self._jobs

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close()
        if self._qa is not None:
            self._qa.shutdown()
            self._qa = None

    def authorize(self, header: str | None, scope: str, client: str) -> Principal:
        """The caller of a request that needs ``scope``.

        Raises:
            HTTPException: 401 (no or unknown token), 403 (wrong scope), 429 (rate limit).
        """
        try:
            records = self.tokens.records()
        except TokenError as exc:
            log.error("%s", exc)
            raise HTTPException(500, "the server's token file is unreadable") from None
        if not records and self.config.loopback:
            principal = ANONYMOUS
        else:
            principal = self._principal(header, bool(records))
        if not principal.allows(scope):
            self.metrics.rejected.labels("scope").inc()
            raise HTTPException(403, f"this token has scope {principal.scope!r}; {scope!r} is needed")
        wait = self.limit.take(principal.name if principal is not ANONYMOUS else client)
        if wait > 0:
            self.metrics.rejected.labels("rate").inc()
            raise HTTPException(429, "too many requests", headers={"Retry-After": str(max(1, math.ceil(wait)))})
        return principal

    def _principal(self, header: str | None, configured: bool) -> Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        if not configured:
            raise HTTPException(401, "no tokens are configured (kgqa token create)", headers=challenge)
        kind, _, token = (header or "").partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            self.metrics.rejected.labels("no token").inc()
            raise HTTPException(401, "a bearer token is needed (Authorization: Bearer ...)", headers=challenge)
        principal = self.tokens.check(token.strip())
        if principal is None:
            self.metrics.rejected.labels("bad token").inc()
            raise HTTPException(401, "unknown or revoked token", headers=challenge)
        return principal
