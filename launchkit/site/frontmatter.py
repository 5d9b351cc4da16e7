"""A page's front matter, checked: the documented keys typed, near misses refused, the rest kept.

The keys launchkit knows (:data:`SCHEMA`) are validated and converted. A key that is a near
miss of one of them (``drafts``, ``templte``, ``Title``) is an error naming its line and the
key meant: a typo must not publish a draft or drop a template. Every other key (``author``,
``images``, a theme's own fields, Hugo's and Jekyll's standard keys) is kept as page data for
templates, ``page.params`` (like Hugo's ``.Params``; a ``params:`` mapping is merged in), so
imported content builds unchanged.

Every problem of a page is reported at once (:class:`launchkit.errors.SiteErrors`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from ..errors import SiteError, raise_all

_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$")
# Hugo's 'url:': a path on the site, each part of URL-safe characters, no '.' or '..' part,
# and none of the build's own names ('.launchkit-build', '.launchkit-staging': a page there
# would replace the output's marker or be removed with the staged files, launchkit.site.publish).
_SITE_PATH = re.compile(r"^/(?:(?!\.{1,2}(?:/|$)|\.launchkit)[A-Za-z0-9._~%+-]+/?)*$")
# Close enough to a known key to be a typo of it (difflib's ratio; 'drafts' -> 'draft' is 0.91),
# and at most this many letters longer or shorter ('og_description' is a key of its own).
_NEAR_MISS_RATIO = 0.8
_NEAR_MISS_LENGTH = 2
# Jekyll's post file names: 2013-05-06-jekyll-1-0-0-released.markdown
_DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-")
_TOML_PLACE = re.compile(r"\s*\(at (?:line (\d+), column \d+|end of document)\)")


class _Invalid(Exception):
    """A value of the wrong kind: the message and hint of the error at its key's line."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def _text(key: str, value: Any) -> str:
    # Numbers are text a marketer typed without quotes ('title: 2026'); lists and booleans are not.
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise _Invalid(f"'{key}' must be text, got {value!r}", "write it on one line, quoted")
    return str(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(f"'{key}' must be true or false, got {value!r}", "write true or false")
    return value


def _whole_number(key: str, value: Any) -> int:
    # bool is a subclass of int: 'menu_order: true' is a mistake, not 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Invalid(f"'{key}' must be a whole number, got {value!r}", "write a number: 10")
    return value


def _texts(key: str, value: Any) -> tuple[str, ...]:
    """A list of text; one text alone is a list of one (``tags: release``)."""
    items = value if isinstance(value, list) else [value]
    try:
        return tuple(_text(key, item) for item in items)
    except _Invalid:
        raise _Invalid(
            f"'{key}' must be a list of text, got {value!r}", "write it as [first, second]"
        ) from None


def _mapping(key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(name, str) for name in value):
        raise _Invalid(
            f"'{key}' must be 'name: value' lines indented under it, got {value!r}",
            f"write '{key}:' alone on its line and '  name: value' lines under it",
        )
    return value


def _text_matching(pattern: re.Pattern[str], what: str, hint: str) -> Callable[[str, Any], str]:
    """A check for text that must match ``pattern`` (``what`` says in words what it takes)."""

    def check(key: str, value: Any) -> str:
        text = _text(key, value)
        if not pattern.match(text):
            raise _Invalid(f"'{key}' must be {what}, got {text!r}", hint)
        return text

    return check


def _menu_label(key: str, value: Any) -> str:
    if isinstance(value, dict | list):
        raise _Invalid(
            f"'{key}' must be the label of the page in the navigation, got {value!r}",
            "write 'menu: Label' and 'menu_order: 10' (Hugo's menu mappings are not used)",
        )
    return _text(key, value)


def _moment(key: str, value: Any) -> dt.datetime:
    """A date or date and time, as YAML gives it or as quoted text; see :func:`parse_moment`."""
    moment = parse_moment(value)
    if moment is None:
        raise _Invalid(
            f"'{key}' must be a date like 2026-11-02 or 2026-11-02T09:30:00+01:00, got {value!r}",
            "write an ISO 8601 date: year-month-day, optionally a time and a time zone",
        )
    return moment


def parse_moment(value: Any) -> dt.datetime | None:
    """A front matter date as an aware datetime, in the time zone it was written in.

    Takes what YAML made of an unquoted value (a date, a datetime) and ISO 8601 text, so that
    quoted and unquoted values are the same date: ``2019-12-10``, ``'2019-12-10T07:00:00.000Z'``,
    ``2019-12-10 07:00:00 +0100`` (Jekyll's form). A date alone, or a time without a zone,
    is taken as UTC. None when ``value`` is no date.
    """
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def date_in_file_name(relative: PurePath) -> dt.datetime | None:
    """The date a Jekyll post's file name starts with (a bundle's folder name for its
    ``index.md``), as :func:`parse_moment` gives it; None when there is none."""
    name = relative.parent.name if relative.stem in ("index", "_index") else relative.stem
    match = _DATED_NAME.match(name)
    return parse_moment(match[1]) if match else None


# The keys launchkit knows, each with the check that types its value. docs/templates.md and
# docs/migrating.md describe them.
SCHEMA: dict[str, Callable[[str, Any], Any]] = {
    "title": _text,
    "description": _text,
    "template": _text_matching(
        _TEMPLATE_NAME, "a template name", "a file of templates/ without '.html': 'template: page'"
    ),
    "draft": _flag,
    "published": _flag,  # Jekyll's 'published: false': a draft
    "date": _moment,
    "lastmod": _moment,
    "slug": _text_matching(
        _SLUG,
        "letters, digits, '.', '-' or '_' (no '/')",
        "the last part of the URL only: 'slug: spring-sale'",
    ),
    # Hugo's: the page's URL, over [permalinks] and 'slug' (launchkit.site.permalinks).
    "url": _text_matching(
        _SITE_PATH,
        "a path on the site such as /blog/2021/11/launch/",
        "start it with '/'; letters, digits and '.', '_', '-', '~', '%', '+' between the '/' "
        "(no part named '.launchkit…': the build's own)",
    ),
    "menu": _menu_label,
    "menu_order": _whole_number,
    "image": _text,
    "noindex": _flag,
    "aliases": _texts,
    "tags": _texts,
    "categories": _texts,
    # Jekyll's one-value forms: 'category: release' is 'categories: [release]'.
    "tag": _texts,
    "category": _texts,
    "summary": _text,
    "params": _mapping,
}
# Keys of Hugo and Jekyll kept as page data and never taken for a typo of a known key
# ('images' is Hugo's list of social images, not a misspelt 'image'). Compared in lower case.
FOREIGN_KEYS = frozenset(
    {
        *("images", "author", "authors", "keywords", "weight", "type", "layout"),
        *("linktitle", "publishdate", "expirydate", "outputs", "resources", "cascade"),
        *("headless", "build", "markup", "translationkey", "series", "toc", "sitemap"),
        *("excerpt", "excerpt_separator", "permalink", "redirect_from"),
        *("last_modified_at", "comments", "subtitle", "lang", "iscjklanguage"),
    }
)


@dataclass(frozen=True)
class FrontMatter:
    """The checked front matter of one page; None or empty where a key was left out."""

    title: str
    description: str = ""
    template: str | None = None
    draft: bool = False
    date: dt.datetime | None = None
    lastmod: dt.datetime | None = None
    slug: str | None = None
    url: str | None = None
    menu: str | None = None
    menu_order: int | None = None
    image: str = ""
    noindex: bool = False
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    summary: str = ""
    params: dict[str, Any] = field(default_factory=dict)


def load_yaml(text: str) -> Any:
    """Front matter YAML, parsed safely; an impossible unquoted date (``2026-13-01``) is kept
    as text, so that its key's check reports it at its line as it does a quoted one."""
    loader = _yaml_loader()(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def warm_up() -> None:
    """Import and set up the YAML loader now (:meth:`.context.BuildContext.warm_up`)."""
    _yaml_loader()


@functools.cache
def _yaml_loader() -> type:
    # Imported here: a rebuild that finds every page in the cache parses no YAML at all.
    import yaml

    # The C loader is ~6x faster; the pure-Python one behaves the same where libyaml is missing.
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc,valid-type]
        """The safe loader, with dates that do not exist left as text."""

    def timestamp(loader: Any, node: Any) -> Any:
        try:
            return base.construct_yaml_timestamp(loader, node)
        except ValueError:
            return loader.construct_scalar(node)

    Loader.add_constructor("tag:yaml.org,2002:timestamp", timestamp)
    return Loader


def load_toml(text: str, shown: str) -> dict[str, Any]:
    """Hugo's TOML front matter (between ``+++`` lines); an error names its line in the page."""
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        place = _TOML_PLACE.search(str(exc))
        line = int(place[1]) + 1 if place is not None and place[1] else 1  # +1: the '+++'
        raise SiteError(
            f"front matter is not valid TOML: {_TOML_PLACE.sub('', str(exc))}",
            shown,
            line,
            hint='write each field as key = value, text in quotes: title = "Launch day"',
        ) from None


class KeyLocator:
    """Finds the line of a front matter key, so that an error about it points at it."""

    def __init__(self, shown: str, front_text: str) -> None:
        self.shown = shown
        self.lines = front_text.splitlines()

    def line(self, key: str) -> int:
        pattern = re.compile(rf"^\s*['\"]?{re.escape(key)}['\"]?\s*[:=]")  # YAML or TOML
        for number, text in enumerate(self.lines, start=2):
            if pattern.match(text):
                return number
        return 1

    def error(self, key: str, message: str, hint: str | None = None) -> SiteError:
        return SiteError(message, self.shown, self.line(key), hint)


def check_front_matter(front: dict[Any, Any], front_text: str, shown: str) -> FrontMatter:
    """The typed front matter of the page ``shown``; raise every problem it has at once.

    ``front`` is the parsed YAML, ``front_text`` the YAML as written (for line numbers).
    """
    locate = KeyLocator(shown, front_text)
    errors: list[SiteError] = []
    failed: set[str] = set()  # known keys already reported
    values: dict[str, Any] = {}
    params: dict[str, Any] = {}
    for key, value in front.items():
        name = str(key)
        check = SCHEMA.get(name)
        if check is None:
            meant = known_key_meant(name)
            if meant is not None and (name.lower() == meant or _takes(meant, value)):
                failed.add(meant)  # 'Title: x' is no missing title too
                errors.append(_near_miss(locate, name, meant))
            else:
                params[name] = value
        elif value is not None:  # 'description:' with nothing after it: left out
            try:
                values[name] = check(name, value)
            except _Invalid as exc:
                failed.add(name)
                errors.append(locate.error(name, exc.message, exc.hint))
    if not values.get("title", "").strip() and "title" not in failed:
        errors.append(
            locate.error(
                "title",
                "missing 'title' in front matter",
                hint="add a line 'title: Your page title' between the '---' lines",
            )
        )
    raise_all(errors)
    published = values.pop("published", True)
    values["draft"] = values.get("draft", False) or not published
    values["params"] = {**params, **values.get("params", {})}
    for one, many in (("tag", "tags"), ("category", "categories")):
        values[many] = tuple(dict.fromkeys((*values.get(many, ()), *values.pop(one, ()))))
    return FrontMatter(**values)


def known_key_meant(key: str) -> str | None:
    """The known key that ``key`` is a near miss of ('drafts' -> 'draft'), or None."""
    lower = key.lower()
    if lower in SCHEMA:
        return lower  # only a case difference: 'Title'
    if lower in FOREIGN_KEYS or lower.startswith("_"):
        return None
    candidates = [name for name in SCHEMA if abs(len(name) - len(lower)) <= _NEAR_MISS_LENGTH]
    close = difflib.get_close_matches(lower, candidates, n=1, cutoff=_NEAR_MISS_RATIO)
    return close[0] if close else None


def _takes(key: str, value: Any) -> bool:
    """Whether known ``key`` takes ``value``: only then is a near miss of it taken for a typo.
    A value it cannot take is a field of the author's own (Hugo's docs mark glossary terms
    'alias: true', beside 'aliases', a list of URLs); a template that reads none of it is
    noted, as for any field of their own."""
    if value is None:
        return True
    try:
        SCHEMA[key](key, value)
    except _Invalid:
        return False
    return True


def _near_miss(locate: KeyLocator, key: str, meant: str) -> SiteError:
    if key.lower() == meant:
        hint = f"front matter keys are lower case: write '{meant}'"
    else:
        hint = (
            f"rename it to '{meant}'; a field of your own for templates needs a name further "
            "from launchkit's keys, or goes under 'params:'"
        )
    return locate.error(key, f"`{key}`: did you mean `{meant}`?", hint)


__all__ = [
    "FOREIGN_KEYS",
    "SCHEMA",
    "FrontMatter",
    "KeyLocator",
    "check_front_matter",
    "date_in_file_name",
    "known_key_meant",
    "load_toml",
    "load_yaml",
    "parse_moment",
    "warm_up",
]
