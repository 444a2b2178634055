"""The error hierarchy shared by every kgqa layer.

One root, ``KGQAError``; a subclass exists only where a caller reacts differently.
"""

from __future__ import annotations

from pathlib import Path


class KGQAError(Exception):
    """Root of every error kgqa raises on purpose."""


class SourceFormatError(KGQAError):
    """A source could not be read: names the file, the line (when known) and what was expected."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class UnknownFormat(KGQAError):
    """The format was not given and could not be guessed, or is not supported."""


class BackendUnavailable(KGQAError):
    """A store backend cannot be used: its extra is missing, its server is unreachable, or it is locked."""


class StoreLocked(BackendUnavailable):
    """Another process holds the embedded store for writing."""


class StoreDamaged(BackendUnavailable):
    """The embedded store file is missing, damaged or not a kgqa store (``kgqa check --repair`` rebuilds it)."""

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")


class EntityNotFound(KGQAError):
    """No entity has the requested id."""


class SourceNotFound(KGQAError):
    """The catalog has no source registered under that path."""


class CorruptState(KGQAError):
    """A file the knowledge base keeps (not rebuildable by itself) is damaged or disagrees with the store.

    The message names the file, says what it holds and what to do (usually
    ``kgqa check --kb DIR --repair``).
    """

    def __init__(self, path: str | Path, message: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")
