"""Regular expressions over whole documents, tried only where a match can begin.

Python's ``re`` has a fast search only for a pattern that begins with a literal: one that
begins with a lookbehind, a word boundary or a character class is tried at every position
of the text, ~100 ns each, which made rewriting and link extraction most of the time of a
rebuild that renders many pages again. Here the caller finds the positions where a match
can begin (quickly: with a pattern that begins with a literal) and the pattern is tried
there only. The matches are those of ``pattern.finditer``/``pattern.sub``: from a
position, ``pattern.match`` is what a search tries there (lookbehinds and ``\\b`` see the
text before it), and no match can begin anywhere else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator


def matches_at(pattern: re.Pattern[str], text: str, starts: Iterable[int]) -> Iterator[re.Match]:
    """The matches of ``pattern`` in ``text`` (as ``finditer`` gives them, none of them
    empty), given ``starts``: every position where one can begin, ascending."""
    position = 0
    for start in starts:
        if start < position:
            continue
        match = pattern.match(text, start)
        if match is not None:
            yield match
            position = match.end()


def substitute(
    pattern: re.Pattern[str],
    text: str,
    starts: Iterable[int],
    replace: Callable[[re.Match[str]], str],
) -> str:
    """``pattern.sub(replace, text)``, given ``starts`` as for :func:`matches_at`."""
    parts = []
    position = 0
    for match in matches_at(pattern, text, starts):
        parts += (text[position : match.start()], replace(match))
        position = match.end()
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)


__all__ = ["matches_at", "substitute"]
