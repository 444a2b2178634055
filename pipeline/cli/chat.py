"""``kgqa chat``: a conversation in the terminal, one ``Session`` turn per line.

A plain ``input()`` loop (readline line editing and history when the terminal has it), so it
can be driven by piping lines into it. Lines that start with ``/`` are commands:

    /explain            how the last answer was reached
    /sources            every numbered piece of evidence of the last answer, with provenance
    /feedback good|bad [corrected answer]   say whether the last answer was right
    /reset              forget the conversation
    /save FILE          save the conversation as JSON (``kgqa chat --load FILE`` continues it)
    /help               this list
    /quit               leave (end of input does too)

``show`` renders an answer for people; ``kgqa ask`` uses it too. With ``emit`` (the CLI passes
one that writes to the terminal at once) each turn streams: the answer's sentence comes piece by
piece from ``Session.ask_stream`` (always the checked text, never a draft the checks would
replace), then the answers, reasoning and evidence. Left out: colours.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from kg.errors import KGQAError
from pipeline.dialogue.session import Session
from pipeline.types import Answer

HELP = __doc__.split("\n\n")[2].strip("\n") if __doc__ else ""
PROMPT = "you> "
Read = Callable[[str], str]
Write = Callable[[str], None]


def cite(numbers: Sequence[int]) -> str:
    """Citation numbers as the answer sentences write them: ``[1, 3]`` (one format everywhere)."""
    return f"[{', '.join(map(str, numbers))}]" if numbers else ""


def show(answer: Answer, evidence: str = "cited", sentence: bool = True) -> str:
    """The answer for people: the answers, the sentence, the reasoning and the evidence.

    ``evidence`` is ``cited`` (the evidence the sentence and answers cite), ``all`` or ``none``;
    ``sentence=False`` leaves out the answer's text (it was streamed already).
    """
    if answer.clarification is not None or not answer.citations:
        return answer.text if sentence else ""
    lines = []
    if answer.answers:
        top = ", ".join(f"{a.label}{f' ({a.qualifiers})' if a.qualifiers else ''} "
                        f"{cite(a.citations[:3])}".strip() for a in answer.answers[:5])
        more = f" (and {len(answer.answers) - 5} more)" if len(answer.answers) > 5 else ""
        lines.append(f"Answer: {top}{more}")
    if not answer.fallback and sentence:
        lines.append(f"  {answer.text}")
    rp = answer.relation_path
    if rp is not None:
        lines.append(f"Reasoning: {rp.topic_label} -> {rp.text} "
                     f"(score {rp.score:.2f}; confidence {answer.confidence:.2f})")
    wanted = set(answer.cited) | {n for a in answer.answers for n in a.citations}
    shown = [c for c in answer.citations if evidence == "all" or evidence == "cited" and c.number in wanted]
    if not answer.answers and sentence:
        lines.insert(0, answer.text)
    if shown:
        lines.append("Evidence:")
        lines += [f"  [{c.number}] {c.text}  [{c.where()}]" for c in shown]
    return "\n".join(lines)


class Chat:
    """The REPL over one session; ``run`` reads lines until ``/quit`` or the end of input."""

    def __init__(self, session: Session, read: Read = input, write: Write = print, emit: Write | None = None) -> None:
        self.session = session
        self.read = read
        self.write = write
        self.emit = emit  # writes a streamed piece as it comes (no newline); None: no streaming

    def run(self) -> int:
        self.write('Ask a question about the knowledge base; "/help" lists the commands.')
        while True:
            try:
                line = self.read(PROMPT).strip()
            except (EOFError, KeyboardInterrupt):
                self.write("")
                return 0
            if line.startswith("/"):
                if not self.command(line):
                    return 0
            elif line:
                self.turn(line)

    def turn(self, line: str) -> None:
        try:
            if self.emit is None:
                self.write(show(self.session.ask(line)))
                return
            stream = self.session.ask_stream(line)
            for piece in stream:
                self.emit(piece)
            self.emit("\n")
            details = show(stream.answer, sentence=False)
        except KGQAError as exc:
            self.write(f"error: {exc}")
            return
        if details:
            self.write(details)

    def command(self, line: str) -> bool:
        """Run one ``/command``; False when the chat should end."""
        name, _, rest = line[1:].partition(" ")
        name, rest = name.lower(), rest.strip()
        if name in ("quit", "exit", "q"):
            return False
        actions: dict[str, Callable[[str], None]] = {
            "help": lambda _: self.write(HELP), "explain": self._explain, "sources": self._sources,
            "feedback": self._feedback, "reset": self._reset, "save": self._save}
        action = actions.get(name)
        if action is None:
            self.write(f"unknown command /{name}; /help lists the commands")
        else:
            action(rest)
        return True

    def _last(self) -> Answer | None:
        last = self.session.last
        if last is None:
            self.write("nothing answered yet")
        return last

    def _explain(self, _: str) -> None:
        if (last := self._last()) is not None:
            self.write(last.explain())

    def _sources(self, _: str) -> None:
        if (last := self._last()) is not None:
            self.write(show(last, evidence="all") if last.citations else "no evidence for the last answer")

    def _feedback(self, rest: str) -> None:
        verdict, _, corrected = rest.partition(" ")
        if verdict not in ("good", "bad"):
            self.write("usage: /feedback good|bad [corrected answer]")
            return
        if (last := self._last()) is None:
            return
        try:
            self.session.qa.feedback(last.id, correct=verdict == "good", answer=corrected.strip() or None)
        except KGQAError as exc:
            self.write(f"error: {exc}")
            return
        self.write("thanks, feedback recorded")

    def _reset(self, _: str) -> None:
        self.session.reset()
        self.write("conversation forgotten")

    def _save(self, rest: str) -> None:
        if not rest:
            self.write("usage: /save FILE")
            return
        try:
            self.session.save(rest)
        except OSError as exc:
            self.write(f"error: cannot save to {rest}: {exc.strerror or exc}")
            return
        self.write(f"saved to {rest}")


def terminal(piece: str) -> None:
    """Write a streamed piece to standard output at once."""
    sys.stdout.write(piece)
    sys.stdout.flush()


def line_editing(history: Path | None = None) -> None:
    """Readline editing and a history file, when stdin is a terminal and readline exists."""
    try:
        import readline
    except ImportError:  # not on every platform
        return
    path = history or Path(os.environ.get("KGQA_HISTORY", Path.home() / ".kgqa_history"))
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    import atexit

    atexit.register(_write_history, readline, path)


def _write_history(readline: object, path: Path) -> None:
    try:
        readline.write_history_file(path)  # type: ignore[attr-defined]
    except OSError:
        pass
