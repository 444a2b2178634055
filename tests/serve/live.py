"""A live kgqa server for integration tests and the bench: uvicorn on a free loopback port, in a thread.

The socket is bound to port 0 before uvicorn starts, so the kernel picks a free port and there
is no probe-then-bind race.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from pipeline import KGQA
from pipeline.serve.app import create_app
from pipeline.serve.engine import open_served
from pipeline.serve.service import ServeConfig, Service

WORLD = Path(__file__).resolve().parents[2] / "data" / "world.nt"


def index_world(directory: Path) -> Path:
    """The bundled world KB indexed into ``directory`` with the hashing embedder."""
    with KGQA.open(directory, progress=False, embedder="hashing") as qa:
        qa.index(WORLD)
    return directory


@dataclass(frozen=True)
class Live:
    url: str
    service: Service


@contextmanager
def live_server(kb: Path, config: ServeConfig | None = None, generator: Any = "off",
                threads: int = 16, ready_timeout: float = 60.0) -> Iterator[Live]:
    """Serve ``kb`` (hashing embedder) on 127.0.0.1 until the block ends."""
    service = Service(kb, config or ServeConfig(), lambda: open_served(
        kb, progress=False, embedder="hashing", generator=generator))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(service, threads=threads), log_level="warning",
                                           timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError(f"the server at {url} was not ready in {ready_timeout}s: {service.error}")
        yield Live(url, service)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
