"""Hugo's ``ref``, ``relref`` and ``param`` shortcodes, built in.

    [the launch post]({{< relref "blog/launch.md" >}})        -> /blog/launch/
    [plans]({{< ref "pricing#plans" >}})                       -> https://beacon.example/pricing/#plans
    Support answers within {{< param support_hours >}}.       -> the page's, else [params]

A target is a file under ``content/``, with or without ``.md``, a bundle's folder, or a
section; a path without a leading ``/`` is looked for beside the page first, then from
``content/``, then as a file name found once on the whole site (as Hugo does). ``#anchor``
alone is the page itself. An unknown target is an error naming the page's line and the
closest page.

What a page's document then depends on is read from its text (:func:`shortcode_needs`):
``ref:<page>|<target>`` for each target (the identity's value is the URL it resolves to, so
that renaming or moving the target page renders the referring page again), and
``config:params`` for ``param``. Nothing else can reach the URL map: no template sees it.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from ..config import SiteConfig
from ..errors import SiteError
from .shortcodes import Shortcode, ShortcodeCall

BUILTIN_SHORTCODES = frozenset({"ref", "relref", "param"})
_SUFFIXES = (".md", ".markdown")
_INDEX_NAMES = ("index", "_index")


@dataclass(frozen=True)
class PageRefs:
    """Every page read (published or not: a link to a draft is a link checker's warning,
    with why), by the path ``ref`` names it with: ``blog/launch`` -> (URL, source)."""

    pages: Mapping[str, tuple[str, str]]
    content_prefix: str  # "content/": what page sources start with

    @classmethod
    def of(cls, config: SiteConfig, pages: Iterable[Any]) -> PageRefs:
        prefix = config.content_dir.relative_to(config.root).as_posix() + "/"
        found = {}
        for page in sorted(pages, key=lambda page: page.source):
            found.setdefault(_key(page.source.removeprefix(prefix)), (page.url, page.source))
        return cls(found, prefix)

    def url(self, target: str, source: str) -> str:
        """The root-relative URL of ``target`` (``#anchor`` kept) as the page ``source``
        names it; raises LookupError with the closest page's name."""
        path, hash_, anchor = target.partition("#")
        if not path.strip():
            key = _key(source.removeprefix(self.content_prefix))
        else:
            key = self._find(path.strip(), source)
        return self.pages[key][0] + (f"#{anchor}" if hash_ else "")

    def _find(self, path: str, source: str) -> str:
        wanted = _key(path)
        candidates = [wanted]
        if not path.startswith("/"):
            folder = posixpath.dirname(source.removeprefix(self.content_prefix))
            candidates.insert(0, _key(posixpath.join(folder, path)))
        for key in candidates:
            if key in self.pages:
                return key
        if "/" not in wanted:  # a file name: found once on the whole site
            named = [key for key in self.pages if key.rpartition("/")[2] == wanted]
            if len(named) == 1:
                return named[0]
            if named:
                listed = ", ".join(self.pages[key][1] for key in named)
                raise LookupError(f"'{path}' names several pages ({listed}): write the path")
        close = difflib.get_close_matches(wanted, list(self.pages), n=1, cutoff=0.5)
        meant = f"did you mean '{self.pages[close[0]][1]}'? " if close else ""
        raise LookupError(f"{meant}a target is a file under {self.content_prefix}")

    def identity(self, target: str, source: str) -> str:
        """The value of ``ref:<source>|<target>``: the URL it resolves to, or why not."""
        try:
            return self.url(target.partition("#")[0], source)
        except LookupError as exc:
            return f"unknown: {exc}"


def shortcode_needs(shortcodes: Iterable[Shortcode], source: str) -> tuple[str, ...]:
    """The identities the built-in shortcodes of a page's body add to its document's needs."""
    needs = set()
    for shortcode in shortcodes:
        if shortcode.name in ("ref", "relref") and shortcode.args:
            needs.add(f"ref:{source}|{shortcode.args[0].partition('#')[0]}")
        elif shortcode.name in ("ref", "relref"):
            needs.add(f"ref:{source}|{dict(shortcode.params).get('path', '')}")
        elif shortcode.name == "param":
            needs.add("config:params")
    return tuple(sorted(needs))


def render_builtin(call: ShortcodeCall, refs: PageRefs, config: SiteConfig) -> str:
    """The HTML of a built-in shortcode (HTML-escaped: it may sit in an ``href``)."""
    if call.name == "param":
        return str(escape(_param(call, config)))
    target = call.get(0, call.get("path"))
    if not target:
        call.error(
            f"{{{{< {call.name} >}}}} needs a target",
            hint=f'{{{{< {call.name} "blog/post.md" >}}}}',
        )
    try:
        url = refs.url(target, call.source)
    except LookupError as exc:
        call.error(f"{call.name} target '{target}' is no page", hint=str(exc))
    return str(escape(config.site.absolute(url) if call.name == "ref" else url))


def _param(call: ShortcodeCall, config: SiteConfig) -> str:
    """A value of the page's front matter (its own keys, then the documented ones), else of
    ``[params]`` in site.toml; dotted names reach into tables (``social.twitter``)."""
    name = call.get(0, call.get("name"))
    if not name:
        call.error("{{< param >}} needs a name", hint="{{< param support_hours >}}")
    page = call.page
    for values in (page.params, page.meta, config.params):
        found = _dotted(values, name)
        if found is not None:
            return found if isinstance(found, str) else _text(found)
    raise SiteError(
        f"no param '{name}' in the page's front matter or in [params] of site.toml",
        call.source,
        call.line,
        hint=f"add '{name}: …' to the front matter, or {name} = … under [params] in site.toml",
    )


def _dotted(values: Mapping[str, Any], name: str) -> Any:
    found: Any = values
    for part in name.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part, found.get(part.lower()))
    return found


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(_text(item) for item in value)
    return str(value)


def _key(path: str) -> str:
    """A page's path as targets name it: ``Blog/Launch/index.md`` -> ``blog/launch``."""
    normal = posixpath.normpath("/" + path.strip()).strip("/").lower()
    for suffix in _SUFFIXES:
        normal = normal.removesuffix(suffix)
    head, _, last = normal.rpartition("/")
    return head if last in _INDEX_NAMES else normal


__all__ = ["BUILTIN_SHORTCODES", "PageRefs", "render_builtin", "shortcode_needs"]
