"""The errors a marketer or site owner sees: messages with a source position.

One :class:`SiteError` is one problem; :class:`SiteErrors` is many, found in one pass so that a
build lists every problem at once instead of one per attempt.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


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

    def __reduce__(self) -> tuple[Any, ...]:
        # Worker processes send errors back pickled; the default would keep the message only.
        return (type(self), (self.message, self.path, self.line, self.hint))

    @property
    def location(self) -> str:
        """``path:line``, ``path``, or an empty string when the source is unknown."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    @property
    def errors(self) -> list[SiteError]:
        """The single problems this error stands for: itself."""
        return [self]

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class SiteErrors(SiteError):
    """Several problems, reported together in ``path:line`` order with a count at the end.

    The same message at the same place (a broken template, met by every page that uses it)
    is listed once, saying how many more times it was met.
    """

    def __init__(self, errors: Iterable[SiteError]) -> None:
        self._errors = _unique(error for found in errors for error in found.errors)
        count = len(self._errors)
        super().__init__(f"{count} error{'' if count == 1 else 's'}: nothing published")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._errors,))

    @property
    def errors(self) -> list[SiteError]:
        return list(self._errors)

    @property
    def location(self) -> str:
        """The first error's place: where to start (the preview's overlay shows it)."""
        return self._errors[0].location if self._errors else ""

    def __str__(self) -> str:
        return "\n".join([*(str(error) for error in self._errors), self.message])


def combined(errors: Iterable[SiteError]) -> SiteError | None:
    """One error for all of ``errors``: None when there are none, a lone error as it is."""
    found = SiteErrors(errors).errors
    if not found:
        return None
    return found[0] if len(found) == 1 else SiteErrors(found)


def raise_all(errors: Iterable[SiteError]) -> None:
    """Raise :func:`combined` of ``errors``, if there are any."""
    error = combined(errors)
    if error is not None:
        raise error


@contextmanager
def reported_with(earlier: Sequence[SiteError]) -> Iterator[None]:
    """Run the next steps of a build despite ``earlier`` errors, to report theirs too.

    The steps' errors are raised together with ``earlier`` ones; when the steps succeed,
    ``earlier`` ones alone are raised.
    """
    try:
        yield
    except SiteError as exc:
        if not earlier:
            raise
        raise SiteErrors([*earlier, exc]) from exc
    raise_all(earlier)


def attempt(function: Callable[..., T], *args: Any) -> T | SiteError:
    """``function(*args)``, or the :class:`SiteError` it raised, as a value to collect."""
    try:
        return function(*args)
    except SiteError as exc:
        return exc


def _sort_key(error: SiteError) -> tuple[str, int, str]:
    return error.path or "", error.line or 0, error.message


def _unique(errors: Iterable[SiteError]) -> list[SiteError]:
    """``errors`` sorted by place, each message at a place once, with how often it was met."""
    by_place: dict[tuple[str, int, str], list[SiteError]] = {}
    for error in errors:
        by_place.setdefault(_sort_key(error), []).append(error)
    unique = []
    for key in sorted(by_place):
        first, *others = by_place[key]
        if others:
            first = SiteError(
                f"{first.message} (and {len(others)} more time{'s' if len(others) > 1 else ''})",
                first.path,
                first.line,
                first.hint,
            )
        unique.append(first)
    return unique


__all__ = ["SiteError", "SiteErrors", "attempt", "combined", "raise_all", "reported_with"]
