"""Where sessions persist by id, so that a later process (the HTTP service) can resume them.

A ``SessionStore`` keeps one JSON-ready dict per session id. ``DirectoryStore`` writes
``<directory>/<id>.json`` atomically (``KGQA.session`` uses ``<kb>/sessions``); ``MemoryStore``
keeps them in a dict (tests, or a service that persists elsewhere). Ids are restricted to
letters, digits, ``-`` and ``_`` so an id can never name a path outside the directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol

from kg.errors import KGQAError
from kg.files import write_atomic

ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


class SessionStore(Protocol):
    def get(self, session_id: str) -> dict[str, Any] | None: ...

    def put(self, session_id: str, data: dict[str, Any]) -> None: ...

    def delete(self, session_id: str) -> bool:
        """Forget the session; false when none was stored under that id."""
        ...


def check_id(session_id: str) -> str:
    if not ID.fullmatch(session_id):
        raise KGQAError(f"a session id holds 1-128 letters, digits, '-' or '_', not {session_id!r}")
    return session_id


class MemoryStore:
    """Sessions in a dict (copied through JSON, as a file store would)."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def get(self, session_id: str) -> dict[str, Any] | None:
        raw = self._data.get(check_id(session_id))
        return None if raw is None else dict(json.loads(raw))

    def put(self, session_id: str, data: dict[str, Any]) -> None:
        self._data[check_id(session_id)] = json.dumps(data, ensure_ascii=False)

    def delete(self, session_id: str) -> bool:
        return self._data.pop(check_id(session_id), None) is not None


class DirectoryStore:
    """One ``<id>.json`` per session in ``directory`` (created on the first write)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    def get(self, session_id: str) -> dict[str, Any] | None:
        path = self.directory / f"{check_id(session_id)}.json"
        if not path.exists():
            return None
        try:
            return dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise KGQAError(f"cannot read session {path}: {exc}") from None

    def put(self, session_id: str, data: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(self.directory / f"{check_id(session_id)}.json",
                     json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))

    def delete(self, session_id: str) -> bool:
        path = self.directory / f"{check_id(session_id)}.json"
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise KGQAError(f"cannot delete session {path}: {exc}") from None
        return True
