"""The kgqa pipeline: the ``KGQA`` facade, its answers and sessions, and the ``kgqa`` command line."""

from __future__ import annotations

from pipeline.api import KGQA, AnswerStream
from pipeline.dialogue.session import Session
from pipeline.types import Answer, Citation, Clarification, Request

__all__ = ["KGQA", "Answer", "AnswerStream", "Citation", "Clarification", "Request", "Session"]
