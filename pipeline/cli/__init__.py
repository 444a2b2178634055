"""The ``kgqa`` command line: one entry point, one module per command group.

Each command module has ``register(sub, common)``, which adds its sub-commands with
``set_defaults(func=...)``; ``main`` parses, configures logging and runs the chosen function.
This package is the only place that parses arguments or prints. Output is for people by default;
``--json`` prints one JSON document for machines. Errors that kgqa raises on purpose print one
line and exit with status 2; nothing is half-written.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kg.errors import KGQAError
from pipeline.cli import adapt, ask, evaluate, kb, learn, train
from pipeline.cli.common import common_options

log = logging.getLogger("kgqa")
GROUPS = (kb, adapt, ask, evaluate, train, learn)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kgqa", description="Question answering over knowledge graphs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    sub = parser.add_subparsers(dest="command", required=True)
    common = common_options()
    for group in GROUPS:
        group.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.func(args)
        return code
    except KGQAError as exc:
        print(f"kgqa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kgqa: interrupted; run the same command again to complete it", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
