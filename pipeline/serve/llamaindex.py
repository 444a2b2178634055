"""kgqa as a LlamaIndex retriever and query engine, so a LlamaIndex app can use it where it is.

``KGQARetriever`` is a ``BaseRetriever``: for a query it asks kgqa (``KGQA.ask``, no generation)
and returns one ``NodeWithScore`` per numbered piece of evidence, in kgqa's fused order. A
path's node text is the verbalized path and its metadata carry the citation: the triples with
their source and line (``triples``, ``where``), the node ids and labels; a passage's metadata
carry its source and offset. Every node also names the kgqa answer it came from (``answer_id``)
and the answer entities. The score is rank-based (1 for the first piece, falling linearly),
because kgqa's answer keeps the ranking, not the fusion scores.

``KGQAQueryEngine`` answers with kgqa's own checked, cited sentence and the same nodes as
sources; to have another LLM write the answer from kgqa's evidence instead, use
``RetrieverQueryEngine.from_args(KGQARetriever(qa), llm=...)``. Left out: async retrieval
(LlamaIndex runs ``_retrieve`` in a thread) and retrieval over HTTP from a remote server.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from pipeline import KGQA, Answer, Citation

NESTED = ["triples", "nodes", "labels", "answers"]  # kept out of embedding and LLM prompts


def citation_node(answer: Answer, citation: Citation) -> TextNode:
    """One piece of an answer's evidence as a LlamaIndex node (its citation in the metadata)."""
    metadata: dict[str, Any] = {"kind": citation.kind, "number": citation.number, "where": citation.where(),
                                "answer_id": answer.id, "answers": [a.label for a in answer.answers],
                                "cited": citation.number in answer.cited
                                or any(citation.number in a.citations for a in answer.answers)}
    if citation.kind == "path":
        metadata |= {"nodes": list(citation.nodes), "labels": list(citation.labels),
                     "triples": [{"subject": t.subject, "predicate": t.predicate, "object": t.object,
                                  "predicate_label": t.predicate_label, "source": t.source, "line": t.line}
                                 for t in citation.triples]}
    else:
        metadata |= {"source": citation.source, "offset": citation.offset, "line": citation.line,
                     "passage": citation.passage}
    return TextNode(text=citation.text, id_=f"{answer.id}:{citation.number}", metadata=metadata,
                    excluded_embed_metadata_keys=NESTED, excluded_llm_metadata_keys=NESTED)


def answer_nodes(answer: Answer) -> list[NodeWithScore]:
    n = len(answer.citations)
    return [NodeWithScore(node=citation_node(answer, c), score=round(1 - i / max(n, 1), 4))
            for i, c in enumerate(answer.citations)]


class KGQARetriever(BaseRetriever):
    """kgqa's evidence for a query, as scored LlamaIndex nodes (see the module docstring)."""

    def __init__(self, qa: KGQA, top_k: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.qa = qa
        self.top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        nodes = answer_nodes(self.qa.ask(query_bundle.query_str, generate=False))
        return nodes[: self.top_k] if self.top_k else nodes


class KGQAQueryEngine(CustomQueryEngine):
    """A query engine whose answer is kgqa's checked, cited sentence, with the evidence as sources."""

    qa: Any  # a KGQA (pydantic field: LlamaIndex query engines are pydantic models)
    generate: bool | None = None

    def custom_query(self, query_str: str) -> Response:
        answer: Answer = self.qa.ask(query_str, generate=self.generate)
        return Response(response=answer.text, source_nodes=answer_nodes(answer),
                        metadata={"answer_id": answer.id, "answers": [a.label for a in answer.answers],
                                  "confidence": answer.confidence})
