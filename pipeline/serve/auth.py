"""Bearer tokens with scopes, kept as hashes in the knowledge base directory, and a rate limit.

``kgqa token create`` makes a random token (``kgqa_`` + 32 random bytes, URL-safe), shows it
once and stores only its SHA-256 in ``tokens.json`` beside the store, with a name and a scope:
``read`` (ask, chat, sessions, feedback, entities, search, stats) or ``admin`` (everything
``read`` may, plus sources). The server re-reads the file when it changes, so a token created
or revoked while it runs takes effect at the next request. A plain hash is enough because the
tokens are random (nothing to guess a dictionary from); comparison is in constant time.

``RateLimit`` is a token bucket per caller. Left out: token expiry and per-scope limits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from kg.errors import KGQAError
from kg.files import write_atomic

TOKENS_FILE = "tokens.json"
SCOPES = ("read", "admin")
PREFIX = "kgqa_"


class TokenError(KGQAError):
    """A token file that cannot be read, or a token command that cannot be done."""


@dataclass(frozen=True)
class TokenRecord:
    """A stored token: never the token itself, only its hash."""

    name: str
    scope: str
    hash: str
    created: float
    hint: str  # the first characters after the prefix, to tell tokens apart in a list


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name and scope (``anonymous`` when no tokens are configured)."""

    name: str
    scope: str

    def allows(self, scope: str) -> bool:
        return self.scope == "admin" or self.scope == scope


ANONYMOUS = Principal("anonymous", "admin")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    """The tokens of one knowledge base directory (``tokens.json``)."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / TOKENS_FILE
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None
        self._records: tuple[TokenRecord, ...] = ()

    def records(self) -> tuple[TokenRecord, ...]:
        """The stored tokens, re-read when the file changed since the last call."""
        with self._lock:
            try:
                st = self.path.stat()
            except FileNotFoundError:
                self._seen, self._records = None, ()
                return ()
            if self._seen != (st.st_mtime_ns, st.st_size):
                self._records = self._read()
                self._seen = (st.st_mtime_ns, st.st_size)
            return self._records

    def _read(self) -> tuple[TokenRecord, ...]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return tuple(TokenRecord(**item) for item in data["tokens"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise TokenError(f"cannot read the tokens in {self.path}: {exc}") from None

    def _write(self, records: tuple[TokenRecord, ...]) -> None:
        payload = json.dumps({"tokens": [asdict(r) for r in records]}, indent=1)
        write_atomic(self.path, payload)
        self.path.chmod(0o600)

    def create(self, name: str, scope: str) -> str:
        """A new token (returned once; only its hash is kept).

        Raises:
            TokenError: the scope is unknown or the name is taken.
        """
        if scope not in SCOPES:
            raise TokenError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}")
        if not name.strip():
            raise TokenError("a token needs a name")
        records = self.records()
        if any(r.name == name for r in records):
            raise TokenError(f"a token named {name!r} exists; revoke it first or pick another name")
        token = PREFIX + secrets.token_urlsafe(32)
        self._write(records + (TokenRecord(name, scope, digest(token), time.time(), token[len(PREFIX):][:4]),))
        return token

    def revoke(self, name: str) -> None:
        """Remove the token called ``name``.

        Raises:
            TokenError: there is no such token.
        """
        records = self.records()
        kept = tuple(r for r in records if r.name != name)
        if len(kept) == len(records):
            raise TokenError(f"no token named {name!r}")
        self._write(kept)

    def check(self, token: str) -> Principal | None:
        """The principal of ``token``, or None when it is not a stored token."""
        wanted = digest(token)
        found = None
        for r in self.records():
            if hmac.compare_digest(r.hash, wanted):
                found = Principal(r.name, r.scope)
        return found


class RateLimit:
    """``per_minute`` requests per caller on average, bursts up to ``burst``; 0 turns it off."""

    def __init__(self, per_minute: float, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, math.ceil(per_minute / 6)))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """0 when the request may go on; else the seconds to wait before the next one."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            level, last = self._buckets.get(caller, (self.burst, now))
            level = min(self.burst, level + (now - last) * self.rate)
            if level >= 1:
                self._buckets[caller] = (level - 1, now)
                return 0.0
            self._buckets[caller] = (level, now)
            return (1 - level) / self.rate
