"""The kgqa pipeline: the ``KGQA`` facade, its answers and sessions, and the ``kgqa`` command line."""

from __future__ import annotations

from pipeline.answer import Answer, Citation, Clarification
from pipeline.api import KGQA, AnswerStream, Request
from pipeline.session import Session

__all__ = ["KGQA", "Answer", "AnswerStream", "Citation", "Clarification", "Request", "Session"]
