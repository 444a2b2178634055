"""The cheap part of the consistency check, run by every writable open of a knowledge base.

Change numbers and triple counts only (no state file is read): enough to see a store that was
deleted, emptied or replaced, or a catalog that was, so that indexing never calls a source
"unchanged" while the store lacks it. The whole check and the repairs are in ``kg.check``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from kg.catalog import Catalog
from kg.stores.base import GraphStore

log = logging.getLogger(__name__)
INCOMPLETE = ("partial", "removing", "indexing")  # states an interrupted run leaves
REBUILD = {"store-lost", "store-ahead", "store-stale", "triples", "nodes", "state-corrupt", "state-counts", "passages"}


@dataclass(frozen=True)
class Problem:
    """One disagreement: its kind, the source it concerns (if one) and what it means."""

    kind: str
    message: str
    source: str | None = None


def quick_problems(store: GraphStore, catalog: Catalog) -> list[Problem]:
    """Disagreements visible from change numbers and counts alone (no state file is read).

    The common case costs one lookup: the store reports the change number the catalog recorded
    after its last write. Counts (``store.stats``) are read only when that does not settle it.
    Change numbers and surplus triples are compared only for the embedded store, which its
    directory owns: a server database (Neo4j) may be shared, or hold data of its own.
    """
    owned = store.name == "embedded"
    stored_seq = store.applied_seq()
    expected = catalog.applied() if owned else None
    if expected is not None and stored_seq == expected:
        return []
    sources = catalog.sources()
    listed = [r for r in sources if r.state == "ok"]
    most = max((r.triples for r in listed), default=0)
    if not owned and (stored_seq or not most):
        return []  # a server store that has been written to: counts are not ours to judge
    stats = store.stats()
    if not sources:
        if owned and stats.triples:
            return [Problem("catalog-lost", f"the store holds {stats.triples} triples but the catalog lists no "
                                            "source (catalog.sqlite deleted or replaced?); restore the catalog, "
                                            "or move the knowledge base aside and index the sources again")]
        return []
    total = sum(r.triples for r in listed)
    if stats.triples == 0 and most > 0:
        return [Problem("store-lost", f"the store holds no triples but the catalog lists {total} from "
                                      f"{len(listed)} source(s) (store file deleted or replaced?)")]
    found = _seq_problems(stored_seq, catalog.last_seq(), expected) if owned else []
    if stats.triples < most:
        found.append(Problem("triples", f"the store holds {stats.triples} triples, fewer than the {most} of one "
                                        "source alone"))
    elif owned and len(listed) == len(sources) and stats.triples > total:
        found.append(Problem("triples", f"the store holds {stats.triples} triples, more than the {total} its "
                                        "sources contributed"))
    return found


def _seq_problems(stored_seq: int, handed_out: int, expected: int | None) -> list[Problem]:
    if stored_seq > handed_out:
        return [Problem("store-ahead", f"the store has applied change {stored_seq} but the catalog has handed out "
                                       f"only {handed_out} (an older copy of the catalog?)")]
    if expected is not None and stored_seq != expected:
        return [Problem("store-stale", f"the store has applied change {stored_seq} but the catalog recorded "
                                       f"{expected} (a store restored from an older copy, or another knowledge "
                                       "base's?)")]
    return []


def store_is_empty(store: GraphStore) -> bool:
    stats = store.stats()
    return stats.triples == 0 and stats.entities == 0 and stats.literals == 0


def heal_lost_store(store: GraphStore, catalog: Catalog, directory: Path) -> bool:
    """After a writable open: if the store is empty but the catalog lists triples, get ready to re-apply.

    Every source is reset (its state forgotten, marked partial), so the next ``index`` of it
    applies it whole instead of calling it unchanged. Returns whether this happened.
    """
    if not any(p.kind == "store-lost" for p in quick_problems(store, catalog)) or not store_is_empty(store):
        return False
    sources = catalog.sources()
    for record in sources:
        catalog.reset(record)
    catalog.set_applied(store.applied_seq())
    log.warning("the store of %s is empty but the catalog listed %d source(s): they will be applied again when "
                "indexed (or run `kgqa check --kb %s --repair`)", directory, len(sources), directory)
    return True

