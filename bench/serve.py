"""Serving benchmark: N concurrent clients over loopback against a ``kgqa serve`` process.

The server runs in a child process (its RSS is read from /proc before and after each run) over
the bundled world KB. For each generator setting and each client count (1, 4, 16), the clients
ask for ``--seconds`` and then stop by themselves; one request in ``--bad-every`` is bad input
(malformed JSON, a wrong type, a question of control characters, an oversized body, an unknown
session), which must get its expected status (422, 422, 200 with a note, 413, 404). Reported:
good answers per second, p50/p95/p99 latency of good answers, how many of them are checked
generated text (not the rule sentence), bad inputs answered as expected,
errors (anything unexpected: must be 0), server RSS before/after.

Generators: ``off`` (the rule-built cited sentence), ``fake`` (a scripted generator streaming
one word every ``--fake-delay`` seconds, to load the streaming path without a model), ``auto``
(the shipped gemma adapter: slow on a CPU). The embedder is ``hashing`` unless ``--embedder``.

    python bench/serve.py [--seconds 10] [--clients 1,4,16] [--generators off,fake] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORLD = ROOT / "data" / "world.nt"
COUNTRIES = ["France", "Germany", "Italy", "Spain", "Japan", "Egypt", "Peru", "Kenya", "Canada", "India"]
BAD = [  # (how the request is sent, expected status)
    ("json", 422), ("type", 422), ("control", 200), ("huge", 413), ("session", 404)]


class FakeGenerator:
    """Says "<answer> is the answer [1]." word by word, ``delay`` seconds a word (no model)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def generate(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> str:
        return "".join(self.stream(prompt))

    def stream(self, prompt: str, max_new_tokens: int = 64, constrain: bool = True) -> Iterator[str]:
        found = re.search(r"\[1\][^\n]*?(?:->|-)\s*([^\n\[]+?)\s*(?:\(|$)", prompt, re.M)
        for word in re.findall(r"\S+\s*", f"{found[1] if found else 'It'} is the answer [1]."):
            time.sleep(self.delay)
            yield word


def serve_child(kb: str, port: int, generator: str, embedder: str, delay: float) -> None:
    """The server process: ``kgqa serve`` with the bench's generator (a fake needs this entry point)."""
    from pipeline.serve.app import run
    from pipeline.serve.engine import open_served
    from pipeline.serve.service import ServeConfig, Service

    model: object = FakeGenerator(delay) if generator == "fake" else generator
    config = ServeConfig(rate_per_minute=0, max_body=100_000, timeout=300)
    service = Service(kb, config, lambda: open_served(kb, progress=False, embedder=embedder,
                                                      generator=model))
    run(service, "127.0.0.1", port, workers=16, access_log=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bad_request(client: httpx.Client, url: str, kind: str) -> int:
    if kind == "json":
        return client.post(url + "/v1/ask", content=b'{"question": ', headers={"Content-Type": "application/json"}
                           ).status_code
    if kind == "type":
        return client.post(url + "/v1/ask", json={"question": ["x"]}).status_code
    if kind == "control":
        return client.post(url + "/v1/ask", json={"question": "\x00\x07\x1b?!"}).status_code
    if kind == "huge":
        return client.post(url + "/v1/ask", json={"question": "x" * 200_000}).status_code
    return client.post(url + "/v1/sessions/nope/turns", json={"text": "hi"}).status_code


def clients_run(url: str, n: int, seconds: float, bad_every: int) -> dict[str, float]:
    latencies: list[float] = []
    counts = {"bad_ok": 0, "errors": 0, "generated": 0}
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        with httpx.Client(timeout=120) as http:
            i = 0
            while time.monotonic() < deadline:
                i += 1
                try:
                    if bad_every and i % bad_every == 0:
                        kind, expected = BAD[(i // bad_every + index) % len(BAD)]
                        ok = bad_request(http, url, kind) == expected
                        with lock:
                            counts["bad_ok" if ok else "errors"] += 1
                        continue
                    country = COUNTRIES[(i + index) % len(COUNTRIES)]
                    start = time.perf_counter()
                    r = http.post(url + "/v1/ask", json={"question": f"What is the capital of {country}?"})
                    took = time.perf_counter() - start
                    good = r.status_code == 200 and bool(r.json()["answers"])
                    generated = good and not r.json()["fallback"]
                except (httpx.HTTPError, ValueError, KeyError):
                    good, generated, took = False, False, 0.0
                with lock:
                    if good:
                        latencies.append(took)
                        counts["generated"] += generated
                    else:
                        counts["errors"] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    ms = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    return {"clients": n, "answers": len(latencies), "per_second": round(len(latencies) / wall, 2),
            "p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1), **counts}


def bench_generator(kb: Path, generator: str, args: argparse.Namespace) -> list[dict[str, object]]:
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen([sys.executable, __file__, "--serve-child", str(kb), str(port), generator,
                              args.embedder, str(args.fake_delay)], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if child.poll() is not None:
                raise SystemExit(f"the server exited with {child.returncode}")
            time.sleep(0.2)
        httpx.post(url + "/v1/ask", json={"question": "What is the capital of France?"}, timeout=300)  # warm
        rows = []
        for n in args.clients:
            before = rss_mb(child.pid)
            row = clients_run(url, n, args.seconds, args.bad_every)
            rows.append({"generator": generator, **row, "rss_before_mb": round(before, 1),
                         "rss_after_mb": round(rss_mb(child.pid), 1)})
            print(json.dumps(rows[-1]), file=sys.stderr)
        return rows
    finally:
        child.terminate()
        child.wait(30)


def table(rows: list[dict[str, object]]) -> str:
    cols = ["generator", "clients", "per_second", "p50_ms", "p95_ms", "p99_ms", "answers", "generated", "bad_ok",
            "errors",
            "rss_before_mb", "rss_after_mb"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-child":
        directory, port, generator, embedder, delay = sys.argv[2:7]
        serve_child(directory, int(port), generator, embedder, float(delay))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each client count runs")
    parser.add_argument("--clients", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16])
    parser.add_argument("--generators", default="off,fake", help="comma-separated: off, fake, auto")
    parser.add_argument("--embedder", default="hashing")
    parser.add_argument("--fake-delay", type=float, default=0.01, help="seconds per word of the fake generator")
    parser.add_argument("--bad-every", type=int, default=10, help="one bad request in N (0: none)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        from pipeline import KGQA

        kb = Path(tmp) / "kb"
        with KGQA.open(kb, progress=False, embedder=args.embedder) as qa:
            qa.index(WORLD)
        rows = [r for g in args.generators.split(",") for r in bench_generator(kb, g.strip(), args)]
    print(json.dumps(rows, indent=1) if args.json else table(rows))
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
