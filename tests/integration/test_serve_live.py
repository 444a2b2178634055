"""A live server on a free loopback port: the official ``openai`` client, tokens over real HTTP,
parallel questions, and a client that hangs up mid-stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from pipeline.serve.auth import TokenStore
from pipeline.serve.service import ServeConfig
from tests.serve.conftest import SlowGenerator
from tests.serve.live import Live, index_world, live_server

openai = pytest.importorskip("openai", reason="install the test extras: pip install -e '.[test]'")
pytestmark = pytest.mark.live
FRANCE = "What is the capital of France?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, str, str]]:
    kb = index_world(tmp_path_factory.mktemp("live") / "kb")
    read, admin = TokenStore(kb).create("reader", "read"), TokenStore(kb).create("admin", "admin")
    with live_server(kb) as live:
        yield live, read, admin


def test_the_openai_client_chats_with_citations(served: tuple[Live, str, str]) -> None:
    live, read, _ = served
    client = openai.OpenAI(base_url=live.url + "/v1", api_key=read, max_retries=0)
    assert [m.id for m in client.models.list()] == ["kgqa"]
    first = client.chat.completions.create(model="kgqa", messages=[{"role": "user", "content": FRANCE}])
    content = first.choices[0].message.content or ""
    assert content.startswith("The answer is Paris [") and "world.nt:" in content
    assert first.model_extra and first.model_extra["citations"][0]["kind"] == "path"
    follow = client.chat.completions.create(model="kgqa", messages=[
        {"role": "user", "content": FRANCE}, {"role": "assistant", "content": content},
        {"role": "user", "content": "what about Germany?"}])
    assert (follow.choices[0].message.content or "").startswith("The answer is Berlin [")


def test_the_openai_client_streams(served: tuple[Live, str, str]) -> None:
    live, read, _ = served
    client = openai.OpenAI(base_url=live.url + "/v1", api_key=read, max_retries=0)
    stream = client.chat.completions.create(model="kgqa", stream=True,
                                            messages=[{"role": "user", "content": "What is the capital of Italy?"}])
    parts = list(stream)
    text = "".join(p.choices[0].delta.content or "" for p in parts if p.choices)
    assert text.startswith("The answer is Rome [") and parts[-1].choices[0].finish_reason == "stop"
    assert parts[-1].model_extra and parts[-1].model_extra["citations"]


def test_wrong_key_and_wrong_scope(served: tuple[Live, str, str]) -> None:
    live, read, admin = served
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=live.url + "/v1", api_key="kgqa_nope", max_retries=0).models.list()
    assert httpx.get(live.url + "/v1/sources", headers={"Authorization": f"Bearer {read}"}).status_code == 403
    assert httpx.get(live.url + "/v1/sources", headers={"Authorization": f"Bearer {admin}"}).status_code == 200


def test_parallel_questions_and_a_hang_up(served: tuple[Live, str, str]) -> None:
    live, read, _ = served
    headers = {"Authorization": f"Bearer {read}"}
    countries = ["France", "Germany", "Italy", "Spain", "Japan", "Egypt", "Peru", "Kenya"]

    def ask(country: str) -> tuple[int, str]:
        r = httpx.post(live.url + "/v1/ask", json={"question": f"What is the capital of {country}?"},
                       headers=headers, timeout=60)
        return r.status_code, r.json()["answers"][0]["label"] if r.status_code == 200 else r.text
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(ask, countries * 2))
    assert all(code == 200 for code, _ in got)
    assert got[0][1] == "Paris" and got[1][1] == "Berlin"
    with httpx.stream("POST", live.url + "/v1/ask", json={"question": FRANCE, "stream": True}, headers=headers) as r:
        next(r.iter_lines())  # hang up after the first line
    assert httpx.get(live.url + "/healthz").status_code == 200
    assert httpx.post(live.url + "/v1/ask", json={"question": FRANCE}, headers=headers).status_code == 200


def test_a_client_that_hangs_up_mid_stream_leaves_no_generation_running(tmp_path: Path) -> None:
    slow = SlowGenerator("Paris is the capital of France [1]. " * 40, 0.01)
    with live_server(index_world(tmp_path / "kb"), generator=slow) as live:
        with httpx.stream("POST", live.url + "/v1/ask", json={"question": FRANCE, "stream": True}) as r:
            lines = r.iter_lines()
            while slow.produced < 5:
                next(lines)
        time.sleep(0.5)  # the server notices the hang-up; the worker stops at its next piece
        stopped_at = slow.produced
        time.sleep(0.5)
        assert slow.produced == stopped_at < 100  # 280 words would take 2.8 s
        assert httpx.post(live.url + "/v1/ask", json={"question": FRANCE, "generate": False}).status_code == 200


def test_cors_is_off_unless_configured(tmp_path: Path) -> None:
    preflight = {"Origin": "http://example.org", "Access-Control-Request-Method": "POST"}
    with live_server(index_world(tmp_path / "a")) as live:
        r = httpx.options(live.url + "/v1/ask", headers=preflight)
        assert "access-control-allow-origin" not in r.headers
    with live_server(index_world(tmp_path / "b"), ServeConfig(cors=("http://example.org",))) as live:
        r = httpx.options(live.url + "/v1/ask", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "http://example.org"
