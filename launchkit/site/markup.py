"""Markdown to HTML, and the ``buy`` shortcode, as two separate steps.

1. :func:`extract_shortcodes` swaps every shortcode line for a placeholder and
   :meth:`MarkdownRenderer.render` turns the result into HTML. Both depend only on the page's
   text, so their output can be cached by a hash of it.
2. :func:`expand_shortcodes` replaces the placeholders with buy forms. It depends on the
   catalogue and the templates, so it runs on every build.

Shortcode syntax, on a line of its own (outside fenced code)::

    {{< buy pro >}}
    {{< buy pro "Start your trial" >}}
    {{< buy product="team" label="Get your team on Beacon" >}}
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from markupsafe import Markup

from ..errors import SiteError

if TYPE_CHECKING:  # Python-Markdown is imported when a body is rendered: a rebuild that
    # renders none does without its 50 ms of import.
    import markdown
    from markdown.treeprocessors import InlineProcessor
    from markdown.util import Registry

_SHORTCODE_LINE = re.compile(r"^[ \t]*\{\{<(?P<inner>.*?)>\}\}[ \t]*$")
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"`+[^`]*`+")
# Letters and digits only, so that no Markdown extension (smarty, abbr, …) rewrites it.
_PLACEHOLDER = "launchkitshortcode{}x"
_PLACEHOLDER_HTML = re.compile(r"(?:<p>)?launchkitshortcode(\d+)x(?:</p>)?")

# The Markdown extensions and their settings: the one place they are named. The cache keys
# of rendered bodies take this module's source and the version of every distribution these
# names come from (launchkit.site.keys), so a change here or an upgrade renders them afresh.
EXTENSIONS: dict[str, dict[str, object]] = {
    "extra": {},
    "toc": {"permalink": True},
    "smarty": {},
    "sane_lists": {},
}

# Inline patterns, by registry name, whose regex cannot match a text lacking every one of these
# literals: each entry was read off the regex source of the Python-Markdown version below (core
# patterns, footnotes, smarty with its default configuration). Trying such a pattern on such a
# text is wasted work: most text nodes hold no "[", "<", "&", "`", quote or dash at all.
_REQUIRED_LITERALS: dict[str, tuple[str, ...]] = {
    "backtick": ("`",),
    "escape": ("\\",),
    "footnote": ("[^",),
    "reference": ("[",),
    "link": ("[",),
    "image_link": ("![",),
    "image_reference": ("![",),
    "short_reference": ("[",),
    "short_image_ref": ("![",),
    "autolink": ("<",),
    "automail": ("<",),
    "linebreak": ("  \n",),
    "html": ("<",),
    "entity": ("&",),
    "em_strong": ("*", "_"),  # one DelimiterProcessor for both delimiters
    "smarty-em-dashes": ("---",),
    "smarty-en-dashes": ("--",),
    "smarty-quotes-0": ("'",),
    "smarty-quotes-1": ('"',),
    "smarty-quotes-2": ("\"'",),
    "smarty-quotes-3": ("'\"",),
    "smarty-quotes-4": ("'\"",),
    "smarty-quotes-5": ("\"'",),
    "smarty-quotes-6": ("'",),
    "smarty-quotes-7": ("'",),
    "smarty-quotes-8": ("'",),
    "smarty-quotes-9": ("'",),
    "smarty-quotes-10": ("'",),
    "smarty-quotes-11": ('"',),
    "smarty-quotes-12": ('"',),
    "smarty-quotes-13": ('"',),
    "smarty-quotes-14": ('"',),
    "smarty-ellipses": ("...",),
}
# The table is a fact about these regexes, and what a name means changes between versions
# (older ones match "_" emphasis in a separate "em_strong2", "em_strong" being "*" only): any
# other version renders the plain way until each entry has been checked against it again.
_REQUIRED_LITERALS_CHECKED_FOR = (3, 11)


def inline_fast_path_possible() -> bool:
    """Whether this Python-Markdown is the one the table was checked against, with the
    private, name-mangled methods of InlineProcessor the skip replaces and calls."""
    import markdown
    from markdown.treeprocessors import InlineProcessor

    return (
        markdown.__version_info__[:2] == _REQUIRED_LITERALS_CHECKED_FOR
        and hasattr(InlineProcessor, "_InlineProcessor__handleInline")
        and hasattr(InlineProcessor, "_InlineProcessor__applyPattern")
    )


@dataclass(frozen=True)
class Shortcode:
    """One ``{{< buy … >}}`` of a page, parsed, with its line in the source file."""

    name: str
    product: str
    label: str | None
    line: int


# A rendered body as plain values: (html, toc, shortcodes as (name, product, label, line)).
MarkdownEntry = tuple[str, str, tuple[tuple[str, str, str | None, int], ...]]


@dataclass(frozen=True)
class RenderedMarkdown:
    """HTML of a page body with shortcode placeholders, its table of contents, its shortcodes.

    A pure function of the page's text: safe to cache by content hash.
    """

    html: str
    toc: str
    shortcodes: tuple[Shortcode, ...]

    def to_entry(self) -> MarkdownEntry:
        """Plain tuples of strings and numbers, for the cache (marshal)."""
        shortcodes = tuple((s.name, s.product, s.label, s.line) for s in self.shortcodes)
        return self.html, self.toc, shortcodes

    @classmethod
    def from_entry(cls, entry: MarkdownEntry) -> RenderedMarkdown:
        """The inverse of :meth:`to_entry`."""
        html, toc, shortcodes = entry
        return cls(html, toc, tuple(Shortcode(*shortcode) for shortcode in shortcodes))


class MarkdownRenderer:
    """One Python-Markdown instance, reset per page (building it costs more than a page)."""

    def __init__(self) -> None:
        import markdown

        self._markdown = markdown.Markdown(
            extensions=list(EXTENSIONS), extension_configs=EXTENSIONS, output_format="html"
        )
        _speed_up_inline_processing(self._markdown)
        self._toc = self._markdown.treeprocessors["toc"]
        self._toc_marker = self._toc.marker  # type: ignore[attr-defined]

    def render(self, body: str, *, source: str, first_line: int = 1) -> RenderedMarkdown:
        """Render a page body; ``source`` and ``first_line`` place shortcode errors."""
        text, shortcodes = extract_shortcodes(body, source=source, first_line=first_line)
        # The toc extension searches every paragraph for its "[TOC]" marker, which can only
        # come from the text itself (escaped or as entities it is not the marker yet):
        # without it in the text, there is nothing to find, and no search.
        marker = self._toc_marker if self._toc_marker in text else ""
        self._toc.marker = marker  # type: ignore[attr-defined]
        self._markdown.reset()
        html = self._markdown.convert(text)
        toc = getattr(self._markdown, "toc", "")
        return RenderedMarkdown(html, toc, tuple(shortcodes))


def _speed_up_inline_processing(md: markdown.Markdown) -> None:
    """Make ``md``'s inline processors cheaper without changing a byte of their output.

    Inline processing looks its patterns up by index, millions of times per site, and a
    Registry re-checks its sort order on every lookup (a tenth of the render time): each
    processor gets the same patterns in the same order, frozen once every extension has
    registered. Most of the rest of the time goes to trying every pattern on every text node,
    so each processor also learns to skip the patterns that cannot match (see
    :func:`_skip_hopeless_patterns`), where this Python-Markdown allows it.
    """
    from markdown.treeprocessors import InlineProcessor

    possible = inline_fast_path_possible()
    for processor in md.treeprocessors:
        if isinstance(processor, InlineProcessor):
            required = _required_literals(processor.inlinePatterns)
            processor.inlinePatterns = tuple(processor.inlinePatterns)  # type: ignore[assignment]
            if possible:
                _skip_hopeless_patterns(processor, required)


def _required_literals(patterns: Registry) -> list[tuple[str, ...]]:
    """For each pattern, by index, the literals one of which it needs; () for "always try"."""
    required: list[tuple[str, ...]] = [()] * len(patterns)
    for name, literals in _REQUIRED_LITERALS.items():
        if name in patterns:
            required[patterns.get_index_for_name(name)] = literals
    return required


def _skip_hopeless_patterns(processor: InlineProcessor, required: list[tuple[str, ...]]) -> None:
    """Give ``processor`` a ``__handleInline`` that skips patterns whose literals are absent.

    It is upstream's loop over the patterns, run only over the ones that may match. A
    pattern none of whose ``required`` literals is in the text has a regex that finds no
    match in it, so ``__applyPattern`` would return ``(data, False, 0)`` without calling the
    pattern's ``handleMatch``: passing it over is exact, state and all. Which literals the
    text holds is looked up once per text: substitutions only ever remove text (they put in
    placeholders, which hold none of the literals), so an absent literal stays absent. A
    pattern with no entry (any extension not in the table) is always tried. This relies on
    Python-Markdown's private, name-mangled ``__handleInline`` and ``__applyPattern``:
    :func:`inline_fast_path_possible` checks they exist.
    """
    from markdown.util import AtomicString

    patterns = processor.inlinePatterns
    apply_pattern = processor._InlineProcessor__applyPattern  # type: ignore[attr-defined]
    literals = sorted({literal for needed in required for literal in needed})
    # The patterns worth trying from an index on, by the set of literals a text holds.
    candidates: dict[tuple[frozenset[str], int], tuple[int, ...]] = {}

    def worth_trying(present: frozenset[str], first: int) -> tuple[int, ...]:
        found = candidates.get((present, first))
        if found is None:
            found = tuple(
                index
                for index in range(first, len(patterns))
                if not required[index] or not present.isdisjoint(required[index])
            )
            candidates[present, first] = found
        return found

    def handle_inline(data: str, pattern_index: int = 0) -> str:
        if isinstance(data, AtomicString):
            return data
        present = frozenset(literal for literal in literals if literal in data)
        for index in worth_trying(present, pattern_index):
            start_index = 0
            matched = True
            while matched:  # a pattern is tried again after each of its matches
                data, matched, start_index = apply_pattern(
                    patterns[index], data, index, start_index
                )
        return data

    # Upstream calls self.__handleInline: the instance attribute takes precedence.
    processor._InlineProcessor__handleInline = handle_inline  # type: ignore[attr-defined]


def extract_shortcodes(
    body: str, *, source: str, first_line: int = 1
) -> tuple[str, list[Shortcode]]:
    """Replace each shortcode line by a placeholder paragraph; return the text and shortcodes."""
    out: list[str] = []
    shortcodes: list[Shortcode] = []
    fence: str | None = None
    for offset, line in enumerate(body.splitlines()):
        number = first_line + offset
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match["fence"]
            if fence is None:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = None
        elif fence is None:
            match = _SHORTCODE_LINE.match(line)
            if match:
                shortcodes.append(_parse_shortcode(match["inner"], source, number))
                # Blank lines around it make it a paragraph of its own, whatever surrounds it.
                line = "\n" + _PLACEHOLDER.format(len(shortcodes) - 1) + "\n"
            elif "{{<" in _CODE_SPAN.sub("", line):
                raise SiteError(
                    "a shortcode must stand on a line of its own",
                    source,
                    number,
                    hint='write it alone on its line, e.g. {{< buy pro "Buy now" >}}',
                )
        out.append(line)
    return "\n".join(out) + "\n", shortcodes


def _parse_shortcode(inner: str, source: str, line: int) -> Shortcode:
    """Parse the words between ``{{<`` and ``>}}`` (shell-like quoting) into a shortcode."""

    def error(message: str) -> SiteError:
        return SiteError(
            message,
            source,
            line,
            hint='write {{< buy PRODUCT >}} or {{< buy PRODUCT "Button label" >}}',
        )

    try:
        words = shlex.split(inner)
    except ValueError as exc:
        raise error(f"cannot read the shortcode: {exc}") from None
    if not words:
        raise error("empty shortcode")
    name, *args = words
    if name != "buy":
        raise error(f"unknown shortcode '{name}' (the only one is 'buy')")
    positional: list[str] = []
    named: dict[str, str] = {}
    for arg in args:
        key, equals, value = arg.partition("=")
        if not equals:
            if named:
                raise error(f"'{arg}' comes after a name=value argument")
            positional.append(arg)
        elif key not in ("product", "label"):
            raise error(f"unknown argument '{key}' (use product= and label=)")
        elif key in named:
            raise error(f"'{key}' is given twice")
        else:
            named[key] = value
    values = dict(zip(("product", "label"), positional, strict=False))
    if len(positional) > 2:
        raise error(f"too many arguments: {' '.join(positional[2:])!r}")
    for key, value in named.items():
        if key in values:
            raise error(f"'{key}' is given twice")
        values[key] = value
    if not values.get("product"):
        raise error("the buy shortcode needs a product key")
    return Shortcode(name, values["product"], values.get("label") or None, line)


def expand_shortcodes(
    rendered: RenderedMarkdown,
    *,
    source: str,
    products: Mapping[str, object],
    buy_form: Callable[[str, str | None], str],
) -> Markup:
    """The page's final body HTML: each placeholder replaced by its product's buy form."""
    if not rendered.shortcodes:  # most pages: no need to search the HTML
        return Markup(rendered.html)  # noqa: S704 - Markdown's own HTML output
    forms = []
    for shortcode in rendered.shortcodes:
        if shortcode.product not in products:
            known = ", ".join(products) or "none"
            raise SiteError(
                f"unknown product '{shortcode.product}'",
                source,
                shortcode.line,
                hint=f"use a key of [products.…] in site.toml: {known}",
            )
        forms.append(buy_form(shortcode.product, shortcode.label))

    def form_for(match: re.Match[str]) -> str:
        index = int(match[1])
        # A look-alike a marketer typed (vanishingly unlikely) stays as it was.
        return forms[index] if index < len(forms) else match[0]

    html = _PLACEHOLDER_HTML.sub(form_for, rendered.html)
    return Markup(html)  # noqa: S704 - Markdown's own HTML output plus our rendered forms


__all__ = [
    "EXTENSIONS",
    "MarkdownEntry",
    "MarkdownRenderer",
    "RenderedMarkdown",
    "Shortcode",
    "expand_shortcodes",
    "extract_shortcodes",
]
