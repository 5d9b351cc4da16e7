"""Discover ``content/**/*.md``: front matter, URLs and output paths of every page.

A page is Markdown with YAML front matter between ``---`` lines. This module only reads and
validates; turning the body into HTML is :mod:`launchkit.site.markup`'s job, and whether a
file must be read again at all is :mod:`launchkit.site.cache`'s. Every error names the file
and the line a marketer has to fix.

URLs, output paths and ``Page.source`` are made of the path's parts joined with ``/``
whatever the operating system (:func:`page_url`, :func:`source_name`): no OS separator
reaches the link checker, the sitemap or a cache key.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ..config import SiteConfig
from ..errors import SiteError

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
NOT_FOUND_URL = "/404.html"


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
    date: dt.date | None = None
    menu: str | None = None
    menu_order: int | None = None  # None: after the ordered items
    image: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # all front matter, unknown keys too
    content: str = ""  # HTML (markupsafe.Markup once rendered)
    toc: str = ""  # HTML of the table of contents

    def with_content(self, content: str, toc: str) -> Page:
        """This page with its rendered HTML and table of contents.

        A copy of the attributes rather than :func:`dataclasses.replace`, which runs
        ``__init__`` and was a tenth of a one-page rebuild at 2000 pages.
        """
        page = object.__new__(Page)
        page.__dict__.update(self.__dict__, content=content, toc=toc)
        return page

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


def find_sources(config: SiteConfig, files: Iterable[str] | None = None) -> Sources:
    """The Markdown files and the other files of ``content/``.

    ``files``: the paths of ``content/`` as the caller knows them (the preview keeps them
    up to date from file events); by default the folder is walked.
    """
    content_dir = config.content_dir
    if not content_dir.is_dir():
        raise SiteError("no content folder", display_path(content_dir), hint="create content/")
    markdown: list[str] = []
    assets: list[Asset] = []
    root = str(content_dir)
    names = walk_files(content_dir) if files is None else sorted(files, key=_walk_order(root))
    for name in names:
        if name.endswith(".md"):
            markdown.append(name)
        else:
            path = Path(name)
            assets.append(Asset(path, path.relative_to(content_dir).as_posix()))
    return Sources(markdown, assets)


def published_pages(pages: Iterable[Page], *, drafts: bool = False) -> list[Page]:
    """The pages to build, in source order: drafts only with ``drafts``; URLs unique."""
    chosen = sorted((page for page in pages if drafts or not page.draft), key=_source_order)
    _refuse_duplicate_urls(chosen)
    return chosen


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

    Raises :class:`SiteError` on bad input, naming the file and line.
    """
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SiteError(f"not UTF-8 text: {exc.reason}", shown, hint="save as UTF-8") from None
    front, front_text, body, body_line = _split_front_matter(text, shown)
    locate = _KeyLocator(shown, front_text)
    relative = path.relative_to(config.content_dir)
    parts = relative.parts
    section = parts[0] if len(parts) > 1 else ""
    slug = _optional_str(front, "slug", locate)
    if slug is not None and not _SLUG.match(slug):
        raise locate.error("slug", "'slug' must be letters, digits, '.', '-' or '_' (no '/')")
    url, output = page_url(relative, slug)
    template = _optional_str(front, "template", locate) or _default_template(relative, section)
    if not _TEMPLATE_NAME.match(template):
        raise locate.error("template", f"'template' must be a template name, got {template!r}")
    page = Page(
        path=str(path),
        source=source_name(config.content_dir.relative_to(config.root), relative),
        url=url,
        absolute_url=config.site.absolute(url),
        output=output,
        section=section,
        title=_title(front, locate),
        body_line=body_line,
        description=_optional_str(front, "description", locate) or "",
        template=template,
        draft=_typed(front, "draft", bool, "true or false", locate, False),
        date=_date(front, locate),
        menu=_optional_str(front, "menu", locate),
        menu_order=_typed(front, "menu_order", int, "a whole number", locate, None),
        image=_optional_str(front, "image", locate) or config.site.image,
        meta=front,
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
    Both are joined with ``/`` whatever kind of path ``relative`` is (``PureWindowsPath``).
    """
    parts = list(relative.with_suffix("").parts)
    if parts == ["404"]:
        return NOT_FOUND_URL, "404.html"
    if parts[-1] == "index":
        parts.pop()
    if slug is not None and parts:
        parts[-1] = slug
    path = "/".join(parts)
    if not path:
        return "/", "index.html"
    return f"/{path}/", f"{path}/index.html"


def _default_template(relative: PurePath, section: str) -> str:
    if section == "blog":
        return "blog" if relative.name == "index.md" and len(relative.parts) == 2 else "post"
    return "page"


def read_body(path: Path) -> Body:
    """Only the body of a Markdown file (its front matter as :func:`read_source` left it)."""
    shown = display_path(path)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    index = _closing_fence(lines, shown)
    return Body("".join(lines[index + 1 :]), index + 2)


def _closing_fence(lines: list[str], shown: str) -> int:
    """The index of the line that closes the front matter."""
    if not lines or lines[0].rstrip() != "---":
        raise SiteError(
            "no front matter",
            shown,
            1,
            hint="start the file with a '---' line, 'title: …', and another '---' line",
        )
    closing = next((i for i, line in enumerate(lines) if i and line.rstrip() in ("---", "...")), 0)
    if not closing:
        raise SiteError("front matter is not closed", shown, 1, hint="add a '---' line after it")
    return closing


def _split_front_matter(text: str, shown: str) -> tuple[dict[str, Any], str, str, int]:
    """Split ``---`` front matter from the body: (fields, raw YAML, body, body's first line)."""
    lines = text.splitlines(keepends=True)
    index = _closing_fence(lines, shown)
    front_text = "".join(lines[1:index])
    # Imported here: a rebuild that finds every page in the cache parses no YAML at all.
    import yaml

    # The C loader is ~6x faster; the pure-Python one behaves the same where libyaml is missing.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        front = yaml.load(front_text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1  # +1 for the '---', +1 for 1-based
        problem = getattr(exc, "problem", None) or str(exc)
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


class _KeyLocator:
    """Finds the line of a front matter key, so that a bad value's error points at it."""

    def __init__(self, shown: str, front_text: str) -> None:
        self.shown = shown
        self.lines = front_text.splitlines()

    def line(self, key: str) -> int:
        pattern = re.compile(rf"^\s*['\"]?{re.escape(key)}['\"]?\s*:")
        for number, text in enumerate(self.lines, start=2):
            if pattern.match(text):
                return number
        return 1

    def error(self, key: str, message: str, hint: str | None = None) -> SiteError:
        return SiteError(message, self.shown, self.line(key), hint)


def _title(front: dict[str, Any], locate: _KeyLocator) -> str:
    title = front.get("title")
    if title is None or (isinstance(title, str) and not title.strip()):
        raise locate.error(
            "title",
            "missing 'title' in front matter",
            hint="add a line 'title: Your page title' between the '---' lines",
        )
    if not isinstance(title, str | int | float):
        raise locate.error("title", "'title' must be text")
    return str(title)


def _optional_str(front: dict[str, Any], key: str, locate: _KeyLocator) -> str | None:
    value = front.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise locate.error(key, f"'{key}' must be text, got {value!r}")
    return str(value)


def _typed(
    front: dict[str, Any], key: str, kind: type, what: str, locate: _KeyLocator, default: Any
) -> Any:
    value = front.get(key)
    if value is None:
        return default
    # bool is a subclass of int: 'menu_order: true' is a mistake, not 1.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise locate.error(key, f"'{key}' must be {what}, got {value!r}")
    return value


def _date(front: dict[str, Any], locate: _KeyLocator) -> dt.date | None:
    value = front.get("date")
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise locate.error(
            "date", f"'date' must be a date like 2026-11-02, got {value!r}"
        ) from None


def _refuse_duplicate_urls(pages: list[Page]) -> None:
    seen: dict[str, Page] = {}
    for page in pages:
        other = seen.setdefault(page.url, page)
        if other is not page:
            raise SiteError(
                f"two pages have the URL {page.url}: {other.source} and {page.source}",
                display_path(page.path),
                hint="rename one of them or give it another 'slug'",
            )


__all__ = [
    "NOT_FOUND_URL",
    "Asset",
    "Body",
    "Page",
    "Sources",
    "display_path",
    "find_sources",
    "is_hidden",
    "page_url",
    "published_pages",
    "read_body",
    "read_source",
    "source_name",
    "walk_files",
]
