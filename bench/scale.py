"""Scale benchmark: synthetic Wikidata-like graphs indexed and asked, with the growth fitted.

For each size (``--sizes 20000,1000000``) it writes a graph (bench/wikidata_like.py: ~300
predicates with skewed use, power-law degrees, English labels), indexes it in a child process
(wall, CPU, peak RSS, store size), then asks its questions in fresh child processes, once per
``--code`` checkout (so the same KB is measured with the code before and after a change, each on
its own copy): open time (the GraphIndex alone, and the whole retriever with models), the first
question, warm p50/p95 per question (retrieval + answer selection, ``KGQA.retrieve``), the
path-scoring part of it, Hits@1 against the walk's ends, and (with ``--again``, for a checkout
that has the vector cache) a second process on the same copy, which finds what the first cached.
It prints one table, then each measure's growth fitted as a power law ``a * triples^b`` over
the sizes and extrapolated to 10M, 100M and 1B triples: an extrapolation, not a measurement.

    python bench/scale.py [--sizes 20000,1000000] [--code .,../base] [--questions 30] [--again]
    python bench/scale.py --profile 200000      # peak RSS per ingestion phase (where memory goes)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.profile_ingest import profile_index  # noqa: E402
from bench.wikidata_like import generate  # noqa: E402


def _peak_mb() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def index_child(work: Path) -> dict[str, object]:
    """Runs in the child: index graph.nt (with its property labels) into work/kb."""
    from kg.kb import KnowledgeBase
    from kg.readers import ReaderOptions

    start, cpu = time.perf_counter(), _cpu()
    with KnowledgeBase.open(work / "kb", progress=False) as kb:
        report = kb.index(work / "graph.nt", options=ReaderOptions(property_labels=work / "properties.tsv"))
        stats = kb.store.stats()
    size = sum(p.stat().st_size for p in (work / "kb").rglob("*") if p.is_file())
    return {"triples": report.triples, "entities": stats.entities, "index_s": round(time.perf_counter() - start, 1),
            "index_cpu_s": round(_cpu() - cpu, 1), "index_rss_mb": _peak_mb(), "store_mb": round(size / 2**20)}


def query_child(kb_dir: Path, questions: Path, n: int, search: str) -> dict[str, object]:
    """Runs in the child (with the checkout under test first on sys.path): open, then ask."""
    sys.path.insert(0, os.environ.get("KGQA_CODE", str(ROOT)))  # the checkout under test comes first
    from pipeline.api import KGQA
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    paths = PathConfig(max_hops=3) if search == "default" else \
        PathConfig(max_hops=3, search=search)  # type: ignore[arg-type]
    asked = [json.loads(line) for line in questions.read_text().splitlines()][:n]
    start = time.perf_counter()
    with KGQA.open(kb_dir, read_only=True, progress=False, config=RetrieverConfig(paths=paths)) as qa:
        graph_first, graph_s = _graph_open(qa)
        qa.retriever()
        open_s = time.perf_counter() - start
        times, path_ms, hits = [], [], 0
        for q in asked:
            t = time.perf_counter()
            r = qa.retrieve(q["question"])
            times.append(time.perf_counter() - t)
            path_ms.append(r.timings.get("paths", 0.0))
            hits += bool(r.answers) and r.answers[0].id in q["answers"]
    warm = sorted(times[1:]) or [0.0]
    return {"graph_first_s": round(graph_first, 3), "graph_open_s": round(graph_s, 3), "open_s": round(open_s, 1),
            "first_s": round(times[0], 2),
            "warm_p50_ms": round(statistics.median(warm) * 1000), "warm_p95_ms": round(_p95(warm) * 1000),
            "paths_p50_ms": round(statistics.median(path_ms[1:] or [0.0])), "hits1": round(hits / len(asked), 2),
            "questions": len(asked), "query_rss_mb": _peak_mb()}


def _graph_open(qa: object) -> tuple[float, float]:
    """Seconds to get the GraphIndex the way this checkout does: (in this process, in a later one).

    Saved and mapped: the first open may build and save it, a later process maps it. Rebuilt
    from the store (the old way): every process pays the build.
    """
    import importlib.util

    kb = qa.kb  # type: ignore[attr-defined]
    start = time.perf_counter()
    if importlib.util.find_spec("retrieval.graph_files") is not None:
        from retrieval.graph_files import open_index

        open_index(kb.store, kb.directory / "graph_index")
        first = time.perf_counter() - start
        start = time.perf_counter()
        open_index(kb.store, kb.directory / "graph_index")  # what a later process pays
        return first, time.perf_counter() - start
    from retrieval.graph_index import GraphIndex

    GraphIndex.from_store(kb.store)
    first = time.perf_counter() - start
    return first, first


def _p95(values: list[float]) -> float:
    return values[min(len(values) - 1, math.ceil(0.95 * len(values)) - 1)]


def _child(args: list[str], code: Path = ROOT) -> dict[str, object]:
    env = dict(os.environ, KGQA_CODE=str(code), OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=code, env=env)
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(sizes: list[int], codes: list[Path], n: int, again: bool, search: str,
        keep: Path | None) -> list[dict[str, object]]:
    rows = []
    with tempfile.TemporaryDirectory(dir=keep) as tmp:
        for size in sizes:
            work = Path(tmp) / f"g{size}"
            generate(work, size)
            built = _child(["index", str(work)])
            print(f"indexed {size}: {built}", file=sys.stderr)
            for code in codes:
                copy = work / f"kb-{code.name or 'here'}"
                shutil.copytree(work / "kb", copy)
                runs = [_child(["query", str(copy), str(work / "questions.jsonl"), str(n), search], code)]
                if again and (code / "retrieval" / "vector_cache.py").exists():  # nothing is cached otherwise
                    runs.append(_child(["query", str(copy), str(work / "questions.jsonl"), str(n), search], code))
                for i, measured in enumerate(runs):
                    rows.append({"triples": size, "code": f"{code.resolve().name}{' (2nd process)' if i else ''}",
                                 **built, **measured})
                    print(f"asked {size} {code}: {measured}", file=sys.stderr)
                shutil.rmtree(copy)
    return rows


COLUMNS = ["triples", "code", "index_s", "index_cpu_s", "index_rss_mb", "store_mb", "graph_first_s", "graph_open_s",
           "open_s", "first_s", "warm_p50_ms", "warm_p95_ms", "paths_p50_ms", "query_rss_mb", "hits1"]
AFFINE = ["index_s", "index_cpu_s", "index_rss_mb", "store_mb", "graph_first_s",
          "query_rss_mb"]  # fixed cost + cost per triple
POWER = ["graph_open_s", "open_s", "first_s", "warm_p50_ms", "warm_p95_ms", "paths_p50_ms"]  # how it grows, if at all


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def _line(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares intercept and slope."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def fit(rows: list[dict[str, object]]) -> str:
    """Growth per code over the sizes: sizes and memory as fixed + per-triple cost (least squares),
    latencies as a power law a * triples^b; extrapolated (say so) to 10M / 100M / 1B triples."""
    lines = ["", "Growth fitted over the measured sizes; the 10M/100M/1B columns are EXTRAPOLATIONS, not measurements.",
             "| code | measure | fit | 10M | 100M | 1B |", "|---|---|---|---|---|---|"]
    for code in dict.fromkeys(str(r["code"]) for r in rows):
        mine = [r for r in rows if r["code"] == code and all(r.get(m) is not None for m in AFFINE + POWER)]
        if len({r["triples"] for r in mine}) < 2:
            continue
        n = [float(r["triples"]) for r in mine]  # type: ignore[arg-type]
        for m in AFFINE + POWER:
            y = [float(r[m]) for r in mine]  # type: ignore[arg-type]
            if m in AFFINE:
                c, d = _line(n, y)
                text, at = f"{c:.3g} + {d * 1e6:.3g} per 1M triples", [c + d * t for t in (1e7, 1e8, 1e9)]
                if d <= 0:
                    text, at = "flat (no growth measured)", [statistics.fmean(y)] * 3
            else:
                a, b = _line([math.log(v) for v in n], [math.log(max(v, 1e-3)) for v in y])
                text, at = f"triples^{b:.2f}", [math.exp(a + b * math.log(t)) for t in (1e7, 1e8, 1e9)]
            lines.append(f"| {code} | {m} | {text} | " + " | ".join(f"{v:,.3g}" for v in at) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20000,1000000")
    parser.add_argument("--code", default=".", help="comma-separated checkouts to ask with (e.g. .,../base)")
    parser.add_argument("--questions", type=int, default=30)
    parser.add_argument("--search", default="default", help="default, beam or exhaustive (new code only)")
    parser.add_argument("--again", action="store_true", help="ask a second time in a new process")
    parser.add_argument("--keep", type=Path, help="work directory (default: a temporary one)")
    parser.add_argument("--profile", type=int, help="profile ingestion memory by phase at this size")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = index_child(Path(rest[0])) if kind == "index" else \
            profile_index(Path(rest[0])) if kind == "profile" else \
            query_child(Path(rest[0]), Path(rest[1]), int(rest[2]), rest[3])
        print(json.dumps(result))
        return
    if args.profile:
        with tempfile.TemporaryDirectory(dir=args.keep) as tmp:
            generate(Path(tmp), args.profile)
            print(json.dumps(_child(["profile", tmp]), indent=1))
        return
    codes = [Path(c).resolve() for c in args.code.split(",")]
    rows = run([int(s) for s in args.sizes.split(",")], codes, args.questions, args.again, args.search, args.keep)
    print(json.dumps(rows, indent=1) if args.json else table(rows) + "\n" + fit(rows))


if __name__ == "__main__":
    main()
