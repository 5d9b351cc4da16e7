"""Discover ``content/**/*.md``: front matter, URLs and output paths of every page.

A page is Markdown with YAML front matter between ``---`` lines (or TOML between ``+++``).
This module only reads and validates; turning the body into HTML is
:mod:`launchkit.site.markup`'s job, and whether a file must be read again at all is
:mod:`launchkit.site.cache`'s. Every error names the file and the line a marketer has to fix.

URLs, output paths and ``Page.source`` are made of the path's parts joined with ``/``
whatever the operating system (:func:`page_url`, :func:`source_name`): no OS separator
reaches the link checker, the sitemap or a cache key.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

from ..config import SiteConfig
from ..errors import SiteError
from ..sourcetext import read_text
from .frontmatter import check_front_matter, date_in_file_name, load_toml, load_yaml
from .permalinks import fixed_url, permalink
from .publishing import PublishRules
from .summary import summarize

NOT_FOUND_URL = "/404.html"
# Files that are pages: Markdown, under either name Hugo and Jekyll take ('.markdown').
PAGE_SUFFIXES = (".md", ".markdown")
# The file names of a folder's own page: ours, and Hugo's section page.
_INDEX_NAMES = ("index", "_index")
# The ``path`` and ``source`` of a page no file gives (a tag's page, a blog's second page)
# start with this: no file name does.
GENERATED = "generated:"


@dataclass(frozen=True)
class Term:
    """One tag or category, as a list shows it: its name (the spelling most pages use), its
    URL and feed's, and how many pages carry it."""

    taxonomy: str  # "tags", "categories": the front matter key and the URL's first folder
    name: str
    url: str  # "/tags/service-mesh/"
    count: int
    feed_url: str = ""  # "/tags/service-mesh/feed.xml", when some of its pages are dated


@dataclass(frozen=True)
class Listing:
    """What one list page shows (:mod:`launchkit.site.lists` makes them): the pages listed
    on it, by source, in order, and its place among the pages of its list."""

    kind: str  # "section" (a blog's pages), "term" (a tag's), "taxonomy" (every tag)
    items: tuple[str, ...]  # the sources of the pages listed here
    number: int  # this page's number, from 1
    urls: tuple[str, ...]  # the URL of each page of the list, the first page's first
    total: int  # the pages listed over all of them
    feed_url: str = ""
    term: Term | None = None  # a term's pages: which
    terms: tuple[Term, ...] = ()  # a taxonomy's index: every term

    @property
    def prev_url(self) -> str | None:
        return self.urls[self.number - 2] if self.number > 1 else None

    @property
    def next_url(self) -> str | None:
        return self.urls[self.number] if self.number < len(self.urls) else None


@dataclass(frozen=True)
class Page:
    """One page of the site: where it comes from, what its front matter says, where it goes.

    ``content`` and ``toc`` are empty until the Markdown step fills them in (with
    :meth:`with_content`, so a page never changes under a step that holds it).
    """

    # The Markdown file, absolute; a string, as Paths made a cached page 4x slower to load.
    path: str
    source: str  # relative to the project root, with "/": "content/pricing.md"
    url: str  # "/pricing/"
    absolute_url: str  # "https://beacon.example/pricing/"
    output: str  # "pricing/index.html", relative to the output folder
    section: str  # "blog" for content/blog/**, "" for top-level pages
    title: str
    body_line: int  # line number of the body's first line in the file
    description: str = ""
    template: str = "page"
    draft: bool = False
    date: dt.date | None = None  # the day of ``datetime``, where it was written
    menu: str | None = None
    menu_order: int | None = None  # None: after the ordered items
    image: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # all front matter, unknown keys too
    content: str = ""  # HTML (markupsafe.Markup once rendered)
    toc: str = ""  # HTML of the table of contents
    datetime: dt.datetime | None = None  # front matter 'date', time-zone aware
    lastmod: dt.date | None = None
    params: dict[str, Any] = field(default_factory=dict)  # front matter keys of the user's own
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    # An alias's page (launchkit.site.aliases): the URL of the page it sends visitors to.
    redirect_to: str = ""
    # Dated after the build's time and shown by the preview only: its document says so.
    scheduled: bool = False
    listing: Listing | None = None  # a list page's (the lists step's)

    def with_content(self, content: str, toc: str) -> Page:
        """This page with its rendered HTML and table of contents.

        A copy of the attributes rather than :func:`dataclasses.replace`, which runs
        ``__init__`` and was a tenth of a one-page rebuild at 2000 pages.
        """
        page = object.__new__(Page)
        page.__dict__.update(self.__dict__, content=content, toc=toc)
        return page

    @property
    def summary(self) -> str:
        """Front matter 'summary', else the text above ``<!--more-->`` or the first paragraph."""
        return str(self.meta.get("summary") or "") or summarize(str(self.content))

    @property
    def generated(self) -> bool:
        """Made by a step (a tag's page, a blog's second page), from no file of its own."""
        return self.path.startswith(GENERATED)

    @property
    def has_body(self) -> bool:
        """Whether the page has Markdown of its own: an alias's or a list's page has none."""
        return not (self.redirect_to or self.generated)

    @property
    def is_not_found_page(self) -> bool:
        """The 404 page: served by hosts for unknown paths, listed in no sitemap."""
        return self.url == NOT_FOUND_URL


@dataclass(frozen=True)
class Body:
    """A page's Markdown text after the front matter, and the file line it starts on."""

    text: str
    first_line: int


@dataclass(frozen=True)
class Asset:
    """A non-Markdown file inside ``content/``, copied to the same place in the output."""

    path: Path
    output: str


@dataclass(frozen=True)
class Sources:
    """What ``content/`` holds: the Markdown files (sorted) and the files beside them."""

    markdown: list[str]
    assets: list[Asset]


def display_path(path: str | Path) -> str:
    """A path for error messages: relative to the working folder when inside it, clickable."""
    # abspath and string slicing, not resolve() or pathlib: it runs for every page of every
    # build, and pathlib's parsing was a tenth of a no-change rebuild.
    absolute = os.path.abspath(path)
    cwd = os.getcwd()
    if absolute == cwd:
        return "."
    if absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return absolute[len(cwd.rstrip(os.sep)) + 1 :]
    return str(path)


def walk_files(folder: Path) -> Iterator[str]:
    """Every file under ``folder`` in sorted order, skipping hidden files and folders.

    Plain strings: a rebuild walks thousands of pages it does not read, and making a Path
    of each was a tenth of a no-change rebuild.
    """
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(name for name in subdirs if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield os.path.join(directory, name)


def is_hidden(relative: PurePath) -> bool:
    """Whether a path inside a source folder is skipped (a dot file or inside a dot folder)."""
    return any(part.startswith(".") for part in relative.parts)


def find_sources(
    config: SiteConfig, files: Iterable[str] | None = None, *, ordered: bool = False
) -> Sources:
    """The Markdown files and the other files of ``content/``.

    ``files``: the paths of ``content/`` as the caller knows them (the preview keeps them
    up to date from file events; a CLI build walked the folder as it began), sorted here
    unless ``ordered`` says they are in :func:`walk_files`' order; by default the folder is
    walked.
    """
    content_dir = config.content_dir
    if not content_dir.is_dir():
        raise SiteError("no content folder", display_path(content_dir), hint="create content/")
    markdown: list[str] = []
    assets: list[Asset] = []
    root = str(content_dir)
    if files is None:
        names: Iterable[str] = walk_files(content_dir)
    else:
        names = files if ordered else sorted(files, key=_walk_order(root))
    for name in names:
        if name.endswith(PAGE_SUFFIXES):
            markdown.append(name)
        else:
            path = Path(name)
            assets.append(Asset(path, path.relative_to(content_dir).as_posix()))
    return Sources(markdown, assets)


@dataclass(frozen=True)
class Published:
    """The pages a build publishes, in source order; why each other page is left out (a
    draft, a future post), by URL; and an error for each URL that two pages claim."""

    pages: list[Page]
    left_out: dict[str, str]
    errors: list[SiteError]


def published_pages(pages: Iterable[Page], rules: PublishRules) -> Published:
    """The pages ``rules`` let through (no drafts, no future posts by default)."""
    chosen: list[Page] = []
    left_out: dict[str, str] = {}
    for page in sorted(pages, key=_source_order):
        reason = rules.left_out(page)
        if reason is None:
            chosen.append(replace(page, scheduled=True) if rules.scheduled(page) else page)
        else:
            left_out[page.url] = f"{page.source} is {reason}"
    # The build fails on a URL two pages claim; until then, only the first page builds, so
    # that the other steps can find their errors too.
    unique, errors = _unique_urls(chosen)
    return Published(unique, left_out, errors)


def _source_order(page: Page) -> tuple[tuple[int, str], ...]:
    return walk_order(page.source.split("/"))


def walk_order(parts: Iterable[str]) -> tuple[tuple[int, str], ...]:
    """Sort key of a file by its path's parts, in :func:`walk_files`' order: a folder's
    files by name, then its subfolders by name."""
    *folders, name = parts
    return (*((1, folder) for folder in folders), (0, name))


def _walk_order(root: str):
    """:func:`walk_order` of OS paths under ``root`` (string slicing: it sorts every file)."""
    start = len(root.rstrip(os.sep)) + 1

    def key(name: str) -> tuple[tuple[int, str], ...]:
        return walk_order(name[start:].split(os.sep))

    return key


def read_source(path: Path, config: SiteConfig) -> tuple[Page, Body]:
    """Parse one Markdown file into a :class:`Page` and its :class:`Body`.

    Raises :class:`SiteError` on bad input, naming the file and line
    (:class:`launchkit.errors.SiteErrors` when its front matter has several problems).
    """
    shown = display_path(path)
    text = read_text(path, shown)
    front, front_text, body, body_line = _split_front_matter(text, shown)
    checked = check_front_matter(front, front_text, shown)
    relative = path.relative_to(config.content_dir)
    parts = relative.parts
    section = parts[0] if len(parts) > 1 else ""
    # Jekyll's posts may be dated by their file name alone: 2013-05-06-released.md.
    moment = checked.date or date_in_file_name(relative)
    pattern = config.permalinks.get(section) if _is_regular(relative) else None
    if checked.url is not None:
        url, output = fixed_url(checked.url)
    elif pattern is None:
        url, output = page_url(relative, checked.slug)
    else:
        url = permalink(
            pattern,
            relative,
            section=section,
            title=checked.title,
            slug=checked.slug,
            date=moment,
            shown=shown,
        )
        output = url.lstrip("/") + "index.html"
    page = Page(
        path=str(path),
        source=source_name(config.content_dir.relative_to(config.root), relative),
        url=url,
        absolute_url=config.site.absolute(url),
        output=output,
        section=section,
        title=checked.title,
        body_line=body_line,
        description=checked.description,
        template=checked.template or _default_template(relative, section),
        draft=checked.draft,
        date=moment.date() if moment is not None else None,
        menu=checked.menu,
        menu_order=checked.menu_order,
        image=checked.image or config.site.image,
        meta=front,
        datetime=moment,
        lastmod=checked.lastmod.date() if checked.lastmod is not None else None,
        params=checked.params,
        tags=checked.tags,
        categories=checked.categories,
        aliases=checked.aliases,
    )
    return page, Body(body, body_line)


def source_name(folder: PurePath, relative: PurePath) -> str:
    """A source file's name relative to the project, with ``/`` on every OS:
    ``content`` + ``blog\\launch.md`` -> ``content/blog/launch.md``."""
    return "/".join((*folder.parts, *relative.parts))


def page_url(relative: PurePath, slug: str | None = None) -> tuple[str, str]:
    """The pretty URL and output path of a page at ``relative`` inside ``content/``.

    ``index.md`` -> ``/``, ``pricing.md`` -> ``/pricing/``, ``blog/launch.md`` ->
    ``/blog/launch/``; ``slug`` replaces the last part; ``404.md`` -> ``/404.html``.
    Hugo's ``_index.md`` is a section's index page, as ``index.md`` is.
    Both are joined with ``/`` whatever kind of path ``relative`` is (``PureWindowsPath``).
    """
    parts = list(relative.with_suffix("").parts)
    if parts == ["404"]:
        return NOT_FOUND_URL, "404.html"
    if parts[-1] in _INDEX_NAMES:
        parts.pop()
    if slug is not None and parts:
        parts[-1] = slug
    path = "/".join(parts)
    if not path:
        return "/", "index.html"
    return f"/{path}/", f"{path}/index.html"


def _is_regular(relative: PurePath) -> bool:
    """Whether a page is a section's page rather than the section itself (its ``index.md``
    or a folder's ``_index.md``): the pages a permalink pattern places."""
    stem = relative.stem
    return (
        len(relative.parts) > 1
        and stem != "_index"
        and (stem != "index" or len(relative.parts) > 2)
    )


def term_url(name: str, taxonomy: str = "tags") -> str:
    """The URL of a tag's (or category's) page: ``Service Mesh`` -> ``/tags/service-mesh/``.

    python-slugify's slug: lower case ASCII, other letters transliterated (``Über`` ->
    ``uber``), every run of other characters one ``-``; empty when the name has no letter
    or digit (the lists step refuses such a term).
    """
    # Imported on first use: a site without tags or categories never needs it, and its
    # import compiles a dozen regular expressions (8 ms, 1 % of a one-page rebuild).
    from slugify import slugify

    return f"/{taxonomy}/{slugify(name)}/"


def _default_template(relative: PurePath, section: str) -> str:
    if section == "blog":
        is_index = relative.stem in _INDEX_NAMES and len(relative.parts) == 2
        return "blog" if is_index else "post"
    return "page"


def read_body(path: Path) -> Body:
    """Only the body of a Markdown file (its front matter as :func:`read_source` left it)."""
    shown = display_path(path)
    lines = read_text(path, shown).splitlines(keepends=True)
    index = _closing_fence(lines, shown)
    return Body("".join(lines[index + 1 :]), index + 2)


def _closing_fence(lines: list[str], shown: str) -> int:
    """The index of the line that closes the front matter: YAML between ``---`` lines, or
    TOML between ``+++`` lines (Hugo's)."""
    opening = lines[0].rstrip() if lines else ""
    if opening == "{":  # Hugo's JSON front matter
        raise SiteError(
            "front matter in JSON: launchkit reads YAML between '---' lines",
            shown,
            1,
            hint="convert it to YAML ('hugo convert toYAML' does a whole Hugo site)",
        )
    if opening not in ("---", "+++"):
        raise SiteError(
            "no front matter",
            shown,
            1,
            hint="start the file with a '---' line, 'title: …', and another '---' line",
        )
    closers = ("---", "...") if opening == "---" else ("+++",)
    closing = next((i for i, line in enumerate(lines) if i and line.rstrip() in closers), 0)
    if not closing:
        raise SiteError(
            "front matter is not closed", shown, 1, hint=f"add a '{opening}' line after it"
        )
    return closing


def _split_front_matter(text: str, shown: str) -> tuple[dict[str, Any], str, str, int]:
    """Split front matter from the body: (fields, raw text, body, body's first line).

    Front matter is YAML between ``---`` lines, or TOML between ``+++`` lines (Hugo's).
    """
    lines = text.splitlines(keepends=True)
    index = _closing_fence(lines, shown)
    front_text = "".join(lines[1:index])
    if lines[0].rstrip() == "+++":
        front = load_toml(front_text, shown)
        return front, front_text, "".join(lines[index + 1 :]), index + 2
    import yaml  # for its error type; see load_yaml

    try:
        front = load_yaml(front_text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1 for the '---', +1 for 1-based
        problem = getattr(exc, "problem", None) or str(exc)
        # Editors that indent with tabs: YAML takes spaces only (libyaml's message says
        # "found character that cannot start any token", not which one).
        if mark is not None and _char_at(front_text, mark.line, mark.column) == "\t":
            raise SiteError(
                f"front matter has a tab (column {mark.column + 1}): YAML takes only spaces "
                "to indent and to separate a key's ':' from its value",
                shown,
                line,
                hint="replace the tab with spaces",
            ) from None
        raise SiteError(
            f"front matter is not valid YAML: {problem}",
            shown,
            line,
            hint="quote values that contain ':' or start with a special character",
        ) from None
    if front is None:
        front = {}
    if not isinstance(front, dict):
        raise SiteError("front matter must be 'key: value' lines", shown, 2)
    return front, front_text, "".join(lines[index + 1 :]), index + 2


def _char_at(text: str, line: int, column: int) -> str:
    """The character at a 0-based ``line`` and ``column`` of ``text`` ('' if none)."""
    lines = text.splitlines()
    return lines[line][column : column + 1] if line < len(lines) else ""


def _unique_urls(pages: list[Page]) -> tuple[list[Page], list[SiteError]]:
    """The pages with a URL no earlier page has, and an error for each of the others."""
    seen: dict[str, Page] = {}
    unique, errors = [], []
    for page in pages:
        other = seen.setdefault(page.url, page)
        if other is page:
            unique.append(page)
        else:
            errors.append(
                SiteError(
                    f"two pages have the URL {page.url}: {other.source} and {page.source}",
                    display_path(page.path),
                    hint="rename one of them or give it another 'slug'",
                )
            )
    return unique, errors


__all__ = [
    "GENERATED",
    "NOT_FOUND_URL",
    "PAGE_SUFFIXES",
    "Asset",
    "Body",
    "Listing",
    "Page",
    "Published",
    "Sources",
    "Term",
    "display_path",
    "find_sources",
    "is_hidden",
    "page_url",
    "published_pages",
    "read_body",
    "read_source",
    "source_name",
    "term_url",
    "walk_files",
]
