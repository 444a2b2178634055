"""``kgqa ask`` and ``kgqa chat``: one question, or a conversation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline.cli.chat import Chat, line_editing, show
from pipeline.cli.common import answering
from pipeline.dialogue.session import Session
from pipeline.types import Answer

FORMATS = ("text", "json", "mermaid", "dot", "ttl", "nt")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    ask = sub.add_parser("ask", parents=[common], help="answer a question with cited evidence")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=10, help="pieces of evidence")
    ask.add_argument("--embedder", default="minilm", help="minilm (English), e5 (multilingual)")
    ask.add_argument("--exclude-topic", action="store_true",
                     help="the topic entity is never its own answer (MetaQA-style 'other' questions)")
    ask.add_argument("--hops", type=int, default=3, choices=(1, 2, 3), help="longest relation path")
    ask.add_argument("--explain", action="store_true", help="show how the answer was reached")
    ask.add_argument("--no-progress", action="store_true", help="no progress bars (also when --json)")
    ask.add_argument("--format", choices=FORMATS, default="text",
                     help="text (for people), json, or the cited subgraph: mermaid, dot, ttl, nt (RDF + provenance)")
    ask.add_argument("--scorer", default="auto",
                     help="path scorer: auto (the KB's learned or the shipped adapter), zero-shot, or an adapter dir")
    ask.add_argument("--generator", choices=("auto", "off"), default="auto",
                     help="auto: the shipped generator when installed, else a rule-built cited sentence")
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", parents=[common], help="a conversation: follow-ups, clarifications, feedback")
    chat.add_argument("--no-progress", action="store_true", help="no progress bars")
    chat.add_argument("--load", type=Path, metavar="FILE", help="continue a conversation saved with /save")
    chat.add_argument("-k", type=int, default=10, help="pieces of evidence")
    chat.add_argument("--embedder", default="minilm", help="minilm (English), e5 (multilingual)")
    chat.add_argument("--exclude-topic", action="store_true", help="the topic entity is never its own answer")
    chat.add_argument("--hops", type=int, default=3, choices=(1, 2, 3), help="longest relation path")
    chat.add_argument("--generator", choices=("auto", "off"), default="auto", help="as for ask")
    chat.add_argument("--scorer", default="auto", help="as for ask")
    chat.set_defaults(func=cmd_chat)


def cmd_ask(args: argparse.Namespace) -> int:
    with answering(args) as qa:
        answer = qa.ask(args.question)
    print(render(answer, "json" if args.json else args.format, args.explain))
    return 0


def render(answer: Answer, fmt: str, explain: bool = False) -> str:
    """The answer in one of ``FORMATS``: for people, JSON, or the cited subgraph as a diagram or RDF."""
    if fmt == "json":
        return json.dumps(answer.to_dict(), indent=1, ensure_ascii=False)
    if fmt == "mermaid":
        return answer.to_mermaid()
    if fmt == "dot":
        return answer.to_dot()
    if fmt in ("ttl", "nt"):
        return answer.to_rdf("turtle" if fmt == "ttl" else "nt").rstrip("\n")
    return answer.explain() if explain else show(answer, evidence="all")


def cmd_chat(args: argparse.Namespace) -> int:
    with answering(args) as qa:
        session = Session.load(qa, args.load) if args.load else qa.session()
        if sys.stdin.isatty():
            line_editing()
        return Chat(session).run()
