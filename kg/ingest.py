"""Indexing: stream a source through its reader, diff it against the catalog, write the change.

A source indexed for the first time is added; a changed one has only its added and removed
triples (and entity records, passages) applied; an unchanged one (same size and mtime, or
same content hash, and same reader settings) costs a ``stat``. Each batch's change goes to the
journal before the store, so an interrupted run leaves the store consistent and the next run
completes it (see ``kg.catalog``). A malformed record stops the run and takes back what the
run added, so a bad file leaves the knowledge base as it was.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from kg.base import Batch, Entity, EntityKind, Passage, triple_keys
from kg.catalog import Catalog, Delta, SourceRecord, SourceState, str_diff, str_union
from kg.errors import KGQAError
from kg.keyset import KeySet, in_sorted, node_keys
from kg.readers import Reader, ReaderOptions, guess_format, open_reader
from kg.readers.base import check_file
from kg.readers.folder import plan_folder
from kg.stores.base import Change, GraphStore

log = logging.getLogger(__name__)

# Triples per change (one store commit). Each commit costs time that grows with the graph, so
# larger changes load faster, but the change's rows are held in Python lists and in the store's
# COPY at once: measured on Wikidata-like triples, 1M-row changes peaked at 1.25 GB RSS at 1M
# triples and 1.89 GB at 3M, 200k-250k-row ones at 0.85-0.90 GB and 1.76 GB, in about the same
# wall time (a busy machine: 362 vs 364 s at 3M).
CHUNK_ROWS = 250_000


@dataclass(frozen=True)
class IndexReport:
    """What indexing or removing one source did."""

    source: str
    path: str
    format: str
    status: str  # new | changed | unchanged | resumed | removed
    added: int = 0
    removed: int = 0
    unchanged: int = 0
    triples: int = 0
    entities: int = 0
    passages: int = 0
    skipped: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()  # what a person should know: files of a folder that were skipped, and why

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Run:
    """The diff of one indexing run, built batch by batch, each batch costing its size.

    What the run has seen (triple keys, node ids as 64-bit hashes) is kept in ``KeySet``s of
    sorted arrays, 8 bytes a member, so a 10M-triple source does not grow Python sets. What the
    run added is derived from them (seen minus the old state) rather than kept a second time.
    """

    old: SourceState
    others: SourceState
    old_nodes: np.ndarray  # sorted node_keys of old.nodes
    other_nodes: np.ndarray  # sorted node_keys of others.nodes
    old_pkeys: set[int]
    records: dict[str, int]
    seen_keys: KeySet = field(default_factory=KeySet)
    seen_nodes: KeySet = field(default_factory=KeySet)
    seen_pkeys: set[int] = field(default_factory=set)
    added_nodes: list[str] = field(default_factory=list)
    added: int = 0
    skipped: int = 0

    @classmethod
    def start(cls, old: SourceState, others: SourceState) -> _Run:
        return cls(old, others, np.sort(node_keys(old.nodes)), np.sort(node_keys(others.nodes)),
                   set(old.pkeys.tolist()), dict(zip(old.rec_ids.tolist(), old.rec_hash.tolist())))

    def added_keys(self) -> np.ndarray:
        """The sorted keys this run contributed: seen, and not in the old state."""
        seen = self.seen_keys.to_array()
        added: np.ndarray = seen[~in_sorted(seen, self.old.keys)]
        return added

    def state(self) -> SourceState:
        """What the source contributes after this run (before removals of missing records)."""
        keys = np.union1d(self.old.keys, self.seen_keys.to_array())  # what was added is seen and not old
        nodes = str_union(self.old.nodes, np.array(self.added_nodes, dtype=object))
        pkeys = np.array(sorted(self.old_pkeys | self.seen_pkeys), dtype=np.int64)
        ids = sorted(self.records)
        return SourceState(keys, nodes, np.array(ids, dtype=object),
                           np.array([self.records[i] for i in ids], dtype=np.int64), pkeys)


class Indexer:
    """Keeps a graph store and its catalog in step with the sources registered in it."""

    def __init__(self, store: GraphStore, catalog: Catalog, progress: bool = True,
                 chunk_rows: int = CHUNK_ROWS) -> None:
        self.store = store
        self.catalog = catalog
        self.progress = progress
        # reader batches are gathered into changes of about this many triples (see CHUNK_ROWS)
        self.chunk_rows = chunk_rows

    def recover(self) -> list[int]:
        """Reconcile the catalog with the store after an interrupted run."""
        interrupted = self.catalog.recover(self.store.applied_seq())
        if interrupted:
            states = {r.id: r for r in self.catalog.sources()}
            removing = [states[i].path for i in interrupted if i in states and states[i].state == "removing"]
            indexing = [states[i].path for i in interrupted if i in states and states[i].state != "removing"]
            if indexing:
                log.warning("recovered %d interrupted indexing run(s); re-index to complete: %s",
                            len(indexing), ", ".join(indexing))
            if removing:
                log.warning("recovered %d interrupted removal(s); re-run `kgqa remove` to complete: %s",
                            len(removing), ", ".join(removing))
        return interrupted

    def index(self, path: Path, fmt: str | None = None, options: ReaderOptions = ReaderOptions()) -> IndexReport:
        """Bring the store in step with the source at ``path``.

        Raises:
            SourceFormatError: the file is missing, empty, binary, badly encoded or malformed.
            UnknownFormat: ``fmt`` is unknown or the format cannot be guessed.
        """
        start = time.perf_counter()
        path = Path(path).resolve()
        if not path.is_dir():
            check_file(path)
        fmt = fmt or guess_format(path)
        reader = open_reader(fmt)
        notes = plan_folder(path).notes(path) if fmt == "folder" else ()
        for note in notes:
            log.warning("%s: %s", path.name, note)
        settings = {"format": fmt, **options.settings()}
        found = self.catalog.find(path)
        size, mtime = _stat(path)
        same_settings = found is not None and found.state == "ok" and found.options == settings \
            and found.format == fmt
        if found and same_settings and (found.size, found.mtime_ns) == (size, mtime):
            return self._unchanged(found, (found.hash or "", size, mtime), start)
        digest = content_hash(path)  # read once: for the unchanged check and for the catalog
        if found and same_settings and found.hash == digest:
            return self._unchanged(found, (digest, size, mtime), start)  # touched, same bytes
        status = "new" if found is None else ("resumed" if found.state != "ok" else "changed")
        record = self.catalog.register(path, fmt, settings)
        old = self.catalog.load_state(record.id)
        others = self.catalog.others(record.id)
        run = _Run.start(old, others)
        self.catalog.mark(record, "indexing")
        try:
            for source, batch in self._batches(_read(reader, path, record.name, options), path):
                self._step(record, run, batch, source)
        except (KGQAError, ValueError) as exc:
            self._rollback(record, run, found)
            raise exc
        state = run.state()
        removed = self._remove_missing(record, run, state)
        self.catalog.save_state(record.id, state)
        counts = {"triples": len(state.keys), "entities": len(state.nodes),
                  "passages": len(state.pkeys), "skipped": run.skipped}
        with self.catalog.transaction():
            self.catalog.finish(record, (digest, size, mtime), counts)
            self.catalog.clear_journal(record.id)
        return IndexReport(record.name, str(path), fmt, status, run.added, removed,
                           run.seen_keys.size - run.added, counts["triples"], counts["entities"],
                           counts["passages"], run.skipped, round(time.perf_counter() - start, 3), notes)

    def _unchanged(self, found: SourceRecord, fingerprint: tuple[str, int, int], start: float) -> IndexReport:
        self.catalog.finish(found, fingerprint, _counts(found))
        return _report(found, "unchanged", start, unchanged=found.triples)

    def remove(self, path: Path) -> IndexReport:
        """Remove exactly what the source at ``path`` contributed (shared triples stay)."""
        start = time.perf_counter()
        record = self.catalog.get(Path(path).resolve())
        state = self.catalog.load_state(record.id)
        others = self.catalog.others(record.id)
        delta = Delta(del_keys=state.keys, del_nodes=state.nodes, del_pkeys=state.pkeys)
        change = Change(seq=0, remove_keys=np.setdiff1d(state.keys, others.keys),
                        remove_nodes=str_diff(state.nodes, others.nodes).tolist())
        self.catalog.mark(record, "removing")  # an interrupted removal is completed by running it again
        self._send(record, delta, change, [])
        self.catalog.forget(record)
        return _report(record, "removed", start, removed=len(state.keys))

    # -- one batch -------------------------------------------------------------------------

    def _step(self, record: SourceRecord, run: _Run, batch: Batch, source: str) -> None:
        run.skipped += batch.skipped
        delta, change = Delta(), Change(seq=0, source=source)
        self._diff_triples(run, batch, delta, change)
        self._diff_records(run, batch.entities, delta, change)
        passages = self._diff_passages(run, batch.passages, delta)
        if change.is_empty() and not passages and not len(delta.add_keys) and not len(delta.add_nodes):
            return
        self._send(record, delta, change, passages)

    def _diff_triples(self, run: _Run, batch: Batch, delta: Delta, change: Change) -> None:
        if not batch.size:
            return
        subjects = np.asarray(batch.subjects, dtype=object)
        objects = np.asarray(batch.objects, dtype=object)
        keys = triple_keys(subjects, batch.predicates, objects)
        uniq, first = np.unique(keys, return_index=True)
        fresh = ~run.seen_keys.contains(uniq)
        run.seen_keys.add(uniq[fresh])
        rows = np.sort(first[fresh])
        new_keys = keys[rows]
        contrib = ~in_sorted(new_keys, run.old.keys)
        delta.add_keys = np.sort(new_keys[contrib])
        to_graph = rows[contrib & ~in_sorted(new_keys, run.others.keys)]
        run.added += int(contrib.sum())
        change.subjects = subjects[to_graph].tolist()
        change.predicates = np.asarray(batch.predicates, dtype=object)[to_graph].tolist()
        change.objects = objects[to_graph].tolist()
        change.lines = np.asarray(batch.lines, dtype=np.int64)[to_graph].tolist()
        change.qualifiers = [batch.qualifiers[i] for i in to_graph] if any(batch.qualifiers) else \
            [None] * len(to_graph)
        change.keys = keys[to_graph]
        self._note_nodes(run, np.concatenate([subjects[rows], objects[rows]]), delta, change)

    def _note_nodes(self, run: _Run, nodes: np.ndarray, delta: Delta, change: Change) -> None:
        hashes, first = np.unique(node_keys(nodes), return_index=True)
        fresh = ~run.seen_nodes.contains(hashes)
        run.seen_nodes.add(hashes[fresh])
        new = fresh & ~in_sorted(hashes, run.old_nodes)
        if new.any():
            new_ids = nodes[first[new]]
            delta.add_nodes = str_union(delta.add_nodes, new_ids)
            run.added_nodes.extend(new_ids.tolist())
            change.new_nodes.extend(nodes[first[new & ~in_sorted(hashes, run.other_nodes)]].tolist())

    def _diff_records(self, run: _Run, entities: list[Entity], delta: Delta, change: Change) -> None:
        if not entities:
            return
        latest = {e.id: e for e in entities}
        hashes = record_hashes(list(latest.values())).tolist()
        changed = [(e, h) for e, h in zip(latest.values(), hashes) if run.records.get(e.id) != h]
        change.records = [e for e, _ in changed]
        delta.rec_ids = np.array([e.id for e, _ in changed], dtype=object)
        delta.rec_hash = np.array([h for _, h in changed], dtype=np.int64)
        run.records.update((e.id, h) for e, h in changed)
        self._note_nodes(run, np.array(list(latest), dtype=object), delta, change)

    def _diff_passages(self, run: _Run, passages: list[Passage], delta: Delta) -> list[tuple[int, Passage]]:
        fresh = []
        for p in passages:
            key = passage_key(p)
            if key not in run.seen_pkeys:
                run.seen_pkeys.add(key)
                if key not in run.old_pkeys:
                    fresh.append((key, p))
        delta.add_pkeys = np.array(sorted(k for k, _ in fresh), dtype=np.int64)
        return fresh

    # -- removal, rollback, sending --------------------------------------------------------

    def _remove_missing(self, record: SourceRecord, run: _Run, state: SourceState) -> int:
        """Delete what the old version had and this one lacks; ``state`` is updated to match."""
        old = run.old.keys  # what this run added was seen, so only the old keys can be gone
        gone_keys = old[~run.seen_keys.contains(old)]
        gone_nodes = state.nodes[~run.seen_nodes.contains(node_keys(state.nodes))]
        gone_pkeys = np.array(sorted(run.old_pkeys - run.seen_pkeys), dtype=np.int64)
        if not (len(gone_keys) or len(gone_nodes) or len(gone_pkeys)):
            return 0
        delta = Delta(del_keys=gone_keys, del_nodes=gone_nodes, del_pkeys=gone_pkeys)
        change = Change(seq=0, remove_keys=gone_keys[~in_sorted(gone_keys, run.others.keys)],
                        remove_nodes=gone_nodes[~in_sorted(node_keys(gone_nodes), run.other_nodes)].tolist())
        self._send(record, delta, change, [])
        state.apply(delta)
        return len(gone_keys)

    def _rollback(self, record: SourceRecord, run: _Run, found: SourceRecord | None) -> None:
        """Take back what this run added to the store after a reader error.

        A source that was there before gets back its state, reader settings and status, so a
        failed ``--format X`` never leaves the catalog claiming format X.
        """
        keys = run.added_keys()
        nodes = np.array(sorted(set(run.added_nodes)), dtype=object)
        added = Delta(del_keys=keys, del_nodes=nodes,
                      del_pkeys=np.array(sorted(run.seen_pkeys - run.old_pkeys), dtype=np.int64))
        # what went to the graph: added, and not another source's
        change = Change(seq=0, remove_keys=keys[~in_sorted(keys, run.others.keys)],
                        remove_nodes=nodes[~in_sorted(node_keys(nodes), run.other_nodes)].tolist())
        self._send(record, added, change, [])
        if found is None:
            self.catalog.forget(record)
        else:
            self.catalog.save_state(record.id, run.old)
            self.catalog.register(Path(found.path), found.format, found.options)
            self.catalog.mark(record, found.state)
            self.catalog.clear_journal(record.id)

    def _send(self, record: SourceRecord, delta: Delta, change: Change,
              passages: list[tuple[int, Passage]]) -> None:
        change.seq = self.catalog.next_seq()
        self.catalog.journal(change.seq, record.id, delta, passages)
        self.store.apply(change)
        self.catalog.set_applied(change.seq)  # what the store should say next open (kg.consistency)

    def _batches(self, batches: Iterable[tuple[str, Batch]], path: Path) -> Iterable[tuple[str, Batch]]:
        """Reader batches gathered into changes of about ``chunk_rows``, one provenance source each."""
        bar = tqdm(desc=f"indexing {path.name}", unit=" triples", disable=not self.progress, leave=False)
        pending, current = Batch(), ""
        for source, batch in batches:
            if source != current and (len(pending) or pending.skipped):
                yield current, pending
                pending = Batch()
            current = source
            bar.update(batch.size)
            pending.extend(batch)
            if len(pending) >= self.chunk_rows:
                yield current, pending
                pending = Batch()
        if len(pending) or pending.skipped:
            yield current, pending
        bar.close()


def _read(reader: Reader, path: Path, name: str, options: ReaderOptions) -> Iterable[tuple[str, Batch]]:
    """(provenance source, batch) pairs: a folder's files each under their own name (``folder/sub/a.txt``)."""
    if reader.format != "folder":
        for batch in reader.read(path, name, options):
            yield name, batch
        return
    for file, fmt in plan_folder(path).files:
        source = f"{name}/{file.relative_to(path)}"
        for batch in open_reader(fmt).read(file, source, options):
            yield source, batch


def record_hashes(entities: list[Entity]) -> np.ndarray:
    """Fingerprints of what entity records say (provenance aside), as signed 64-bit ints."""
    texts = np.array([_record_text(e) for e in entities], dtype=object)
    hashes: np.ndarray = pd.util.hash_array(texts).view(np.int64)
    return hashes


def _record_text(e: Entity) -> str:
    if e.kind is EntityKind.ENTITY and not (e.aliases or e.description or e.labels):
        return f"{e.id}\x1f{e.label}"
    return "\x1f".join([e.id, repr(e.label), e.kind.value, repr(e.description), repr(e.aliases),
                         repr(e.labels), repr(e.literal)])


def passage_key(passage: Passage) -> int:
    text = json.dumps([passage.id, passage.title, passage.text, list(passage.entities)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little", signed=True)


def content_hash(path: Path) -> str:
    """blake2b of the file's bytes, or of every file under a folder (names included)."""
    h = hashlib.blake2b(digest_size=16)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        h.update(str(file.relative_to(path) if path.is_dir() else "").encode())
        with file.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


def _stat(path: Path) -> tuple[int, int]:
    if not path.is_dir():
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    stats = [p.stat() for p in path.rglob("*") if p.is_file()]
    return sum(s.st_size for s in stats), max((s.st_mtime_ns for s in stats), default=0)


def _counts(record: SourceRecord) -> dict[str, int]:
    return {"triples": record.triples, "entities": record.entities, "passages": record.passages,
            "skipped": record.skipped}


def _report(record: SourceRecord, status: str, start: float, unchanged: int = 0, removed: int = 0) -> IndexReport:
    return IndexReport(record.name, record.path, record.format, status, triples=record.triples,
                       entities=record.entities, passages=record.passages, skipped=record.skipped,
                       seconds=round(time.perf_counter() - start, 3), unchanged=unchanged, removed=removed)
