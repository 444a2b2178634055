"""Where ingestion memory goes: peak RSS per phase of ``kgqa index``, and the long-lived sets.

``profile_index(work)`` indexes ``work/graph.nt`` (bench/wikidata_like.py) while a thread samples
the process's RSS every 10 ms and charges each sample to the phase running then. Phases are
found by wrapping, from the outside, the indexer's and the store's methods (reading the source,
diffing triples and entity records, journalling, the store's ``apply``, state saving); nothing
in kg/ is changed. At the end it reports the size of the indexer's per-run state (key sets, record
fingerprints, the list of added nodes), the part that grows with the source.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


class Sampler:
    """RSS samples charged to the phase on top of a stack."""

    def __init__(self) -> None:
        self.stack = ["setup"]
        self.peak: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open("/proc/self/statm") as fh:
            while not self._stop.wait(0.01):
                fh.seek(0)
                rss = int(fh.read().split()[1]) * _PAGE
                phase = self.stack[-1]
                self.peak[phase] = max(self.peak.get(phase, 0), rss)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        """Charge calls of ``owner.name`` to ``phase``."""
        original: Callable[..., Any] = getattr(owner, name)

        @functools.wraps(original)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.stack.append(phase)
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start
                self.stack.pop()

        setattr(owner, name, wrapped)

    def wrap_reading(self, owner: Any, name: str) -> None:
        """Charge the time inside ``next()`` of the batches ``owner.name`` yields to ``read``."""
        original: Callable[..., Iterator[Any]] = getattr(owner, name)
        sampler = self

        def wrapped(*args: Any, **kwargs: Any) -> Iterator[Any]:
            it = iter(original(*args, **kwargs))
            while True:
                sampler.stack.append("read + parse (reader, chunking)")
                start = time.perf_counter()
                try:
                    batch = next(it)
                except StopIteration:
                    return
                finally:
                    phase = sampler.stack.pop()
                    sampler.seconds[phase] = sampler.seconds.get(phase, 0.0) + time.perf_counter() - start
                yield batch

        setattr(owner, name, wrapped)


def _deep_mb(obj: Any) -> float:
    """Approximate bytes of a set/dict/list of small objects (containers and their items)."""
    if isinstance(getattr(obj, "nbytes", None), int):  # arrays and kg.keyset.KeySet: their buffers
        return round(int(obj.nbytes) / 2**20, 1)
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in obj.items())
    elif isinstance(obj, (set, list, tuple)):
        size += sum(getattr(x, "nbytes", 0) or sys.getsizeof(x) for x in obj)
    return round(size / 2**20, 1)


def profile_index(work: Path) -> dict[str, object]:
    """Index ``work/graph.nt`` into ``work/kb`` with RSS charged per phase (see the module docstring)."""
    import kg.ingest as ingest
    from kg.catalog import Catalog
    from kg.kb import KnowledgeBase
    from kg.readers import ReaderOptions

    held: dict[str, float] = {}
    with Sampler() as sampler:
        sampler.wrap(ingest, "content_hash", "content hash")
        sampler.wrap(ingest.Indexer, "_diff_triples", "diff triples (seen keys, node sets)")
        sampler.wrap(ingest.Indexer, "_diff_records", "diff entity records (labels)")
        sampler.wrap(Catalog, "journal", "journal (catalog)")
        sampler.wrap(Catalog, "save_state", "save source state (catalog)")
        sampler.wrap_reading(ingest.Indexer, "_batches")
        original = ingest.Indexer._remove_missing

        def measure(self: Any, record: Any, run: Any, state: Any) -> int:
            for name in ("seen_keys", "seen_nodes", "records", "added_nodes"):
                held[name] = _deep_mb(getattr(run, name, ()))
            return original(self, record, run, state)

        ingest.Indexer._remove_missing = measure  # type: ignore[method-assign]
        sampler.wrap(ingest.Indexer, "_remove_missing", "remove missing")
        start = time.perf_counter()
        with KnowledgeBase.open(work / "kb", progress=False) as kb:
            sampler.wrap(type(kb.store), "apply", "store apply (LadybugDB COPY)")
            report = kb.index(work / "graph.nt", options=ReaderOptions(property_labels=work / "properties.tsv"))
        seconds = time.perf_counter() - start
    return {"triples": report.triples, "seconds": round(seconds, 1),
            "peak_rss_mb_by_phase": {k: round(v / 2**20) for k, v in sorted(sampler.peak.items(),
                                                                            key=lambda kv: -kv[1])},
            "seconds_by_phase": {k: round(v, 1) for k, v in sampler.seconds.items()},
            "run_state_mb_at_end": held}
