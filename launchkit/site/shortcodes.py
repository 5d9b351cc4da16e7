"""Shortcodes (``{{< name args >}}``), the way Hugo writes them, as two separate steps.

1. :func:`parse_shortcodes` finds every shortcode of a page body outside code and swaps it
   for a placeholder that Python-Markdown passes through untouched. It depends on the text
   alone, so its result is cached with the rendered Markdown. It also notes Jekyll's Liquid
   tags (``{% include … %}``, ``{{ site.x }}``), which would be published as text.
2. :func:`expand_placeholders` replaces each placeholder of the rendered HTML with the output
   of ``templates/shortcodes/NAME.html``. It needs the templates, so it runs on every build.

Syntax (Hugo's)::

    {{< figure src="chart.png" caption="Sales" >}}        one tag, named arguments
    {{< youtube dQw4w9WgXcQ >}}                            positional arguments
    {{< details summary="More" >}}raw <b>HTML</b>{{< /details >}}   inner content, as written
    {{% note %}}Inner **Markdown**{{% /note %}}            inner content, rendered as Markdown
    {{</* buy pro */>}}                                   shown as written, not expanded

A tag alone on its line is a block of its own; anywhere else it stays inside its paragraph.
A tag is paired when a closing tag of its name follows; shortcodes nest.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

from markupsafe import Markup

from ..errors import SiteError, raise_all

# A tag: {{< … >}} or {{% … %}}, their delimiters agreeing; it may span lines (long argument
# lists), never another tag's opening.
_TAG = re.compile(
    r"\{\{(?:<(?P<angle>(?:(?!\{\{).)*?)>|%(?P<percent>(?:(?!\{\{).)*?)%)\}\}", re.DOTALL
)
# Hugo's way of showing a shortcode as text: {{</* name */>}}.
_ESCAPED_TAG = re.compile(r"\{\{([<%])/\*(.*?)\*/([>%])\}\}")
_NAME = re.compile(r"[A-Za-z0-9_][\w./-]*")
_ARGUMENT = re.compile(
    r"""\s*(?:(?P<key>[A-Za-z_][\w-]*)=)?"""
    r"""(?:"(?P<double>(?:[^"\\]|\\.)*)"|'(?P<single>[^']*)'|`(?P<raw>[^`]*)`|(?P<bare>[^\s"'`]+))"""
)
_FENCE = re.compile(r"^[ \t>]*(?P<fence>`{3,}|~{3,})")
_BLANKED = re.compile(r"[^\r\n]")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)(?<!`)\1(?!`)")
# Jekyll's Liquid: {% tag … %} and {{ expression }} (but not a shortcode's {{< or {{%).
_LIQUID = re.compile(
    r"(?<!\{)\{%-?\s*(?P<tag>\w+)[^\n]*?-?%\}(?!\})|\{\{(?![<%])-?\s*[^\n{}]+?\s*-?\}\}"
)
# Letters and digits only, so that no Markdown extension (smarty, abbr, …) rewrites them:
# "x" opens (or is the whole shortcode), "y" closes a {{% %}} pair's Markdown.
_PLACEHOLDER = "launchkitshortcode{}{}"
_PLACEHOLDER_HTML = re.compile(
    r"<p>launchkitshortcode(\d+)([xy])</p>\n?|launchkitshortcode(\d+)([xy])"
)

_HINT = 'write {{< name >}}, {{< name "positional" >}} or {{< name key="value" >}}'


@dataclass(frozen=True)
class Shortcode:
    """One shortcode of a page, parsed, with the line of its opening tag in the source file.

    ``inner`` is the raw text between a ``{{< >}}`` pair (nested shortcodes in it already
    placeholders); ``markdown`` marks a ``{{% %}}`` pair, whose inner content is the HTML
    between its placeholders once the page is rendered.
    """

    name: str
    args: tuple[str, ...]
    params: tuple[tuple[str, str], ...]
    line: int
    inner: str | None = None
    markdown: bool = False

    def to_entry(self) -> tuple[Any, ...]:
        """Plain tuples of strings, numbers and booleans, for the marshal-based cache."""
        return (self.name, self.args, self.params, self.line, self.inner, self.markdown)

    @property
    def tag(self) -> str:
        """The opening tag, as a reminder in error messages (arguments left out)."""
        return f"{{{{% {self.name} %}}}}" if self.markdown else f"{{{{< {self.name} >}}}}"


@dataclass(frozen=True)
class ShortcodeCall:
    """What ``templates/shortcodes/NAME.html`` sees as ``shortcode``.

    ``shortcode.get(0)`` and ``shortcode.get("src")`` read an argument (Hugo's ``.Get``),
    ``shortcode.inner`` is the content of a paired shortcode (None otherwise), and
    ``shortcode.error("…")`` fails the build at the page's line.
    """

    name: str
    args: tuple[str, ...]
    params: Mapping[str, str]
    inner: Markup | None
    source: str
    line: int
    page: Any = field(default=None, compare=False)

    def get(self, key: int | str, default: Any = None) -> Any:
        """The positional argument ``key`` (an int) or the named one (a str), or ``default``."""
        if isinstance(key, int):
            return self.args[key] if 0 <= key < len(self.args) else default
        return self.params.get(key, default)

    @property
    def position(self) -> str:
        """``path:line`` of the shortcode in its page."""
        return f"{self.source}:{self.line}"

    def error(self, message: str, hint: str | None = None) -> NoReturn:
        """Fail the build with ``message`` at the shortcode's line in its page."""
        raise SiteError(message, self.source, self.line, hint)


@dataclass(frozen=True)
class _Tag:
    """One ``{{< … >}}`` found in the text, with where it is."""

    start: int  # offsets in the body
    end: int
    line: int  # in the source file
    line_start: int  # where the tag's first line starts, and its last line ends (no newline)
    line_end: int
    percent: bool
    closing: bool
    self_closing: bool
    name: str
    args: tuple[str, ...]
    params: tuple[tuple[str, str], ...]


def parse_shortcodes(
    body: str, *, source: str, first_line: int = 1
) -> tuple[str, tuple[Shortcode, ...], tuple[tuple[int, str], ...]]:
    """The body with every shortcode a placeholder, its shortcodes, and warnings by line.

    Parsing errors (bad quoting, a closing tag without its opening one) name ``source`` and
    the line; the warnings are Liquid tags found outside code.
    """
    tags, warnings = _scan(body, source, first_line)
    shortcodes: list[Shortcode] = []
    text = body
    if tags:
        text = _emit(body, tags, _pair(tags, source), 0, len(body), 0, len(tags), shortcodes)
    if "/*" in body:  # Hugo's escaped tags, shown as plain tags, in code too
        text = _unescape(text)
        shortcodes = [
            replace(shortcode, inner=_unescape(shortcode.inner)) if shortcode.inner else shortcode
            for shortcode in shortcodes
        ]
    return text, tuple(shortcodes), warnings


def _unescape(text: str) -> str:
    return _ESCAPED_TAG.sub(r"{{\1\2\3}}", text)


def _scan(
    body: str, source: str, first_line: int
) -> tuple[list[_Tag], tuple[tuple[int, str], ...]]:
    """The tags outside fenced code and code spans, and the Liquid warnings by line."""
    warnings: list[tuple[int, str]] = []
    prose: list[str] = []  # the body with code blanked out: same length, same lines
    fence: str | None = None
    for number, line in enumerate(body.splitlines(keepends=True), first_line):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match["fence"]
            if fence is None:
                fence = marker
            elif (
                marker[0] == fence[0]
                and len(marker) >= len(fence)
                and not line[fence_match.end() :].strip()
            ):
                fence = None
        if fence_match or fence is not None:
            prose.append(_BLANKED.sub(" ", line))
            continue
        if "`" in line:
            line = _CODE_SPAN.sub(lambda span: " " * len(span[0]), line)
        if "{%" in line or "{{" in line:
            warnings.extend((number, message) for message in _liquid_warnings(line))
        prose.append(line)
    masked = "".join(prose)
    tags = []
    for found in _TAG.finditer(masked):
        # Found where no code hides it; read from the body (`raw` arguments are code spans).
        match = _TAG.match(body, found.start()) or found
        if not _ESCAPED_TAG.fullmatch(match[0]):
            tags.append(_parse_tag(match, body, first_line, source, warnings))
    return tags, tuple(warnings)


def _liquid_warnings(prose: str) -> Iterator[str]:
    """A warning for each Jekyll Liquid tag or expression in a line of prose."""
    for match in _LIQUID.finditer(prose):
        tag = match["tag"]
        if tag == "highlight":
            hint = "write a fenced code block: ```LANGUAGE … ```"
        elif tag in ("raw", "endraw"):
            hint = "remove it: nothing in a page is a template, so there is nothing to escape"
        elif tag in ("include", "include_relative"):
            hint = "make it a shortcode: templates/shortcodes/NAME.html, written {{< NAME >}}"
        else:
            hint = "write the value itself, or make a shortcode that prints it"
        yield f"Liquid template syntax {match[0]!r} is published as text: {hint}"


def _parse_tag(
    match: re.Match[str],
    body: str,
    first_line: int,
    source: str,
    warnings: list[tuple[int, str]],
) -> _Tag:
    """Read one tag's name and arguments (Hugo's quoting: "…", '…' and `…`).

    A named argument given twice keeps its last value, as Hugo does, with a warning added to
    ``warnings``: imported pages build unchanged, and the author still learns of the slip.
    """
    line = first_line + body.count("\n", 0, match.start())
    percent = match["percent"] is not None
    inner = (match["percent"] if percent else match["angle"]).strip()
    self_closing = inner.endswith("/")
    inner = inner.removesuffix("/").strip()
    closing = inner.startswith("/")
    inner = inner.removeprefix("/").strip()

    def error(message: str) -> SiteError:
        return SiteError(message, source, line, hint=_HINT)

    name_match = _NAME.match(inner)
    if not name_match:
        raise error(f"a shortcode needs a name: {match[0]!r}")
    name = name_match[0]
    args: list[str] = []
    params: dict[str, str] = {}
    position = name_match.end()
    while inner[position:].strip():
        argument = _ARGUMENT.match(inner, position)
        if argument is None or argument.end() == position:
            raise error(f"cannot read the arguments of {match[0]!r} from {inner[position:]!r}")
        position = argument.end()
        double = argument["double"]
        value = (
            re.sub(r"\\(.)", r"\1", double)
            if double is not None
            else next(v for v in argument.group("single", "raw", "bare") if v is not None)
        )
        if argument["key"] is None:
            args.append(value)
        else:
            if argument["key"] in params:
                warnings.append((line, _repeated(argument["key"], params, value, match[0])))
            params[argument["key"]] = value
    if args and params:
        raise error(f"{match[0]!r} mixes positional and name=value arguments: use one kind")
    if closing and (args or params):
        raise error(f"a closing tag takes no arguments: {match[0]!r}")
    line_end = body.find("\n", match.end())
    return _Tag(
        match.start(),
        match.end(),
        line,
        body.rfind("\n", 0, match.start()) + 1,
        len(body) if line_end == -1 else line_end,
        percent,
        closing,
        self_closing,
        name,
        tuple(args),
        tuple(params.items()),
    )


def _repeated(key: str, params: Mapping[str, str], value: str, tag: str) -> str:
    """The warning for a named argument given twice in ``tag`` (the last value wins)."""
    return (
        f"'{key}' is given twice in {tag!r}: {value!r} is used, {params[key]!r} ignored "
        f"(as Hugo does); keep one '{key}'"
    )


def _pair(tags: list[_Tag], source: str) -> dict[int, int]:
    """Opening tag index -> closing tag index; an opening tag without a closing one is whole."""
    pairs: dict[int, int] = {}
    open_tags: list[int] = []
    for index, tag in enumerate(tags):
        if not tag.closing:
            if not tag.self_closing:
                open_tags.append(index)
            continue
        for depth in range(len(open_tags) - 1, -1, -1):
            opening = tags[open_tags[depth]]
            if opening.name == tag.name:
                if opening.percent != tag.percent:
                    raise SiteError(
                        f"{{{{{'%' if tag.percent else '<'} /{tag.name} ...}}}} closes a "
                        f"shortcode opened on line {opening.line} with other delimiters",
                        source,
                        tag.line,
                        hint="close {{< x >}} with {{< /x >}} and {{% x %}} with {{% /x %}}",
                    )
                pairs[open_tags[depth]] = index
                del open_tags[depth:]  # the ones opened inside it were whole shortcodes
                break
        else:
            raise SiteError(
                f"closing shortcode tag '/{tag.name}' without an opening '{tag.name}'",
                source,
                tag.line,
                hint=f"open it before, e.g. {{{{< {tag.name} >}}}} … {{{{< /{tag.name} >}}}}",
            )
    return pairs


def _emit(
    text: str,
    tags: list[_Tag],
    pairs: dict[int, int],
    position: int,
    end: int,
    first: int,
    last: int,
    shortcodes: list[Shortcode],
) -> str:
    """``text[position:end]`` with tags ``first``…``last - 1`` replaced by placeholders.

    A shortcode is numbered before the ones inside it, so that expanding in any order of
    discovery finds a parent's inner content complete.
    """
    out: list[str] = []
    index = first
    while index < last:
        tag = tags[index]
        closing_index = pairs.get(index)
        closer = tags[closing_index] if closing_index is not None else tag
        number = len(shortcodes)
        shortcodes.append(Shortcode(tag.name, tag.args, tag.params, tag.line))  # for its number
        block = (
            not text[tag.line_start : tag.start].strip()
            and not text[closer.end : closer.line_end].strip()
        )
        indent = text[tag.line_start : tag.start] if block else ""
        out.append(text[position : tag.line_start if block else tag.start])
        opening = _PLACEHOLDER.format(number, "x")
        if closing_index is None:
            out.append(_placed(opening, block, indent))
        elif not tag.percent:
            inner = _emit(
                text, tags, pairs, tag.end, closer.start, index + 1, closing_index, shortcodes
            )
            shortcodes[number] = Shortcode(tag.name, tag.args, tag.params, tag.line, inner)
            out.append(_placed(opening, block, indent))
        else:
            shortcodes[number] = Shortcode(tag.name, tag.args, tag.params, tag.line, None, True)
            opening_block = not text[tag.end : tag.line_end].strip() and block
            closing_block = not text[closer.line_start : closer.start].strip() and block
            inner_start = tag.line_end if opening_block else tag.end
            inner_end = closer.line_start if closing_block else closer.start
            out.append(_placed(opening, opening_block, indent))
            out.append(
                _emit(
                    text, tags, pairs, inner_start, inner_end, index + 1, closing_index, shortcodes
                )
            )
            out.append(_placed(_PLACEHOLDER.format(number, "y"), closing_block, indent))
        position = closer.line_end if block else closer.end
        index = (closing_index if closing_index is not None else index) + 1
    out.append(text[position:end])
    return "".join(out)


def _placed(token: str, block: bool, indent: str) -> str:
    """A placeholder as a paragraph of its own (blank lines around it), or inline."""
    return f"\n\n{indent}{token}\n\n" if block else token


# --- expansion ------------------------------------------------------------------------------


def expand_placeholders(
    html: str,
    shortcodes: tuple[Shortcode, ...],
    *,
    source: str,
    known: Collection[str],
    render_shortcode: Callable[[ShortcodeCall], str],
    page: Any = None,
) -> str:
    """``html`` with each placeholder replaced by its shortcode's template output.

    ``known`` are the names of ``templates/shortcodes/*.html``; ``render_shortcode`` renders
    one. An unknown name, or a failure inside a template, names the page's line.
    """
    # Every unknown one at once, those nested in another unknown one too: one build lists them.
    raise_all(
        _unknown(shortcode, source, known)
        for shortcode in shortcodes
        if shortcode.name not in known
    )

    failed: list[SiteError] = []  # every shortcode is rendered: one build lists each failure

    def render(shortcode: Shortcode, inner: str | None) -> str:
        call = ShortcodeCall(
            shortcode.name,
            shortcode.args,
            dict(shortcode.params),
            None if inner is None else Markup(inner),  # noqa: S704 - the author's own HTML
            source,
            shortcode.line,
            page,
        )
        try:
            return render_shortcode(call)
        except SiteError as error:
            if error.path != source:  # placed in the template: say which page line used it
                where = f"from {shortcode.tag} at {source}:{shortcode.line}"
                error.hint = f"{error.hint} ({where})" if error.hint else where
            failed.append(error)
            return ""

    def fill(text: str) -> str:
        out = []
        position = 0
        while match := _PLACEHOLDER_HTML.search(text, position):
            number = int(match[1] or match[3])
            kind = match[2] or match[4]
            out.append(text[position : match.start()])
            position = match.end()
            if number >= len(shortcodes) or kind != "x":
                out.append(match[0])  # a look-alike a marketer typed: left as it was
                continue
            shortcode = shortcodes[number]
            inner = None
            if shortcode.markdown:
                closing = re.compile(
                    rf"<p>launchkitshortcode{number}y</p>\n?|launchkitshortcode{number}y"
                )
                found = closing.search(text, position)
                if found is None:  # Markdown moved it out of reach (e.g. into a code block)
                    found_end = position
                    inner = ""
                else:
                    inner = fill(text[position : found.start()])
                    found_end = found.end()
                position = found_end
            elif shortcode.inner is not None:
                inner = fill(shortcode.inner)
            out.append(render(shortcode, inner))
        out.append(text[position:])
        return "".join(out)

    expanded = fill(html)
    raise_all(failed)
    return expanded


def _unknown(shortcode: Shortcode, source: str, known: Collection[str]) -> SiteError:
    """The error for a shortcode without a template: the known ones, and the closest."""
    names = sorted(known)
    close = difflib.get_close_matches(shortcode.name, names, n=1)
    meant = f"did you mean '{close[0]}'? " if close else ""
    return SiteError(
        f"unknown shortcode '{shortcode.name}'",
        source,
        shortcode.line,
        hint=(
            f"{meant}known shortcodes: {', '.join(names) or 'none'}; "
            f"or add templates/shortcodes/{shortcode.name}.html"
        ),
    )


__all__ = ["Shortcode", "ShortcodeCall", "expand_placeholders", "parse_shortcodes"]
