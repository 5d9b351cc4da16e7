"""Markdown to HTML, as GitHub, Hugo (goldmark) and most editors write it.

Python-Markdown with its ``extra``, ``toc``, ``smarty`` and ``sane_lists`` extensions, plus
PyMdown Extensions for what people write that plain Python-Markdown misses: fenced code
anywhere, also inside list items and with attributes (``superfences``), highlighted with
Pygments into CSS classes (``highlight``; ``static/css/content.css`` colours them), bare URLs
linked (``magiclink``), task lists (``tasklist``) and ``~~strikethrough~~`` (``tilde``); and
:class:`~launchkit.site.markdown_extensions.ListsAfterParagraphsExtension`, for a list right
under a line of text.

:meth:`MarkdownRenderer.render` depends only on the page's text (shortcodes become
placeholders, see :mod:`launchkit.site.shortcodes`), so its output is cached by a hash of
it; :func:`expand_shortcodes` then fills the placeholders in on every build.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from .shortcodes import Shortcode, ShortcodeCall, expand_placeholders, parse_shortcodes

if TYPE_CHECKING:  # Python-Markdown is imported when a body is rendered: a rebuild that
    # renders none does without its 50 ms of import.
    from xml.etree.ElementTree import Element

    import markdown
    from markdown.blockparser import BlockParser
    from markdown.blockprocessors import BlockProcessor
    from markdown.treeprocessors import InlineProcessor
    from markdown.util import Registry


# The Markdown extensions and their settings: the one place they are named. The cache keys
# of rendered bodies take this module's source (with what it imports) and the version of
# every distribution these names come from (launchkit.site.keys), so a change here or an
# upgrade renders them afresh.
EXTENSIONS: dict[str, dict[str, Any]] = {
    "extra": {},
    "toc": {"permalink": True},
    "smarty": {},
    "sane_lists": {},
    # After "extra": replaces its fenced_code. A fence whose header it cannot read (Hugo's
    # {linenos=table,…}) is still code.
    "pymdownx.superfences": {"relaxed_headers": True},
    # Classes, not inline styles: the theme's stylesheet colours them, light and dark.
    # MarkdownRenderer sets a "pygments_style" that makes the same classes for less work.
    "pymdownx.highlight": {
        "use_pygments": True,
        "pygments_lang_class": True,
        "guess_lang": False,
    },
    "pymdownx.magiclink": {},
    "pymdownx.tasklist": {},
    # GitHub's ~~strikethrough~~ only: a single ~ is "about" in prose ("~5 minutes").
    "pymdownx.tilde": {"subscript": False},
    "launchkit.site.markdown_extensions:ListsAfterParagraphsExtension": {},
}
# Inline patterns, by registry name, whose regex cannot match a text lacking every one of these
# literals: each entry was read off the regex source of the Python-Markdown and PyMdown
# Extensions versions below (core patterns, footnotes, smarty with its default configuration,
# magiclink without repository shorthands, tilde as configured). Trying such a pattern on such a
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
    # magiclink replaces "autolink" with its own <http…> pattern: it still needs a "<".
    # "magic-link" is case-insensitive "(ht|f)tps?://" or "w{3}\.", which holds "ww." in one
    # of its four casings.
    "magic-link": ("://", *("".join(w) + "." for w in itertools.product("wW", repeat=2))),
    "magic-mail": ("@",),
    "delimiter": ("~",),  # tilde's DelimiterProcessor, "~" its only delimiter here
}
# Block processors, by class, whose ``test`` is false for a block lacking every one of these
# literals, or (the "always true" ones) whose ``run`` then finds no match, puts the block back
# as it was and returns False: read off each class's regexes in the Python-Markdown version
# below (a table needs a "|" in its header row; footnote, abbreviation and reference
# definitions need "[^", "*[" and "]:"; a setext underline starts a line with "=" or "-").
# A subclass is not its class: it is always tried.
_BLOCK_REQUIRED_LITERALS: dict[str, tuple[str, ...]] = {
    "markdown.extensions.tables.TableProcessor": ("|",),
    "markdown.blockprocessors.HashHeaderProcessor": ("#",),
    "markdown.blockprocessors.SetextHeaderProcessor": ("\n=", "\n-"),
    "markdown.blockprocessors.HRProcessor": ("-", "_", "*"),
    "markdown.extensions.def_list.DefListProcessor": (":",),
    "markdown.blockprocessors.BlockQuoteProcessor": (">",),
    "markdown.extensions.footnotes.FootnoteBlockProcessor": ("[^",),
    "markdown.extensions.abbr.AbbrBlockprocessor": ("*[",),
    "markdown.blockprocessors.ReferenceProcessor": ("]:",),
}
# The table is a fact about these regexes, and what a name means changes between versions
# (older ones match "_" emphasis in a separate "em_strong2", "em_strong" being "*" only): any
# other version renders the plain way until each entry has been checked against it again.
_REQUIRED_LITERALS_CHECKED_FOR = (3, 11)
_REQUIRED_LITERALS_CHECKED_FOR_PYMDOWNX = (13, 1)


def inline_fast_path_possible() -> bool:
    """Whether this Python-Markdown and PyMdown Extensions are the ones the table was checked
    against, with the private, name-mangled methods of InlineProcessor the skip replaces and
    calls."""
    import markdown
    from markdown.treeprocessors import InlineProcessor
    from pymdownx.__meta__ import __version_info__ as pymdownx_version

    return (
        markdown.__version_info__[:2] == _REQUIRED_LITERALS_CHECKED_FOR
        and tuple(pymdownx_version[:2]) == _REQUIRED_LITERALS_CHECKED_FOR_PYMDOWNX
        and hasattr(InlineProcessor, "_InlineProcessor__handleInline")
        and hasattr(InlineProcessor, "_InlineProcessor__applyPattern")
        and hasattr(InlineProcessor, "_InlineProcessor__processPlaceholders")
    )


def block_fast_path_possible() -> bool:
    """Whether this Python-Markdown is the one :data:`_BLOCK_REQUIRED_LITERALS` was checked
    against (its block processors' regexes, and the ``parseBlocks`` loop the skip repeats)."""
    import markdown

    return markdown.__version_info__[:2] == _REQUIRED_LITERALS_CHECKED_FOR


# A rendered body as the marshal-based cache stores it (see RenderedMarkdown.to_entry).
MarkdownEntry = tuple[str, str, tuple[tuple[Any, ...], ...], tuple[tuple[int, str], ...]]


@dataclass(frozen=True)
class RenderedMarkdown:
    """HTML of a page body with shortcode placeholders, its table of contents, its shortcodes,
    and warnings about it as (line, message).

    A pure function of the page's text: safe to cache by content hash.
    """

    html: str
    toc: str
    shortcodes: tuple[Shortcode, ...]
    warnings: tuple[tuple[int, str], ...] = ()

    def to_entry(self) -> MarkdownEntry:
        """Plain tuples of strings and numbers, for the marshal-based cache."""
        shortcodes = tuple(shortcode.to_entry() for shortcode in self.shortcodes)
        return self.html, self.toc, shortcodes, self.warnings

    @classmethod
    def from_entry(cls, entry: MarkdownEntry) -> RenderedMarkdown:
        """The inverse of :meth:`to_entry`."""
        html, toc, shortcodes, warnings = entry
        return cls(html, toc, tuple(Shortcode(*shortcode) for shortcode in shortcodes), warnings)


def extension_configs(**highlight: Any) -> dict[str, dict[str, Any]]:
    """:data:`EXTENSIONS` with ``highlight`` added to pymdownx.highlight's settings."""
    configs = dict(EXTENSIONS)
    configs["pymdownx.highlight"] = {**configs["pymdownx.highlight"], **highlight}
    return configs


class MarkdownRenderer:
    """One Python-Markdown instance, reset per page (building it costs more than a page)."""

    def __init__(self) -> None:
        from .markdown_extensions import (
            CssClassesOnly,
            NamedExtensionsMarkdown,
            cache_lexer_lookups,
            urllib_request_deferred,
        )

        with urllib_request_deferred():  # the extensions are imported here
            self._markdown = NamedExtensionsMarkdown(
                extensions=list(EXTENSIONS),
                extension_configs=extension_configs(pygments_style=CssClassesOnly),
                output_format="html",
            )
        _speed_up_inline_processing(self._markdown)
        _speed_up_block_processing(self._markdown)
        _speed_up_tree_and_postprocessing(self._markdown)
        cache_lexer_lookups(self._markdown)
        self._toc = self._markdown.treeprocessors["toc"]
        self._toc_marker = self._toc.marker  # type: ignore[attr-defined]

    def render(self, body: str, *, source: str, first_line: int = 1) -> RenderedMarkdown:
        """Render a page body; ``source`` and ``first_line`` place shortcode errors."""
        text, shortcodes, warnings = parse_shortcodes(body, source=source, first_line=first_line)
        # The toc extension searches every paragraph for its "[TOC]" marker, which can only
        # come from the text itself (escaped or as entities it is not the marker yet):
        # without it in the text, there is nothing to find, and no search.
        marker = self._toc_marker if self._toc_marker in text else ""
        self._toc.marker = marker  # type: ignore[attr-defined]
        self._markdown.reset()
        html = self._markdown.convert(text)
        toc = getattr(self._markdown, "toc", "")
        return RenderedMarkdown(html, toc, shortcodes, warnings)


def _speed_up_inline_processing(md: markdown.Markdown) -> None:
    """Make ``md``'s inline processors cheaper without changing a byte of their output.

    Inline processing looks its patterns up by index, millions of times per site, and a
    Registry re-checks its sort order on every lookup (a tenth of the render time): each
    processor gets the same patterns in the same order, frozen once every extension has
    registered. Most of the rest of the time goes to trying every pattern on every text node,
    so each processor also learns to skip the patterns that cannot match (see
    :func:`_skip_hopeless_patterns`), to put back at once a text that matched none
    (:func:`_link_plain_text_at_once`) and to read a link's text and target a bracket at a
    time (:func:`_parse_links_quickly`), where this Python-Markdown allows it.
    """
    from markdown.treeprocessors import InlineProcessor

    possible = inline_fast_path_possible()
    for processor in md.treeprocessors:
        if isinstance(processor, InlineProcessor):
            required = _required_literals(processor.inlinePatterns)
            processor.inlinePatterns = tuple(processor.inlinePatterns)  # type: ignore[assignment]
            if possible:
                _skip_hopeless_patterns(processor, required)
                _link_plain_text_at_once(processor)
                _parse_links_quickly(processor.inlinePatterns)
                if all(required):
                    _skip_hopeless_runs(processor, required)


def _speed_up_block_processing(md: markdown.Markdown) -> None:
    """Make ``md``'s block parsing cheaper without changing a byte of its output.

    The block parser iterates its processors' Registry for every block, and a Registry makes
    a new sorted list on each iteration; the tree and postprocessors ask ``is_block_level``
    of every element and stashed tag, each time a scan of a list of some fifty tag names.
    Once every extension has registered (none adds a processor or a block-level tag while
    rendering), the parser gets the same processors in the same order as a tuple, and
    ``is_block_level`` remembers its answer for each tag it was asked about.
    """
    md.parser.blockprocessors = tuple(md.parser.blockprocessors)  # type: ignore[assignment]
    block_level = frozenset(md.block_level_elements)
    answers: dict[str, bool] = {}

    def is_block_level(tag: object) -> bool:
        if not isinstance(tag, str):  # upstream: "a tag which is not a string" is not
            return False
        answer = answers.get(tag)
        if answer is None:
            answer = answers[tag] = tag.lower().rstrip("/") in block_level
        return answer

    md.is_block_level = is_block_level  # type: ignore[method-assign]
    if block_fast_path_possible():
        _skip_hopeless_block_processors(md.parser)


def _block_required_literals(processors: Sequence[BlockProcessor]) -> list[tuple[str, ...]]:
    """For each processor, by index, the literals one of which a block needs for it to take
    the block; () for "always try" (a class not in the table)."""
    return [
        _BLOCK_REQUIRED_LITERALS.get(f"{type(p).__module__}.{type(p).__qualname__}", ())
        for p in processors
    ]


def _skip_hopeless_block_processors(parser: BlockParser) -> None:
    """Give ``parser`` a ``parseBlocks`` that tries no processor on a block lacking its literals.

    Every block goes through the processors in order until one takes it. Most blocks are
    paragraphs, which every processor above "paragraph" is tried on first: the "always true"
    definition processors each pop the block, search it and put it back. A processor none of
    whose literals (:data:`_BLOCK_REQUIRED_LITERALS`) is in the block would not take it, and
    leaves the parser and the blocks as it found them: passing it over is exact, and worth a
    sixth of the render time. Which literals the block holds is looked up once per block,
    and again when a processor that declined put another block first (upstream tests each
    processor on ``blocks[0]`` as it is then). Otherwise this is upstream's loop; nested
    blocks (list items, quotes) come back through ``parser.parseBlocks``, which is this one.
    """
    processors = tuple(parser.blockprocessors)
    worth_trying = _worth_trying(_block_required_literals(processors))

    def parse_blocks(parent: Element, blocks: list[str]) -> None:
        while blocks:
            block = blocks[0]
            trying, position = worth_trying(block, 0), 0
            while position < len(trying):
                index = trying[position]
                position += 1
                processor = processors[index]
                if processor.test(parent, blocks[0]):
                    if processor.run(parent, blocks) is not False:
                        break  # taken: on to the next block
                    if blocks and blocks[0] is not block:  # declined, but put another first
                        block = blocks[0]
                        trying, position = worth_trying(block, index + 1), 0

    # Upstream's recursion calls self.parser.parseBlocks: the instance attribute is found.
    parser.parseBlocks = parse_blocks  # type: ignore[method-assign]


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
    patterns = processor.inlinePatterns
    from markdown.util import AtomicString

    apply_pattern = processor._InlineProcessor__applyPattern  # type: ignore[attr-defined]
    worth_trying = _worth_trying(required)

    def handle_inline(data: str, pattern_index: int = 0) -> str:
        if isinstance(data, AtomicString):
            return data
        for index in worth_trying(data, pattern_index):
            start_index = 0
            matched = True
            while matched:  # a pattern is tried again after each of its matches
                data, matched, start_index = apply_pattern(
                    patterns[index], data, index, start_index
                )
        return data

    # Upstream calls self.__handleInline: the instance attribute takes precedence.
    processor._InlineProcessor__handleInline = handle_inline  # type: ignore[attr-defined]


def _worth_trying(required: Sequence[tuple[str, ...]]) -> Callable[[str, int], tuple[int, ...]]:
    """A function giving, for a text and a first index, the indices from there on of the
    processors or patterns worth trying on it: those with no ``required`` literals, and those
    one of whose literals the text holds. The answer is remembered per set of literals held."""
    literals = sorted({literal for needed in required for literal in needed})
    candidates: dict[tuple[frozenset[str], int], tuple[int, ...]] = {}

    def worth_trying(text: str, first: int) -> tuple[int, ...]:
        present = frozenset(literal for literal in literals if literal in text)
        found = candidates.get((present, first))
        if found is None:
            found = tuple(
                index
                for index in range(first, len(required))
                if not required[index] or not present.isdisjoint(required[index])
            )
            candidates[present, first] = found
        return found

    return worth_trying


def _link_plain_text_at_once(processor: InlineProcessor) -> None:
    """Give ``processor`` a ``__processPlaceholders`` that puts back text holding no placeholder.

    Upstream's ``run`` hands every text and tail it processed to ``__processPlaceholders``,
    which turns the placeholders of matched patterns into elements; most texts matched no
    pattern and hold none. For those, upstream's loop only links the text back, with no
    element to return: appended to the ``parent``'s text (``is_text``) or tail, or set as it
    when there is none yet (an ``AtomicString`` stays one). This does that at once, and
    hands any other text to upstream.
    """
    from markdown.util import INLINE_PLACEHOLDER_PREFIX

    upstream = processor._InlineProcessor__processPlaceholders  # type: ignore[attr-defined]

    def process_placeholders(data: str | None, parent: Element, is_text: bool = True) -> list:
        if not data or INLINE_PLACEHOLDER_PREFIX in data:
            return upstream(data, parent, is_text)
        if is_text:
            parent.text = parent.text + data if parent.text else data
        else:
            parent.tail = parent.tail + data if parent.tail else data
        return []

    # Upstream calls self.__processPlaceholders: the instance attribute takes precedence.
    processor._InlineProcessor__processPlaceholders = process_placeholders  # type: ignore[attr-defined]


# What upstream's LinkInlineProcessor.getText and getLink look at, character by character.
_BRACKET = re.compile(r"[\[\]]")
_LINK_TARGET_STOP = re.compile(r"""[()'"]""")


def _parse_links_quickly(patterns: Sequence[object]) -> None:
    """Give each link and image pattern a ``getText`` and ``getLink`` that find where a
    link's text and target end by searching, not by a Python loop over every character.

    Upstream walks from the "[" to its matching "]" counting brackets, and from the "(" to
    its ")" tracking nested parentheses and quoted titles: a twentieth of the render time
    on pages with a link per paragraph. :func:`_link_text` is the same walk over the
    brackets alone. :func:`_quick_link` answers only the common target, one with no "(" or
    quote before its first ")", as upstream's walk ends on it; any other is upstream's.
    A subclass that overrides either method keeps its own.
    """
    from markdown.inlinepatterns import LinkInlineProcessor

    for pattern in patterns:
        if not isinstance(pattern, LinkInlineProcessor):
            continue
        if type(pattern).getText is LinkInlineProcessor.getText:
            pattern.getText = _link_text  # type: ignore[method-assign]
        if type(pattern).getLink is LinkInlineProcessor.getLink:
            pattern.getLink = _quick_link(pattern)  # type: ignore[method-assign]


def _link_text(data: str, index: int) -> tuple[str, int, bool]:
    """Upstream's ``getText``: the text up to the "]" that closes the "[" just before
    ``index`` (nested brackets counted), the index after it, and whether it was found;
    else all the rest, the end, False."""
    depth = 1
    for bracket in _BRACKET.finditer(data, index):
        depth += 1 if bracket.group() == "[" else -1
        if depth == 0:
            return data[index : bracket.start()], bracket.end(), True
    return data[index:], max(index, len(data)), False


def _quick_link(pattern: Any) -> Callable[[str, int], tuple[str, str | None, int, bool]]:
    """``pattern``'s ``getLink``, answering at once for a target such as ``(/docs/x/)``."""
    upstream = pattern.getLink

    def get_link(data: str, index: int) -> tuple[str, str | None, int, bool]:
        link = pattern.RE_LINK.match(data, pos=index)
        if link is not None and not link.group(1):  # "(" not followed by "<target>"
            stop = _LINK_TARGET_STOP.search(data, link.end())
            if stop is not None and stop.group() == ")":  # upstream's walk closes here
                href = pattern.unescape(data[link.end() : stop.start()]).strip()
                return href, None, stop.end(), True
        return upstream(data, index)

    return get_link


def _skip_hopeless_runs(processor: InlineProcessor, required: list[tuple[str, ...]]) -> None:
    """Give ``processor`` a ``run`` that leaves a tree alone when none of its patterns can match.

    smarty's processor walks every element of the tree again after the core inline patterns,
    re-linking each text and tail, even where no text holds a quote, dash or "...": a tenth
    of a page's render time for nothing on such a page. Where every pattern of ``processor``
    has its ``required`` literals, and no text or tail that upstream's ``run`` would hand to
    ``__handleInline`` holds one of them, each ``__handleInline`` returns its text as it came
    (see :func:`_skip_hopeless_patterns`), no placeholder is made, and upstream only puts
    each text back where it was: the tree comes out as it went in, so it is returned as is.
    ``AtomicString`` texts are never processed, so they are not searched either (a text or
    tail holding an inline placeholder is always processed: upstream would expand it).
    Any other tree goes through :func:`_inline_only_texts_that_may_match`, which passes
    over each such text on its own.
    """
    from markdown.util import INLINE_PLACEHOLDER_PREFIX, AtomicString

    # A literal containing another is found whenever that one is: the shortest suffice.
    # Sorted whole, not only by length: the same pattern in every process (a set's order
    # changes with the string hash), so that the CLI's kept regex program is found (.regexes).
    literals = {literal for needed in required for literal in needed}
    minimal = sorted(
        {lit for lit in literals if not any(o != lit and o in lit for o in literals)},
        key=lambda lit: (len(lit), lit),
    )
    any_literal = re.compile("|".join(re.escape(literal) for literal in reversed(minimal)))

    def may_match(text: str | None) -> bool:  # whether upstream's run may change it
        if not text:
            return False
        if INLINE_PLACEHOLDER_PREFIX in text:  # __processPlaceholders would expand it
            return True
        return not isinstance(text, AtomicString) and any_literal.search(text) is not None

    def run(tree: Element, ancestors: list[str] | None = None) -> Element:
        for element in tree.iter():
            if may_match(element.text) or may_match(element.tail):
                return guarded_run(tree, ancestors)
        return tree

    guarded_run = _inline_only_texts_that_may_match(processor, may_match)
    processor.run = run  # type: ignore[method-assign]


def _inline_only_texts_that_may_match(
    processor: InlineProcessor, may_match: Callable[[str | None], bool]
) -> Callable[[Element, list[str] | None], Element]:
    """Upstream's ``InlineProcessor.run`` (Python-Markdown 3.11), passing over each text and
    tail that ``may_match`` says holds none of the processor's literals.

    For such a text upstream's steps undo themselves: ``__handleInline`` returns it as it
    came (:func:`_skip_hopeless_patterns`), ``__processPlaceholders`` puts that same string
    back as the element's text or tail (:func:`_link_plain_text_at_once`) and returns no
    element, so nothing is queued, inserted or stashed, and the ancestors pushed for it are
    popped again. Passing it over leaves the same tree; smarty's pass, re-linking every text
    of a page that has one quote, and the core pass over plain sentences skip that work.
    Every other line is upstream's.
    """
    from xml.etree import ElementTree

    from markdown.util import AtomicString

    handle_inline = processor._InlineProcessor__handleInline  # type: ignore[attr-defined]
    process_placeholders = processor._InlineProcessor__processPlaceholders  # type: ignore[attr-defined]
    build_ancestors = processor._InlineProcessor__build_ancestors  # type: ignore[attr-defined]

    def run(tree: Element, ancestors: list[str] | None = None) -> Element:
        processor.stashed_nodes = {}
        tree_parents = [] if ancestors is None else ancestors[:]
        processor.parent_map = {c: p for p in tree.iter() for c in p}
        stack = [(tree, tree_parents)]
        build_ancestors(tree, tree_parents)
        while stack:
            curr_element, parents = stack.pop(0)
            processor.ancestors = parents
            if curr_element is not tree:
                processor.ancestors.append(curr_element.tag.lower())
            insert_queue = []
            for child in curr_element:
                text = child.text
                if text and not isinstance(text, AtomicString) and may_match(text):
                    processor.ancestors.append(child.tag.lower())
                    child.text = None
                    lst = process_placeholders(handle_inline(text), child)
                    for item in lst:
                        processor.parent_map[item[0]] = child
                    stack += lst
                    insert_queue.append((child, lst))
                    processor.ancestors.pop()
                if child.tail and may_match(child.tail):
                    tail = handle_inline(child.tail)
                    dumby = ElementTree.Element("d")
                    child.tail = None
                    tail_result = process_placeholders(tail, dumby, False)
                    if dumby.tail:
                        child.tail = dumby.tail
                    pos = list(curr_element).index(child) + 1
                    tail_result.reverse()
                    for new_child in tail_result:
                        processor.parent_map[new_child[0]] = curr_element
                        curr_element.insert(pos, new_child[0])
                if len(child):
                    processor.parent_map[child] = curr_element
                    stack.append((child, processor.ancestors[:]))
            for element, lst in insert_queue:
                for i, obj in enumerate(lst):
                    element.insert(i, obj[0])
        return tree

    return run


def _speed_up_tree_and_postprocessing(md: markdown.Markdown) -> None:
    """Let the tree and postprocessors that search text for something pass over text without it.

    After inline processing, the unescape treeprocessor runs a regex over every text, tail
    and attribute of the tree, attr_list searches every block's text for "{", and raw_html
    (also run by toc on every heading's HTML) searches for its placeholder; before parsing,
    the whitespace preprocessor searches the whole page for lines of spaces: together a
    tenth of a page's render time, mostly finding nothing. Each processor is given a ``run``
    that skips what cannot hold what it searches for, where it is exactly the class of this
    Python-Markdown version (:func:`block_fast_path_possible`); a subclass keeps its own.
    """
    from markdown.extensions.attr_list import AttrListTreeprocessor
    from markdown.extensions.md_in_html import MarkdownInHTMLPostprocessor
    from markdown.postprocessors import RawHtmlPostprocessor
    from markdown.preprocessors import NormalizeWhitespace
    from markdown.treeprocessors import UnescapeTreeprocessor

    if not block_fast_path_possible():
        return
    for processor in md.preprocessors:
        if type(processor) is NormalizeWhitespace:
            _normalize_whitespace_quickly(processor, md)
    for processor in md.treeprocessors:
        if type(processor) is UnescapeTreeprocessor:
            _unescape_only_escaped_text(processor)
        elif type(processor) is AttrListTreeprocessor:
            _skip_attr_lists_without_braces(processor)
    for processor in md.postprocessors:
        # md_in_html's subclass changes only stash_to_string, which is called as upstream does
        if type(processor) in (RawHtmlPostprocessor, MarkdownInHTMLPostprocessor):
            _restore_raw_html_only_where_placed(processor, md)


def _normalize_whitespace_quickly(processor: Any, md: markdown.Markdown) -> None:
    """Give the whitespace preprocessor a ``run`` that looks for lines of spaces only if
    there may be one.

    Upstream's last step empties every line of nothing but spaces with a look-behind regex,
    ``(?<=\\n) +\\n``, tried at every position of the page: a few percent of the render
    time, though few pages have such a line. Every match holds " \\n", so on a text without
    one the substitution changes nothing and is left out; the other steps are upstream's.
    """
    from markdown.util import ETX, STX

    def run(lines: list[str]) -> list[str]:
        source = "\n".join(lines)
        source = source.replace(STX, "").replace(ETX, "")
        source = source.replace("\r\n", "\n").replace("\r", "\n") + "\n\n"
        source = source.expandtabs(md.tab_length)
        if " \n" in source:
            source = re.sub(r"(?<=\n) +\n", "\n", source)
        return source.split("\n")

    processor.run = run


def _unescape_only_escaped_text(processor: Any) -> None:
    """Give the unescape treeprocessor a ``run`` that unescapes only text holding an escape.

    Upstream assigns ``unescape(value)`` back to every text (but a ``code`` element's),
    tail and attribute value: a ``re.sub`` whose pattern starts with STX. On a ``str``
    without STX that returns the very same object, so assigning it changes nothing; a
    ``str`` subclass (an ``AtomicString``) comes back as a plain ``str``, which is why
    anything but an exact ``str`` still goes through upstream's ``unescape``.
    """
    from markdown.util import STX

    unescape = processor.unescape

    def needs_unescape(value: object) -> bool:
        return type(value) is not str or STX in value

    def run(root: Element) -> None:
        for elem in root.iter():
            text = elem.text
            if text and elem.tag != "code" and needs_unescape(text):
                elem.text = unescape(text)
            tail = elem.tail
            if tail and needs_unescape(tail):
                elem.tail = unescape(tail)
            for key, value in elem.items():
                if value is not None and needs_unescape(value):
                    elem.set(key, unescape(value))

    processor.run = run


def _skip_attr_lists_without_braces(processor: Any) -> None:
    """Give attr_list's treeprocessor a ``run`` that does nothing to a tree with no "{".

    Upstream changes an element only where one of its three regexes (HEADER_RE, BLOCK_RE,
    INLINE_RE, each with a literal "{") matches an element's text or a tail; everything
    else it does on the way (``is_block_level``, ``isheader``) only reads. With no "{" in
    any text or tail of the tree, no regex matches and the tree is left as it was.
    """
    upstream_run = processor.run

    def run(doc: Element) -> None:
        for elem in doc.iter():
            text, tail = elem.text, elem.tail
            if (text and "{" in text) or (tail and "{" in tail):
                upstream_run(doc)
                return

    processor.run = run


def _restore_raw_html_only_where_placed(processor: Any, md: markdown.Markdown) -> None:
    """Give raw_html's postprocessor a ``run`` that searches for placeholders only in text
    holding one.

    Upstream substitutes a pattern both of whose alternatives hold a stash placeholder
    (``HTML_PLACEHOLDER``: STX, "wzxhzdk:", a number, ETX) in the page, then again in each
    piece of raw HTML it puts in (stashed HTML may hold placeholders of its own): a regex
    search through every highlighted code block, and on every heading's HTML that toc runs
    the postprocessors on. In a ``str`` lacking the placeholder's start, ``re.sub`` finds
    nothing and returns that same ``str``, so such text is returned at once; anything else
    (text holding one, or not an exact ``str``) goes through upstream's ``run`` as this
    Python-Markdown version writes it, here with ``restore`` for its ``pattern.sub``.
    """
    from markdown.util import HTML_PLACEHOLDER

    placeholder_start = HTML_PLACEHOLDER.split("%s")[0]
    base_placeholder = HTML_PLACEHOLDER % r"([0-9]+)"
    pattern = re.compile(f"<p>{base_placeholder}</p>|{base_placeholder}")

    def restore(html: str) -> str:
        if type(html) is str and placeholder_start not in html:
            return html
        return pattern.sub(substitute_match, html)

    def substitute_match(m: re.Match[str]) -> str:  # upstream's, but for restore
        if key := m.group(1):
            wrapped = True
        else:
            key = m.group(2)
            wrapped = False
        if (key := int(key)) >= md.htmlStash.html_counter:
            return m.group(0)
        html = processor.stash_to_string(md.htmlStash.rawHtmlBlocks[key])
        if not wrapped or processor.isblocklevel(html):
            return restore(html)
        return restore(f"<p>{html}</p>")

    def run(text: str) -> str:
        return restore(text) if md.htmlStash.html_counter else text

    processor.run = run


def expand_shortcodes(
    rendered: RenderedMarkdown,
    *,
    source: str,
    known: Collection[str],
    render_shortcode: Callable[[ShortcodeCall], str],
    page: Any = None,
) -> Markup:
    """The page's final body HTML: each shortcode placeholder replaced by its template's output.

    ``known`` names the templates of ``templates/shortcodes/``; ``render_shortcode`` renders
    one (:meth:`launchkit.site.render.Renderer.render_shortcode`).
    """
    if not rendered.shortcodes:  # most pages: no need to search the HTML
        return Markup(rendered.html)  # noqa: S704 - Markdown's own HTML output
    html = expand_placeholders(
        rendered.html,
        rendered.shortcodes,
        source=source,
        known=known,
        render_shortcode=render_shortcode,
        page=page,
    )
    return Markup(html)  # noqa: S704 - Markdown's own HTML output plus rendered templates


__all__ = [
    "EXTENSIONS",
    "MarkdownEntry",
    "MarkdownRenderer",
    "RenderedMarkdown",
    "expand_shortcodes",
]
