"""Fusion of graph and passage evidence into one numbered list (the prompt is model.prompts').

Fusion is reciprocal rank fusion (RRF, k=60): graph paths are ranked by their relation
path's score, passages by dense similarity, and each item scores sum(1 / (k + rank)) over the
lists it appears in. RRF needs no calibration between the two score scales (cosine of a
verbalized path vs cosine of a passage), which is why it is used rather than a weighted sum;
learned weights can replace it once there is feedback to learn from.

Evidence text is quoted data: the prompt tells the generator to answer from it, and nothing in
it is ever interpreted as an instruction by this code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kg.base import Passage
from kg.stores.base import GraphPath
from retrieval.base import Evidence

RRF_K = 60
SNIPPET = 300


def path_text(path: GraphPath, label: Callable[[str], str]) -> str:
    """``Kismet -directed_by-> William Dieterle <-directed_by- Dark City``."""
    parts = [label(path.nodes[0])]
    for step, node in zip(path.relation_path, path.nodes[1:]):
        rel = label(step.predicate)
        parts.append(f"-{rel}->" if step.forward else f"<-{rel}-")
        parts.append(label(node))
    return " ".join(parts)


def passage_text(passage: Passage) -> str:
    snippet = passage.text if len(passage.text) <= SNIPPET else passage.text[:SNIPPET].rsplit(" ", 1)[0] + " ..."
    where = passage.provenance.source if passage.provenance else "?"
    title = f", {passage.title}" if passage.title else ""
    return f'"{snippet}" ({where}{title})'


def fuse(paths: Sequence[tuple[GraphPath, float]], passages: Sequence[tuple[Passage, float]],
         label: Callable[[str], str], k: int = 10) -> list[Evidence]:
    """The ``k`` best pieces of evidence by RRF over the two ranked lists, numbered from 1."""
    scored: list[tuple[float, int, Evidence]] = []
    for rank, (gp, _) in enumerate(paths):
        scored.append((1 / (RRF_K + rank + 1), len(scored),
                       Evidence(0, "path", path_text(gp, label), 0.0, path=gp)))
    for rank, (passage, _) in enumerate(passages):
        scored.append((1 / (RRF_K + rank + 1), len(scored),
                       Evidence(0, "passage", passage_text(passage), 0.0, passage=passage)))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [Evidence(n, e.kind, e.content, round(s, 6), e.path, e.passage)
            for n, (s, _, e) in enumerate(scored[:k], 1)]
