"""The site plan: what a build derived from everything but the pages' bodies, kept for the next.

Between reading the pages and rendering documents, a build makes the site's shape: which
pages are published, the list pages and feeds, the aliases' pages, the pages ``ref`` may
name, the published names of static files and the social cards, the navigation, what each
document needs, and every file's output path. None of it reads a page's body. When the
preview names the paths that changed and they are all Markdown files whose front matter
and place are as before (a body edit, the common case while writing), the next build takes
that shape as it was, and redoes only what a body feeds: the page's identity, the lists
and feeds that show it, its document and its links (:mod:`.builder`).

A plan is kept only after a build that worked, and reused only when the cache layer
(:meth:`.cache.BuildCache.site_plan`) finds the same key (code, config, templates, checkout
endpoint, publishing rules, output folder), the same files in ``content/``, the clock short
of the first future page's date, and for each re-read page the same :meth:`shape`. Anything
else (a template, ``static/``, the config, a page added, moved or deleted, a folder event,
a CLI build that stats every file) plans the site afresh.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import LinkWarning, SiteError
from .content import Asset, Page, Published
from .lists import Lists
from .media import Media
from .refs import PageRefs

if TYPE_CHECKING:
    from .cache import PageEntry
    from .theme import NavItem


@dataclass
class SitePlan:
    """One build's shape, by the key of what it was made from (see the module's text)."""

    key: str
    out: str
    sources: tuple[tuple[str, ...], tuple[str, ...]]  # content/'s Markdown files, other files
    valid_until: dt.datetime | None  # the first date after the build's of a page read
    shapes: dict[str, PageEntry]  # the entries the plan was made from, by path
    refs: PageRefs
    published: Published
    lists: Lists
    redirects: list[Page]
    alias_errors: list[SiteError]
    documented: list[Page]  # every HTML page: the site's, then the aliases'
    generated: dict[str, PageEntry]  # the generated pages' entries
    media: Media
    links: tuple[list[NavItem], list[NavItem], dict[str, str]]  # Renderer.site_links
    needs: list[tuple[str, ...]] = field(default_factory=list)  # by documented page
    outputs: list[str] = field(default_factory=list)  # every published path
    files: int = 0  # how many files besides the page documents
    listed_in: dict[str, tuple[str, ...]] = field(init=False)  # source: its list pages
    by_source: dict[str, Page] = field(init=False)  # the pages to build (lists.pages)
    # The documented pages needing each identity, by index (from ``needs``; see needing).
    dependents: dict[str, list[int]] | None = field(default=None, init=False, repr=False)
    # What the last build with this plan reported of the pages: the bodies' warnings, and
    # the front matter keys no template reads with the keys the templates read.
    markup: list[LinkWarning] | None = field(default=None, init=False, repr=False)
    notes: tuple[frozenset[str] | None, tuple[str, ...]] | None = field(
        default=None, init=False, repr=False
    )

    def __post_init__(self) -> None:
        shown: dict[str, list[str]] = {}
        for page in self.lists.pages:
            if page.listing is not None:
                for item in page.listing.items:
                    shown.setdefault(item, []).append(page.source)
        self.listed_in = {source: tuple(pages) for source, pages in shown.items()}
        self.by_source = {page.source: page for page in self.lists.pages}

    def affected(self, sources: Iterable[str]) -> set[str]:
        """The identities a body edit of ``sources`` may change: each page's own, the list
        pages showing it, and those standing for every page (``listing``, ``*``)."""
        names = set(_FOR_EVERY_PAGE)
        for source in sources:
            names.add(f"page:{source}")
            names.update(f"list:{page}" for page in self.listed_in.get(source, ()))
        return names

    def needing(self, names: Iterable[str]) -> list[int]:
        """The indexes of the documented pages that need one of ``names`` (identities of
        :meth:`affected`), in order: what depends on what, read the other way (indexed
        from ``needs`` on first use, for the identities a body edit may change only)."""
        if self.dependents is None:
            self.dependents = {}
            for index, needed in enumerate(self.needs):
                for name in needed:
                    if name.startswith(_OF_ONE_PAGE) or name in _FOR_EVERY_PAGE:
                        self.dependents.setdefault(name, []).append(index)
        return sorted({index for name in names for index in self.dependents.get(name, ())})


# The identities a body edit may change (SitePlan.affected): a page's own and a list page's
# (by kind), and those standing for every page.
_OF_ONE_PAGE = ("page:", "list:")
_FOR_EVERY_PAGE = ("listing", "*")


def shape(entry: PageEntry) -> tuple:
    """What of a page the plan is made from: all but its body (and the body's warnings)."""
    return entry.page, entry.shortcodes, entry.uses


def first_future_date(pages: Iterable[Page], now: dt.datetime) -> dt.datetime | None:
    """The first date after ``now`` of ``pages``: then a page changes from future to
    published (or from scheduled to plain), and the plan no longer holds."""
    return min(
        (p.datetime for p in pages if p.datetime is not None and p.datetime > now), default=None
    )


def sources_of(
    markdown: Sequence[str], assets: Iterable[Asset]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The files of ``content/`` as a plan compares them: Markdown files, other files."""
    return tuple(markdown), tuple(str(asset.path) for asset in assets)


__all__ = ["SitePlan", "first_future_date", "shape", "sources_of"]
