"""The lists step: the pages that list other pages, and the feeds that go with them.

    published pages -> make_lists -> Lists: the pages (list pages with their listing, and
                                     the generated ones), the feeds, the errors

- A **section's index page** whose template uses ``paginator`` (the theme's ``blog.html``)
  lists the section's dated pages, newest first, ``[site] page_size`` a page:
  ``/blog/``, ``/blog/page/2/``, … (as Hugo; no ``/blog/page/1/``: it is ``/blog/``).
- **Tags and categories** (front matter ``tags:``, ``categories:``): a page per term,
  ``/tags/<slug>/`` (paginated the same way, template ``term.html``) with its Atom feed
  ``/tags/<slug>/feed.xml``, and an index of the terms, ``/tags/`` (``taxonomy.html``).
  Slugs are python-slugify's (``Service Mesh`` -> ``service-mesh``, ``Über`` -> ``uber``);
  spellings with one slug are one term, named as most of its pages write it. A page of
  ``content/`` at a list's URL (Hugo's ``content/tags/_index.md``) gives that list its
  title, description and text, as ``content/blog/index.md`` does the blog's.
- The blog's feed (``/blog/feed.xml``) and each term's carry their newest dated pages
  (``[site] feed_entries``), drafts and future pages never.

A pure function of the published pages and the config: the builder calls it before the
media and documents steps, and a generated page is a :class:`~.content.Page` like any other
(its ``listing`` says what it shows; its ``path`` and ``source`` start with ``generated:``).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..config import SiteConfig
from ..errors import LinkWarning, SiteError
from .content import GENERATED, Listing, Page, Term, display_path, term_url
from .render import FEED_SECTION, FEED_URL, dated_pages, newest_first
from .theme import front_matter_line

# The taxonomies: the front matter key (also the URL's first folder) and its index's title.
TAXONOMIES = {"tags": "Tags", "categories": "Categories"}
TERM_TEMPLATE = "term"
TAXONOMY_TEMPLATE = "taxonomy"
FEED_NAME = "feed.xml"  # a list's feed, beside its first page: /tags/<slug>/feed.xml
PAGE_FOLDER = "page"  # /blog/page/2/


@dataclass(frozen=True)
class Feed:
    """One Atom feed: where, its title, the list page it is the feed of, its entries."""

    url: str
    title: str
    alternate: str
    entries: tuple[str, ...]  # the sources of its pages, newest first

    @property
    def output(self) -> str:
        """Its file's path in the output folder."""
        return self.url.lstrip("/")


@dataclass(frozen=True)
class Lists:
    """What the lists step gives: every page to build (the published ones, list pages with
    their ``listing``, then the generated ones), the feeds, the terms it refused, and a
    warning for each taxonomy the theme has no templates for."""

    pages: list[Page]
    feeds: list[Feed]
    errors: list[SiteError]
    warnings: list[LinkWarning]


def make_lists(
    config: SiteConfig, pages: Sequence[Page], paginates: Callable[[str], bool]
) -> Lists:
    """The list pages and feeds of the published ``pages``.

    ``paginates(template)`` says whether a template lists its section's pages (it uses
    ``paginator``): a section's index page with such a template is paginated.
    """
    by_url = {page.url: page for page in pages}
    built: dict[str, Page] = {}  # pages of content/ that are lists too, by URL
    generated: list[Page] = []
    feeds: list[Feed] = []

    def add(first: Page, kind: str, listed: Sequence[Page], **extra: object) -> None:
        """The pages of one list: ``first`` (with its listing), then generated ones."""
        size = config.site.page_size
        chunks = [listed[start : start + size] for start in range(0, len(listed), size)] or [[]]
        urls = (first.url, *(pager_url(first.url, n) for n in range(2, len(chunks) + 1)))
        for number, chunk in enumerate(chunks, 1):
            listing = Listing(
                kind=kind,
                items=tuple(page.source for page in chunk),
                number=number,
                urls=urls,
                total=len(listed),
                **extra,  # type: ignore[arg-type]
            )
            if number == 1:
                built[first.url] = dataclasses.replace(first, listing=listing)
            else:
                generated.append(_page_of(config, first, urls[number - 1], listing))

    for page in pages:
        if _is_section_index(page) and paginates(page.template):
            feed_url = FEED_URL if page.section == FEED_SECTION else ""
            add(page, "section", dated_pages(pages, page.section), feed_url=feed_url)
    blog = [page for page in dated_pages(pages, FEED_SECTION) if _syndicated(page)]
    if blog:
        title = config.site.title
        feeds.append(Feed(FEED_URL, title, f"/{FEED_SECTION}/", _sources(config, blog)))

    terms, errors = find_terms(pages)
    warnings: list[LinkWarning] = []
    for taxonomy, found in terms.items():
        missing = _missing_templates(config, taxonomy, found)
        if missing is not None:
            warnings.append(missing)
            continue
        index_url = f"/{taxonomy}/"
        listed_terms = []
        for url, (name, tagged) in sorted(found.items()):
            posts = [page for page in _newest_first(tagged) if page.date and _syndicated(page)]
            feed_url = f"{url}{FEED_NAME}" if posts else ""
            term = Term(taxonomy, name, url, len(tagged), feed_url)
            listed_terms.append(term)
            own = by_url.get(url) or _generated(config, url, name, TERM_TEMPLATE, taxonomy)
            add(
                _as_list(own, TERM_TEMPLATE),
                "term",
                _newest_first(tagged),
                term=term,
                feed_url=feed_url,
            )
            if posts:
                feeds.append(
                    Feed(feed_url, f"{config.site.title}: {name}", url, _sources(config, posts))
                )
        listed_terms.sort(key=lambda term: (term.name.casefold(), term.url))
        index = by_url.get(index_url) or _generated(
            config, index_url, TAXONOMIES[taxonomy], TAXONOMY_TEMPLATE, taxonomy
        )
        add(_as_list(index, TAXONOMY_TEMPLATE), "taxonomy", [], terms=tuple(listed_terms))
    in_content = [built.get(page.url, page) for page in pages]
    return Lists(
        [*in_content, *(built[url] for url in built if url not in by_url), *generated],
        feeds,
        errors,
        warnings,
    )


def find_terms(
    pages: Sequence[Page],
) -> tuple[dict[str, dict[str, tuple[str, list[Page]]]], list[SiteError]]:
    """Each taxonomy's terms by URL: (its name, its pages in source order); and an error
    for each term that gives no slug (``tags: ["!!!"]``)."""
    found: dict[str, dict[str, tuple[str, list[Page]]]] = {}
    errors = []
    for taxonomy in TAXONOMIES:
        spellings: dict[str, Counter[str]] = {}
        tagged: dict[str, list[Page]] = {}
        for page in pages:
            for name in dict.fromkeys(getattr(page, taxonomy)):  # once each, in order
                url = term_url(name, taxonomy)
                if url == f"/{taxonomy}//":
                    errors.append(_no_slug(page, taxonomy, name))
                    continue
                spellings.setdefault(url, Counter())[name] += 1
                pages_of = tagged.setdefault(url, [])
                if not pages_of or pages_of[-1] is not page:  # "Go" and "go" on one page
                    pages_of.append(page)
        if tagged:
            found[taxonomy] = {
                url: (_most_used(spellings[url]), tagged[url]) for url in sorted(tagged)
            }
    return found, errors


def pager_url(first: str, number: int) -> str:
    """The URL of a list's page ``number`` (from 2): ``/blog/`` -> ``/blog/page/2/``."""
    return f"{first}{PAGE_FOLDER}/{number}/"


def _is_section_index(page: Page) -> bool:
    return bool(page.section) and page.url == f"/{page.section}/"


def _newest_first(pages: Sequence[Page]) -> list[Page]:
    """Dated pages newest first (:func:`.render.newest_first`), then the undated by URL."""
    undated = sorted((page for page in pages if page.date is None), key=lambda p: p.url)
    return newest_first(pages) + undated


def _syndicated(page: Page) -> bool:
    """Whether a page may be a feed entry: neither a draft nor a future page the preview
    shows (a reader would keep it after the preview dropped it)."""
    return not (page.draft or page.scheduled)


def _sources(config: SiteConfig, posts: Sequence[Page]) -> tuple[str, ...]:
    """A feed's entries: the newest ``feed_entries`` of ``posts`` (newest first already)."""
    return tuple(page.source for page in posts[: config.site.feed_entries])


def _most_used(spellings: Counter[str]) -> str:
    """The spelling most pages use; of equals, the first in sort order."""
    return min(spellings, key=lambda name: (-spellings[name], name))


def _as_list(page: Page, template: str) -> Page:
    """A page of ``content/`` at a list's URL renders as that list unless it names its
    own template (``content/tags/_index.md`` gives the tags' index its title and text)."""
    if page.generated or "template" in page.meta:
        return page
    return dataclasses.replace(page, template=template)


def _generated(config: SiteConfig, url: str, title: str, template: str, section: str) -> Page:
    """A list page no file gives."""
    return Page(
        path=GENERATED + url,
        source=GENERATED + url,
        url=url,
        absolute_url=config.site.absolute(url),
        output=url.lstrip("/") + "index.html",
        section=section,
        title=title,
        body_line=1,
        template=template,
        image=config.site.image,
    )


def _page_of(config: SiteConfig, first: Page, url: str, listing: Listing) -> Page:
    """Page ``listing.number`` of the list whose first page is ``first``: its title,
    description and template; not its text, menu entry or aliases."""
    return dataclasses.replace(
        _generated(config, url, first.title, first.template, first.section),
        description=first.description,
        draft=first.draft,
        image=first.image,
        meta={key: first.meta[key] for key in ("noindex", "image") if key in first.meta},
        listing=listing,
    )


def _missing_templates(
    config: SiteConfig, taxonomy: str, found: dict[str, tuple[str, list[Page]]]
) -> LinkWarning | None:
    """A warning when the theme lacks the templates of a taxonomy's pages (a theme copied
    before they existed: the site builds as before, without them), at the first page that
    uses the taxonomy."""
    names = [f"{name}.html" for name in (TERM_TEMPLATE, TAXONOMY_TEMPLATE)]
    missing = [name for name in names if not (config.templates_dir / name).is_file()]
    if not missing:
        return None
    first = min((pages[0] for _, pages in found.values()), key=lambda page: page.source)
    return LinkWarning(
        display_path(first.path),
        front_matter_line(first, taxonomy),
        f"pages have {taxonomy}, but no {' and no '.join(missing)} in "
        f"{display_path(config.templates_dir)}/: no {taxonomy} pages are built (copy "
        "term.html and taxonomy.html from launchkit's templates/, see docs/theming.md)",
    )


def _no_slug(page: Page, taxonomy: str, name: str) -> SiteError:
    return SiteError(
        f"the {taxonomy[:-1] if taxonomy == 'tags' else 'category'} {name!r} has no letter "
        "or digit to make its URL from",
        display_path(page.path),
        front_matter_line(page, taxonomy),
        hint="give it a name with a letter or digit",
    )


__all__ = [
    "FEED_NAME",
    "TAXONOMIES",
    "Feed",
    "Lists",
    "find_terms",
    "make_lists",
    "pager_url",
]
