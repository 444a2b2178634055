"""Which adapters exist and which one is live: the shipped adapters and ``learning/history.json``.

The shipped adapters live in ``model/adapters/`` (the path scorer and the generator, each with a
card). A knowledge base's own adapters are written by learning runs into ``DIR/learning/`` and
the run history, ``DIR/learning/history.json``, names the live one. This module is the one place
that reads and writes that history and answers "which adapter does ``auto`` use?".

Left out: training (model/path_scorer.py) and the learning run itself (pipeline/training/).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.errors import KGQAError
from kg.files import write_atomic

log = logging.getLogger(__name__)
ADAPTERS = Path(__file__).parent / "adapters"
SHIPPED_SCORER = ADAPTERS / "scorer"  # what ``auto`` scoring falls back to
SHIPPED_GENERATOR = ADAPTERS / "generator"  # what ``generator="auto"`` loads
LEARNING, HISTORY = "learning", "history.json"
FORMAT = 1


@dataclass(frozen=True)
class Adapter:
    """A path-scorer adapter directory and the base model it was trained on (None: MiniLM)."""

    path: Path
    base: str | None = None


def learning_dir(kb_dir: str | Path) -> Path:
    """Where a knowledge base keeps its learned adapters and their history."""
    return Path(kb_dir) / LEARNING


def read_history(kb_dir: str | Path) -> dict[str, Any]:
    """The learning history of the knowledge base in ``kb_dir`` (an empty one before the first run).

    Raises:
        KGQAError: ``history.json`` cannot be read.
    """
    path = learning_dir(kb_dir) / HISTORY
    if not path.exists():
        return {"format": FORMAT, "live": None, "base": None, "feedback_seen": 0, "runs": []}
    try:
        history: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KGQAError(f"cannot read the learning history {path}: {exc}") from None
    return history


def write_history(kb_dir: str | Path, history: dict[str, Any]) -> None:
    """Replace the learning history atomically (written last by a run, so it never names half an adapter)."""
    write_atomic(learning_dir(kb_dir) / HISTORY, json.dumps(history, indent=1, ensure_ascii=False) + "\n")


def auto_adapter(kb_dir: str | Path | None, embedder: str, shipped: bool = True) -> Adapter | None:
    """The adapter ``auto`` path scoring uses, or None for zero-shot scoring.

    In order: the live adapter of the knowledge base's learning history (``kgqa learn``); the
    shipped adapter (model/adapters/scorer) when ``shipped``, installed and the embedder is
    MiniLM (its base); else None.
    """
    if kb_dir is not None:
        history = read_history(kb_dir)
        if history.get("live"):
            path = learning_dir(kb_dir) / history["live"]
            if (path / "adapter_config.json").exists():
                return Adapter(path, history.get("base"))
            log.warning("the live adapter %s named in %s is missing: not using it", path, HISTORY)
    if shipped and embedder == "minilm" and (SHIPPED_SCORER / "adapter_config.json").exists():
        return Adapter(SHIPPED_SCORER)
    return None


def describe(adapter: Adapter | None, root: Path) -> str:
    """``zero-shot``, a learned adapter's name (``scorer-002``: the KB may move) or a path."""
    if adapter is None:
        return "zero-shot"
    return adapter.path.name if adapter.path.parent == root else str(adapter.path)


def live_name(kb_dir: str | Path, embedder: str, base: str | None) -> str:
    """What ``auto`` scoring uses now, as a name for reports."""
    live = auto_adapter(kb_dir, embedder, shipped=base is None)
    return "zero-shot" if live is None else str(live.path)
