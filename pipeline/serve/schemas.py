"""Request bodies of the HTTP API (pydantic models, so FastAPI validates them and documents them).

Wrong types and unknown shapes are 422 with the field named (FastAPI's ``detail[].loc``);
sizes are checked by the handlers (413), not here, so that an oversized question is told apart
from a malformed one. Responses are the plain dicts of the pipeline's dataclasses.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AskBody(Strict):
    question: str
    history: list[tuple[str, str]] = Field(default_factory=list,
                                           description="earlier (question, answer text) pairs, oldest first")
    topic: str | None = Field(None, description="the topic entity (id, label or alias) instead of the linker's")
    hops: int | None = Field(None, ge=1, le=3, description="longest relation path (must match the server's)")
    generate: bool | None = Field(None, description="true: require the generator; false: the rule sentence")
    stream: bool = Field(False, description="Server-Sent Events: text pieces, then the checked answer")


class TurnBody(Strict):
    text: str
    stream: bool = False
    generate: bool | None = None


class FeedbackBody(Strict):
    answer_id: str
    correct: bool
    answer: str | None = Field(None, description="the right answer, when it was wrong")
    text: str | None = Field(None, description="a comment")


class SourceBody(Strict):
    path: str = Field(description="a file or folder on the server's disk")
    format: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, object]] | None = None

    def text(self) -> str:
        """The message's text (the text parts of a multi-part content)."""
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatBody(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, ... are accepted and ignored

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None
