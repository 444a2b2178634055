"""``kgqa serve`` and ``kgqa token create|list|revoke``.

``register(sub, common)`` adds both to the ``kgqa`` parser (``common`` carries ``--kb``,
``--json``, ``--backend``, ``--uri``, ``--user``, ``--database``). ``serve`` refuses to bind a
non-loopback address while the KB has no tokens: anyone who can reach the port could otherwise
ask, read and re-index.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from kg.errors import KGQAError
from pipeline.serve.auth import SCOPES, TokenStore


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``serve`` and ``token`` to the subparsers ``sub`` of the ``kgqa`` parser."""
    serve = sub.add_parser("serve", parents=[common], help="answer over HTTP: JSON API, OpenAI-compatible chat, a page")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (non-loopback needs tokens)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=16,
                       help="questions answered at the same time (threads of one process: models load once)")
    serve.add_argument("--embedder", default="minilm", help="minilm (English), e5 (multilingual), hashing (tests)")
    serve.add_argument("--generator", choices=("auto", "off"), default="auto", help="as for ask")
    serve.add_argument("--scorer", default="auto", help="as for ask")
    serve.add_argument("--hops", type=int, default=3, choices=(1, 2, 3), help="longest relation path")
    serve.add_argument("--exclude-topic", action="store_true", help="the topic entity is never its own answer")
    serve.add_argument("-k", type=int, default=10, help="pieces of evidence")
    serve.add_argument("--read-only", action="store_true", help="open the KB read-only (no source changes)")
    serve.add_argument("--max-body", type=int, default=1_000_000, help="largest request body, bytes (413)")
    serve.add_argument("--max-question", type=int, default=2000, help="longest question, characters (413)")
    serve.add_argument("--rate-limit", type=float, default=600.0, help="requests per token per minute (0: off)")
    serve.add_argument("--timeout", type=float, default=120.0, help="seconds per request (504)")
    serve.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                       help="allow this browser origin (repeat; default: CORS off)")
    serve.set_defaults(func=cmd_serve)

    token = sub.add_parser("token", help="bearer tokens of a knowledge base's server")
    actions = token.add_subparsers(dest="token_command", required=True)
    create = actions.add_parser("create", parents=[common], help="make a token (shown once)")
    create.add_argument("--scope", choices=SCOPES, required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--quiet", action="store_true", help="print the token alone")
    create.set_defaults(func=cmd_token_create)
    listing = actions.add_parser("list", parents=[common], help="list tokens (names and scopes, never the tokens)")
    listing.set_defaults(func=cmd_token_list)
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a token by name")
    revoke.add_argument("--name", required=True)
    revoke.set_defaults(func=cmd_token_revoke)


def cmd_serve(args: argparse.Namespace) -> int:
    from pipeline.serve.app import run
    from pipeline.serve.engine import ServedKGQA, open_served
    from pipeline.serve.service import ServeConfig, Service
    from retrieval.paths import PathConfig
    from retrieval.retriever import RetrieverConfig

    config = ServeConfig(host=args.host, max_body=args.max_body, max_question=args.max_question,
                         rate_per_minute=args.rate_limit, timeout=args.timeout, cors=tuple(args.cors_origin))
    tokens = TokenStore(args.kb)
    if not config.loopback and not tokens.records():
        raise KGQAError(f"refusing to serve on {args.host} without tokens: create one with "
                        f"`kgqa token create --kb {args.kb} --scope read --name NAME`, or bind 127.0.0.1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # many questions at once: one thread each (see kgqa ask)
    retrieval = RetrieverConfig(evidence=args.k, scorer=args.scorer,
                                paths=PathConfig(max_hops=args.hops, exclude_topic=args.exclude_topic))

    def opener() -> ServedKGQA:
        return open_served(args.kb, backend=args.backend, read_only=args.read_only, progress=False, uri=args.uri,
                           user=args.user, database=args.database, password=os.environ.get("NEO4J_PASSWORD"),
                           embedder=args.embedder, config=retrieval, generator=args.generator)
    run(Service(args.kb, config, opener), args.host, args.port, args.workers)
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    token = TokenStore(args.kb).create(args.name, args.scope)
    if args.quiet:
        print(token)
    elif args.json:
        print(json.dumps({"name": args.name, "scope": args.scope, "token": token}))
    else:
        print(f"token {args.name!r} ({args.scope}), shown once - keep it now:\n{token}")
    return 0


def cmd_token_list(args: argparse.Namespace) -> int:
    records = TokenStore(args.kb).records()
    if args.json:
        print(json.dumps([{"name": r.name, "scope": r.scope, "created": r.created, "hint": r.hint}
                          for r in records]))
        return 0
    if not records:
        print(f"no tokens in {args.kb} (kgqa token create --kb {args.kb} --scope read --name NAME)")
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        print(f"{r.name:20} {r.scope:6} kgqa_{r.hint}...  created {when}")
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    TokenStore(args.kb).revoke(args.name)
    print(f"revoked {args.name!r}", file=sys.stderr if args.json else sys.stdout)
    return 0
