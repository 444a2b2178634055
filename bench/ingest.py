"""Ingestion benchmark: parse + load speed, peak memory, store size and re-index times.

Sources: the MetaQA KB (from ../shared/data, skipped when absent) and a synthetic graph of
``--synthetic`` triples (default 1M). Backends: the embedded LadybugDB store and a Neo4j-protocol
Bolt server (ArcadeDB from the test extras, or NEO4J_URI). Each case runs in a fresh child
process so that its peak RSS is its own. Prints one table (``--json`` for machines).

    python bench/ingest.py [--backends embedded,bolt] [--synthetic 1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
METAQA = ROOT.parent / "shared" / "data" / "metaqa" / "kb.txt.gz"


def synthetic(path: Path, n: int, seed: int = 7) -> Path:
    """``n`` distinct triples over n/10 entities and 20 relations, ``s|r|o`` lines."""
    rng = random.Random(seed)
    entities = max(n // 10, 10)
    seen: set[tuple[int, int, int]] = set()
    with path.open("w") as fh:
        while len(seen) < n:
            t = (rng.randrange(entities), rng.randrange(20), rng.randrange(entities))
            if t not in seen:
                seen.add(t)
                fh.write(f"entity {t[0]}|relation_{t[1]}|entity {t[2]}\n")
    return path


def changed_copy(src: Path, dst: Path, fraction: float = 0.01, seed: int = 11) -> Path:
    """A copy with ``fraction``/2 of the lines dropped and as many new lines added."""
    import gzip

    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    rng = random.Random(seed)
    k = int(len(lines) * fraction / 2)
    drop = set(rng.sample(range(len(lines)), k))
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    kept += [f"bench new {i}|relation_new|bench target {i}" for i in range(k)]
    with opener(dst, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(kept) + "\n")
    return dst


def run_case(backend: str, source: Path, changed: Path, kb_dir: Path, conn: dict[str, str]) -> dict[str, object]:
    """Runs in the child: index, re-index unchanged, re-index the changed copy."""
    from kg.kb import KnowledgeBase

    target = kb_dir / source.name
    shutil.copy(source, target)
    with KnowledgeBase.open(kb_dir / "kb", backend=backend if backend != "bolt" else "neo4j",
                            progress=False, **conn) as kb:
        if backend == "bolt":
            kb.store.clear()  # type: ignore[attr-defined]
        start = time.perf_counter()
        first = kb.index(target)
        seconds = time.perf_counter() - start
        start = time.perf_counter()
        kb.index(target)
        unchanged = time.perf_counter() - start
        shutil.copy(changed, target)
        start = time.perf_counter()
        delta = kb.index(target)
        changed_s = time.perf_counter() - start
        stats = kb.store.stats()
    size = sum(p.stat().st_size for p in (kb_dir / "kb").rglob("*") if p.is_file())
    return {"triples": first.triples, "entities": stats.entities, "seconds": round(seconds, 2),
            "triples_per_s": round(first.triples / seconds), "store_mb": round(size / 2**20, 1),
            "unchanged_s": round(unchanged, 3), "changed_1pct_s": round(changed_s, 2),
            "changed_added": delta.added, "changed_removed": delta.removed,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def child(args: argparse.Namespace) -> None:
    conn = json.loads(args.conn)
    result = run_case(args.backend, Path(args.source), Path(args.changed), Path(args.kb_dir), conn)
    print(json.dumps(result))


def measure(backend: str, name: str, source: Path, work: Path, conn: dict[str, str]) -> dict[str, object]:
    changed = changed_copy(source, work / f"{name}.changed{''.join(source.suffixes)}")
    kb_dir = Path(tempfile.mkdtemp(dir=work))
    cmd = [sys.executable, __file__, "--child", "--backend", backend, "--source", str(source),
           "--changed", str(changed), "--kb-dir", str(kb_dir), "--conn", json.dumps(conn)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
    return {"backend": backend, "source": name, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="embedded,bolt")
    parser.add_argument("--synthetic", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--backend", "--source", "--changed", "--kb-dir", "--conn"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sources = {"metaqa": METAQA} if METAQA.exists() else {}
        if not METAQA.exists():
            print(f"skipping MetaQA: {METAQA} is absent", file=sys.stderr)
        if args.synthetic:
            sources[f"synthetic-{args.synthetic // 1000}k"] = synthetic(work / "synthetic.txt", args.synthetic)
        for backend in args.backends.split(","):
            with bolt(backend, work) as conn:
                for name, path in sources.items():
                    rows.append(measure(backend, name, path, work, conn))
                    print(f"done {backend} {name}", file=sys.stderr)
    print(json.dumps(rows, indent=1) if args.json else table(rows))


class bolt:
    """A Bolt server for the ``bolt`` backend (NEO4J_URI if set, else ArcadeDB); nothing otherwise."""

    def __init__(self, backend: str, work: Path) -> None:
        self.backend, self.work, self._cm = backend, work, None

    def __enter__(self) -> dict[str, str]:
        if self.backend != "bolt":
            return {}
        if os.environ.get("NEO4J_URI"):
            return {"uri": os.environ["NEO4J_URI"], "user": os.environ.get("NEO4J_USER", "neo4j"),
                    "password": os.environ.get("NEO4J_PASSWORD", "")}
        from tests.bolt_server import start_arcadedb_bolt

        self._cm = start_arcadedb_bolt(self.work / "arcadedb", heap_size="4g")
        server = self._cm.__enter__()
        return {"uri": server.uri, "user": server.user, "password": server.password,
                "database": server.database}

    def __exit__(self, *exc: object) -> None:
        if self._cm is not None:
            self._cm.__exit__(None, None, None)


def table(rows: list[dict[str, object]]) -> str:
    cols = ["backend", "source", "triples", "seconds", "triples_per_s", "peak_rss_mb", "store_mb",
            "unchanged_s", "changed_1pct_s"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    lines = [" | ".join(c.ljust(widths[c]) for c in cols), "-|-".join("-" * widths[c] for c in cols)]
    lines += [" | ".join(str(r[c]).ljust(widths[c]) for c in cols) for r in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
