"""The vector index's three tiers side by side: exact, HNSW and IVF-PQ, at growing sizes.

Synthetic unit vectors shaped like sentence embeddings (384 dimensions, a mixture of
``--clusters`` Gaussian topics, so neighbours are not uniform noise); the queries are perturbed
stored vectors. Each tier is built through ``VectorIndex`` with its thresholds set so that it is
the one chosen; recall@10 is against exact search. Prints one table (or ``--json``): build
seconds, the FAISS file and the stored vectors on disk, resident memory (all, and the part not
backed by a file) after opening the saved index in a fresh process, and single-query p50 / p95.

    python bench/dense_tiers.py [--sizes 100000,300000] [--queries 200] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from retrieval.dense import DenseConfig, VectorIndex  # noqa: E402

DIM = 384
TIERS = {
    "exact": DenseConfig(exact_limit=10**12, pq_limit=10**12, use_gpu=False),
    "hnsw": DenseConfig(exact_limit=1, pq_limit=10**12, use_gpu=False),
    "ivfpq": DenseConfig(exact_limit=1, pq_limit=1, use_gpu=False),
}


def vectors(n: int, clusters: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, DIM)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        part = min(100_000, n - start)
        out[start:start + part] = centers[rng.integers(0, clusters, part)] + \
            0.9 * rng.standard_normal((part, DIM)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def queries(data: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = data[rng.choice(len(data), count, replace=False)] + 0.05 * rng.standard_normal((count, DIM)).astype(np.float32)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def open_rss(directory: Path, tier: str) -> tuple[float, float]:
    """Resident MB of a fresh process after it opened the saved index and ran one search: all of
    it, and the part not backed by a file (a mapped file's pages can be dropped under pressure)."""
    code = ("import sys, numpy as np, psutil; sys.path.insert(0, %r)\n"
            "from bench.dense_tiers import TIERS; from retrieval.dense import VectorIndex\n"
            "def mem(): m = psutil.Process().memory_info(); return m.rss, m.rss - m.shared\n"
            "base = mem()\n"
            "index = VectorIndex.open(%r, TIERS[%r]); index.search(np.ones((1, %d), dtype=np.float32) / %f, 10)\n"
            "print(*((a - b) / 2**20 for a, b in zip(mem(), base)))") % (
        str(ROOT), str(directory), tier, DIM, DIM ** 0.5)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rss, anon = (round(float(x), 1) for x in done.stdout.strip().splitlines()[-1].split())
    return rss, anon


def measure(n: int, count: int, clusters: int, tiers: list[str]) -> list[dict[str, Any]]:
    data, q = vectors(n, clusters), None
    q = queries(data, count)
    truth = (q @ data.T).argsort(axis=1)[:, ::-1][:, :10]
    ids = [str(i) for i in range(n)]
    rows = []
    for tier in tiers:
        with tempfile.TemporaryDirectory() as tmp:
            directory = Path(tmp) / tier
            start = time.perf_counter()
            index = VectorIndex.create(directory, DIM, "synthetic", TIERS[tier])
            index.add(ids, data)
            index.search(q[:1], 10)  # builds the FAISS index
            build = time.perf_counter() - start
            times, hits = [], 0
            for i in range(count):
                t = time.perf_counter()
                found = index.search(q[i:i + 1], 10)[0]
                times.append((time.perf_counter() - t) * 1000)
                hits += len({int(f) for f, _ in found} & set(truth[i].tolist()))
            index.save()
            folder = directory / index.manifest.snapshot
            rows.append({
                "vectors": n, "tier": tier, "kind": index.manifest.kind, "build_s": round(build, 1),
                "faiss_mb": round((folder / "index.faiss").stat().st_size / 2**20, 1),
                "stored_mb": round((folder / "vectors.npy").stat().st_size / 2**20, 1),
                **dict(zip(("open_rss_mb", "open_anon_mb"), open_rss(directory, tier))),
                "recall@10": round(hits / (10 * count), 3),
                "p50_ms": round(statistics.median(times), 2),
                "p95_ms": round(statistics.quantiles(times, n=20)[18], 2),
            })
            print(json.dumps(rows[-1]), file=sys.stderr)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,300000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--clusters", type=int, default=2000)
    parser.add_argument("--tiers", default="exact,hnsw,ivfpq")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [r for n in (int(s) for s in args.sizes.split(",")) for r in
            measure(n, args.queries, args.clusters, args.tiers.split(","))]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
