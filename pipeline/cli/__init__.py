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
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from kg.errors import KGQAError
from pipeline.cli import adapt, ask, evaluate, export, kb, learn, serve, train
from pipeline.cli.common import common_options

log = logging.getLogger("kgqa")
GROUPS = (kb, adapt, ask, evaluate, train, learn, serve, export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kgqa", description="Question answering over knowledge graphs.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more")
    parser.add_argument("--version", action="version", version=f"kgqa {_version()}")
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
    except BrokenPipeError:  # the reader went away (``kgqa neighbors X | head -1``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush does not fail again
        return 0
    except OSError as exc:  # a file that cannot be read or written, a full disk: the OS said why
        print(f"kgqa: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug of ours: one line for the user, the traceback with -v
        if args.verbose:
            log.exception("internal error")
        print(f"kgqa: internal error ({type(exc).__name__}: {exc}); run with -v for the details and report it",
              file=sys.stderr)
        return 3


def _version() -> str:
    try:
        return metadata.version("kgqa")
    except metadata.PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    sys.exit(main())
