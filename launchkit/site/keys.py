"""Every ingredient of every cache key, in one place.

A cached result may be reused only when everything it was made from is the same. What that
is, per kind of result:

============  =====================================================================
pages         the file's size and mtime (CLI) or "not reported changed" (preview), the
              code of :mod:`~launchkit.site.content` with what it imports, PyYAML's
              version, the ``[site]`` table (absolute URLs, default image) and the root
bodies        the body's text and first line, the code of :mod:`~launchkit.site.markup`,
              the versions of Python-Markdown and of every configured extension's
              distribution (:data:`launchkit.site.markup.EXTENSIONS`)
documents     the identities of :meth:`Identities.needs`: the page, its templates' code
              (:mod:`~launchkit.site.compiled`: a comment changes none), the
              config tables its templates read, navigation, listings, buy forms, code;
              a list page also needs ``list:<page>``: what it shows of the pages it lists
files         (sitemap, robots) their own bytes: cheap to make, compared on write; a feed
              its :meth:`Identities.feed_value`, and its published file's size and mtime
links         each page's document, every output path and id, the link checker's code,
              the config, the working folder (warnings name files relative to it); a
              page with warnings also the templates (a warning may name a line of one)
site plan     (:mod:`~launchkit.site.siteplan`) :func:`plan_key` (config, endpoint, every
              step's code, publishing choices, folders), the files of ``content/``, each
              page's :func:`shape_key`, the clock short of the first future page's date,
              and of the templates only :func:`plan_templates` (not their text)
a build       (:mod:`~launchkit.site.unchanged`) every file of ``content/``,
              ``templates/`` and ``static/`` and the system fonts' folder by size and
              mtime, :func:`build_key` (every step's code, the config, the options, the
              folders), the clock short of the first future page's date, and every
              published file by size and mtime
============  =====================================================================

"Code" is found, not listed: :class:`Codebase` reads the package's own source and follows
its ``import`` statements, so a step's key covers its module and every launchkit module it
imports, and a new module counts as soon as something imports it. The modules that decide
what is reused (the builder and its cache layer) are in every key. Library versions come
from :mod:`importlib.metadata`, named by the steps' own imports.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from ..config import SiteConfig
from .hashing import digest

if TYPE_CHECKING:  # at run time, imported where used: render and content import this module
    from .cache import PageEntry
    from .content import Page
    from .lists import Feed
    from .render import Renderer

PACKAGE = "launchkit"
PACKAGE_DIR = Path(__file__).resolve().parent.parent

# The step modules (whose code keys their own results) and the engine modules that run them.
STEPS = {
    "pages": ("launchkit.site.content",),
    "bodies": ("launchkit.site.markup",),
    "media": ("launchkit.site.media",),
    # List pages and feeds: what they give is data the identities see (a generated page's
    # own, "list:<page>"), so no result is keyed by this step's code.
    "lists": ("launchkit.site.lists",),
    "documents": (
        "launchkit.site.render",
        "launchkit.site.markup",
        "launchkit.site.extras",
        "launchkit.site.media",  # rewrite_document, social_image
        "launchkit.site.aliases",  # the aliases' pages
    ),
    "links": ("launchkit.site.linkcheck",),
}
ENGINE = "launchkit.site.builder"  # with what it imports, less the step modules
# What turns a template into the code Jinja keeps (with the facts written into it): its
# output depends on this closure only, not on the engine or the steps (:mod:`.compiled`).
COMPILER = "launchkit.site.compiled"

# An import statement, from the line break before it (the source is searched with one put
# before its first line): a pattern starting with a literal is tried only where that
# character is, one starting with a multi-line "^" at every character (twice the time).
_IMPORT = re.compile(
    r"\n[ \t]*(?:from[ \t]+(?P<source>\.+[\w.]*|\w[\w.]*)[ \t]+import[ \t]+"
    r"(?P<names>\([^)]*\)|[^\n#]*)|import[ \t]+(?P<modules>[^\n#]*))"
)


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


@dataclass
class Codebase:
    """launchkit's own source as read from ``root`` (the package folder), and its imports.

    ``root`` defaults to the running package. Tests may point it at a copy of the package
    to see a source change go through the real fingerprint.
    """

    root: Path = PACKAGE_DIR
    _sources: dict[str, bytes] = field(default_factory=dict, repr=False)
    # Each module's source hashed once: the steps' fingerprints share most of them (the engine).
    _hashes: dict[str, str] = field(default_factory=dict, repr=False)
    _imports: dict[str, set[str]] = field(default_factory=dict, repr=False)
    _closures: dict[tuple[str, frozenset[str]], frozenset[str]] = field(
        default_factory=dict, repr=False
    )
    _libraries: dict[str, str] = field(default_factory=dict, repr=False)
    _installed: _Installed | None = field(default=None, repr=False)
    _fingerprints: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for path in sorted(self.root.rglob("*.py")):
            relative = path.relative_to(self.root).with_suffix("")
            parts = [PACKAGE, *relative.parts]
            if parts[-1] == "__init__":
                parts.pop()
            self._sources[".".join(parts)] = path.read_bytes()
        for module, source in self._sources.items():
            self._hashes[module] = digest(source)
            self._imports[module] = self._imported(module, source.decode("utf-8"))

    def modules(self) -> list[str]:
        """Every module of the package, by dotted name."""
        return sorted(self._sources)

    def closure(self, module: str, stop: frozenset[str] = frozenset()) -> frozenset[str]:
        """``module`` and every launchkit module it imports, transitively (not through the
        modules in ``stop``, which are keyed on their own)."""
        found = self._closures.get((module, stop))
        if found is None:
            seen: set[str] = set()
            todo = [module]
            while todo:
                name = todo.pop()
                if name not in seen and name in self._sources:
                    seen.add(name)
                    if name not in stop:
                        todo += [i for i in self._imports[name] if i.startswith(PACKAGE)]
            found = self._closures[module, stop] = frozenset(seen)
        return found

    def engine_modules(self) -> frozenset[str]:
        """The builder and what it imports, less the step modules (keyed per step)."""
        steps = {module for modules in STEPS.values() for module in modules}
        reachable: set[str] = set()
        todo = [ENGINE]
        while todo:
            name = todo.pop()
            if name in reachable or name in steps or name not in self._sources:
                continue
            reachable.add(name)
            todo += [i for i in self._imports[name] if i.startswith(PACKAGE)]
        return frozenset(reachable)

    def fingerprint(self, step: str, libraries: Iterable[str] = ()) -> str:
        """The key ingredient "code" of a step: the source of its modules' closures and of
        the engine, and the versions of what they import plus the top-level modules
        ``libraries`` names (Markdown extensions, named in a setting, not imported)."""
        found = self._fingerprints.get((step, tuple(libraries)))
        if found is None:
            engine = self.engine_modules()
            modules = set(engine)
            for module in STEPS[step]:
                modules |= self.closure(module, stop=engine)
            found = self._fingerprints[step, tuple(libraries)] = self._digest(modules, libraries)
        return found

    def module_fingerprint(self, module: str) -> str:
        """The source of ``module``'s closure alone and the versions of what it imports:
        the key of what that code makes by itself (:data:`COMPILER`'s compiled templates)."""
        found = self._fingerprints.get((module, ()))
        if found is None:
            found = self._fingerprints[module, ()] = self._digest(self.closure(module))
        return found

    def _digest(self, modules: Iterable[str], libraries: Iterable[str] = ()) -> str:
        """A hash of ``modules``' names and sources and of the versions :meth:`libraries`
        gives for them (and ``libraries``)."""
        parts = [part for name in sorted(modules) for part in (name, self._hashes[name])]
        return digest(*parts, self.libraries(modules, libraries))

    def libraries(self, modules: Iterable[str], extra: Iterable[str] = ()) -> str:
        """The Python version and the installed versions of the distributions ``modules``
        import (and of the top-level modules ``extra`` names), as one line."""
        names = {name.split(".")[0] for module in modules for name in self._imports[module]}
        names |= set(extra)
        found = {
            version
            for name in sorted(names)
            if not name.startswith(PACKAGE) and (version := self._library(name))
        }
        return f"Python {sys.version}; " + "; ".join(sorted(found))

    def _library(self, name: str) -> str:
        """``distribution version`` for a top-level import name; "" for the standard library."""
        if name in sys.stdlib_module_names or name == "__future__":
            return ""
        known = self._libraries.get(name)
        if known is None:
            if self._installed is None:
                self._installed = _Installed()
            known = self._libraries[name] = self._installed.version(name)
        return known

    def _imported(self, module: str, source: str) -> set[str]:
        """The absolute names of what ``module``'s source imports (anywhere in it)."""
        package = module if self._is_package(module) else module.rpartition(".")[0]
        found: set[str] = set()
        for match in _IMPORT.finditer("\n" + source):
            if match["modules"]:
                for item in match["modules"].split(","):
                    found.add(item.split(" as ")[0].strip())
                continue
            base = _absolute(match["source"], package)
            found.add(base)
            for name in match["names"].strip("()").replace("\n", " ").split(","):
                name = name.split(" as ")[0].strip()
                if name and f"{base}.{name}" in self._sources:
                    found.add(f"{base}.{name}")
        return {name for name in found if _DOTTED.fullmatch(name)}

    def _is_package(self, module: str) -> bool:
        return (self.root / Path(*module.split(".")[1:]) / "__init__.py").is_file()


def _absolute(source: str, package: str) -> str:
    """``from .x import`` inside ``package`` -> ``package.x``."""
    if not source.startswith("."):
        return source
    level = len(source) - len(source.lstrip("."))
    parts = package.split(".")
    base = parts[: len(parts) - level + 1]
    rest = source[level:]
    return ".".join([*base, rest] if rest else base)


class _Installed:
    """The installed distributions, from the names of their ``.dist-info`` folders on
    ``sys.path`` (``pymdown_extensions-13.1.dist-info``): reading each one's METADATA, as
    :func:`importlib.metadata.version` does, was a tenth of a no-change rebuild."""

    def __init__(self) -> None:
        self.folders: dict[str, tuple[str, Path]] = {}  # normalised name: (version, folder)
        self.eggs = False  # whether any distribution is installed the old way (.egg-info)
        for entry in sys.path:
            try:
                names = os.listdir(entry or ".")
            except OSError:
                continue
            for name in sorted(names):
                self.eggs = self.eggs or name.endswith(".egg-info")
                if name.endswith(".dist-info"):
                    project, _, version = name.removesuffix(".dist-info").rpartition("-")
                    key = _normalised(project)
                    if key not in self.folders:  # the first on the path is the one imported
                        self.folders[key] = (version, Path(entry or ".", name))

    def version(self, import_name: str) -> str:
        """``distribution version`` for a top-level import name ("" if none provides it)."""
        found = self.folders.get(_normalised(import_name))
        if found is not None:
            return f"{import_name} {found[0]}"
        # Import names that are not distribution names (yaml: PyYAML, pymdownx:
        # pymdown-extensions): what a distribution's top_level.txt lists, else the first
        # part of the paths its RECORD lists (searched as text).
        for key, (version, folder) in self.folders.items():
            if _provides(folder, import_name):
                return f"{key} {version}"
        return _egg_version(import_name) if self.eggs else ""


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _provides(folder: Path, import_name: str) -> bool:
    """Whether the distribution of a ``.dist-info`` folder installs ``import_name``."""
    try:
        return import_name in (folder / "top_level.txt").read_text(encoding="utf-8").split()
    except OSError:
        pass
    try:
        record = "\n" + (folder / "RECORD").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(f"\n{import_name}{end}" in record for end in ("/", ".py,"))


def _egg_version(import_name: str) -> str:
    """An import name's distribution installed the old way (``.egg-info``), if any."""
    # Imported here only: importing it was a tenth of a no-change rebuild.
    from importlib.metadata import PackageNotFoundError, packages_distributions, version

    try:
        return f"{import_name} {version(import_name)}"
    except PackageNotFoundError:
        pass
    for name in packages_distributions().get(import_name, []):
        return f"{name} {version(name)}"
    return ""


def markdown_extension_modules(extensions: Iterable[str]) -> set[str]:
    """The top-level modules behind Markdown extension names, for their versions.

    ``"toc"`` is Python-Markdown's own; ``"pymdownx.superfences"`` is ``pymdownx``; a name
    registered as an entry point is its distribution's module.
    """
    modules = {"markdown"}
    # Where Python-Markdown's own extensions are, found without importing it (50 ms).
    spec = importlib.util.find_spec("markdown")
    own = Path(spec.origin).parent / "extensions" if spec and spec.origin else None
    for name in extensions:
        if "." in name:
            modules.add(name.split(".")[0].split(":")[0])
        elif own is None or not (own / f"{name}.py").is_file():
            # Not one of Python-Markdown's own: a name a distribution registered.
            from importlib.metadata import entry_points

            for entry in entry_points(group="markdown.extensions", name=name):
                modules.add(entry.value.split(".")[0].split(":")[0])
    return modules


# --- the key ingredients of one build ---------------------------------------------------------


def config_table(config: SiteConfig, table: str) -> str:
    """One table of ``site.toml`` as a string: its identity's value."""
    return msgspec.json.encode(getattr(config, table)).decode()


CONFIG_TABLES = ("site", "rewardful", "checkout", "products", "theme", "permalinks", "params")

# What a template's variable names make its documents need, besides the page itself and its
# templates. A global not listed (one added later) needs everything: "*"; a name that is no
# global is the templates' own (set around an include) or a typo that fails the render.
NAME_NEEDS: dict[str, tuple[str, ...]] = {
    "page": (),
    "site": ("config:site",),
    "rewardful": ("config:rewardful",),
    "products": ("config:products",),
    "config": tuple(f"config:{table}" for table in CONFIG_TABLES),
    "buy_form": ("forms",),
    "theme": ("config:theme", "config:site"),
    "hero_actions": (),
    "balanced_columns": (),
    "nav": ("nav",),
    "footer_links": ("nav",),
    "structured_data": ("nav", "config:products", "config:theme"),
    "feed_url": ("feed_url",),
    "pages": ("listing",),
    "section_pages": ("listing",),
    "social_image": ("social_cards",),
    # Not a global: a list page's own (render_page), needed as the identity list:<page>.
    "paginator": (),
}
# Every document: the code that renders it, the base URL (absolute links), the snippet, the
# published names of the files it refers to and the images it shows (the media step).
EVERY_DOCUMENT = ("code:documents", "config:site", "config:rewardful", "assets")


def markdown_key(code: str, body: str) -> str:
    """The key of a rendered body: two hashes side by side (no need to hash them again)."""
    return markdown_prefix(code) + body


def markdown_prefix(code: str) -> str:
    """What every :func:`markdown_key` of ``code`` starts with, the body's hash following:
    for the keys of every page at once."""
    return f"{code}:"


def body_key(text: str, first_line: int) -> str:
    return digest(str(first_line), text)


def front_key(page: Page) -> str:
    """What a file gave besides its body: its place and front matter."""
    return digest(repr(page))


def shape_key(entry: PageEntry) -> tuple[str, bool, tuple[str, ...]]:
    """What of a page the site plan (:mod:`.siteplan`) is made from: all but its body (its
    :func:`front_key`), whether its body may hold a shortcode and what they use."""
    return entry.front, entry.shortcodes, entry.uses


def plan_key(
    config: SiteConfig, endpoint: str, code: Mapping[str, str], options: object, *folders: str
) -> str:
    """What a site plan is made from besides the pages and the templates (those:
    :func:`plan_templates`): the config, the checkout ``endpoint``, every step's ``code``,
    the publishing choices (``options``; the clock is the plan's own), the project and
    image-cache ``folders`` and the working folder (the link warnings name files relative
    to it)."""
    steps = (code[step] for step in sorted(code))
    return digest(config.fingerprint(), endpoint, *steps, repr(options), *folders, os.getcwd())


def plan_templates(files: Iterable[str], paginates: Mapping[str, bool]) -> str:
    """What a site plan is made from of the templates: which ``files`` ``templates/``
    holds (a taxonomy's pages are built only when its templates are there, and a page's
    template must be one) and, for each template a section's index page uses, whether it
    ``paginates`` (reads ``paginator``: :func:`.lists.make_lists`). Not their text: an
    edit that leaves these as they were keeps the plan, and the documents needing a
    changed template are made again (their ``template:<name>`` identities)."""
    return digest(*sorted(files), repr(sorted(paginates.items())))


def page_key(front: str, body: str) -> str:
    """Everything a file gave (``front``: its :func:`front_key`, ``body``: its body's)."""
    return digest(front, body)


def links_key(
    code: str,
    config: SiteConfig,
    outputs: Iterable[str],
    ids: Mapping[str, str],
    left_out: Mapping[str, str],
    notes: Mapping[str, str],
) -> str:
    """What every page's link warnings are judged against (see :mod:`.linkcheck`): the link
    checker's code, ``[site]`` (whose base URL makes links ours), the working folder
    (warnings name files relative to it), every output path, every page's ids (``ids``:
    their hash by output), the pages left out with why (``left_out``, by URL: a link to one
    says why), and the outputs noted with a warning (``notes``: images published without
    variants). Where a warning is placed also depends on the templates (it may name a line
    of one): :meth:`.cache.BuildCache.pages_to_judge`."""
    return digest(
        code,
        config_table(config, "site"),
        os.getcwd(),
        "\n".join(sorted(outputs)),  # paths of files: no line breaks in them
        "\n".join(f"{output} {ids[output]}" for output in sorted(ids)),
        "\n".join(f"{url} {left_out[url]}" for url in sorted(left_out)),
        "\n".join(f"{output} {notes[output]}" for output in sorted(notes)),
    )


def page_links_key(url: str, links: Iterable[tuple[str, str]]) -> str:
    """A hash of one page document's links (url, text) and of its URL, which relative
    links resolve against: what its link warnings are made from besides :func:`links_key`."""
    return digest(url, repr(tuple(links)))


def build_key(config: SiteConfig, code: Iterable[str], *options: object) -> str:
    """What a whole build is made from besides its files: every step's ``code``, the
    config, the build's ``options`` (publishing rules, endpoint, strictness, output and
    image-cache folders) and the working folder (warnings name files relative to it)."""
    return digest(*code, config.fingerprint(), repr(options), os.getcwd())


def pages_scope(code: str, config: SiteConfig) -> str:
    """What reading a page depends on besides its file: the code, ``[site]`` (absolute
    URLs, the default image), ``[permalinks]`` (URLs) and where the project is."""
    return digest(
        code, config_table(config, "site"), config_table(config, "permalinks"), str(config.root)
    )


class Identities:
    """The value of each identity in this build, computed on first use."""

    def __init__(
        self,
        config: SiteConfig,
        code: Mapping[str, str],
        endpoint: str,
        pages: Sequence[Page],
        entries: Mapping[str, PageEntry],
        renderer: Renderer,
        media: Mapping[str, str] | None = None,
        by_source: Mapping[str, Page] | None = None,
    ) -> None:
        self.config = config
        self.media = dict(media or {})  # the media step's identities: assets, social_cards
        self.code = code
        self.endpoint = endpoint
        self.pages = pages
        self.entries = entries
        self.renderer = renderer
        self._values: dict[str, str] = {}
        self._shapes: dict[tuple[str, bool], tuple[str, ...]] = {}
        # ``pages`` by source (the site plan keeps it: a rebuild then makes none).
        self._pages = by_source if by_source is not None else {p.source: p for p in pages}
        self._listed: dict[str, str] = {}  # listed_value of a page, by source

    def keep(self, known: Mapping[str, str], changed: Iterable[str]) -> None:
        """Take ``known`` (the last build's values) as this build's, but for the identities
        named in ``changed``: the caller knows that nothing else can differ (the site plan,
        :mod:`.siteplan`, after edits of page bodies only)."""
        self._values.update(known)
        for name in changed:
            self._values.pop(name, None)

    def get(self, name: str) -> str:
        value = self._values.get(name)
        if value is None:
            value = self._values[name] = self._compute(name)
        return value

    def _compute(self, name: str) -> str:
        kind, _, rest = name.partition(":")
        if kind == "page":  # what its file gave, and whether the preview marks it as future
            page = self._pages.get(rest)
            if page is None:
                return "gone"
            entry = self._entry(rest)
            return digest(entry.key, "scheduled") if page.scheduled else entry.key
        if kind == "template":
            return self.renderer.dependencies(rest).digest
        if kind == "config":
            return config_table(self.config, rest)
        if kind == "code":
            return self.code[rest]
        if kind == "ref":  # where a {{< ref >}} of a page leads
            source, _, target = rest.partition("|")
            return self.renderer.refs.identity(target, source)
        if kind == "list":
            return self._list_value(rest)
        if name in ("assets", "social_cards"):
            return self.media.get(name, "")
        if name == "forms":
            return digest(
                self.renderer.buy_form_dependencies().digest,
                self.get("config:products"),
                self.get("config:checkout"),
                self.endpoint,
            )
        if name == "listing":
            forms = any(self._entry(page.source).shortcodes for page in self.pages)
            keys = " ".join(self._entry(page.source).key for page in self.pages)
            return digest(keys, self.get("forms") if forms else "")
        from .render import FEED_SECTION, dated_pages

        if name == "nav":  # with the footer links and the breadcrumbs' parent titles
            return repr(self.renderer.site_links(self.pages))
        if name == "feed_url":
            return repr(bool(dated_pages(self.pages, FEED_SECTION)))
        # "*": every identity but the pages' own.
        return digest(
            *(self.get(f"config:{table}") for table in CONFIG_TABLES),
            *(
                self.get(other)
                for other in ("forms", "listing", "nav", "feed_url", "assets", "social_cards")
            ),
        )

    def _entry(self, source: str) -> PageEntry:
        """What the file of the page ``source`` gave (a generated page's own entry)."""
        return self.entries[self._pages[source].path]

    # --- list pages (the lists step): what they show of the pages they list --------------

    def _list_value(self, source: str) -> str:
        """The identity ``list:<source>`` of a list page: its listing (what it lists, in
        which order, its place among its list's pages) and what it shows of each listed
        page (:meth:`listed_value`). A list page is the only one of its source."""
        page = self._pages.get(source)
        listing = page.listing if page is not None else None
        if not listing:  # a list page of the last build this one has not
            return "gone"
        return digest(repr(listing), *(self.listed_value(item) for item in listing.items))

    def listed_value(self, source: str) -> str:
        """What a list shows of one page (:class:`.render.ListItem`): everything its front
        matter says, and its body only when its summary comes from it (no ``summary`` or
        ``description`` of its own), with the buy forms when the body may hold one. An edit
        of a post's body redoes no list page unless the post's summary is its body's."""
        value = self._listed.get(source)
        if value is None:
            entry = self._entry(source)
            page = entry.page
            summary_from_body = not (page.meta.get("summary") or page.description)
            body = entry.body_key if summary_from_body else ""
            forms = self.get("forms") if summary_from_body and entry.shortcodes else ""
            value = self._listed[source] = digest(entry.front, body, forms)
        return value

    def feed_value(self, feed: Feed) -> str:
        """What an Atom feed (:mod:`.extras`) is made from: its place, title and entries,
        the code, ``[site]``, the catalogue (a buy form becomes "Buy <product>"), the
        published names of files, and of each entry what its HTML is filled from: its page,
        and the buy forms and ``ref`` targets its body uses."""
        parts = [repr(feed)]
        parts += [self.get(name) for name in ("code:documents", "config:site", "config:products")]
        parts.append(self.get("assets"))
        for source in feed.entries:
            entry = self._entry(source)
            parts.append(self.get(f"page:{source}"))
            parts.append(self.get("forms") if entry.shortcodes else "")
            parts += [self.get(name) for name in entry.uses]
        return digest(*parts)

    def needs(self, page: Page, entry: PageEntry) -> tuple[str, ...]:
        """The identities the document of ``page`` needs: its page's, then those it shares
        with the pages of the same template (the same tuple, stored once)."""
        shape = self._shapes.get((page.template, entry.shortcodes))
        if shape is None:
            needed = {f"template:{page.template}", *EVERY_DOCUMENT}
            names = self.renderer.env.globals
            for variable in self.renderer.dependencies(page.template).names:
                if variable in NAME_NEEDS:
                    needed.update(NAME_NEEDS[variable])
                elif variable in names:
                    needed.add("*")
                # else: a template's own variable ({% with %} around an include), or a
                # typo that fails the render: nothing from outside the page

            if entry.shortcodes:
                needed.add("forms")
            shape = self._shapes[page.template, entry.shortcodes] = tuple(sorted(needed))
        listed = (f"list:{page.source}",) if page.listing is not None else ()
        return (f"page:{page.source}", *listed, *shape, *entry.uses)


__all__ = [
    "COMPILER",
    "CONFIG_TABLES",
    "EVERY_DOCUMENT",
    "NAME_NEEDS",
    "STEPS",
    "Codebase",
    "Identities",
    "body_key",
    "build_key",
    "config_table",
    "digest",
    "front_key",
    "links_key",
    "markdown_extension_modules",
    "markdown_key",
    "markdown_prefix",
    "page_key",
    "page_links_key",
    "pages_scope",
    "plan_key",
    "plan_templates",
    "shape_key",
]
