"""Permalink patterns: a section's pages at URLs made of their date, slug, title (Hugo's).

``site.toml``::

    [permalinks]
    blog = "/blog/:year/:month/:slug/"

gives ``content/blog/2024/launch/index.md`` (dated 2024-03-05, no ``slug:``, titled
"Launch day!") the URL ``/blog/2024/03/launch-day/``. The tokens (validated when the config
is read, :data:`launchkit.config.PERMALINK_TOKENS`) are Hugo's: ``:year`` ``:month`` ``:day``
(of ``date``, as written), ``:slug`` (``slug:``, else the title), ``:title``, ``:section``,
``:filename`` (a bundle's folder name for its ``index.md``) and ``:slugorfilename``. Text
becomes a URL part as Hugo's ``urlize`` makes it: lower case, spaces as ``-``, only letters,
digits, ``.``, ``_`` and ``-``. A section's own page (``_index.md``) keeps its folder's URL.

A page's own ``url:`` (Hugo's front matter key) places it over any pattern and ``slug``:
:func:`fixed_url`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import PurePath

from ..errors import SiteError

_TOKEN = re.compile(r":([A-Za-z_]+)")
_INDEX_NAMES = ("index", "_index")
_DATE_TOKENS = ("year", "month", "day")


def permalink(
    pattern: str,
    relative: PurePath,
    *,
    section: str,
    title: str,
    slug: str | None,
    date: dt.datetime | None,
    shown: str,
) -> str:
    """The URL ``pattern`` gives the page at ``relative`` (inside ``content/``), ending in ``/``.

    A pattern with a date token needs the page's ``date``: an error at ``shown`` otherwise.
    """
    filename = relative.stem
    if filename in _INDEX_NAMES and len(relative.parts) > 1:
        filename = relative.parent.name  # a bundle: its folder names it

    if date is None and any(f":{token}" in pattern for token in _DATE_TOKENS):
        raise SiteError(
            f"the permalink pattern {pattern!r} of section '{section}' needs a date",
            shown,
            1,
            hint="add 'date: YYYY-MM-DD' to the front matter",
        )
    values = {
        "section": section,
        "filename": filename,
        "title": urlize(title),
        "slug": urlize(slug or title),
        "slugorfilename": urlize(slug) if slug else filename,
    }
    if date is not None:
        values.update(year=f"{date.year:04d}", month=f"{date.month:02d}", day=f"{date.day:02d}")
    path = _TOKEN.sub(lambda match: values[match[1]], pattern)
    path = re.sub(r"/{2,}", "/", path)  # an empty part (a title of symbols only)
    return path if path.endswith("/") else path + "/"


def fixed_url(path: str) -> tuple[str, str]:
    """The URL and output path of a page whose front matter says its ``url`` (a path on the
    site, checked by :mod:`.frontmatter`), as Hugo publishes it: ``/blog/2021/11/audit`` ->
    ``/blog/2021/11/audit/`` in ``blog/2021/11/audit/index.html``; ``/old.html`` -> that
    file; ``/`` -> the home page."""
    folder = path.rstrip("/")
    if not folder:
        return "/", "index.html"
    if folder.lower().endswith((".html", ".htm")):
        return folder, folder.lstrip("/")
    return f"{folder}/", f"{folder.lstrip('/')}/index.html"


def urlize(text: str) -> str:
    """``text`` as a part of a URL, as Hugo's ``urlize``: "Slow Cooker: Load testing" ->
    "slow-cooker-load-testing"."""
    kept = []
    for char in unicodedata.normalize("NFC", text.strip()):
        if char.isspace():
            kept.append("-")
        elif char.isalnum() or char in "._-" or unicodedata.category(char).startswith("M"):
            kept.append(char)
    return "".join(kept).lower()


__all__ = ["fixed_url", "permalink", "urlize"]
