"""The JSON API over the bundled world KB: ask (plain and SSE), sessions, feedback, entities, search,
stats, sources, and bad input (422, 404, 413, never a 500)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fastapi.testclient import TestClient

from pipeline.serve.app import create_app
from pipeline.serve.engine import open_served
from pipeline.serve.service import ServeConfig, Service
from tests.serve.conftest import WORLD, MakeClient, ScriptedGenerator

FRANCE = "What is the capital of France?"


def events(body: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for block in body.strip().split("\n\n"):
        if block.startswith(":"):  # an SSE comment (the server's heartbeat while generating): ignored
            continue
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/ask", "/v1/chat/completions", "/v1/sessions/{session_id}/turns", "/v1/sources"} <= set(paths)


def test_ask_returns_the_answer_with_citations(client: TestClient) -> None:
    answer = client.post("/v1/ask", json={"question": FRANCE}).json()
    assert [a["label"] for a in answer["answers"]] == ["Paris"]
    assert answer["text"].startswith("The answer is Paris [")
    cited = answer["citations"][answer["answers"][0]["citations"][0] - 1]
    assert cited["kind"] == "path" and cited["triples"][0]["source"] == "world.nt" and cited["triples"][0]["line"]


def test_ask_streams_pieces_then_the_checked_answer(make_client: MakeClient) -> None:
    client = make_client(generator=ScriptedGenerator("Paris is the capital of France [1]."))
    got = events(client.post("/v1/ask", json={"question": FRANCE, "stream": True}).text)
    pieces = [d["text"] for kind, d in got if kind == "piece"]
    assert len(pieces) > 3 and got[-1][0] == "answer"
    final = got[-1][1]
    assert "".join(map(str, pieces)) == final["generated"] and final["fallback"] is False
    assert final["text"] == "Paris is the capital of France [1]."


def test_generation_asked_of_a_server_without_a_generator_is_409(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": FRANCE, "generate": True})
    assert r.status_code == 409 and "generator" in r.json()["detail"]
    streamed = events(client.post("/v1/ask", json={"question": FRANCE, "generate": True, "stream": True}).text)
    assert streamed[-1][0] == "error" and "generator" in str(streamed[-1][1]["detail"])


def test_topic_given_and_hops_checked(client: TestClient) -> None:
    answer = client.post("/v1/ask", json={"question": "What is its capital?", "topic": "Germany"}).json()
    assert [a["label"] for a in answer["answers"]] == ["Berlin"]
    assert client.post("/v1/ask", json={"question": FRANCE, "hops": 1}).status_code == 422
    assert client.post("/v1/ask", json={"question": FRANCE, "topic": "Atlantis"}).status_code == 404


def test_session_follow_up_read_and_delete(client: TestClient) -> None:
    sid = client.post("/v1/sessions").json()["id"]
    assert client.post(f"/v1/sessions/{sid}/turns", json={"text": FRANCE}).json()["answers"][0]["label"] == "Paris"
    streamed = events(client.post(f"/v1/sessions/{sid}/turns", json={"text": "what about Germany?",
                                                                      "stream": True}).text)
    assert streamed[-1][0] == "answer" and streamed[-1][1]["resolved"] == "What is the capital of Germany?"
    turns = client.get(f"/v1/sessions/{sid}").json()["turns"]
    assert [t["question"] for t in turns] == [FRANCE, "what about Germany?"]
    assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    assert client.get(f"/v1/sessions/{sid}").status_code == 404
    assert client.post(f"/v1/sessions/{sid}/turns", json={"text": "hi"}).status_code == 404


def test_sessions_survive_a_restart(kb_copy: Path, make_client: MakeClient) -> None:
    service = Service(kb_copy, ServeConfig(), lambda: open_served(kb_copy, progress=False, embedder="hashing",
                                                                  generator="off"))
    with TestClient(create_app(service)) as first:
        assert service.wait(60), service.error
        sid = first.post("/v1/sessions").json()["id"]
        empty = first.post("/v1/sessions").json()["id"]
        assert first.post(f"/v1/sessions/{sid}/turns", json={"text": FRANCE}).json()["answers"][0]["label"] == "Paris"
    client = make_client()  # a new server over the same knowledge base
    assert client.get(f"/v1/sessions/{empty}").json()["turns"] == []
    assert [t["question"] for t in client.get(f"/v1/sessions/{sid}").json()["turns"]] == [FRANCE]
    follow = client.post(f"/v1/sessions/{sid}/turns", json={"text": "what about Germany?"}).json()
    assert follow["resolved"] == "What is the capital of Germany?" and follow["answers"][0]["label"] == "Berlin"
    assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    assert not (kb_copy / "sessions" / f"{sid}.json").exists()
    assert client.get(f"/v1/sessions/{sid}").status_code == 404
    assert client.get("/v1/sessions/..%2Fsecrets").status_code == 404


def test_feedback_and_export(client: TestClient) -> None:
    answer = client.post("/v1/ask", json={"question": FRANCE}).json()
    given = client.post("/v1/feedback", json={"answer_id": answer["id"], "correct": False, "answer": "Lyon",
                                              "text": "test"}).json()
    assert given["answer_id"] == answer["id"] and given["corrected"] == "Lyon"
    assert client.post("/v1/feedback", json={"answer_id": "nope", "correct": True}).status_code == 404
    mermaid = client.get(f"/v1/answers/{answer['id']}/subgraph").text
    assert mermaid.startswith("flowchart") and "Paris" in mermaid
    assert "digraph" in client.get(f"/v1/answers/{answer['id']}/subgraph", params={"format": "dot"}).text
    assert client.get("/v1/answers/nope").status_code == 404


def test_entity_search_and_stats(client: TestClient) -> None:
    france = client.get("/v1/entities/France").json()
    assert france["label"] == "France" and france["description"]
    edge = next(e for e in france["edges"] if e["predicate_label"] == "capital")
    assert edge["object_label"] == "Paris" and edge["source"] == "world.nt" and edge["line"] > 0
    assert client.get(f"/v1/entities/{france['id']}").json()["id"] == france["id"]  # ids hold slashes
    assert client.get("/v1/entities/Atlantis").status_code == 404
    found = client.get("/v1/search", params={"q": "Germany"}).json()["mentions"]
    assert found[0]["candidates"][0]["label"] == "Germany"
    assert client.get("/v1/stats").json()["triples"] == 4442


def test_sources_index_and_remove_with_progress(client: TestClient, tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    extra.write_text("Atlantis|capital|Poseidonia\n")
    job = client.post("/v1/sources", json={"path": str(extra)})
    assert job.status_code == 202 and job.json()["state"] in ("queued", "running", "done")
    for _ in range(100):
        state = client.get(f"/v1/sources/jobs/{job.json()['id']}").json()
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert state["state"] == "done" and state["report"]["added"] == 1
    assert {s["name"] for s in client.get("/v1/sources").json()["sources"]} == {"world.nt", "extra.txt"}
    assert client.post("/v1/ask", json={"question": "What is the capital of Atlantis?"}).json()["answers"][0][
        "label"] == "Poseidonia"
    gone = client.delete("/v1/sources", params={"path": str(extra)}).json()
    for _ in range(100):
        if client.get(f"/v1/sources/jobs/{gone['id']}").json()["state"] == "done":
            break
        time.sleep(0.05)
    assert client.get("/v1/stats").json()["triples"] == 4442


def test_a_failing_index_run_changes_nothing(client: TestClient, tmp_path: Path) -> None:
    job = client.post("/v1/sources", json={"path": str(tmp_path / "missing.nt")}).json()
    for _ in range(100):
        state = client.get(f"/v1/sources/jobs/{job['id']}").json()
        if state["state"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert state["state"] == "failed" and state["error"]
    assert client.get("/v1/stats").json()["triples"] == 4442


def test_bad_input_is_422_naming_the_field(client: TestClient) -> None:
    bad = client.post("/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["type"] == "json_invalid"
    wrong = client.post("/v1/ask", json={"question": 3}).json()["detail"][0]
    assert wrong["loc"] == ["body", "question"]
    assert client.post("/v1/ask", json={}).json()["detail"][0]["loc"] == ["body", "question"]
    assert client.post("/v1/feedback", json={"answer_id": "x", "correct": "yes"}).json()["detail"][0]["loc"] == [
        "body", "correct"]
    assert client.post("/v1/ask", json={"question": "x", "colour": 1}).status_code == 422


def test_odd_questions_get_a_note_never_a_500(client: TestClient) -> None:
    for question in ("\x00\x01\x02", "?!?...", "", "   ", "\u202e\u200b"):
        r = client.post("/v1/ask", json={"question": question})
        assert r.status_code == 200 and r.json()["text"] == "Please ask a question.", question
    sid = client.post("/v1/sessions").json()["id"]
    assert client.post(f"/v1/sessions/{sid}/turns", json={"text": "\x07"}).json()["text"] == "Please ask a question."


def test_sizes_are_413(make_client: MakeClient) -> None:
    client = make_client(ServeConfig(max_body=2048, max_question=100))
    assert client.post("/v1/ask", json={"question": "x" * 101}).status_code == 413
    assert client.post("/v1/ask", json={"question": "x" * 3000}).status_code == 413
    chunked = client.post("/v1/ask", content=iter([b'{"question": "', b"x" * 3000, b'"}']),
                          headers={"Content-Type": "application/json"})
    assert chunked.status_code == 413
    assert client.post("/v1/ask", json={"question": FRANCE}).status_code == 200


def test_page_and_vendored_assets(client: TestClient) -> None:
    page = client.get("/").text
    assert "cytoscape-3.35.0.min.js" in page and "https://" not in page
    assert client.get("/static/vendor/cytoscape-3.35.0.min.js").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert client.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js").status_code == 200


def test_world_fixture_is_the_bundled_kb() -> None:
    assert WORLD.exists()


def wait_job(client: TestClient, job_id: str) -> dict[str, object]:
    for _ in range(400):
        state: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
        if state["state"] in ("done", "failed"):
            return state
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_learning_run_is_an_admin_job(client: TestClient) -> None:
    answer = client.post("/v1/ask", json={"question": FRANCE}).json()
    client.post("/v1/feedback", json={"answer_id": answer["id"], "correct": True})
    job = client.post("/v1/learn")
    assert job.status_code == 202 and job.json()["action"] == "learn"
    done = wait_job(client, job.json()["id"])
    assert done["state"] == "done", done
    assert isinstance(done["report"], dict) and done["report"]["feedback"] == 1


def test_reads_go_on_while_a_source_is_indexed(client: TestClient, tmp_path: Path) -> None:
    copy = tmp_path / "world2.nt"
    copy.write_text(WORLD.read_text().replace("/world/entity/", "/world2/entity/"))
    job = client.post("/v1/sources", json={"path": str(copy)}).json()
    during = 0
    while client.get(f"/v1/jobs/{job['id']}").json()["state"] in ("queued", "running"):
        r = client.post("/v1/ask", json={"question": FRANCE})
        assert r.status_code == 200 and r.json()["answers"]
        during += client.get(f"/v1/jobs/{job['id']}").json()["state"] == "running"
    assert during >= 1  # answered while the index run held the writer
    assert wait_job(client, job["id"])["state"] == "done"
    assert client.get("/v1/stats").json()["triples"] == 2 * 4442


LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
FILMS = f"""\
<http://x/Kismet_1944> {LABEL} "Kismet"@en .
<http://x/Kismet_1955> {LABEL} "Kismet"@en .
<http://x/William_Dieterle> {LABEL} "William Dieterle"@en .
<http://x/Vincente_Minnelli> {LABEL} "Vincente Minnelli"@en .
<http://x/Kismet_1944> <http://x/release_year> "1944" .
<http://x/Kismet_1955> <http://x/release_year> "1955" .
<http://x/Kismet_1944> <http://x/directed_by> <http://x/William_Dieterle> .
<http://x/Kismet_1955> <http://x/directed_by> <http://x/Vincente_Minnelli> .
"""


def test_a_clarification_comes_back_as_such_and_its_reply_is_answered(make_client: MakeClient,
                                                                       tmp_path: Path) -> None:
    from pipeline import KGQA

    (tmp_path / "films.nt").write_text(FILMS)
    with KGQA.open(tmp_path / "films", progress=False, embedder="hashing") as qa:
        qa.index(tmp_path / "films.nt")
    client = make_client(kb=tmp_path / "films")
    sid = client.post("/v1/sessions").json()["id"]
    asked = client.post(f"/v1/sessions/{sid}/turns", json={"text": "Who directed Kismet?"}).json()
    assert asked["clarification"]["mention"] == "Kismet" and len(asked["clarification"]["options"]) == 2
    assert client.get(f"/v1/sessions/{sid}").json()["pending"]["mention"] == "Kismet"
    second = asked["clarification"]["options"][1]
    reply = client.post(f"/v1/sessions/{sid}/turns", json={"text": "2"}).json()
    expected = {"Kismet_1944": "William Dieterle", "Kismet_1955": "Vincente Minnelli"}[second["id"].rsplit("/", 1)[1]]
    assert reply["clarification"] is None and reply["answers"][0]["label"] == expected
