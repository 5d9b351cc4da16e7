"""Internal link checking of a built site: every ``href``/``src`` to this site must resolve.

A link is internal when it is relative (``../chart.svg``, ``#plans``), root-relative
(``/pricing/``) or absolute under ``base_url``. It resolves when an output file of the build
is at its path (``/x/`` -> ``x/index.html``), and its ``#fragment`` names an ``id`` in the
target page. Each broken link is a :class:`LinkWarning` naming the content file and line
where the link is written, else the page's template.

Extraction is a regular expression over our own generated HTML (cheap, and cached per page
with the page's output): :func:`extract_links` runs once per rendered document. Judging is
cached too: a page whose links and targets did not change keeps its warnings (the builder
judges only the others).
"""

from __future__ import annotations

import html
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from ..errors import LinkWarning
from .content import Page, display_path
from .scan import matches_at

# Links of a document as (url, text).
Links = tuple[tuple[str, str], ...]

_ANCHOR = re.compile(r"<a\s[^>]*?\bhref=\"([^\"]*)\"[^>]*>(.*?)</a>", re.DOTALL | re.IGNORECASE)
_SOURCE = re.compile(
    r"<(?:img|script|source|iframe|audio|video|link)\s[^>]*?\b(?:src|href)=\"([^\"]*)\"[^>]*>",
    re.IGNORECASE,
)
_ALT = re.compile(r"\balt=\"([^\"]*)\"", re.IGNORECASE)
_ID = re.compile(r"\sid=\"([^\"]*)\"")
_ID_START = re.compile(r'id="')  # where an _ID may be, found quickly (see .scan)
_TAG = re.compile(r"<[^>]+>")
# Fragments a browser always understands without an element of that id.
_ALWAYS_THERE = frozenset({"", "top"})


def extract_links(document: bytes) -> tuple[Links, frozenset[str]]:
    """A document's links as (url, text), and the ids its fragments may point to."""
    text = document.decode("utf-8")
    links = [(html.unescape(url), _link_text(inner)) for url, inner in _ANCHOR.findall(text)]
    for match in _SOURCE.finditer(text):
        alt = _ALT.search(match[0])
        links.append((html.unescape(match[1]), html.unescape(alt[1]) if alt else ""))
    starts = (match.start() - 1 for match in _ID_START.finditer(text) if match.start())
    ids = (html.unescape(match[1]) for match in matches_at(_ID, text, starts))
    return tuple(links), frozenset(ids)


def _link_text(inner: str) -> str:
    return html.unescape(_TAG.sub("", inner)).strip()


def check_links(
    pages: Sequence[Page],
    links: Mapping[str, Links],
    ids: Mapping[str, frozenset[str]],
    outputs: Iterable[str],
    base_url: str,
    templates_dir: Path,
    left_out: Mapping[str, str] | None = None,
    notes: Mapping[str, str] | None = None,
) -> dict[str, tuple[LinkWarning, ...]]:
    """The broken internal links of each page, by output path (``links``/``ids`` likewise).

    A link to a page this build leaves out (``left_out``: its URL and why) says why it is
    missing. A link to an output in ``notes`` (output path: a warning) resolves but gets that
    warning, at the line of the reference (an image published without variants says why).
    """
    left_out = left_out or {}
    notes = notes or {}
    files = set(outputs)
    found_outputs: dict[str, str | None] = {}  # by site path: a page's TOC links share one

    def output_for(path: str) -> str | None:
        if path not in found_outputs:
            found_outputs[path] = _output_for(path, files)
        return found_outputs[path]

    base = urlsplit(base_url)
    found: dict[str, tuple[LinkWarning, ...]] = {}
    # Most links (navigation, footer, assets) are the same on every page: judge each once.
    judged: dict[tuple[str, str], str | None] = {}
    lines = _Lines()  # each file read once, however many of its links are broken
    for page in pages:
        warnings = []
        for url, text in links.get(page.output, ()):
            context = "" if url.startswith(("/", "http:", "https:")) else page.url
            if (context, url) not in judged:
                judged[context, url] = _problem(url, page, base, output_for, ids, left_out, notes)
            problem = judged[context, url]
            if problem is not None:
                path, line = _locate(page, url, text, templates_dir, lines)
                warnings.append(LinkWarning(path, line, problem))
        found[page.output] = tuple(sorted(set(warnings), key=_order))
    return found


def all_warnings(found: Mapping[str, tuple[LinkWarning, ...]]) -> list[LinkWarning]:
    """Every warning of :func:`check_links`' result once, in file and line order."""
    return sorted({warning for warnings in found.values() for warning in warnings}, key=_order)


def _order(warning: LinkWarning) -> tuple[str, int, str]:
    return warning.path, warning.line or 0, warning.message


def _problem(
    url: str,
    page: Page,
    base,
    output_for: Callable[[str], str | None],
    ids: Mapping[str, frozenset[str]],
    left_out: Mapping[str, str],
    notes: Mapping[str, str],
) -> str | None:
    """Why ``url`` on ``page`` is broken (or noted), or None when it resolves (or is not
    ours). ``output_for`` gives the output a site path is served from (:func:`_output_for`)."""
    target = _site_path(url, page.url, base)
    if target is None:
        return None
    path, fragment = target
    output = output_for(path)
    if output is None and path in left_out:
        return f"link {url} to a page left out of this build: {left_out[path]}"
    if output is None:
        return f"broken link {url}: no {path} in the built site"
    if output in notes:
        return notes[output]
    if fragment in _ALWAYS_THERE:
        return None
    target_ids = ids.get(output)  # (one lookup: the ids may come from the cache file)
    if target_ids is not None and fragment not in target_ids:
        return f"broken link {url}: {path} has no element with id '{fragment}'"
    return None


def _site_path(url: str, page_url: str, base) -> tuple[str, str] | None:
    """The site path and fragment ``url`` points to, or None for another site or scheme."""
    if url.startswith("#"):  # most links of a page (its TOC's): no need to parse them
        return page_url, unquote(url[1:])
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        if (parts.scheme or base.scheme, parts.netloc) != (base.scheme, base.netloc):
            return None
        base_path = base.path.rstrip("/")
        if not parts.path.startswith(base_path + "/") and parts.path != base_path:
            return None
        path = parts.path[len(base_path) :] or "/"
    elif parts.path.startswith("/"):
        path = parts.path
    elif parts.path:
        path = urljoin(page_url, parts.path)
    else:
        path = page_url  # "#fragment" or "?query" on this page
    normalized = posixpath.normpath(unquote(path))
    if path.endswith("/") and normalized != "/":
        normalized += "/"
    return normalized, unquote(parts.fragment)


def _output_for(path: str, files: set[str]) -> str | None:
    """The output file a static host serves for ``path``, if the build made it."""
    relative = path.lstrip("/")
    candidates = (
        [relative + "index.html"] if path.endswith("/") else [relative, f"{relative}/index.html"]
    )
    return next((candidate for candidate in candidates if candidate in files), None)


def _locate(
    page: Page, url: str, text: str, templates_dir: Path, lines: _Lines
) -> tuple[str, int | None]:
    """Where a link is written: the page's Markdown line with it, else a template's line.

    The page's own template is searched first, then every other (the link may be in the
    layout it extends or a partial); failing all, the page's template is named.
    """
    for needle in (url, text):
        line = lines.containing(page.path, needle)
        if line is not None:
            return display_path(page.path), line
    return lines.in_templates(templates_dir / f"{page.template}.html", templates_dir, url)


class _Lines:
    """The lines of the files warnings point into, read once per check, and the templates
    they may be in, listed once per check (a template's broken link warns on every page)."""

    def __init__(self) -> None:
        self._files: dict[str, list[str]] = {}
        self._templates: dict[Path, list[Path]] = {}
        self._places: dict[tuple[Path, str], tuple[str, int | None]] = {}

    def in_templates(self, own: Path, folder: Path, url: str) -> tuple[str, int | None]:
        """The template and line where ``url`` is written: ``own`` first, then every
        template of ``folder`` in order; failing all, ``own`` without a line. Found once per
        template and link (a template's broken link warns on every page of it)."""
        key = (own, url)
        if key not in self._places:
            if folder not in self._templates:
                self._templates[folder] = sorted(folder.rglob("*.html"))
            self._places[key] = next(
                (
                    (display_path(template), line)
                    for template in [own, *self._templates[folder]]
                    if (line := self.containing(template, url)) is not None
                ),
                (display_path(own), None),
            )
        return self._places[key]

    def containing(self, path: str | Path, needle: str) -> int | None:
        """The number of the first line of ``path`` holding ``needle``."""
        if not needle:
            return None
        lines = self._files.get(str(path))
        if lines is None:
            try:
                lines = Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                lines = []
            self._files[str(path)] = lines
        return next((number for number, line in enumerate(lines, 1) if needle in line), None)


__all__ = ["LinkWarning", "Links", "all_warnings", "check_links", "extract_links"]
