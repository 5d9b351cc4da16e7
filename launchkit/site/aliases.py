"""Aliases: the old URLs of a page, each a small page that sends visitors on (Hugo's ``aliases``).

A page that moved keeps its old links working::

    aliases:
      - /2019/02/01/debugging-ruby/      # a path on the site
      - /old-pricing.html                # a file name: published as that file
      - launch-notes                     # beside the page's file: /blog/launch-notes/

Each alias is a :class:`~launchkit.site.content.Page` of the template ``alias`` (made here,
before the documents step, so its document is cached like any other): it says where the
page went with ``<meta http-equiv="refresh">``, a canonical link, ``noindex`` and a visible
link, and carries Rewardful's snippet. The query string (an affiliate's ``?via=``) follows the
visitor to the page. An alias that is another page's URL, or another alias, is an error at
the line of the ``aliases:`` key.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Sequence
from urllib.parse import urlsplit

from ..config import SiteConfig
from ..errors import SiteError
from .content import Page, display_path
from .theme import front_matter_line

ALIAS_TEMPLATE = "alias"
_FILE_SUFFIXES = (".html", ".htm")


def alias_pages(config: SiteConfig, pages: Sequence[Page]) -> tuple[list[Page], list[SiteError]]:
    """The redirect pages of every alias of ``pages``, and an error for each alias that is
    unusable or claims a URL already taken (by a page, or by an earlier alias)."""
    taken = {page.output: page for page in pages}
    made: list[Page] = []
    errors: list[SiteError] = []
    content = config.content_dir.relative_to(config.root).as_posix() + "/"
    for page in pages:
        for alias in page.aliases:
            try:
                url, output = alias_url(alias, _folder(page.source.removeprefix(content)))
            except ValueError as exc:
                errors.append(_error(page, str(exc), "remove it from 'aliases'"))
                continue
            other = taken.get(output)
            if other is not None:
                errors.append(_collision(page, alias, other))
                continue
            redirect = dataclasses.replace(
                page,
                url=url,
                absolute_url=config.site.absolute(url),
                output=output,
                template=ALIAS_TEMPLATE,
                menu=None,
                redirect_to=page.url,
            )
            taken[output] = redirect
            made.append(redirect)
    return made, errors


def alias_url(alias: str, folder: str) -> tuple[str, str]:
    """The URL and output path of an alias of a page whose file is in ``folder`` (of
    ``content/``, as :func:`_folder` gives it).

    ``/old/`` and ``/old`` -> ``old/index.html``; ``/old.html`` -> ``old.html``; a relative
    alias is taken from the folder, as Hugo does (``old`` of ``blog/new.md`` ->
    ``/blog/old/``, ``../old`` -> ``/old/``). Raises ValueError for what cannot be a path
    on this site.
    """
    parts = urlsplit(alias)
    if parts.scheme or parts.netloc or parts.query or parts.fragment or "\\" in alias:
        raise ValueError(
            f"alias {alias!r} is not a path on this site: write a path such as /old-url/"
        )
    normal = posixpath.normpath(posixpath.join("/", folder, alias))
    if normal == "/":
        raise ValueError(f"alias {alias!r} is the home page: it cannot redirect")
    if normal.lower().endswith(_FILE_SUFFIXES):
        return normal, normal.lstrip("/")
    return f"{normal}/", f"{normal.lstrip('/')}/index.html"


def _folder(relative: str) -> str:
    """The folder of a page's file inside ``content/`` (``blog/new.md`` -> ``blog``); a
    bundle's is the one holding the bundle (``blog/new/index.md`` -> ``blog``)."""
    folder, _, name = relative.rpartition("/")
    if name.rpartition(".")[0] in ("index", "_index"):
        folder = folder.rpartition("/")[0]
    return folder


def _collision(page: Page, alias: str, other: Page) -> SiteError:
    """The error for an alias whose URL ``other`` (a page or an alias's page) has."""
    if other.redirect_to:
        return _error(
            page,
            f"alias {alias!r} is an alias of {other.source} too",
            "keep it in one page's 'aliases' only",
        )
    if other.source == page.source:
        return _error(page, f"alias {alias!r} is its own URL", "remove it from 'aliases'")
    return _error(
        page,
        f"alias {alias!r} is the URL of {other.source}",
        "remove it from 'aliases', or give the other page another URL",
    )


def _error(page: Page, message: str, hint: str) -> SiteError:
    return SiteError(message, display_path(page.path), front_matter_line(page, "aliases"), hint)


__all__ = ["ALIAS_TEMPLATE", "alias_pages", "alias_url"]
