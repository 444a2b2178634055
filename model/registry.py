"""Which adapters exist and which one is live: the shipped adapters and ``learning/history.json``.

The shipped adapters live in ``model/adapters/`` (the path scorer and the generator, each with a
card). A knowledge base's own adapters are written by learning runs into ``DIR/learning/`` and
the run history, ``DIR/learning/history.json``, names the live one. This module is the one place
that reads and writes that history and answers "which adapter does ``auto`` use?".

Left out: training (model/path_scorer.py) and the learning run itself (pipeline/training/).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kg.catalog import CATALOG_FILE
from kg.errors import BackendUnavailable, KGQAError
from kg.files import write_atomic
from model.base import Embedder
from model.head_scorer import HEAD_FILE, HeadPathScorer
from model.path_scorer import TrainedPathScorer
from model.scorer import ZeroShotPathScorer

log = logging.getLogger(__name__)
ADAPTERS = Path(__file__).parent / "adapters"
SHIPPED_SCORER = ADAPTERS / "scorer"  # trained on MetaQA questions: ``auto`` uses it on that KB only
GENERIC_SCORER = ADAPTERS / "generic"  # trained with no benchmark questions: a candidate of the self-check
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


def learning_root(kb_dir: str | Path) -> Path:
    """The knowledge base's ``learning/`` directory, created when missing (for a learning run).

    Raises:
        BackendUnavailable: ``kb_dir`` holds no knowledge base.
    """
    root = learning_dir(Path(kb_dir).resolve())
    if not (root.parent / CATALOG_FILE).exists():
        raise BackendUnavailable(f"no knowledge base at {root.parent} (run `kgqa index PATH --kb {kb_dir}`)")
    root.mkdir(exist_ok=True)
    return root


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


def is_adapter(path: Path) -> bool:
    """A LoRA scorer adapter (``adapter_config.json``) or a scorer head (``head.npz``) is there."""
    return (path / "adapter_config.json").exists() or (path / HEAD_FILE).exists()


def load_adapter(path: Path, embedder: Embedder, device: str | None = None,
                 base: str | Path | None = None) -> ZeroShotPathScorer:
    """The scorer of an adapter directory: a scorer head over ``embedder``, or a LoRA adapter of MiniLM."""
    if (path / HEAD_FILE).exists():
        return HeadPathScorer.load(path, embedder)
    return TrainedPathScorer.load(path, device, base)


def kb_fingerprint(predicates: Sequence[str]) -> dict[str, Any]:
    """What an adapter card records about the KB it was trained on: its relation set (count and hash)."""
    text = "\n".join(sorted(set(predicates)))
    return {"relations": len(set(predicates)), "relations_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def trained_for(adapter: Path, predicates: Sequence[str]) -> bool:
    """Whether the adapter's card says it was trained on a KB with exactly these relations."""
    try:
        card = json.loads((adapter / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    recorded = card.get("kb", {}).get("relations_sha256")
    return bool(recorded) and recorded == kb_fingerprint(predicates)["relations_sha256"]


def auto_adapter(kb_dir: str | Path | None, embedder: str, shipped: bool = True,
                 relations: Sequence[str] | None = None) -> Adapter | None:
    """The adapter ``auto`` path scoring uses without a self-check, or None (the self-check decides).

    In order: the live adapter of the knowledge base's learning history (``kgqa adapt`` or
    ``kgqa learn``); the shipped MetaQA adapter (model/adapters/scorer) when ``shipped``, the
    embedder is MiniLM (its base) and ``relations`` (the KB's predicates) are the relation set
    its card records; else None.
    """
    if kb_dir is not None:
        history = read_history(kb_dir)
        if history.get("live"):
            path = learning_dir(kb_dir) / history["live"]
            if is_adapter(path):
                return Adapter(path, history.get("base"))
            log.warning("the live adapter %s named in %s is missing: not using it", path, HISTORY)
    if shipped and embedder == "minilm" and is_adapter(SHIPPED_SCORER) \
            and relations is not None and trained_for(SHIPPED_SCORER, relations):
        return Adapter(SHIPPED_SCORER)
    return None


_RUN = re.compile(r"^scorer-(\d+)")


def next_run(root: Path, history: dict[str, Any]) -> int:
    """One past every run in the history and every adapter directory in ``root`` (a crashed run's included)."""
    numbers = [int(r["run"]) for r in history["runs"]]
    numbers += [int(m.group(1)) for p in root.iterdir() for m in [_RUN.match(p.name)] if m]
    return max(numbers, default=0) + 1


@contextmanager
def locked(root: Path) -> Iterator[None]:
    """One learning or adaptation run per knowledge base at a time (advisory lock on ``learning/.lock``).

    Raises:
        KGQAError: another run holds the lock.
    """
    import fcntl

    with (root / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KGQAError(f"another learning or adaptation run is using {root}") from None
        yield


def describe(adapter: Adapter | None, root: Path) -> str:
    """``zero-shot``, a learned adapter's name (``scorer-002``: the KB may move) or a path."""
    if adapter is None:
        return "zero-shot"
    return adapter.path.name if adapter.path.parent == root else str(adapter.path)


def live_name(kb_dir: str | Path, embedder: str, base: str | None, relations: Sequence[str] | None = None) -> str:
    """What ``auto`` scoring uses now (without the self-check), as a name for reports."""
    live = auto_adapter(kb_dir, embedder, shipped=base is None, relations=relations)
    return "zero-shot" if live is None else str(live.path)
