"""Atomic file replacement, and tolerant reads of files that can be rebuilt.

``write_atomic`` writes to a temporary sibling, flushes it to disk, then renames it over the
target: a reader sees the old file or the new one, never a mix, even after a crash.
``read_json_or_none`` reads a small JSON file that is derived state (a stamp, a cache): missing
or damaged, it is simply absent (with one warning when damaged), and the caller rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (adapter cards record the data they were trained on)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_atomic(path: Path, data: bytes | str) -> None:
    """Replace ``path`` by ``data`` (text is written as UTF-8)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json_or_none(path: Path, kind: type = dict) -> Any:
    """The JSON value in ``path`` when it exists, parses and is a ``kind``; otherwise None.

    For derived state only (what the caller can rebuild): a damaged file gets one warning that
    names it; a missing one is silent.
    """
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        log.warning("%s is damaged (%s); rebuilding it", path, exc)
        return None
    if not isinstance(value, kind):
        log.warning("%s holds a %s, not a %s; rebuilding it", path, type(value).__name__, kind.__name__)
        return None
    return value
