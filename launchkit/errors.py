"""The one error type a marketer or site owner sees: a message with a source position."""

from __future__ import annotations

from pathlib import Path


class SiteError(Exception):
    """A problem in the user's input, reported as ``path:line: message``.

    It travels from where the problem is found to the CLI, which prints it without a
    traceback; ``hint`` says what to do about it.
    """

    def __init__(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        self.hint = hint

    @property
    def location(self) -> str:
        """``path:line``, ``path``, or an empty string when the source is unknown."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text
