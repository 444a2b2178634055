"""An in-memory, read-only copy of the graph's edges for fast relation-path enumeration.

``GraphIndex`` answers the two reads graph path retrieval makes per question, ``relation_paths``
and ``follow``, with the signatures and results of a ``GraphStore``, from numpy arrays. Node ids
and predicates become integers; each edge is kept once (subject, predicate, object, key, source,
line, qualifiers) and once from each end as a *half-edge*, sorted by (node, step, neighbour),
where step ``2p`` follows predicate ``p`` forwards and ``2p + 1`` backwards.

``relation_paths`` aggregates walks per relation-path prefix into frontiers (node -> number of
walks). A frontier forgets which edges its walks used, so the store's rule (no edge used twice)
is kept another way, exactly up to three hops: hop two is expanded from the explicit hop-one
edges, and hop three subtracts from the aggregated expansion the walks that take their first or
second edge again (found from the explicit two-hop walks). From hop four on, ``paths`` is an
upper bound counting walks that reuse an edge. ``IndexLimits`` caps the work of one call.
``search_paths`` runs the same levels for a beam search: after each hop a caller-supplied
``choose`` sees that hop's relation paths (same counts) and picks which grow, so the work
follows the chosen prefixes instead of every path of the schema. ``parts``/``from_parts`` hand
the arrays to ``retrieval.graph_files``, which saves them and maps them back without copying.

Deliberately left out: writes (rebuild after indexing), entities, ``neighbors`` and
``shortest_paths``; those stay with the store. The module is longer than the house's ~400 lines
because the exact edge-reuse accounting of ``relation_paths`` and the chunked ``follow`` share
the half-edge arrays and their helpers; split apart, each half would need the other's internals.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kg.base import Provenance
from kg.errors import KGQAError
from kg.stores.base import Edge, GraphPath, GraphStore, PathCount, RelationPath, Step, edge_table

Chooser = Callable[[int, list[PathCount]], Sequence[int]]  # (hops, paths of that length) -> which to extend
_NO_LINE = -(2**63)  # stands for a null line
_CHUNK = 1024  # partial walks extended together by ``follow``


@dataclass(frozen=True)
class IndexLimits:
    """Bounds on the work of one ``relation_paths`` call.

    Args:
        max_frontier: a relation path reaching more (node, count) entries than this is still
            counted but not extended by another hop.
        max_rows: the most half-edges gathered for one hop; the prefixes are extended
            cheapest first until this is spent.
    """

    max_frontier: int = 200_000
    max_rows: int = 1_000_000

    def __post_init__(self) -> None:
        if self.max_frontier < 1 or self.max_rows < 1:
            raise ValueError("max_frontier and max_rows must be positive")


def _encode(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The sorted distinct strings of ``values`` and each value's position among them."""
    encoded = pc.dictionary_encode(values)
    order = pc.sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return encoded.dictionary.take(pa.array(order)), rank[encoded.indices.to_numpy(zero_copy_only=False)]


def _ranges(lo: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The positions ``lo[i] .. lo[i] + size[i]`` for every ``i``, with the ``i`` of each."""
    owner = np.repeat(np.arange(len(lo)), size)
    start = np.cumsum(size) - size
    return owner, np.arange(int(size.sum()), dtype=np.int64) + (lo - start)[owner]


def _first_of_runs(values: np.ndarray) -> np.ndarray:
    """A mask of the positions in a sorted array where a new value begins."""
    new = np.ones(len(values), dtype=bool)
    new[1:] = values[1:] != values[:-1]
    return new


@dataclass(frozen=True)
class _HalfEdges:
    """Edges from both ends by (node, step, neighbour); ``key`` is ``node * n_steps + step``
    (a binary search finds a (node, step) range) and node ``v``'s range starts at ``pointer[v]``."""

    key: np.ndarray
    neighbour: np.ndarray
    edge: np.ndarray
    pointer: np.ndarray


@dataclass
class _Level:
    """The relation paths of one length around a start node.

    Prefix ``i`` is its parent prefix (one hop shorter) ``parent[i]`` plus step ``step[i]``.
    The frontier rows (``pid``, ``node``, ``count``), sorted by prefix then node, say how many
    walks along prefix ``pid`` reach ``node``. ``grow``, when set, marks the prefixes a beam
    search chose to extend (the others are not, whatever ``limits`` allow).
    """

    parent: np.ndarray
    step: np.ndarray
    pid: np.ndarray
    node: np.ndarray
    count: np.ndarray
    grow: np.ndarray | None = None


@dataclass
class _Walks:
    """Explicit walks: per row its prefix id, the nodes visited, and the edges and steps taken."""

    pid: np.ndarray
    nodes: list[np.ndarray]
    edges: list[np.ndarray]
    steps: list[np.ndarray]

    def take(self, rows: np.ndarray) -> _Walks:
        return _Walks(self.pid[rows], [a[rows] for a in self.nodes], [a[rows] for a in self.edges],
                      [a[rows] for a in self.steps])


class GraphIndex:
    """Edges in numpy arrays, answering ``relation_paths`` and ``follow`` like the store.

    Build it with ``from_store``, ``from_edges`` or ``from_table``; the constructor only
    keeps the arrays it is given. Edge columns are numpy arrays (node and predicate ids, keys,
    source ids, lines); node ids and qualifiers stay in Arrow string arrays, so no Python
    object is made per edge or per node.
    """

    def __init__(self, ids: pa.Array, predicates: list[str], sources: list[str], edges: dict[str, np.ndarray],
                 qualifiers: pa.Array | None, half: _HalfEdges, limits: IndexLimits = IndexLimits()) -> None:
        self._ids = ids
        self._predicates = predicates
        self._pred_index = {p: i for i, p in enumerate(predicates)}
        self._sources = sources
        self._e = edges
        self._qualifiers = qualifiers
        self.limits = limits
        self._s = 2 * len(predicates)  # step ids: 2 * predicate (+1 when followed backwards)
        self._steps = [Step(predicates[s // 2], s % 2 == 0) for s in range(self._s)]
        self._step_texts = [str(step) for step in self._steps]
        self._key, self._nbr, self._edge, self._ptr = half.key, half.neighbour, half.edge, half.pointer

    @classmethod
    def from_store(cls, store: GraphStore, limits: IndexLimits = IndexLimits()) -> GraphIndex:
        """Read every edge of ``store`` once (``GraphStore.edges``).

        Raises:
            KGQAError: the object is no ``GraphStore`` (it cannot hand over its edges).
        """
        if not callable(getattr(store, "edges", None)):
            raise KGQAError(f"cannot read the edges of a {type(store).__name__} into a GraphIndex: "
                            "it has no edges() (see kg.stores.base.GraphStore)")
        return cls.from_table(store.edges(), limits)

    @classmethod
    def from_edges(cls, subjects: Sequence[str], predicates: Sequence[str], objects: Sequence[str],
                   keys: Sequence[int] | np.ndarray, sources: Sequence[str | None],
                   lines: Sequence[int | None] | np.ndarray, qualifiers: Sequence[str | None],
                   limits: IndexLimits = IndexLimits()) -> GraphIndex:
        """An index of the given edges, one per position of the equally long sequences."""
        columns = (subjects, predicates, objects, np.asarray(keys, dtype=np.int64), sources, lines, qualifiers)
        return cls.from_table(edge_table(columns), limits)

    @classmethod
    def from_table(cls, table: pa.Table, limits: IndexLimits = IndexLimits()) -> GraphIndex:
        """An index of the edges in an Arrow table with the columns ``kg.stores.base.EDGE_COLUMNS``."""
        n = table.num_rows
        ends = [table.column(c).cast(pa.large_string()).combine_chunks() for c in ("subject", "object")]
        ids, codes = _encode(pa.concat_arrays(ends))
        node_type = np.int32 if len(ids) < 2**31 else np.int64
        predicates, pred = _encode(table.column("predicate").combine_chunks())
        sources, src = _encode(pc.fill_null(table.column("source"), "").combine_chunks())
        qualifiers = table.column("qualifiers").combine_chunks()
        edges = {
            "subject": codes[:n].astype(node_type), "object": codes[n:].astype(node_type),
            "predicate": pred.astype(np.int32), "source": src.astype(np.int32),
            "key": table.column("key").to_numpy().astype(np.int64),
            "line": pc.fill_null(table.column("line"), _NO_LINE).to_numpy().astype(np.int64),
        }
        half = _half_edges(edges, len(ids), 2 * len(predicates))
        return cls(ids, predicates.to_pylist(), sources.to_pylist(), edges,
                   qualifiers if qualifiers.null_count < n else None, half, limits)

    def parts(self) -> tuple[pa.Array, list[str], list[str], pa.Array | None, dict[str, np.ndarray]]:
        """What the index is made of: node ids, predicates, sources, qualifiers and the numpy arrays
        (edge columns and ``half_*`` half-edge arrays), for ``retrieval.graph_files`` to persist."""
        half = {"half_key": self._key, "half_neighbour": self._nbr, "half_edge": self._edge, "half_pointer": self._ptr}
        return self._ids, list(self._predicates), list(self._sources), self._qualifiers, {**self._e, **half}

    @classmethod
    def from_parts(cls, ids: pa.Array, predicates: list[str], sources: list[str], qualifiers: pa.Array | None,
                   arrays: dict[str, np.ndarray], limits: IndexLimits = IndexLimits()) -> GraphIndex:
        """The index ``parts`` described (arrays may be memory-mapped; nothing is copied)."""
        half = _HalfEdges(arrays["half_key"], arrays["half_neighbour"], arrays["half_edge"], arrays["half_pointer"])
        edges = {k: v for k, v in arrays.items() if not k.startswith("half_")}
        return cls(ids, predicates, sources, edges, qualifiers, half, limits)

    @property
    def predicates(self) -> list[str]:
        """The distinct predicates, sorted (the relation vocabulary)."""
        return list(self._predicates)

    @property
    def node_count(self) -> int:
        return len(self._ids)


    @property
    def edge_count(self) -> int:
        return len(self._e["key"])

    @property
    def nbytes(self) -> int:
        """Bytes held in arrays (ids, edges, half-edges); Python lists of names not counted."""
        arrays = [*self._e.values(), self._key, self._nbr, self._edge, self._ptr]
        extra = self._qualifiers.nbytes if self._qualifiers is not None else 0
        return int(sum(a.nbytes for a in arrays)) + int(self._ids.nbytes) + int(extra)

    # -- relation paths ----------------------------------------------------------------------

    def relation_paths(self, start: str, max_hops: int = 3, limit: int = 10_000) -> list[PathCount]:
        """The relation paths of 1..max_hops around ``start`` with their counts (as the store).

        Up to three hops the answer equals the store's (see the module docstring), unless
        ``limits`` stopped a prefix from growing. Sorted by (length, -paths, text), at most ``limit``.
        """
        return self._results(self._levels(start, max_hops, None), limit)

    def search_paths(self, start: str, max_hops: int, choose: Chooser) -> None:
        """Relation paths around ``start`` hop by hop, extending only the ones ``choose`` picks.

        After each hop ``choose(hops, counts)`` receives every relation path of that length
        whose prefix was chosen at the hop before (all paths of one hop at the first), with
        the same counts ``relation_paths`` gives, and returns the positions in ``counts`` to
        extend by another hop. The work of a hop is thus bounded by the chosen prefixes'
        frontiers, not by the number of relation paths of the schema.
        """
        self._levels(start, max_hops, choose)

    def _levels(self, start: str, max_hops: int, choose: Chooser | None) -> list[_Level]:
        root = self._node(start)
        if root is None or max_hops < 1:
            return []
        walks = _Walks(np.zeros(1, dtype=np.int64), [np.array([root], dtype=np.int64)], [], [])
        levels: list[_Level] = []
        while len(levels) < max_hops and (not levels or len(levels[-1].step)):
            if levels and levels[-1].grow is not None and not levels[-1].grow.any():
                break
            if len(levels) < 2:
                walks = self._explicit_hop(walks, levels[-1] if levels else None)
                level, walks.pid = self._aggregate(walks.pid, walks.steps[-1], walks.nodes[-1])
            else:
                level = self._aggregated_hop(levels[-1], walks if len(levels) == 2 else None)
            levels.append(level)
            if choose is not None:
                picked = choose(len(levels), self._counts(levels))
                level.grow = np.zeros(len(level.step), dtype=bool)
                level.grow[np.asarray(list(picked), dtype=np.int64)] = True
        return levels

    def _counts(self, levels: list[_Level]) -> list[PathCount]:
        """Every prefix of the last of ``levels`` as a PathCount, in prefix order."""
        level = levels[-1]
        k = len(level.step)
        paths = np.bincount(level.pid, weights=level.count, minlength=k).astype(np.int64).tolist()
        ends = np.bincount(level.pid, minlength=k).tolist()
        rows = self._step_ids(levels, np.arange(k)).tolist()
        return [PathCount(tuple(self._steps[s] for s in row), walks, n) for row, walks, n in zip(rows, paths, ends)]

    def _explicit_hop(self, walks: _Walks, level: _Level | None) -> _Walks:
        """Every walk one hop longer than ``walks`` (of prefixes ``level`` lets grow) that does
        not take its own last edge back."""
        if level is not None:
            walks = walks.take(np.flatnonzero(self._extendable(level)[walks.pid]))
        owner, half = self._gather(walks.nodes[-1])
        if walks.edges:
            fresh = self._edge[half] != walks.edges[-1][owner]
            owner, half = owner[fresh], half[fresh]
        longer = walks.take(owner)
        longer.nodes.append(self._nbr[half].astype(np.int64))
        longer.edges.append(self._edge[half])
        longer.steps.append(self._key[half] % self._s)
        return longer

    def _aggregated_hop(self, level: _Level, reuse: _Walks | None) -> _Level:
        """The next level from a frontier, less the walks of ``reuse`` that take an edge again."""
        extendable = self._extendable(level)
        rows = np.flatnonzero(extendable[level.pid])
        owner, half = self._gather(level.node[rows])
        parent = level.pid[rows][owner]
        step = self._key[half] % self._s
        node = self._nbr[half].astype(np.int64)
        weight = level.count[rows][owner]
        if reuse is not None:
            reuse = reuse.take(np.flatnonzero(extendable[reuse.pid]))
            r_parent, r_step, r_node = _reused(reuse)
            parent, step, node = (np.concatenate(p) for p in ((parent, r_parent), (step, r_step), (node, r_node)))
            weight = np.concatenate([weight, np.full(len(r_node), -1, dtype=np.int64)])
        return self._aggregate(parent, step, node, weight)[0]

    def _aggregate(self, parent: np.ndarray, step: np.ndarray, node: np.ndarray,
                   weight: np.ndarray | None = None) -> tuple[_Level, np.ndarray]:
        """Walk rows summed per (prefix, node); also each row's new prefix id (-1 if none)."""
        n_nodes = max(self.node_count, 1)
        prefix = parent.astype(np.int64) * self._s + step
        table = None  # prefix numbers, when renumbered to keep prefix * n_nodes in int64
        if len(prefix) and int(prefix.max()) >= (2**62) // n_nodes:
            table, prefix = np.unique(prefix, return_inverse=True)
        key = prefix * n_nodes + node
        order = np.argsort(key, kind="stable")
        key = key[order]
        new = _first_of_runs(key)
        first = np.flatnonzero(new)
        weights = np.ones(len(key), dtype=np.int64) if weight is None else weight[order]
        sums = np.add.reduceat(weights, first) if len(first) else weights[:0]
        keep = sums > 0
        group_key = key[first][keep]
        group_prefix = group_key // n_nodes
        new_prefix = _first_of_runs(group_prefix)
        pid = np.cumsum(new_prefix) - 1
        prefixes = group_prefix[new_prefix] if table is None else table[group_prefix[new_prefix]]
        group_pid = np.full(len(first), -1, dtype=np.int64)
        group_pid[keep] = pid
        row_pid = np.empty(len(key), dtype=np.int64)
        row_pid[order] = group_pid[np.cumsum(new) - 1]
        level = _Level(prefixes // self._s, prefixes % self._s, pid, group_key % n_nodes, sums[keep])
        return level, row_pid

    def _extendable(self, level: _Level) -> np.ndarray:
        """Per prefix: whether it is extended by another hop within ``limits``."""
        k = len(level.step)
        size = np.bincount(level.pid, minlength=k)
        degree = self._ptr[level.node + 1] - self._ptr[level.node]
        cost = np.bincount(level.pid, weights=degree, minlength=k)
        cost[size > self.limits.max_frontier] = np.inf
        if level.grow is not None:
            cost[~level.grow] = np.inf
        order = np.argsort(cost, kind="stable")
        ok = np.zeros(k, dtype=bool)
        ok[order] = np.cumsum(cost[order]) <= self.limits.max_rows
        return ok

    def _results(self, levels: list[_Level], limit: int) -> list[PathCount]:
        """PathCounts sorted like the store's: shorter first, then more walks, then by text.

        Only the prefixes that can make the first ``limit`` are spelled out as text.
        """
        out: list[PathCount] = []
        for hops, level in enumerate(levels, 1):
            room = limit - len(out)
            if room <= 0:
                break
            k = len(level.step)
            paths = np.bincount(level.pid, weights=level.count, minlength=k).astype(np.int64)
            chosen = np.arange(k)
            if k > room:  # the room-th most walks, ties included
                chosen = np.flatnonzero(paths >= np.partition(paths, k - room)[k - room])
            rows = self._step_ids(levels[:hops], chosen).tolist()
            texts = ["/".join(self._step_texts[s] for s in row) for row in rows]
            walks, ends = paths[chosen].tolist(), np.bincount(level.pid, minlength=k)[chosen].tolist()
            order = sorted(range(len(rows)), key=lambda j: (-walks[j], texts[j]))[:room]
            out.extend(PathCount(tuple(self._steps[s] for s in rows[j]), walks[j], ends[j]) for j in order)
        return out

    def _step_ids(self, levels: list[_Level], pids: np.ndarray) -> np.ndarray:
        """The step ids of prefixes ``pids`` of the last of ``levels``, one row per prefix."""
        columns = []
        for level in reversed(levels):
            columns.append(level.step[pids])
            pids = level.parent[pids]
        return np.column_stack(columns[::-1])

    # -- concrete paths ----------------------------------------------------------------------

    def follow(self, start: str, path: RelationPath, limit: int = 1000) -> list[GraphPath]:
        """Concrete paths from ``start`` along ``path`` that use no edge twice (at most ``limit``).

        Walks are extended depth first in blocks, so the search stops once ``limit`` are found.
        They come in (step, neighbour) order: a truncated answer may hold other paths than the
        store's (whose order is unspecified too).
        """
        root = self._node(start)
        steps = [self._step_id(step) for step in path]
        if root is None or not path or limit < 1 or None in steps:
            return []
        blocks: list[tuple[np.ndarray, np.ndarray]] = []
        start_walk = (np.array([[root]], dtype=np.int64), np.empty((1, 0), dtype=np.int64))
        for block in self._walks(*start_walk, [s for s in steps if s is not None]):
            blocks.append(block)
            if sum(len(b[0]) for b in blocks) >= limit:
                break
        if not blocks:
            return []
        return self._graph_paths(np.concatenate([b[0] for b in blocks])[:limit],
                                 np.concatenate([b[1] for b in blocks])[:limit], path)

    def _walks(self, nodes: np.ndarray, edges: np.ndarray, steps: list[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Complete walks along ``steps`` that extend the partial walks given, in blocks."""
        depth = edges.shape[1]
        if depth == len(steps):
            yield nodes, edges
            return
        for lo in range(0, len(nodes), _CHUNK):
            longer_nodes, longer_edges = self._extend(nodes[lo: lo + _CHUNK], edges[lo: lo + _CHUNK], steps[depth])
            if len(longer_nodes):
                yield from self._walks(longer_nodes, longer_edges, steps)

    def _extend(self, nodes: np.ndarray, edges: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        """Every walk one ``step`` longer, except those that take an edge they already used."""
        owner, half = self._stepped(nodes[:, -1], step)
        edge = self._edge[half].astype(np.int64)
        fresh = ~(edges[owner] == edge[:, None]).any(axis=1)
        owner, half = owner[fresh], half[fresh]
        return (np.column_stack([nodes[owner], self._nbr[half]]),
                np.column_stack([edges[owner], edge[fresh]]))

    def _graph_paths(self, nodes: np.ndarray, edges: np.ndarray, path: RelationPath) -> list[GraphPath]:
        """GraphPaths from walks given as rows of node and edge numbers."""
        made = self._edges(edges.ravel())
        names = self._names(nodes.ravel())
        hops, width = len(path), len(path) + 1
        return [GraphPath(tuple(names[i * width: (i + 1) * width]), tuple(made[i * hops: (i + 1) * hops]), path)
                for i in range(len(nodes))]

    def _edges(self, edges: np.ndarray) -> list[Edge]:
        """Edge values (with provenance) of the given edge numbers."""
        e = {name: self._e[name][edges].tolist() for name in ("predicate", "key", "source", "line")}
        subjects, objects = self._names(self._e["subject"][edges]), self._names(self._e["object"][edges])
        qualifiers = (self._qualifiers.take(pa.array(edges)).to_pylist() if self._qualifiers is not None
                      else [None] * len(edges))
        provenance = [Provenance(self._sources[src], None if line == _NO_LINE else line)
                      for src, line in zip(e["source"], e["line"])]
        return [Edge(s, self._predicates[p], o, k, prov, q) for s, p, o, k, prov, q
                in zip(subjects, e["predicate"], objects, e["key"], provenance, qualifiers)]

    # -- end sets (weak supervision, synthetic questions) -------------------------------------

    def node_ids(self) -> list[str]:
        """Every node with an edge, sorted."""
        ids: list[str] = self._ids.to_pylist()
        return ids

    def reach(self, start: str, path: RelationPath, exclude_start: bool = False,
              memo: dict[RelationPath, np.ndarray] | None = None) -> np.ndarray:
        """The node numbers ``path`` leads to from ``start``, as a set (sorted, each once; walks may
        take an edge twice). ``exclude_start`` drops ``start`` at every hop; ``memo`` keeps the
        prefixes of one start (shared by the paths of one topic). ``names`` turns them into ids."""
        memo = {} if memo is None else memo
        if () not in memo:  # the start itself, looked up once per memo (a bisect over the ids)
            root = self._node(start)
            memo[()] = np.empty(0, dtype=np.int64) if root is None else np.array([root], dtype=np.int64)
        if not len(memo[()]):
            return memo[()]
        return self._reach(int(memo[()][0]), path, exclude_start, memo)

    def _reach(self, root: int, path: RelationPath, exclude: bool, memo: dict[RelationPath, np.ndarray]) -> np.ndarray:
        if path in memo:  # memo[()] is the start, set by ``reach``
            return memo[path]
        before = self._reach(root, path[:-1], exclude, memo)
        step = self._step_id(path[-1])
        found = np.empty(0, dtype=np.int64)
        if step is not None and len(before):
            _, half = self._stepped(before, step)
            found = np.unique(self._nbr[half]).astype(np.int64)
            if exclude:
                found = found[found != root]
        memo[path] = found
        return found

    def names(self, nodes: np.ndarray) -> list[str]:
        """The ids of node numbers (from ``reach``)."""
        return self._names(nodes)

    def objects(self) -> dict[str, np.ndarray]:
        """Per predicate, the distinct node numbers that are objects of its edges."""
        pred, obj = self._e["predicate"], self._e["object"]
        order = np.argsort(pred, kind="stable")
        cuts = np.searchsorted(pred[order], np.arange(len(self._predicates) + 1))
        return {p: np.unique(obj[order[cuts[i]:cuts[i + 1]]]).astype(np.int64)
                for i, p in enumerate(self._predicates) if cuts[i + 1] > cuts[i]}

    # -- helpers -----------------------------------------------------------------------------

    def _stepped(self, nodes: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
        """The half-edges that leave ``nodes`` by ``step``: for each, its position in ``nodes`` and its index."""
        target = nodes * self._s + step
        lo = np.searchsorted(self._key, target, side="left")
        return _ranges(lo, np.searchsorted(self._key, target, side="right") - lo)

    def _gather(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """All half-edges at ``nodes``: for each, its position in ``nodes`` and its index."""
        lo = self._ptr[nodes]
        return _ranges(lo, self._ptr[nodes + 1] - lo)

    def _names(self, nodes: np.ndarray) -> list[str]:
        names: list[str] = self._ids.take(pa.array(nodes)).to_pylist()
        return names

    def _node(self, node_id: str) -> int | None:
        i = bisect.bisect_left(self._ids, node_id, key=lambda scalar: scalar.as_py())
        return i if i < len(self._ids) and self._ids[i].as_py() == node_id else None

    def _step_id(self, step: Step) -> int | None:
        p = self._pred_index.get(step.predicate)
        return None if p is None else 2 * p + (0 if step.forward else 1)


def _reused(walks: _Walks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The third hops of two-hop walks that take their first or second edge again.

    As (prefix id, step, end node) rows, one per such half-edge: the second edge back (both
    ways round when it is a loop), and the first edge again when the walk has come back to one
    of its ends.
    """
    n0, n1, n2 = walks.nodes
    s1, s2 = walks.steps
    loop2, at0, at1 = n1 == n2, n2 == n0, n2 == n1
    pid = walks.pid
    parts = [(pid, s2 ^ 1, n1), (pid[loop2], s2[loop2], n1[loop2]),
             (pid[at0], s1[at0], n1[at0]), (pid[at1], s1[at1] ^ 1, n0[at1])]
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]))


def _half_edges(edges: dict[str, np.ndarray], n_nodes: int, n_steps: int) -> _HalfEdges:
    """Both ends of every edge, sorted by (node, step, neighbour)."""
    subject, obj, pred = edges["subject"], edges["object"], edges["predicate"].astype(np.int64)
    node = np.concatenate([subject, obj]).astype(np.int64)
    key = node * n_steps + np.concatenate([2 * pred, 2 * pred + 1])
    neighbour = np.concatenate([obj, subject])
    edge_ids = np.arange(len(subject), dtype=np.int32 if len(subject) < 2**31 else np.int64)
    order = np.lexsort((neighbour, key))
    pointer = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(node, minlength=n_nodes), out=pointer[1:])
    return _HalfEdges(key[order], neighbour[order], np.concatenate([edge_ids, edge_ids])[order], pointer)
