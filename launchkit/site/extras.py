"""What a real site needs beside its pages: ``sitemap.xml``, ``robots.txt``, the Atom feeds.

All three are deterministic (no build timestamps: the feed's ``updated`` is its newest
post's date) and built with :mod:`xml.etree`, which escapes every value.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from html import escape

from ..config import SiteConfig
from .content import Page
from .lists import Feed

_SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
_ATOM_NS = "http://www.w3.org/2005/Atom"
_XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>"


def extra_files(
    config: SiteConfig,
    pages: Sequence[Page],
    feeds: Sequence[tuple[Feed, Sequence[Page]]],
    rewrite: Callable[[str], str],
) -> dict[str, bytes]:
    """The sitemap, robots.txt and the Atom feeds (the blog's, each tag's and category's).

    ``feeds``: each feed (:class:`.lists.Feed`) with its pages, their HTML filled in.
    ``rewrite`` gives the published (fingerprinted) names of the files a text refers to;
    a feed's entries are rewritten once each, not in every feed that carries them.
    """
    files = {
        "sitemap.xml": rewrite(sitemap(config, pages).decode()).encode(),
        "robots.txt": rewrite(robots_txt(config).decode()).encode(),
    }
    return {**files, **feed_files(config, feeds, rewrite)}


def feed_files(
    config: SiteConfig,
    feeds: Sequence[tuple[Feed, Sequence[Page]]],
    rewrite: Callable[[str], str],
) -> dict[str, bytes]:
    """The Atom feeds of :func:`extra_files` alone, by output path."""
    entry_html = _EntryHTML(config, rewrite)  # a post in several feeds is made ready once
    return {feed.output: atom_feed(config, feed, posts, entry_html) for feed, posts in feeds}


class _EntryHTML:
    """Each page's HTML as its feed entries carry it (:func:`.feed_html.feed_html`), with
    the published names of the files it shows."""

    def __init__(self, config: SiteConfig, rewrite: Callable[[str], str]) -> None:
        self.config = config
        self.rewrite = rewrite
        self.made: dict[str, str] = {}

    def __call__(self, page: Page) -> str:
        made = self.made.get(page.source)
        if made is None:
            # Imported here: lxml costs 20 ms, and a rebuild whose feeds are unchanged needs none.
            from .feed_html import feed_html

            html = feed_html(str(page.content), page.absolute_url, page.title, self.product_name)
            made = self.made[page.source] = self.rewrite(html)
        return made

    def product_name(self, key: str) -> str | None:
        product = self.config.products.get(key)
        return product.name if product is not None else None


def sitemap(config: SiteConfig, pages: Sequence[Page]) -> bytes:
    """Every published page's absolute URL; no drafts, no future pages the preview shows, no
    404 page, no ``noindex: true``.

    ``<lastmod>`` is the page's ``lastmod``, else its ``date``.

    Written as lines of text rather than through ElementTree, whose serializer took a tenth
    of a rebuild at 2000 URLs: the same bytes, every value escaped as ElementTree does
    (&, <, >; html.escape, as xml.sax.saxutils imports urllib.request: 20 ms a build).
    """
    listed = [
        page
        for page in pages
        if not (page.draft or page.scheduled or page.is_not_found_page)
        and page.meta.get("noindex") is not True
    ]
    lines = [_XML_DECLARATION, f'<urlset xmlns="{_SITEMAP_NS}">']
    for page in sorted(listed, key=lambda page: page.url):
        lines += ["  <url>", f"    <loc>{escape(page.absolute_url, quote=False)}</loc>"]
        modified = page.lastmod or page.date
        if modified is not None:
            lines.append(f"    <lastmod>{modified.isoformat()}</lastmod>")
        lines.append("  </url>")
    lines.append("</urlset>")
    return "\n".join(lines).encode() + b"\n"


def robots_txt(config: SiteConfig) -> bytes:
    """Allow everything and name the sitemap."""
    sitemap_url = config.site.absolute("/sitemap.xml")
    return f"User-agent: *\nAllow: /\n\nSitemap: {sitemap_url}\n".encode()


def atom_feed(
    config: SiteConfig,
    feed: Feed,
    posts: Sequence[Page],
    entry_html: Callable[[Page], str],
) -> bytes:
    """An Atom feed of ``posts`` (newest first), with absolute links and full content
    (``entry_html``: a post's HTML as the entry carries it)."""
    site = config.site

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, tag, attrs)
        element.text = text
        return element

    root = ET.Element("feed", {"xmlns": _ATOM_NS, "xml:lang": site.language})
    sub(root, "title", feed.title)
    if site.description:
        sub(root, "subtitle", site.description)
    sub(root, "id", site.absolute(feed.url))
    sub(root, "link", href=site.absolute(feed.url), rel="self", type="application/atom+xml")
    sub(root, "link", href=site.absolute(feed.alternate), rel="alternate")
    sub(root, "updated", _timestamp(max(post.date for post in posts if post.date)))
    author = sub(root, "author")
    sub(author, "name", site.author or site.title)
    for post in posts:
        entry = sub(root, "entry")
        sub(entry, "title", post.title)
        sub(entry, "id", post.absolute_url)
        sub(entry, "link", href=post.absolute_url, rel="alternate")
        assert post.date is not None  # dated_pages only returns dated pages
        sub(entry, "updated", _timestamp(post.date))
        sub(entry, "published", _timestamp(post.date))
        summary = post.description or post.summary
        if summary:
            sub(entry, "summary", summary)
        sub(entry, "content", entry_html(post), type="html")
    return _xml(root)


def _timestamp(day: dt.date) -> str:
    """RFC 3339 midnight UTC: Atom wants a date-time, the front matter has a date."""
    return f"{day.isoformat()}T00:00:00Z"


def _xml(root: ET.Element) -> bytes:
    """The document, indented; the root carries its namespace as a plain xmlns attribute.

    Serialised as text and encoded once: with ``encoding="utf-8"``, ElementTree writes each
    piece through an encoding text stream, which took 2.5 times as long. The same bytes:
    what UTF-8 cannot encode (a lone surrogate) becomes a character reference either way."""
    ET.indent(root)
    text = f"{_XML_DECLARATION}\n{ET.tostring(root, encoding='unicode')}\n"
    return text.encode("utf-8", "xmlcharrefreplace")


__all__ = ["atom_feed", "extra_files", "feed_files", "robots_txt", "sitemap"]
