"""What every command shares: the common options and opening the knowledge base."""

from __future__ import annotations

import argparse
import os

from kg.stores import BACKENDS
from pipeline.api import KGQA
from retrieval.paths import PathConfig
from retrieval.retriever import RetrieverConfig


def common_options() -> argparse.ArgumentParser:
    """The parent parser of the commands that open a knowledge base."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kb", default=os.environ.get("KGQA_KB", "kb"),
                        help="knowledge base directory (default: $KGQA_KB or ./kb)")
    common.add_argument("--json", action="store_true", help="print JSON for machines")
    common.add_argument("--backend", choices=sorted(BACKENDS), help="graph store (default: embedded, or as created)")
    common.add_argument("--uri", default=os.environ.get("NEO4J_URI"), help="Neo4j Bolt URI ($NEO4J_URI)")
    common.add_argument("--user", default=os.environ.get("NEO4J_USER"), help="Neo4j user ($NEO4J_USER)")
    common.add_argument("--database", default=os.environ.get("NEO4J_DATABASE"), help="Neo4j database")
    return common


def run_options() -> argparse.ArgumentParser:
    """The parent parser of the commands that train a scorer on a KB (``learn``, ``adapt``)."""
    run = argparse.ArgumentParser(add_help=False)
    run.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--no-progress", action="store_true")
    run.add_argument("--base", help=argparse.SUPPRESS)  # a base model directory (tests use a tiny one)
    return run


def open_kb(args: argparse.Namespace, read_only: bool = False, config: RetrieverConfig | None = None) -> KGQA:
    """The knowledge base of ``--kb`` with the connection options (and ``--embedder`` where the command has it)."""
    return KGQA.open(args.kb, backend=args.backend, read_only=read_only,
                     progress=not getattr(args, "no_progress", False) and not args.json,
                     uri=args.uri, user=args.user, database=args.database,
                     password=os.environ.get("NEO4J_PASSWORD"), embedder=getattr(args, "embedder", "minilm"),
                     config=config or RetrieverConfig(), buffer_pool_mb=getattr(args, "buffer_pool_mb", None))


def answering(args: argparse.Namespace) -> KGQA:
    """The knowledge base opened read-only for answering, with the ask/chat options."""
    # one OpenMP thread for one question: on a small machine a second one makes a FAISS search
    # many times slower (set before faiss and torch are imported)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    config = RetrieverConfig(evidence=args.k, paths=PathConfig(max_hops=args.hops, exclude_topic=args.exclude_topic),
                             scorer=args.scorer)
    progress = not args.json and not getattr(args, "no_progress", False)
    return KGQA.open(args.kb, backend=args.backend, read_only=True, progress=progress, uri=args.uri,
                     user=args.user, database=args.database, password=os.environ.get("NEO4J_PASSWORD"),
                     embedder=args.embedder, config=config, generator=args.generator)
