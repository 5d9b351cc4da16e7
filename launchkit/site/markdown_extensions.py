"""The Markdown extension and the Pygments style launchkit defines, for :mod:`.markup`.

Apart from markup.py so that Python-Markdown and Pygments are imported only when a body is
rendered (a rebuild that renders none does without their import); markup.py imports this
module where it makes its renderer, so its code is part of the rendered bodies' key
(:mod:`launchkit.site.keys`).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import markdown
from markdown.blockparser import BlockParser
from markdown.blockprocessors import BlockProcessor
from markdown.extensions import Extension
from pygments.style import Style, StyleMeta


class NamedExtensionsMarkdown(markdown.Markdown):
    """Python-Markdown, finding the extensions it is given by name without asking every
    installed distribution first.

    Upstream's ``build_extension`` looks a name up among the ``markdown.extensions`` entry
    points before importing it: the first lookup imports :mod:`importlib.metadata` and reads
    the metadata of every installed distribution (60 ms, most of what setting up Markdown
    costs a rebuild that renders one page), and PyMdown Extensions asks for
    ``pymdownx.highlight`` by name while setting up, so every build paid it. Here a dotted
    name (``module`` or ``module:Class``) is imported as upstream imports one that no entry
    point claims, and a short name of Python-Markdown's own (``toc``, ``extra`` and its
    parts) is its module in ``markdown.extensions``, which is what Python-Markdown's own
    entry points name; only another short name (a distribution's) goes through upstream's
    lookup. These are the names launchkit's cache keys read the same way
    (:func:`launchkit.site.keys.markdown_extension_modules`).
    """

    def build_extension(self, ext_name: str, configs: Mapping[str, Any]) -> Extension:
        if "." not in ext_name and ":" not in ext_name:
            if importlib.util.find_spec(f"markdown.extensions.{ext_name}") is None:
                return super().build_extension(ext_name, configs)
            ext_name = f"markdown.extensions.{ext_name}"
        module_name, _, class_name = ext_name.partition(":")
        module = importlib.import_module(module_name)
        if class_name:
            return getattr(module, class_name)(**configs)
        return module.makeExtension(**configs)


# What PyMdown Extensions imports of urllib.request (pymdownx.util, for its path
# converters: neither pymdownx.pathconverter nor b64 is among launchkit's extensions).
_URLLIB_REQUEST_NAMES = ("pathname2url", "url2pathname")


@contextmanager
def urllib_request_deferred() -> Iterator[None]:
    """While active, ``from urllib.request import pathname2url, url2pathname`` gives two
    functions that import urllib.request when first called, not at once.

    pymdownx.util imports them at its top, and urllib.request imports http.client, email,
    socket and ssl (OpenSSL set up): 75 M instructions, 6 % of a one-page rebuild, for two
    functions no enabled extension calls. The stand-in module is in ``sys.modules`` only
    while PyMdown Extensions is imported (:class:`~.markup.MarkdownRenderer`), and only when
    urllib.request is not imported yet (the preview's checkout has it): any other import of
    it, later, gets the real module.
    """
    if "urllib.request" in sys.modules:
        yield
        return
    stand_in = types.ModuleType("urllib.request", "pathname2url and url2pathname, deferred")
    for name in _URLLIB_REQUEST_NAMES:
        setattr(stand_in, name, _imported_when_called(name))
    sys.modules["urllib.request"] = stand_in
    try:
        yield
    finally:
        if sys.modules.get("urllib.request") is stand_in:
            del sys.modules["urllib.request"]


def _imported_when_called(name: str) -> Callable[..., Any]:
    """urllib.request's function ``name``, imported on the first call."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module("urllib.request"), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


class _CssClassesOnlyMeta(StyleMeta):
    def __iter__(cls) -> Iterator[Any]:
        return iter(())


class CssClassesOnly(Style, metaclass=_CssClassesOnlyMeta):
    """A Pygments style with nothing for Pygments to compute: the colours are CSS's.

    Pygments' HTML formatter, made anew for every code block, first turns its style into a
    table of inline styles (6 % of a page's render time), which it reads only when it writes
    inline styles. It writes CSS classes here (``static/css/content.css`` colours them):
    a style that lists no token leaves that table empty and the output the same.
    """


def cache_lexer_lookups(md: markdown.Markdown) -> None:
    """Let pymdownx.highlight's fenced-code highlighter find each language's lexer once.

    Pygments' ``get_lexer_by_name`` walks its table of some 600 lexers on every call, and an
    unknown name also scans the installed packages' entry points: a few percent of a page's
    render time, for the same answer each time. PyMdown Extensions asks its extension for
    the highlighter class on first use; this hands it a subclass whose ``get_lexer``
    remembers, per language and ``stripnl``, the lexer class and name upstream's lookup
    found, and makes a fresh lexer of that class with the options upstream passes (its
    ``stripnl`` and the language's ``extend_pygments_lang`` options): the same lexer, so
    the same HTML. With ``guess_lang`` on, the lexer depends on the code: upstream decides.
    The memory is this Markdown instance's, as the subclass is.
    """
    for extension in md.registeredExtensions:
        if hasattr(extension, "get_pymdownx_highlighter"):
            caching = _lexer_caching(extension.get_pymdownx_highlighter())
            extension.get_pymdownx_highlighter = lambda caching=caching: caching  # type: ignore[method-assign]


def _lexer_caching(highlight: type) -> type:
    """A subclass of pymdownx.highlight's ``Highlight`` that looks each lexer up once."""
    found: dict[tuple[str, bool], tuple[type, str]] = {}

    class LexerCachingHighlight(highlight):  # type: ignore[misc, valid-type]
        def get_lexer(self, src: str, language: str, inline: bool, stripnl: bool) -> Any:
            if self.guess_lang:
                return super().get_lexer(src, language, inline, stripnl)
            if (language, stripnl) not in found:
                lexer, name = super().get_lexer(src, language, inline, stripnl)
                found[language, stripnl] = (type(lexer), name)
                return lexer, name
            lexer_class, name = found[language, stripnl]
            options = {"stripnl": stripnl}  # as upstream's get_lexer makes them
            if language:
                options.update(self.get_extended_language(language)[1])
            return lexer_class(**options), name

    return LexerCachingHighlight


class ListsAfterParagraphsExtension(Extension):
    """A list may start right under a line of text, as in GitHub and CommonMark.

    Python-Markdown wants a blank line before a list, so "The core use-cases are:" followed
    by "* backup" and "* restore" runs on as one paragraph. mdx_breakless_lists (unmaintained
    since 2020) inserts blank lines before every list-like line, inside fenced code too; this
    splits the paragraph instead, after fenced code is out of the way.
    """

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # the API names it so
        # Just above "paragraph": every other block kind had its chance at the block first.
        md.parser.blockprocessors.register(_ListAfterParagraph(md.parser), "list_after_text", 11)


class _ListAfterParagraph(BlockProcessor):
    """Split a paragraph block before its first line that starts a list.

    As in CommonMark, a bullet list ("* ", "- ", "+ ") may interrupt a paragraph, and an
    ordered one only when it starts at "1." (a line such as "2024. A year" stays prose); an
    empty item may not.
    """

    def __init__(self, parser: BlockParser) -> None:
        super().__init__(parser)
        self._list_line = re.compile(
            rf"\n[ ]{{0,{self.tab_length - 1}}}(?:[*+-]|1\.)[ ]+\S", re.MULTILINE
        )

    def test(self, parent: Any, block: str) -> bool:
        return self._list_line.search(block) is not None

    def run(self, parent: Any, blocks: list[str]) -> None:
        block = blocks.pop(0)
        split = self._list_line.search(block)
        assert split is not None  # test() found it
        blocks[:0] = [block[: split.start()], block[split.start() + 1 :]]


__all__ = [
    "CssClassesOnly",
    "ListsAfterParagraphsExtension",
    "NamedExtensionsMarkdown",
    "cache_lexer_lookups",
    "urllib_request_deferred",
]
