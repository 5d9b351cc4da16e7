"""A page's summary: plain text for its meta description and feed entry when it has none.

Hugo's rule: the text above a ``<!--more-->`` marker, else the first paragraph; as plain text,
trimmed to about the length search engines show, at a word boundary.
"""

from __future__ import annotations

import html
import re

# Search engines show about this many characters of a description.
SUMMARY_LENGTH = 160
_MORE = re.compile(r"<!--\s*more\s*-->", re.IGNORECASE)
_PARAGRAPH = re.compile(r"<p\b[^>]*>(.*?)</p>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def summarize(content: str, limit: int = SUMMARY_LENGTH) -> str:
    """The summary of a page's rendered HTML ``content``; empty when it has no text."""
    more = _MORE.search(content)
    if more is not None:
        return shorten(plain_text(content[: more.start()]), limit)
    for paragraph in _PARAGRAPH.findall(content):
        text = plain_text(paragraph)
        if text:  # a paragraph holding only an image has none
            return shorten(text, limit)
    return ""


def plain_text(fragment: str) -> str:
    """An HTML fragment's text: tags dropped, entities decoded, white space collapsed."""
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", fragment))).strip()


def shorten(text: str, limit: int = SUMMARY_LENGTH) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if text[limit - 1] != " " and " " in cut:  # do not split the word at the limit
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-\u2013\u2014") + "…"


__all__ = ["SUMMARY_LENGTH", "plain_text", "shorten", "summarize"]
