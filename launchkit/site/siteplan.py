"""The site plan: what a build derived from everything but the pages' bodies, kept for the next.

Between reading the pages and rendering documents, a build makes the site's shape: which
pages are published, the list pages and feeds, the aliases' pages, the pages ``ref`` may
name, the published names of static files and the social cards, the navigation, what each
document needs, and every file's output path. None of it reads a page's body. When the
preview names the paths that changed and they are all Markdown files whose front matter
and place are as before (a body edit, the common case while writing), the next build takes
that shape as it was, and redoes only what a body feeds: the page's identity, the lists
and feeds that show it, its document and its links (:mod:`.builder`).

The plan reads little of the templates: which files there are and whether the template of
a section's index page paginates (:func:`templates_read`). A template edit that leaves
those as they were keeps the plan too; what each document needs (what its templates read)
is then found again, and the documents whose templates or needs changed are made again.

A plan is kept only after a build that worked, and reused only when the cache layer
(:meth:`.cache.BuildCache.site_plan`) finds the same key (code, config, checkout endpoint,
publishing rules, output folder), the same files in ``content/``, the clock between the
plan's and the first future page's date, for each edited page the same
:func:`.keys.shape_key`, and after a template edit the same :func:`templates_read`.
Anything else (``static/``, the config, a page added, moved or deleted, a folder event)
plans the site afresh.

The preview keeps the plan in memory and names the edited files. The CLI, one process per
build, finds the plan in the cache file (:class:`KeptPlan`, beside the record of the same
build) with the stamps of the source files its build began with; the files whose stamps
differ now are its edits (:func:`edited_files`). The published files besides the page
documents and feeds are checked by their stamps too (:attr:`SitePlan.file_stamps`): the
plan's build left them, and a CLI user may have touched them since.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import marshal
import pickle
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import LinkWarning, SiteError
from .content import Asset, Page, Published
from .keys import plan_templates, shape_key
from .lists import Lists
from .media import Card, Media
from .refs import PageRefs
from .social import CardSpec

if TYPE_CHECKING:
    from .cache import PageEntry
    from .render import Renderer
    from .theme import NavItem

# A file's size and mtime (ns); None: unknown, or changed too recently to stand for its bytes.
FileStamp = tuple[int, int] | None


@dataclass
class SitePlan:
    """One build's shape, by the key of what it was made from (see the module's text)."""

    key: str
    out: str
    sources: tuple[tuple[str, ...], tuple[str, ...]]  # content/'s Markdown files, other files
    made: dt.datetime  # the clock of the build that made it
    valid_until: dt.datetime | None  # the first date after the build's of a page read
    shapes: dict[str, tuple]  # the pages' keys.shape_key as the plan was made, by path
    refs: PageRefs
    published: Published
    lists: Lists
    redirects: list[Page]
    alias_errors: list[SiteError]
    documented: list[Page]  # every HTML page: the site's, then the aliases'
    generated: dict[str, PageEntry]  # the generated pages' entries
    # Every page read (published or not) as read, by file path: the cache file's entries
    # of the pages come without them, and a build taking the plan takes its pages from here.
    read: dict[str, Page]
    media: Media
    links: tuple[list[NavItem], list[NavItem], dict[str, str]]  # Renderer.site_links
    # What it read of the templates (templates_read): the templates asked whether they
    # paginate, and the key of the answers and of the template files.
    paginated: tuple[str, ...]
    templates: str
    needs: list[tuple[str, ...]] = field(default_factory=list)  # by documented page
    outputs: list[str] = field(default_factory=list)  # every published path
    files: int = 0  # how many files besides the page documents
    # The published files besides page documents and feeds, each one's stamp as staged.
    file_stamps: dict[str, tuple[int, int]] = field(default_factory=dict)
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

    def holds_at(self, now: dt.datetime) -> bool:
        """Whether the pages published at ``now`` are the plan's (:func:`holds_between`)."""
        return holds_between(self.made, self.valid_until, now)

    def same_shapes(self, entries: Mapping[str, PageEntry], paths: Iterable[str]) -> bool:
        """Whether each page of ``paths`` (read as ``entries``) has its shape in the plan."""
        for path in paths:
            entry = entries.get(path)
            if entry is None or self.shapes.get(path) != shape_key(entry):
                return False
        return True

    def same_templates(self, renderer: Renderer, files: Iterable[str]) -> bool:
        """Whether ``renderer``'s templates (``files``) give what the plan read of its own
        (:func:`templates_read`): a template edit that keeps it changes documents only."""
        return templates_read(renderer, self.paginated, files) == self.templates

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
        :meth:`affected`), in order: what depends on what, read the other way."""
        dependents = self.index()
        return sorted({index for name in names for index in dependents.get(name, ())})

    def index(self) -> dict[str, list[int]]:
        """The documented pages needing each identity a body edit may change, by index:
        made from ``needs`` on first use (a plan the CLI makes and keeps never needs it; the
        preview makes it while nobody edits, :meth:`.context.BuildContext.warm_up`)."""
        if self.dependents is None:
            self.dependents = {}
            for index, needed in enumerate(self.needs):
                for name in needed:
                    if name.startswith(_OF_ONE_PAGE) or name in _FOR_EVERY_PAGE:
                        self.dependents.setdefault(name, []).append(index)
        return self.dependents


# The identities a body edit may change (SitePlan.affected): a page's own and a list page's
# (by kind), and those standing for every page.
_OF_ONE_PAGE = ("page:", "list:")
_FOR_EVERY_PAGE = ("listing", "*")


@dataclass(frozen=True)
class KeptPlan:
    """What the cache file keeps beside a plan, to judge it without loading it: its key,
    clock and first future date, and the stamps of the source files (``content/``,
    ``templates/``, ``static/``, the system fonts) as the build that left it began."""

    key: str
    made: dt.datetime
    valid_until: dt.datetime | None
    stamps: dict[str, FileStamp]

    def holds_at(self, now: dt.datetime) -> bool:
        return holds_between(self.made, self.valid_until, now)


def holds_between(made: dt.datetime, valid_until: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a plan made at ``made`` publishes the pages a build at ``now`` would: no
    page's date lies between the two (``valid_until``: the first after ``made``)."""
    return made <= now and (valid_until is None or now < valid_until)


def plan_bytes(plan: SitePlan) -> bytes:
    """``plan`` for the cache file: with its pages (one pickle: the pages are shared by
    its lists, documents and reading, and a build taking the plan reads no other copy),
    its social cards as plain values (:class:`_StoredCards`)."""
    kept = copy.copy(plan)
    media = plan.media
    kept.media = dataclasses.replace(media, cards=_StoredCards(_card_rows(media.cards)))
    return pickle.dumps(kept, 5)


def plan_from(data: object) -> SitePlan | None:
    """The plan of :func:`plan_bytes`, or None if it cannot be read so."""
    if not isinstance(data, bytes):
        return None
    try:
        plan = pickle.loads(data)  # noqa: S301 - the build's own cache file
    except Exception:  # an unreadable plan (another format) is a missing one
        return None
    if not isinstance(plan, SitePlan):
        return None
    # The bodies' warnings it holds are its own build's; later builds with it kept theirs
    # in memory only: found again from the entries.
    plan.markup = None
    return plan


class _StoredCards(Mapping[str, Card]):
    """A kept plan's social cards (:attr:`.media.Media.cards`), each made when asked for:
    a build taking the plan shows the cards of the few documents it makes, and unpickling
    every card was half the plan's load. ``rows``: :func:`_card_rows`."""

    def __init__(self, rows: bytes) -> None:
        self.rows = rows
        self._table: dict[str, tuple[str, str, tuple[str, ...]]] | None = None
        self._cards: dict[str, Card] = {}

    def table(self) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        if self._table is None:
            self._table = marshal.loads(self.rows)  # noqa: S302 - the plan's own bytes
        return self._table

    def __getitem__(self, url: str) -> Card:
        card = self._cards.get(url)
        if card is None:
            link, cached, spec = self.table()[url]
            card = self._cards[url] = Card(link, CardSpec(*spec), cached)
        return card

    def __iter__(self) -> Iterator[str]:
        return iter(self.table())

    def __len__(self) -> int:
        return len(self.table())

    def __reduce__(self) -> tuple[type, tuple[bytes]]:
        return _StoredCards, (self.rows,)


_SPEC_FIELDS = tuple(spec_field.name for spec_field in dataclasses.fields(CardSpec))


def _card_rows(cards: Mapping[str, Card]) -> bytes:
    """Social cards by page URL as plain values (each one's URL, file, spec's fields)."""
    rows = {
        url: (card.url, card.cached, tuple(map(card.spec.__dict__.__getitem__, _SPEC_FIELDS)))
        for url, card in cards.items()
    }
    return marshal.dumps(rows)


def edited_files(kept: Mapping[str, FileStamp], now: Mapping[str, FileStamp]) -> set[str] | None:
    """The files whose stamps differ between ``kept`` and ``now`` (a file kept without
    one, too fresh then to be trusted, among them); None when a file came or went."""
    if kept.keys() != now.keys():
        return None
    return {path for path, stamp in now.items() if stamp is None or kept[path] != stamp}


def templates_read(renderer: Renderer, paginated: Iterable[str], files: Iterable[str]) -> str:
    """What a plan reads of ``renderer``'s templates (:func:`.keys.plan_templates`): their
    ``files``, and whether each template of ``paginated`` paginates."""
    answers = {name: renderer.paginates(name) for name in paginated}
    return plan_templates(files, answers)


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


__all__ = [
    "FileStamp",
    "KeptPlan",
    "SitePlan",
    "edited_files",
    "first_future_date",
    "holds_between",
    "plan_bytes",
    "plan_from",
    "sources_of",
    "templates_read",
]
