"""Discover ``content/**/*.md``: front matter, URLs and output paths of every page.

A page is Markdown with YAML front matter between ``---`` lines. This module only reads and
validates; turning the body into HTML is :mod:`launchkit.site.markup`'s job. Every error names the
file and the line a marketer has to fix.

Rebuilds do not parse what did not change: :func:`load_content` takes the pages of the last
build by path with the size and mtime their file had (``git status``'s own quick check), and
reuses a page whose file still has both. Such a page comes without its body (``body`` is None;
``body_key`` still identifies it), so the cache stays small; :func:`with_body` reads it again
when its Markdown has to be rendered after all.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..config import SiteConfig
from ..errors import SiteError, attempt
from ..sourcetext import read_text
from .cache import digest
from .frontmatter import check_front_matter, date_in_file_name, load_toml, load_yaml
from .publishing import PublishRules
from .summary import summarize

NOT_FOUND_URL = "/404.html"
# Files that are pages: Markdown, under either name Hugo and Jekyll take ('.markdown').
PAGE_SUFFIXES = (".md", ".markdown")
# The file names of a folder's own page: ours, and Hugo's section page.
_INDEX_NAMES = ("index", "_index")
# A file changed less than this long before it was read may change again within the same
# mtime tick (the kernel's clock is coarse): its page is not remembered by size and mtime.
_SETTLED_NS = 2_000_000_000


@dataclass(frozen=True)
class Page:
    """One page of the site: where it comes from, what its front matter says, where it goes.

    ``content`` and ``toc`` are empty until the Markdown step fills them in (with
    :func:`dataclasses.replace`, so a page never changes under a step that holds it).
    """

    # The Markdown file, absolute; a string, as Paths made a cached page 4x slower to load.
    path: str
    source: str  # the same, relative to the project root: "content/pricing.md"
    url: str  # "/pricing/"
    absolute_url: str  # "https://beacon.example/pricing/"
    output: str  # "pricing/index.html", relative to the output folder
    section: str  # "blog" for content/blog/**, "" for top-level pages
    title: str
    body: str | None  # the Markdown after the front matter; None: not loaded (see with_body)
    body_line: int  # line number of the body's first line in the file
    body_key: str  # a hash of the body and its first line: equal keys, equal bodies
    source_key: str  # a hash of all the file gave: its place, front matter and body
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
    def is_not_found_page(self) -> bool:
        """The 404 page: served by hosts for unknown paths, listed in no sitemap."""
        return self.url == NOT_FOUND_URL


@dataclass(frozen=True)
class Asset:
    """A non-Markdown file inside ``content/``, copied to the same place in the output."""

    path: Path
    output: str


# A file's size and mtime in nanoseconds, and the page read from it (body left out).
Stamp = tuple[int, int]
KnownPages = Mapping[str, tuple[Stamp, Page]]


@dataclass(frozen=True)
class Content:
    """Everything ``content/`` holds: the pages (sorted by source) and the files beside them.

    ``known`` is what the next build may reuse: every page read (drafts too), without its
    body, by path, with the stamp its file had. ``left_out`` says why each page this build
    does not publish (a draft, a future post) is left out, by URL. ``errors`` are the pages
    that could not be read and the URLs that two pages claim: the build goes on with the
    other pages to find their errors too, then fails.
    """

    pages: list[Page]
    assets: list[Asset]
    known: dict[str, tuple[Stamp, Page]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)
    errors: list[SiteError] = field(default_factory=list)


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


def load_content(
    config: SiteConfig,
    *,
    rules: PublishRules | None = None,
    known: KnownPages | None = None,
    read_pages: Callable[[list[Path]], list[Page | SiteError]] | None = None,
) -> Content:
    """Read every page of ``content/``; publish those ``rules`` let through (no drafts, no
    future posts by default).

    A page of ``known`` (the last build's :attr:`Content.known`, for this same config) whose
    file has the same size and mtime is taken as it is, without reading the file. The
    others are read by ``read_pages`` (the builder spreads a cold build's over its worker
    processes; a page that cannot be read is its SiteError), by default one
    :func:`read_page` after another. Every page's errors and every duplicate URL are in
    :attr:`Content.errors`.
    """
    rules = rules or PublishRules.of_build()
    content_dir = config.content_dir
    if not content_dir.is_dir():
        raise SiteError("no content folder", display_path(content_dir), hint="create content/")
    known = known or {}
    settled = time.time_ns() - _SETTLED_NS
    assets: list[Asset] = []
    found: dict[str, Page | None] = {}  # every Markdown file in order; None: to be read
    stamps: dict[str, Stamp] = {}
    for name in walk_files(content_dir):
        if not name.endswith(PAGE_SUFFIXES):
            path = Path(name)
            assets.append(Asset(path, path.relative_to(content_dir).as_posix()))
            continue
        stat = os.stat(name)
        stamp = stamps[name] = (stat.st_size, stat.st_mtime_ns)
        previous = known.get(name)
        found[name] = previous[1] if previous is not None and previous[0] == stamp else None
    unread = [Path(name) for name, page in found.items() if page is None]
    if read_pages is None:
        read = [attempt(read_page, path, config) for path in unread]
    else:
        read = read_pages(unread)
    found.update(zip((str(path) for path in unread), read, strict=True))
    pages: list[Page] = []
    errors: list[SiteError] = []
    left_out: dict[str, str] = {}
    remembered: dict[str, tuple[Stamp, Page]] = {}
    for name, page in found.items():
        if isinstance(page, SiteError):
            errors.append(page)
            continue
        assert page is not None  # every unread page was just read
        stamp = stamps[name]
        if stamp[1] < settled:
            remembered[name] = (stamp, page if page.body is None else replace(page, body=None))
        reason = rules.left_out(page)
        if reason is None:
            pages.append(page)
        else:
            left_out[page.url] = f"{page.source} is {reason}"
    return Content(pages, assets, remembered, left_out, [*errors, *_duplicate_urls(pages)])


def with_body(page: Page, config: SiteConfig) -> Page:
    """``page`` with its body, read from its file again if the page came from the cache."""
    return page if page.body is not None else read_page(Path(page.path), config)


def read_page(path: Path, config: SiteConfig) -> Page:
    """Parse one Markdown file into a :class:`Page`; raise :class:`SiteError` on bad input
    (:class:`launchkit.errors.SiteErrors` when its front matter has several problems)."""
    shown = display_path(path)
    text = read_text(path, shown)
    front, front_text, body, body_line = _split_front_matter(text, shown)
    checked = check_front_matter(front, front_text, shown)
    relative = path.relative_to(config.content_dir)
    parts = relative.parts
    section = parts[0] if len(parts) > 1 else ""
    url, output = page_url(relative, checked.slug)
    # Jekyll's posts may be dated by their file name alone: 2013-05-06-released.md.
    moment = checked.date or date_in_file_name(relative)
    return Page(
        path=str(path),
        source="/".join((*config.content_dir.relative_to(config.root).parts, *parts)),
        url=url,
        absolute_url=config.site.absolute(url),
        output=output,
        section=section,
        title=checked.title,
        body=body,
        body_line=body_line,
        body_key=(body_key := digest(str(body_line), body)),
        source_key=digest(str(relative), body_key, repr(front)),
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


def page_url(relative: Path, slug: str | None = None) -> tuple[str, str]:
    """The pretty URL and output path of a page at ``relative`` inside ``content/``.

    ``index.md`` -> ``/``, ``pricing.md`` -> ``/pricing/``, ``blog/launch.md`` ->
    ``/blog/launch/``; ``slug`` replaces the last part; ``404.md`` -> ``/404.html``.
    Hugo's ``_index.md`` is a section's index page, as ``index.md`` is.
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


def _default_template(relative: Path, section: str) -> str:
    if section == "blog":
        is_index = relative.stem in _INDEX_NAMES and len(relative.parts) == 2
        return "blog" if is_index else "post"
    return "page"


def _split_front_matter(text: str, shown: str) -> tuple[dict[str, Any], str, str, int]:
    """Split front matter from the body: (fields, raw text, body, body's first line).

    Front matter is YAML between ``---`` lines, or TOML between ``+++`` lines (Hugo's).
    """
    lines = text.splitlines(keepends=True)
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
    closing = [i for i, line in enumerate(lines) if i and line.rstrip() in closers]
    if not closing:
        raise SiteError(
            "front matter is not closed", shown, 1, hint=f"add a '{opening}' line after it"
        )
    index = closing[0]
    front_text = "".join(lines[1:index])
    if opening == "+++":
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


def _duplicate_urls(pages: list[Page]) -> list[SiteError]:
    """An error for each page whose URL an earlier page already has."""
    seen: dict[str, Page] = {}
    errors = []
    for page in pages:
        other = seen.setdefault(page.url, page)
        if other is not page:
            errors.append(
                SiteError(
                    f"two pages have the URL {page.url}: {other.source} and {page.source}",
                    display_path(page.path),
                    hint="rename one of them or give it another 'slug'",
                )
            )
    return errors


__all__ = [
    "NOT_FOUND_URL",
    "PAGE_SUFFIXES",
    "Asset",
    "Content",
    "KnownPages",
    "Page",
    "display_path",
    "load_content",
    "page_url",
    "read_page",
    "walk_files",
    "with_body",
]
