"""Prometheus metrics, and streams that stop: a client gone, a deadline passed, a turn not kept."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from pipeline.serve.engine import Cancelled, open_served
from pipeline.serve.service import ServeConfig
from pipeline.serve.streams import answer_events
from tests.serve.conftest import MakeClient, ScriptedGenerator, SlowGenerator

FRANCE = "What is the capital of France?"


def test_metrics_count_requests_stages_outcomes_feedback_and_size(make_client: MakeClient) -> None:
    client = make_client(generator=ScriptedGenerator("Paris is the capital of France [1]."))
    answer = client.post("/v1/ask", json={"question": FRANCE}).json()
    client.post("/v1/ask", json={"question": FRANCE, "generate": False})
    client.post("/v1/ask", json={"question": "What is the capital of Wakanda?"})
    client.post("/v1/feedback", json={"answer_id": answer["id"], "correct": True})
    client.get("/v1/sessions/nope")
    text = client.get("/metrics").text
    for line in ('kgqa_requests_total{endpoint="/v1/ask",method="POST",status="200"} 3.0',
                 'kgqa_requests_total{endpoint="/v1/sessions/{session_id}",method="GET",status="404"} 1.0',
                 'kgqa_answers_total{outcome="generated"} 1.0', 'kgqa_answers_total{outcome="rule sentence"} 1.0',
                 'kgqa_answers_total{outcome="no answer"} 1.0', 'kgqa_feedback_total{correct="true"} 1.0',
                 'kgqa_kb_size{what="triples"} 4442.0'):
        assert line in text, line
    for stage in ("link", "paths", "passages", "generate", "check"):
        assert f'kgqa_stage_seconds_count{{stage="{stage}"}}' in text, stage
    assert "kgqa_request_seconds_bucket" in text and "kgqa_model_load_seconds " in text


def test_a_stream_whose_reader_leaves_stops_its_worker() -> None:
    produced: list[int] = []
    outcome: list[str] = []

    def work(sink: object) -> object:
        try:
            for i in range(200):
                time.sleep(0.005)
                produced.append(i)
                sink(str(i))  # type: ignore[operator]
        except Cancelled:
            outcome.append("cancelled")
            raise
        return None

    async def read_two() -> None:
        stream = answer_events(work, timeout=10)  # type: ignore[arg-type]
        async for _kind, _data in stream:
            if len(produced) >= 2:
                break
        await stream.aclose()
        await asyncio.sleep(0.2)

    asyncio.run(read_two())
    assert outcome == ["cancelled"] and len(produced) < 50


def test_a_cancelled_turn_is_not_kept(kb_copy: Path) -> None:
    qa = open_served(kb_copy, progress=False, embedder="hashing", generator=SlowGenerator("Paris [1] " * 20, 0.001))
    try:
        session = qa.session()

        def hang_up(piece: str) -> None:
            raise Cancelled("gone")
        with qa.turn(hang_up), pytest.raises(Cancelled):
            session.ask(FRANCE)
        assert session.turns == []
        assert session.ask(FRANCE).answers[0].label == "Paris"
    finally:
        qa.shutdown()


def test_the_request_timeout(make_client: MakeClient) -> None:
    slow = SlowGenerator("Paris is the capital of France [1]. " * 10, 0.05)
    client: TestClient = make_client(ServeConfig(timeout=0.3), generator=slow)
    assert client.post("/v1/ask", json={"question": FRANCE}).status_code == 504
    streamed = client.post("/v1/ask", json={"question": FRANCE, "stream": True}).text
    assert "event: error" in streamed and "longer than 0.3s" in streamed
    before = slow.produced
    time.sleep(0.3)
    assert slow.produced - before <= 2  # the cut stream's generation stopped
