"""Consistency of a knowledge base: do the catalog, the per-source state files and the store agree?

``check`` is the whole check (the cheap part every open runs is ``kg.consistency``): every
state file is read, the union of what the sources contributed is compared with the store
(triple count and a sample of nodes), passages with the catalog's rows, source files with the
disk. With ``repair`` it fixes what it can: orphan files and rows are deleted; a store that
disagrees is emptied and every source whose file still exists is applied again (a source whose
file is gone cannot be, and is dropped with a note); an interrupted index or removal is
completed. ``check_directory`` is what ``kgqa check --kb DIR [--repair]`` runs: it also handles
a store file that will not open (set aside, then rebuilt).

Derived state (linker, dense index) is not checked here: it is stamped with the store's change
number and rebuilds itself when that moves, which a repair always makes it do.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from kg.catalog import CATALOG_FILE, Catalog, SourceRecord
from kg.consistency import INCOMPLETE, REBUILD, Problem, quick_problems
from kg.errors import CorruptState, KGQAError, StoreDamaged
from kg.kb import KnowledgeBase
from kg.readers import ReaderOptions
from kg.stores.base import GraphStore
from kg.stores.embedded import GRAPH_FILE

log = logging.getLogger(__name__)
NODE_SAMPLE = 64  # nodes per source looked up in the store: cheap, and catches a swapped store


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found and, with ``repair``, what it did."""

    directory: str
    sources: int
    store_triples: int
    catalog_triples: int
    problems: tuple[Problem, ...] = ()
    repaired: tuple[str, ...] = ()
    remaining: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when nothing disagrees (any more, after a repair)."""
        return not self.remaining

    def describe(self) -> str:
        """A few lines a person can read."""
        lines = [f"{self.directory}: {self.sources} source(s); store {self.store_triples} triples, "
                 f"catalog {self.catalog_triples}"]
        lines += [f"problem: {p.message}" for p in self.problems]
        lines += [f"repaired: {r}" for r in self.repaired]
        lines += [f"note: {n}" for n in self.notes]
        if self.remaining and self.repaired:
            lines += [f"still wrong: {p.message}" for p in self.remaining]
        if not self.problems:
            lines.append("ok: the catalog, the source states and the store agree")
        elif self.remaining and not self.repaired:
            lines.append(f"run `kgqa check --kb {self.directory} --repair` to fix what can be fixed")
        elif not self.remaining:
            lines.append("ok after repair")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["ok"] = self.ok
        return out


def check(kb: KnowledgeBase, repair: bool = False) -> CheckReport:
    """Verify that catalog, per-source state and store agree; with ``repair``, fix what can be fixed.

    Args:
        kb: a knowledge base opened writable when ``repair`` is set.
        repair: delete orphans and, when the store disagrees, rebuild it from the sources.

    Raises:
        KGQAError: ``repair`` on a read-only knowledge base, or a backend that cannot be emptied.
    """
    problems, union, notes = _survey(kb)
    repaired: list[str] = []
    if repair and problems:
        repaired = _repair(kb, problems)
        problems_after, union, notes_after = _survey(kb)
        notes = notes_after
        remaining = problems_after
    else:
        remaining = problems
    return CheckReport(str(kb.directory), len(kb.catalog.sources()), kb.store.stats().triples, union,
                       tuple(problems), tuple(repaired), tuple(remaining), tuple(notes))


def check_directory(directory: str | Path, repair: bool = False, progress: bool = True) -> CheckReport:
    """Open the knowledge base in ``directory`` and ``check`` it (``kgqa check --kb DIR [--repair]``).

    Without ``repair`` it opens read-only and changes nothing; a store that will not open is then
    reported as a problem. With ``repair`` a damaged embedded store file is renamed aside
    (``graph.lbug.damaged-<time>``) and the store rebuilt from the sources.

    Raises:
        StoreLocked: another process is writing to the knowledge base.
        CorruptState: the catalog itself is damaged (it cannot be rebuilt).
    """
    path = Path(directory)
    try:
        kb = KnowledgeBase.open(path, read_only=not repair, verify=False, progress=progress)
    except StoreDamaged as exc:
        if not repair:
            problem = Problem("store-damaged", str(exc))
            return CheckReport(str(path.resolve()), 0, 0, 0, (problem,), (), (problem,))
        moved = _set_aside(path)
        kb = KnowledgeBase.open(path, verify=False, progress=progress)
        with kb:
            report = check(kb, repair=True)
        return replace(report, problems=(Problem("store-damaged", str(exc)), *report.problems),
                       repaired=(*moved, *report.repaired))
    with kb:
        return check(kb, repair=repair)


def _set_aside(directory: Path) -> list[str]:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    done = []
    for file in sorted(directory.glob(f"{GRAPH_FILE}*")):
        if ".damaged-" in file.name:
            continue
        target = file.with_name(f"{file.name}.damaged-{stamp}")
        file.rename(target)
        done.append(f"moved the damaged {file.name} aside to {target.name}")
    return done


def _survey(kb: KnowledgeBase) -> tuple[list[Problem], int, list[str]]:
    """(problems, size of the union of the sources' triple keys, notes)."""
    catalog, store = kb.catalog, kb.store
    problems = [p for p in quick_problems(store, catalog) if p.kind != "triples"]
    damage = catalog.integrity()
    if damage:
        problems.append(Problem("catalog-damaged", f"{catalog.directory / CATALOG_FILE} is damaged "
                                                   f"({'; '.join(damage[:3])}); restore it from a backup, or move "
                                                   f"{catalog.directory} aside and index the sources again"))
    keys = np.empty(0, dtype=np.int64)
    passages = catalog.passage_counts()
    notes: list[str] = []
    for record in catalog.sources():
        try:
            state = catalog.load_state(record.id)
        except CorruptState as exc:
            problems.append(Problem("state-corrupt", str(exc), record.path))
            continue
        keys = np.union1d(keys, state.keys)
        problems += _source_problems(store, record, state.keys, state.nodes, state.pkeys, passages.get(record.id, 0))
        if record.state not in ("ok", *INCOMPLETE):
            problems.append(Problem("source-state", f"{record.path} was left in state '{record.state}'",
                                    record.path))
        if record.state in INCOMPLETE:
            verb = "remove" if record.state == "removing" else "index"
            problems.append(Problem("incomplete", f"{record.path} is {record.state}: an interrupted run; `kgqa "
                                                  f"{verb} {record.path}` completes it", record.path))
        if not Path(record.path).exists():
            notes.append(f"{record.path} no longer exists on disk; `kgqa remove` it or put it back")
    stored = store.stats().triples
    if stored > len(keys) and store.name != "embedded":
        notes.append(f"the {store.name} database holds {stored - len(keys)} triples no source of this knowledge "
                     "base accounts for (a shared database, or data of its own)")
    elif stored != len(keys) and not any(p.kind in ("store-lost", "catalog-lost") for p in problems):
        problems.append(Problem("triples", f"the store holds {stored} triples but the sources account for "
                                           f"{len(keys)}"))
    problems += _orphans(catalog)
    return problems, len(keys), notes


def _source_problems(store: GraphStore, record: SourceRecord, keys: np.ndarray, nodes: np.ndarray,
                     pkeys: np.ndarray, passage_rows: int) -> list[Problem]:
    found: list[Problem] = []
    if record.state == "ok" and (len(keys), len(nodes), len(pkeys)) != (record.triples, record.entities,
                                                                         record.passages):
        found.append(Problem("state-counts", f"{record.path}: the catalog lists {record.triples} triples, "
                                             f"{record.entities} nodes, {record.passages} passages; its state "
                                             f"file has {len(keys)}, {len(nodes)}, {len(pkeys)}", record.path))
    if passage_rows != len(pkeys):
        found.append(Problem("passages", f"{record.path}: {len(pkeys)} passages contributed but the catalog "
                                         f"stores {passage_rows}", record.path))
    sample = _sample(nodes)
    missing = sorted(set(sample) - set(store.entities(sample))) if sample else []
    if missing:
        found.append(Problem("nodes", f"{record.path}: nodes it contributed are not in the store "
                                      f"(e.g. {missing[0]!r}, {len(missing)} of {len(sample)} looked up)", record.path))
    return found


def _sample(nodes: np.ndarray) -> list[str]:
    if len(nodes) <= NODE_SAMPLE:
        return [str(n) for n in nodes.tolist()]
    picks = np.linspace(0, len(nodes) - 1, NODE_SAMPLE).astype(int)
    return [str(nodes[i]) for i in picks]


def _orphans(catalog: Catalog) -> list[Problem]:
    ids = {r.id for r in catalog.sources()}
    found = [Problem("orphan", f"state file {p.name} belongs to no registered source")
             for p in catalog.state_files() if not p.stem.isdigit() or int(p.stem) not in ids]
    found += [Problem("orphan", f"{n} stored passage(s) belong to no registered source (id {i})")
              for i, n in catalog.passage_counts().items() if i not in ids]
    return found


def _repair(kb: KnowledgeBase, problems: list[Problem]) -> list[str]:
    done = kb.catalog.drop_orphans() if any(p.kind == "orphan" for p in problems) else []
    for record in kb.catalog.sources():
        if record.state not in ("ok", *INCOMPLETE):
            kb.catalog.mark(record, "partial")
            done.append(f"marked {record.path} partial (it was left '{record.state}'); re-index it to complete")
    if any(p.kind in REBUILD for p in problems):
        return done + rebuild(kb)
    for record in kb.catalog.sources():
        if record.state == "removing":
            kb.remove(Path(record.path))
            done.append(f"completed the removal of {record.path}")
        elif record.state in INCOMPLETE and Path(record.path).exists():
            report = kb.index(Path(record.path), record.format, options_of(record))
            done.append(f"re-applied {record.path}: {report.triples} triples, {report.passages} passages")
    return done


def rebuild(kb: KnowledgeBase) -> list[str]:
    """Empty the store and apply every source again from its file; returns what was done.

    A source whose file no longer exists cannot be applied again and is dropped from the catalog.
    """
    if kb.read_only:
        raise KGQAError(f"cannot repair {kb.directory} opened read-only; open it for writing")
    listed = sum(r.triples for r in kb.catalog.sources())
    if kb.store.name != "embedded" and kb.store.stats().triples > listed:
        raise KGQAError(f"the {kb.store.name} database holds more triples than the sources of {kb.directory} "
                        "contributed; kgqa will not empty a database that may hold other data: empty it "
                        "yourself, then run `kgqa check --repair` again")
    kb.reset_store()
    done = ["emptied the store to rebuild it from the sources"]
    sources = kb.catalog.sources()
    for record in sources:  # all first: applying one source reads what the others contributed
        kb.catalog.reset(record)
    for record in sources:
        if record.state == "removing":
            kb.catalog.forget(record)
            done.append(f"completed the removal of {record.path}")
            continue
        if not Path(record.path).exists():
            kb.catalog.forget(record)
            done.append(f"dropped {record.path}: its file is gone, so what it contributed cannot be restored")
            continue
        try:
            report = kb.index(Path(record.path), record.format, options_of(record))
        except KGQAError as exc:
            kb.catalog.forget(record)
            done.append(f"dropped {record.path}: it no longer reads ({exc})")
            continue
        done.append(f"re-applied {record.path}: {report.triples} triples, {report.passages} passages")
    log.warning("rebuilt the store of %s from %d source(s)", kb.directory, len(kb.catalog.sources()))
    kb.catalog.drop_orphans()
    return done


def options_of(record: SourceRecord) -> ReaderOptions:
    """The reader options a source was indexed with, from its catalog settings."""
    o = record.options
    labels = o.get("property_labels")
    languages = o.get("languages")
    delimiter = o.get("delimiter")
    return ReaderOptions(skip_errors=bool(o.get("skip_errors", False)),
                         languages=tuple(str(x) for x in languages) if isinstance(languages, list) and languages
                         else ReaderOptions().languages,
                         delimiter=str(delimiter) if delimiter else None,
                         property_labels=Path(str(labels)) if labels else None)
