"""The OpenAI-compatible chat API through TestClient: models, completions, streamed chunks, follow-ups."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.serve.conftest import MakeClient, ScriptedGenerator

FRANCE = "What is the capital of France?"


def chat(*users: str, **more: Any) -> dict[str, Any]:
    messages: list[dict[str, str]] = [{"role": "system", "content": "Be brief."}]
    for i, text in enumerate(users):
        messages.append({"role": "user", "content": text})
        if i < len(users) - 1:
            messages.append({"role": "assistant", "content": "(an earlier answer)"})
    return {"model": "kgqa", "messages": messages, **more}


def chunks(body: str) -> list[dict[str, Any]]:
    lines = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_models(client: TestClient) -> None:
    assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["kgqa"]


def test_completion_cites_and_follows_up(client: TestClient) -> None:
    first = client.post("/v1/chat/completions", json=chat(FRANCE)).json()
    content = first["choices"][0]["message"]["content"]
    assert content.startswith("The answer is Paris [") and "Sources:\n[1]" in content and "world.nt:" in content
    assert first["object"] == "chat.completion" and first["citations"][0]["kind"] == "path"
    assert first["kgqa"]["answers"][0]["label"] == "Paris"
    follow = client.post("/v1/chat/completions", json=chat(FRANCE, "what about Germany?")).json()
    assert follow["choices"][0]["message"]["content"].startswith("The answer is Berlin [")


def test_a_conversation_replayed_from_scratch_is_a_follow_up_too(make_client: MakeClient) -> None:
    client = make_client()  # nothing cached: the earlier user turn is replayed
    body = chat("What is the capital of Germany?", "and what about France?")
    assert client.post("/v1/chat/completions", json=body).json()["kgqa"]["answers"][0]["label"] == "Paris"


def test_streamed_completion_ends_with_done_and_citations(make_client: MakeClient) -> None:
    client = make_client(generator=ScriptedGenerator("Paris is the capital of France [1]."))
    got = chunks(client.post("/v1/chat/completions", json=chat(FRANCE, stream=True)).text)
    assert got[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in got)
    assert text.startswith("Paris is the capital of France [1].") and "Sources:" in text
    assert got[-1]["choices"][0]["finish_reason"] == "stop" and got[-1]["citations"]
    assert all(c["object"] == "chat.completion.chunk" for c in got)


def test_bad_chat_bodies(client: TestClient) -> None:
    assert client.post("/v1/chat/completions", json={"model": "kgqa", "messages": []}).status_code == 422
    only_system = {"model": "kgqa", "messages": [{"role": "system", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=only_system).status_code == 422
    wrong_role = {"model": "kgqa", "messages": [{"role": "wizard", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=wrong_role).json()["detail"][0]["loc"][:3] == [
        "body", "messages", 0]
    assert client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}).json()[
        "detail"][0]["loc"] == ["body", "model"]
