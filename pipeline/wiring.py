"""Wiring: the concrete embedder, linker, path scorer and passage index behind ``KGQA``.

Relation paths are enumerated and followed in a ``GraphIndex`` saved in the knowledge base
directory (``graph_index/``, memory-mapped, rebuilt when the store's change number moved on);
the path scorer's relation-path vectors are cached in ``cache/vectors/`` per embedder. The
linker and the passage index live in the knowledge base directory too (``linker/``, ``dense/``)
and carry the store's applied change number they were built at; when the store has moved on
they are rebuilt (linker) or synced (passages). Relation labels (Wikidata property
names, RDF predicate labels) come from the relation entities of the store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from kg.base import Entity, EntityKind
from kg.errors import KGQAError
from kg.files import read_json_or_none, write_atomic
from kg.kb import KnowledgeBase
from kg.stores.base import GraphStore
from model.base import Embedder, PathScorer
from model.embedders import open_embedder
from model.registry import SHIPPED_SCORER, auto_adapter, load_adapter
from model.scorer import ZeroShotPathScorer
from pipeline.training.selfcheck import self_check
from pipeline.training.supervision import SupervisionGraph
from retrieval.graph_files import open_index
from retrieval.linker import EntityLinker
from retrieval.passage_search import SearchConfig, open_passage_search
from retrieval.passages import DensePassages
from retrieval.paths import PathRetriever
from retrieval.retriever import HybridRetriever, RetrieverConfig
from retrieval.vector_cache import CachedEmbedder

log = logging.getLogger(__name__)
STAMP = "built_at_seq.json"
S = TypeVar("S", bound=ZeroShotPathScorer)


def build_retriever(kb: KnowledgeBase, embedder_name: str, config: RetrieverConfig,
                    progress: bool = True) -> HybridRetriever:
    embedder = open_embedder(embedder_name)
    seq = kb.store.applied_seq()
    linker, labels = _linker(kb.store, kb.directory / "linker", seq, progress)
    graph = open_index(kb.store, kb.directory / "graph_index")  # memory-mapped; rebuilt when the store moved on
    vectors = _vectors(kb.directory)
    scorer = _cached_paths(path_scorer(config.scorer, embedder, kb.directory, graph.predicates,
                                       lambda: SupervisionGraph.read(kb.store, graph), graph.node_count), vectors)
    paths = PathRetriever(graph, scorer, config.paths, labels)
    passages = DensePassages.open(kb.catalog, kb.store, kb.directory / "dense",
                                  _passage_embedder(embedder, embedder_name, config.embed_with))
    search, reader = open_passage_search(kb.catalog, passages, kb.directory / "passage_graph", seq, linker,
                                         SearchConfig(mode=config.passage_search), progress, config.mentions)
    return HybridRetriever(kb.store, linker, paths, search, config, reader)


def _passage_embedder(embedder: Embedder, name: str, embed_with: str) -> Embedder:
    """The embedder of new passages: ``embedder`` itself, or a Ray Data job (``ray``, ``ray:ADDRESS``)."""
    if embed_with == "local":
        return embedder
    mode, _, address = embed_with.partition(":")
    if mode != "ray":
        raise KGQAError(f"unknown embed_with {embed_with!r}: local, ray or ray:ADDRESS")
    from model.ray_embedder import RayEmbedder  # ray is an optional extra

    return RayEmbedder(name, address or None)


def path_scorer(setting: str, embedder: Embedder, kb_dir: Path | None = None, relations: Sequence[str] | None = None,
                graph: Callable[[], SupervisionGraph] | None = None, nodes: int | None = None) -> PathScorer:
    """The scorer ``RetrieverConfig.scorer`` names: ``auto``, ``zero-shot`` or an adapter directory.

    ``auto`` is, in order: the live adapter that ``kgqa adapt`` or ``kgqa learn`` promoted for the
    knowledge base in ``kb_dir`` (named by its ``learning/history.json``); the shipped MetaQA
    adapter when the KB's ``relations`` are the ones its card records and the embedder is MiniLM;
    else the self-check of pipeline/training/selfcheck.py on synthetic questions of the KB
    (keyed by ``relations`` and ``nodes``, the KB's node count; ``graph`` reads the KB only when
    the verdict is not cached) between zero-shot scoring and the generic adapter. The scorer
    returned says which it is and why in its ``about`` attribute.
    """
    name = getattr(embedder, "name", "")
    if setting == "zero-shot":
        return _about(ZeroShotPathScorer(embedder), "zero-shot (asked for)")
    if setting != "auto":
        return _about(load_adapter(Path(setting), embedder), f"the adapter {setting} (asked for)")
    adapter = auto_adapter(kb_dir, name, relations=relations)
    if adapter is not None:
        why = ("the shipped MetaQA adapter: this KB has the relation set it was trained on"
               if adapter.path == SHIPPED_SCORER else f"{adapter.path.name}: the live adapter of this KB "
               "(learning/history.json)")
        return _about(load_adapter(adapter.path, embedder, base=adapter.base), why)
    if kb_dir is None or graph is None:
        return _about(ZeroShotPathScorer(embedder), "zero-shot: no knowledge base to check other scorers on")
    if name == "minilm":  # through the KB's vector cache: both candidates read the same path vectors,
        # and the chosen one finds them there at question time
        if relations is None or nodes is None:  # no GraphIndex at hand: the key comes from the graph read
            read = graph()
            relations, nodes, graph = read.predicates, len(read.ends), lambda: read
        scorer, why = self_check(kb_dir, relations, nodes, graph, CachedEmbedder(embedder, _vectors(kb_dir)))
        return _about(scorer, why)
    return _about(ZeroShotPathScorer(embedder), f"zero-shot: the adapters need MiniLM, the embedder is {name!r}")


def _vectors(kb_dir: Path) -> Path:
    return kb_dir / "cache" / "vectors"


def _about(scorer: S, why: str) -> S:
    scorer.about = why
    log.info("path scorer: %s", why)
    return scorer


def _cached_paths(scorer: PathScorer, directory: Path) -> PathScorer:
    """``scorer`` with its relation-path vectors kept on disk (per KB and embedder): both path
    scorers embed path texts through their ``embedder``'s ``passage``, which this wraps."""
    inner = getattr(scorer, "embedder", None)
    if inner is not None and not isinstance(inner, CachedEmbedder) and hasattr(inner, "passage"):
        scorer.embedder = CachedEmbedder(inner, directory)  # type: ignore[attr-defined]
    return scorer


def _linker(store: GraphStore, directory: Path, seq: int, progress: bool) -> tuple[EntityLinker, dict[str, str]]:
    stamp = directory / STAMP
    saved = read_json_or_none(stamp)  # a damaged stamp is one warning, then a rebuild
    if saved is not None and saved.get("seq") == seq:
        try:
            linker = EntityLinker.load(directory)
            return linker, json.loads((directory / "relations.json").read_text())
        except (OSError, ValueError, KGQAError) as exc:
            log.warning("rebuilding the entity linker: %s", exc)
    labels: dict[str, str] = {}

    def batches() -> Iterator[list[tuple[Entity, int]]]:  # one scan feeds the linker and the labels
        for batch in store.scan_entities():
            labels.update((e.id, e.label) for e, _ in batch if e.kind is EntityKind.RELATION and e.label)
            yield batch

    linker = EntityLinker.from_batches(batches(), progress=progress)
    linker.save(directory)
    write_atomic(directory / "relations.json", json.dumps(labels, ensure_ascii=False))
    write_atomic(stamp, json.dumps({"seq": seq}))  # last: it vouches for the files above
    return linker, labels
