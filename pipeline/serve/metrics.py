"""Prometheus metrics of one server (``GET /metrics``), in a registry of its own.

Requests by endpoint (the route's template, never the raw path), method and status; latency
per endpoint and per pipeline stage (the answer's timings: link, paths, passages, fuse,
generate, check, retrieve, total); answers by outcome; feedback; the KB's size; model load time.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from pipeline import Answer

STAGES = ("link", "paths", "passages", "fuse", "generate", "check", "retrieve", "total")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def outcome(answer: Answer) -> str:
    """generated | rule sentence | clarification | no answer."""
    if answer.clarification is not None:
        return "clarification"
    if not answer.answers:
        return "no answer"
    return "rule sentence" if answer.fallback else "generated"


class Metrics:
    """The server's counters, histograms and gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("kgqa_requests", "HTTP requests", ["endpoint", "method", "status"], registry=r)
        self.latency = Histogram("kgqa_request_seconds", "HTTP request latency", ["endpoint"], buckets=BUCKETS,
                                 registry=r)
        self.in_flight = Gauge("kgqa_requests_in_flight", "HTTP requests being served", registry=r)
        self.stages = Histogram("kgqa_stage_seconds", "pipeline stage latency", ["stage"], buckets=BUCKETS,
                                registry=r)
        self.answers = Counter("kgqa_answers", "answers by outcome", ["outcome"], registry=r)
        self.feedback = Counter("kgqa_feedback", "feedback received", ["correct"], registry=r)
        self.kb = Gauge("kgqa_kb_size", "knowledge base size", ["what"], registry=r)
        self.model_load = Gauge("kgqa_model_load_seconds", "time to load the models and indices at start-up",
                                registry=r)
        self.rejected = Counter("kgqa_rejected", "requests refused before work", ["reason"], registry=r)

    def answered(self, answer: Answer) -> None:
        self.answers.labels(outcome(answer)).inc()
        for stage in STAGES:
            if stage in answer.timings:
                self.stages.labels(stage).observe(answer.timings[stage] / 1000)

    def kb_size(self, stats: dict[str, object]) -> None:
        for key in ("triples", "entities", "literals", "relations", "sources"):
            value = stats.get(key)
            if isinstance(value, int):
                self.kb.labels(key).set(value)

    def render(self) -> bytes:
        return generate_latest(self.registry)
