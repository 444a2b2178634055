"""Bearer tokens and scopes, ``kgqa token``, the loopback rule, the rate limit, and logs without tokens."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pytest

from kg.errors import KGQAError
from pipeline.cli import main
from pipeline.cli import serve as serve_cli
from pipeline.serve.auth import TOKENS_FILE, RateLimit, TokenError, TokenStore
from pipeline.serve.service import ServeConfig
from tests.serve.conftest import MakeClient, copy_kb

ASK = {"question": "What is the capital of France?"}


def token_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out.strip()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_commands_store_only_hashes(kb_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = str(kb_copy)
    token = token_cli(capsys, "token", "create", "--kb", kb, "--scope", "read", "--name", "alice", "--quiet")
    assert token.startswith("kgqa_") and len(token) > 40 and "\n" not in token
    shown = token_cli(capsys, "token", "create", "--kb", kb, "--scope", "admin", "--name", "ops")
    assert "shown once" in shown
    stored = (kb_copy / TOKENS_FILE).read_text()
    assert token not in stored and len(json.loads(stored)["tokens"]) == 2
    listed = json.loads(token_cli(capsys, "token", "list", "--kb", kb, "--json"))
    assert [(t["name"], t["scope"]) for t in listed] == [("alice", "read"), ("ops", "admin")]
    assert token not in token_cli(capsys, "token", "list", "--kb", kb)
    token_cli(capsys, "token", "revoke", "--kb", kb, "--name", "alice")
    assert [r.name for r in TokenStore(kb_copy).records()] == ["ops"]
    assert main(["token", "revoke", "--kb", kb, "--name", "alice"]) == 2
    with pytest.raises(TokenError):
        TokenStore(kb_copy).create("ops", "read")  # names are unique
    with pytest.raises(TokenError):
        TokenStore(kb_copy).create("x", "root")


def test_scopes_401_403_and_open_routes(make_client: MakeClient, kb_copy: Path) -> None:
    store = TokenStore(kb_copy)
    read, admin = store.create("reader", "read"), store.create("admin", "admin")
    client = make_client()
    missing = client.post("/v1/ask", json=ASK)
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"] == "Bearer"
    assert client.post("/v1/ask", json=ASK, headers=bearer("kgqa_wrong")).status_code == 401
    assert client.post("/v1/ask", json=ASK, headers={"Authorization": read}).status_code == 401  # no "Bearer"
    assert client.post("/v1/ask", json=ASK, headers=bearer(read)).status_code == 200
    assert client.get("/v1/models", headers=bearer(read)).status_code == 200
    assert client.get("/v1/sources", headers=bearer(read)).status_code == 403
    assert client.post("/v1/sources", json={"path": "/nonexistent"}, headers=bearer(read)).status_code == 403
    assert client.get("/v1/sources", headers=bearer(admin)).status_code == 200
    assert client.get("/v1/whoami", headers=bearer(admin)).json() == {"name": "admin", "scope": "admin"}
    for open_route in ("/healthz", "/readyz", "/metrics", "/"):
        assert client.get(open_route).status_code == 200, open_route
    store.revoke("reader")  # the running server sees it at the next request
    assert client.post("/v1/ask", json=ASK, headers=bearer(read)).status_code == 401


def test_no_tokens_is_open_only_on_loopback(make_client: MakeClient, world_kb: Path, tmp_path: Path) -> None:
    assert make_client().post("/v1/ask", json=ASK).status_code == 200
    exposed = make_client(ServeConfig(host="0.0.0.0"), kb=copy_kb(world_kb, tmp_path / "other"))
    assert exposed.post("/v1/ask", json=ASK).status_code == 401


def test_serve_refuses_a_public_bind_without_tokens(kb_copy: Path) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    common = argparse.ArgumentParser(add_help=False)
    for flag in ("--kb", "--backend", "--uri", "--user", "--database"):
        common.add_argument(flag)
    common.add_argument("--json", action="store_true")
    serve_cli.register(sub, common)
    args = parser.parse_args(["serve", "--kb", str(kb_copy), "--host", "0.0.0.0"])
    with pytest.raises(KGQAError, match="without tokens"):
        args.func(args)


def test_rate_limit_is_429_with_retry_after(make_client: MakeClient, kb_copy: Path) -> None:
    token = TokenStore(kb_copy).create("quick", "read")
    client = make_client(ServeConfig(rate_per_minute=30))  # bursts of 5
    codes = [client.get("/v1/stats", headers=bearer(token)).status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[-1] == 429
    limited = client.get("/v1/stats", headers=bearer(token))
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 3


def test_rate_limit_refills() -> None:
    limit = RateLimit(60, burst=1)
    assert limit.take("a") == 0 and 0 < limit.take("a") <= 1 and limit.take("b") == 0
    assert RateLimit(0).take("a") == 0


def test_logs_never_hold_the_token(make_client: MakeClient, kb_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = TokenStore(kb_copy).create("secret", "read")
    client = make_client()
    with caplog.at_level(logging.DEBUG):
        client.post("/v1/ask", json=ASK, headers=bearer(token))
        client.get("/v1/sources", headers=bearer(token))
        client.post("/v1/ask", json=ASK, headers=bearer(token + "x"))
    assert caplog.records and token not in caplog.text
