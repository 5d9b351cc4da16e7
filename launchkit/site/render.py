"""Jinja2 templates to HTML documents, with Rewardful's snippet enforced on every page.

What every template can use is documented in ``docs/templates.md``; this module is the one
place that provides it. Template problems (syntax, an undefined name, a missing include)
become a :class:`SiteError` naming the template file and line, and the page being rendered.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from markupsafe import Markup

from ..config import SiteConfig
from ..errors import SiteError
from .compiled import (
    JINJA_GLOBALS,
    FactsEnvironment,
    TemplateFacts,
    bytecode_cache,
    compiled_folder,
)
from .content import Listing, Page, display_path, term_url, walk_files
from .keys import digest
from .markup import RenderedMarkdown, expand_shortcodes
from .refs import BUILTIN_SHORTCODES, PageRefs, render_builtin
from .shortcodes import ShortcodeCall
from .structured_data import StructuredData, parent_titles
from .template_usage import used_keys
from .theme import NavItem, Theme, front_matter_line

SNIPPET_TEMPLATE = "partials/rewardful.html"
SHORTCODES_FOLDER = "shortcodes/"  # templates/shortcodes/NAME.html: {{< NAME … >}}
BUY_FORM_TEMPLATE = "partials/buy_form.html"
FEED_URL = "/blog/feed.xml"
FEED_SECTION = "blog"

_P = TypeVar("_P", Page, "ListedPage")
# What every page may show of the others (Renderer.site_links): the navigation, the footer
# links, the titles of the pages above others.
SiteLinks = tuple[list[NavItem], list[NavItem], dict[str, str]]

# English month names, independent of the build machine's locale (byte-identical output).
_MONTHS = (
    *("January", "February", "March", "April", "May", "June"),
    *("July", "August", "September", "October", "November", "December"),
)


def format_date(value: dt.date) -> str:
    """A date as "November 2, 2026"."""
    return f"{_MONTHS[value.month - 1]} {value.day}, {value.year}"


def navigation(pages: Sequence[Page]) -> list[NavItem]:
    """The pages with a ``menu`` label, lowest ``menu_order`` first, unordered ones last."""
    in_menu = [page for page in pages if page.menu]
    in_menu.sort(
        key=lambda page: (page.menu_order is None, page.menu_order or 0, page.menu or "", page.url)
    )
    return [NavItem(page.menu or "", page.url) for page in in_menu]


def dated_pages(pages: Sequence[_P], section: str) -> list[_P]:
    """The dated pages of a section, newest first (the section's index page is undated)."""
    return newest_first([page for page in pages if page.section == section])


def newest_first(pages: Sequence[_P]) -> list[_P]:
    """The dated ones of ``pages``, newest first, by URL among those of one date."""
    dated = [page for page in pages if page.date is not None]
    dated.sort(key=lambda page: page.url)
    dated.sort(key=lambda page: page.date, reverse=True)
    return dated


class ListedPage:
    """A page as ``pages`` and ``section_pages()`` show it to templates: its attributes,
    with its HTML made only if a template reads ``content`` or ``toc``."""

    __slots__ = ("_fill", "_filled", "_page")

    def __init__(self, page: Page, fill: Callable[[Page], Page]) -> None:
        self._page = page
        self._fill = fill
        self._filled: Page | None = None

    def __eq__(self, other: object) -> bool:
        """The same page as ``other`` (a listed or a rendered one): templates compare them."""
        if isinstance(other, ListedPage | Page):
            return self.source == other.source
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._page.source)

    def __getattr__(self, name: str) -> Any:
        if name in ("content", "toc", "summary"):  # the summary is made from the content
            return getattr(self._filled_page(), name)
        return getattr(self._page, name)

    def _filled_page(self) -> Page:
        if self._filled is None:
            self._filled = self._fill(self._page)
        return self._filled


class ListItem(ListedPage):
    """A page as a list page (``paginator.pages``) shows it: everything its front matter
    says, and its ``summary``: front matter ``summary``, else its ``description``, else the
    text above ``<!--more-->`` or its first paragraph. Not its ``content`` or ``toc``: a
    list page is made again when a listed page's summary changes, not its whole text
    (the identity ``list:<page>``, :class:`.keys.Identities`).

    Only the summary is kept, not the page with its HTML: a process rendering the lists
    shows every post, and would otherwise end up holding the whole site's HTML."""

    __slots__ = ("_summary",)

    def __init__(self, page: Page, fill: Callable[[Page], Page]) -> None:
        super().__init__(page, fill)
        self._summary: str | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "summary":
            if self._summary is None:
                page = self._page
                own = str(page.meta.get("summary") or "") or page.description
                self._summary = own or self._fill(page).summary
            return self._summary
        if name in ("content", "toc"):
            raise SiteError(
                f"a list shows a page's summary, not its {name} ({self._page.source})",
                hint="use post.summary (front matter 'summary', else 'description', else "
                "the text above <!--more--> or the first paragraph)",
            )
        return super().__getattr__(name)


class ListedPages(Sequence[ListedPage]):
    """The template global ``pages``: every published page as a :class:`ListedPage`, each
    wrapped when a template first reaches it (and then kept for this build)."""

    def __init__(self, pages: Sequence[Page], fill: Callable[[Page], Page]) -> None:
        self._pages = pages
        self._fill = fill
        self._listed: dict[int, ListedPage] = {}

    def __len__(self) -> int:
        return len(self._pages)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[number] for number in range(*index.indices(len(self._pages)))]
        number = range(len(self._pages))[index]  # a negative index counts from the end
        listed = self._listed.get(number)
        if listed is None:
            listed = self._listed[number] = ListedPage(self._pages[number], self._fill)
        return listed

    def __iter__(self) -> Iterator[ListedPage]:
        return (self[number] for number in range(len(self._pages)))

    def __add__(self, other: object) -> list:
        """``pages + other``, as for the list this once was."""
        return [*self, *other] if isinstance(other, list | ListedPages) else NotImplemented

    def __radd__(self, other: object) -> list:
        return [*other, *self] if isinstance(other, list) else NotImplemented


class _ListItems(dict[str, ListItem]):
    """Each page as list pages show it (:class:`ListItem`), by source: made when a list
    page first shows it, once per build (lists showing the same post share its summary)."""

    def __init__(self, pages: Sequence[Page], fill: Callable[[Page], Page]) -> None:
        super().__init__()
        self._pages = pages
        self._fill = fill
        self._by_source: dict[str, Page] | None = None

    def __missing__(self, source: str) -> ListItem:
        if self._by_source is None:
            self._by_source = {page.source: page for page in self._pages}
        item = self[source] = ListItem(self._by_source[source], self._fill)
        return item


class Paginator:
    """What a list page's template sees as ``paginator`` (Hugo's names where it has one).

    ``pages``: the pages listed on this page (:class:`ListItem`); ``page_number`` and
    ``total_pages``; ``first``, ``last``, ``prev``, ``next``: URLs (``prev``/``next`` None
    at the ends); ``pagers``: (number, URL) of every page; ``total_items``; ``feed_url``;
    ``term``: the tag or category of a term's pages; ``terms``: a taxonomy index's terms.
    """

    def __init__(self, listing: Listing, pages: dict[str, ListItem]) -> None:
        self.pages = [pages[source] for source in listing.items]
        self.page_number = listing.number
        self.total_pages = len(listing.urls)
        self.total_items = listing.total
        self.first, self.last = listing.urls[0], listing.urls[-1]
        self.prev, self.next = listing.prev_url, listing.next_url
        self.pagers = list(enumerate(listing.urls, 1))
        self.feed_url = listing.feed_url or None
        self.term = listing.term
        self.terms = list(listing.terms)


@dataclass(frozen=True)
class TemplateDependencies:
    """What a template's output depends on, besides the page and the config.

    ``digest`` hashes the template with everything it extends, includes or imports (and the
    snippet partial every page must carry); ``names`` are the variables they read.
    """

    digest: str
    names: frozenset[str]


class Renderer:
    """The Jinja2 environment of one build, and the pages' HTML documents.

    Built once per build. ``buy_form`` works from the start (the shortcode step needs it);
    the names that depend on all pages (``pages``, ``nav``, …) are set by :meth:`use_pages`.
    """

    def __init__(
        self,
        config: SiteConfig,
        *,
        checkout_endpoint: str | None = None,
        compiled_dir: Path | None = None,
        compiler_code: str = "",
        templates_digest: str | None = None,
    ) -> None:
        """``compiled_dir`` keeps compiled templates between builds, with what each reads
        and pulls in (:mod:`.compiled`), in a folder named by the code that compiled them
        (``compiler_code``; :func:`.compiled.compiled_folder`), each checked against the
        environment's settings when loaded (:meth:`.compiled.FactsEnvironment.compile_settings`):
        compiling them anew was most of a one-page rebuild's template time, and parsing them
        to know what they read a third of a small one. ``templates_digest``: the templates' digest
        (:func:`templates_digest`) when the caller took it already (not read again)."""
        self.config = config
        self.templates_dir = config.templates_dir
        # The preview server mounts the checkout locally and passes its own endpoint.
        self.endpoint = checkout_endpoint or config.checkout.endpoint
        compiled = None if compiled_dir is None else compiled_folder(compiled_dir, compiler_code)
        self.env = FactsEnvironment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            # One environment per build: no template changes under it, so Jinja need not
            # stat every template again for each of thousands of pages.
            auto_reload=False,
            bytecode_cache=bytecode_cache(compiled),
        )
        self.env.globals.update(
            site=config.site,
            config=config,
            rewardful=config.rewardful,
            products=config.products,
            buy_form=self.buy_form,
        )
        # [theme] of site.toml: checked here (a missing logo fails the build), used by templates.
        self.theme = Theme(config)
        self.env.globals.update(self.theme.template_globals())
        self.env.add_filters(
            absolute=config.site.absolute,
            format_date=format_date,
            term_url=term_url,  # {{ tag | term_url }}: /tags/<slug>/
            **self.theme.template_filters(),
        )
        self._snippet: str | None = None
        self._dependencies: dict[str, TemplateDependencies] = {}
        # By name: a renderer lives while no template changes.
        self._facts: dict[str, TemplateFacts] = {}
        self._templates_digest = templates_digest
        self._forms: dict[tuple[str, str | None], Markup] = {}
        self._shortcode_names: frozenset[str] | None = None
        self.refs = PageRefs({}, "")  # the pages {{< ref >}} finds: set by use_pages
        self._items: dict[str, ListItem] = {}

    def buy_form(self, key: str, label: str | None = None) -> Markup:
        """The buy form of a catalogue product: the one implementation behind the shortcode.

        Remembered by product and label for this build: many pages sell the same product.
        """
        form = self._forms.get((key, label))
        if form is None:
            form = self._forms[key, label] = self._render_buy_form(key, label)
        return form

    def _render_buy_form(self, key: str, label: str | None) -> Markup:
        product = self.config.products.get(key)
        if product is None:
            known = ", ".join(self.config.products) or "none"
            raise SiteError(
                f"unknown product '{key}'", hint=f"use a key of [products.…] in site.toml: {known}"
            )
        html = self._render(
            BUY_FORM_TEMPLATE,
            product=product,
            label=label or product.button_label,
            endpoint=self.endpoint,
        )
        return Markup(html)  # noqa: S704 - rendered by an autoescaping template

    def shortcode_names(self) -> frozenset[str]:
        """The shortcodes there are: the built-in ones (``ref``, ``relref``, ``param``) and
        those of the templates."""
        return BUILTIN_SHORTCODES | self.shortcode_templates()

    def shortcode_templates(self) -> frozenset[str]:
        """The shortcodes there are templates for (``_``-prefixed files are their helpers).

        Listed once per build, like the templates themselves (every page asks).
        """
        if self._shortcode_names is None:
            names = self.env.list_templates(
                filter_func=lambda name: (
                    name.startswith(SHORTCODES_FOLDER) and name.endswith(".html")
                )
            )
            found = (name[len(SHORTCODES_FOLDER) : -len(".html")] for name in names)
            self._shortcode_names = frozenset(name for name in found if not name.startswith("_"))
        return self._shortcode_names

    def render_shortcode(self, call: ShortcodeCall) -> str:
        """A shortcode's HTML: ``templates/shortcodes/<name>.html``, which sees ``shortcode``;
        the built-in ones (:mod:`.refs`) before any template of the same name."""
        if call.name in BUILTIN_SHORTCODES:
            return render_builtin(call, self.refs, self.config)
        return self._render(f"{SHORTCODES_FOLDER}{call.name}.html", shortcode=call)

    def snippet(self) -> str:
        """Rewardful's snippet as ``partials/rewardful.html`` renders it, without outer space."""
        if self._snippet is None:
            self._snippet = self._render(SNIPPET_TEMPLATE).strip()
            if not self._snippet:
                raise SiteError(
                    "Rewardful's snippet renders empty",
                    display_path(self.templates_dir / SNIPPET_TEMPLATE),
                )
        return self._snippet

    def use_pages(
        self,
        pages: Sequence[Page],
        fill: Callable[[Page], Page],
        refs: PageRefs,
        links: SiteLinks | None = None,
    ) -> None:
        """Set the names that show every page (``pages``, ``nav``, …), before rendering any.

        ``fill`` gives a page with its HTML (``content``, ``toc``); listed pages call it
        only when a template reads those, so that no build holds every page's HTML.
        ``refs``: the pages ``{{< ref >}}`` may name (every page read, published or not).
        ``links``: :meth:`site_links` of ``pages`` when the caller has it already.
        """
        self.refs = refs
        # Wrapped when a template first shows them: a one-page rebuild shows a few pages,
        # and wrapping every page of a big site was most of this step.
        listed = ListedPages(pages, fill)
        self._items = _ListItems(pages, fill)
        nav, footer_links, parents = links or self.site_links(pages)
        feed = any(page.section == FEED_SECTION and page.date is not None for page in pages)
        self.env.globals.update(
            pages=listed,
            nav=nav,
            footer_links=footer_links,
            section_pages=lambda name: dated_pages(listed, name),
            feed_url=FEED_URL if feed else None,  # whether dated_pages(FEED_SECTION) has one
            structured_data=StructuredData(self.config, self.theme.logo, parents).script,
        )

    def site_links(self, pages: Sequence[Page]) -> SiteLinks:
        """What every page may show of the others besides ``pages``: the navigation, the
        footer links, the titles of pages above others (breadcrumbs)."""
        nav = self.theme.navigation(pages, navigation(pages))
        return nav, self.theme.footer_links(pages, nav), parent_titles(pages)

    def fill_in(self, page: Page, body: RenderedMarkdown) -> Page:
        """``page`` with its final HTML: shortcodes expanded by their templates, and its TOC."""
        content = expand_shortcodes(
            body,
            source=page.source,
            known=self.shortcode_names(),
            render_shortcode=self.render_shortcode,
            page=page,
        )
        return page.with_content(content, body.toc)

    def render_document(self, page: Page) -> bytes:
        """One page's HTML document, after checking that it carries Rewardful's snippet."""
        html = self.render_page(page)
        _require_snippet(html, self.snippet(), page, self._template_path(page.template))
        return html.encode("utf-8")

    def render_page(self, page: Page) -> str:
        """One page's HTML document from ``templates/<page.template>.html``."""
        name = f"{page.template}.html"
        if not (self.templates_dir / name).is_file():
            raise SiteError(
                f"unknown template '{page.template}': there is no "
                f"{display_path(self._template_path(page.template))}",
                *_template_place(page, self.templates_dir),
                hint=f"use one of: {', '.join(self._template_names())}",
            )
        listing = page.listing
        paginator = Paginator(listing, self._items) if listing is not None else None
        return self._render(name, page=page, rendering=page, paginator=paginator)

    def paginates(self, template: str) -> bool:
        """Whether a page of ``template`` lists its section's pages: it reads ``paginator``."""
        return "paginator" in self.dependencies(template).names

    def load_templates(self) -> None:
        """Compile (or load from the bytecode cache) every template now: a build over worker
        processes never did it here, and a preview's first one-page rebuild would."""
        for name in self.env.list_templates():
            with contextlib.suppress(jinja2.TemplateError):  # the next build reports it
                self.env.get_template(name)

    def templates_digest(self) -> str:
        """A hash of every template's name and source (:func:`templates_digest`)."""
        if self._templates_digest is None:
            self._templates_digest = templates_digest(self.templates_dir)
        return self._templates_digest

    def dependencies(self, template: str) -> TemplateDependencies:
        """The templates and variables a page with ``template`` depends on (memoized)."""
        name = f"{template}.html"
        found = self._dependencies.get(name)
        if found is None:
            found = self._dependencies[name] = self._find_dependencies([name, SNIPPET_TEMPLATE])
        return found

    def buy_form_dependencies(self) -> TemplateDependencies:
        """What :meth:`buy_form` and the shortcodes' templates depend on besides the
        catalogue and the endpoint."""
        found = self._dependencies.get(BUY_FORM_TEMPLATE)
        if found is None:
            names = self.shortcode_templates()
            shortcodes = [f"{SHORTCODES_FOLDER}{name}.html" for name in names]
            found = self._find_dependencies([BUY_FORM_TEMPLATE, *shortcodes])
            self._dependencies[BUY_FORM_TEMPLATE] = found
        return found

    def _find_dependencies(self, roots: list[str]) -> TemplateDependencies:
        """Follow extends/include/import from ``roots``: the digest of their compiled code
        and the variables they read (less Jinja's own globals).

        A reference computed at render time (``{% include name %}``) could be any template,
        so it makes every template a dependency. A template that is missing or does not
        compile is a dependency by its text; rendering reports it properly.
        """
        codes: dict[str, str] = {}
        read: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in codes:
                continue
            facts = self._template_facts(name)
            codes[name] = facts.code
            read |= facts.reads
            todo += self.env.list_templates() if facts.pulls_in is None else facts.pulls_in
        parts = [part for name in sorted(codes) for part in (name, codes[name])]
        return TemplateDependencies(digest(*parts), frozenset(read - JINJA_GLOBALS))

    def page_keys(self) -> frozenset[str] | None:
        """The page data keys the templates read (:mod:`.template_usage`), as compiling
        them found."""
        names = self.env.list_templates(filter_func=lambda name: name.endswith(".html"))
        return used_keys(self._template_facts(name).page_keys for name in names)

    def _template_facts(self, name: str) -> TemplateFacts:
        """What one template reads and pulls in (:class:`.compiled.TemplateFacts`), found
        when it was compiled, by this build or (Jinja's bytecode cache) an earlier one."""
        facts = self._facts.get(name)
        if facts is None:
            facts = self._facts[name] = self.env.facts(name)
        return facts

    def _render(self, name: str, *, rendering: Page | None = None, **context: Any) -> str:
        """Render a template; turn any failure into a SiteError at the template's line."""
        try:
            return self.env.get_template(name).render(**context)
        except jinja2.TemplateSyntaxError as exc:
            path = display_path(Path(exc.filename)) if exc.filename else name
            raise _with_page(
                SiteError(f"template syntax error: {exc.message}", path, exc.lineno), rendering
            ) from exc
        except Exception as exc:
            raise self._error_in_template(exc, name, rendering) from exc

    def _error_in_template(self, exc: Exception, name: str, rendering: Page | None) -> SiteError:
        if isinstance(exc, SiteError) and exc.path:
            return _with_page(exc, rendering)  # already placed: an error inside a buy form
        path, line = self._innermost_template_frame(exc) or (
            display_path(self.templates_dir / name),
            None,
        )
        if isinstance(exc, SiteError):
            message, hint = exc.message, exc.hint
        elif isinstance(exc, jinja2.TemplateNotFound):
            message, hint = f"template '{exc.name}' not found", "check the name in the include"
        elif isinstance(exc, jinja2.UndefinedError):
            message, hint = (
                str(exc.message),
                "check the spelling; docs/templates.md lists the names",
            )
        else:
            message, hint = f"{type(exc).__name__}: {exc}", None
        return _with_page(SiteError(message, path, line, hint), rendering)

    def _innermost_template_frame(self, exc: BaseException) -> tuple[str, int] | None:
        """The deepest template file and line in the traceback (Jinja maps frames to them)."""
        found = None
        root = str(self.templates_dir)
        for frame, line in traceback.walk_tb(exc.__traceback__):
            filename = frame.f_code.co_filename
            if filename.startswith(root) and filename.endswith(".html"):
                found = (display_path(Path(filename)), line)
        return found

    def _template_path(self, template: str) -> Path:
        return self.templates_dir / f"{template}.html"

    def _template_names(self) -> list[str]:
        names = self.env.list_templates(filter_func=lambda name: name.endswith(".html"))
        pages = (name for name in names if not name.startswith(("partials/", SHORTCODES_FOLDER)))
        return [name.removesuffix(".html") for name in pages]


def templates_digest(folder: Path, files: Iterable[str] | None = None) -> str:
    """A hash of every file's name and bytes in the templates folder; ``files``: its
    files in :func:`.content.walk_files`' order, when the caller walked it already."""
    parts = []
    for name in walk_files(folder) if files is None else files:
        try:
            data = Path(name).read_bytes()
        except FileNotFoundError:  # gone since the walk (vim's "4913"): as if walked now
            continue
        parts += [Path(name).relative_to(folder).as_posix(), data]
    return digest(*parts)


def _with_page(error: SiteError, page: Page | None) -> SiteError:
    """Add which page was being rendered to a template error's hint."""
    if page is not None:
        rendering = f"while rendering {page.source}"
        error.hint = f"{error.hint} ({rendering})" if error.hint else rendering
    return error


def _template_place(page: Page, templates_dir: Path) -> tuple[str, int | None]:
    """Where a page's template is chosen: the line of ``template:`` in its front matter
    (line 1 when it is the default); the templates folder for a generated page."""
    if page.generated:
        return display_path(templates_dir), None
    return display_path(page.path), front_matter_line(page, "template")


def _require_snippet(html: str, snippet: str, page: Page, template: Path) -> None:
    """Fail unless Rewardful's snippet is inside the document's ``<head>``, before any other
    script (a head hook's analytics or consent manager comes after it).

    A substring check on the part before ``</head>``: cheap at thousands of pages, and exact,
    since the base layout includes the very partial whose output ``snippet`` is.
    """
    head_end = html.find("</head>")
    head_start = html.find("<head")
    head = html[head_start:head_end] if head_start != -1 and head_end != -1 else ""
    at = head.find(snippet) if head else -1
    if at == -1:
        raise SiteError(
            f"the page {page.source} lacks Rewardful's snippet in its <head>",
            display_path(template),
            hint="extend base.html, or include 'partials/rewardful.html' inside <head>",
        )
    first_script = _SCRIPT_TAG.search(head)
    if first_script is not None and first_script.start() < at:
        raise SiteError(
            f"the page {page.source} has a script before Rewardful's snippet in its <head>",
            display_path(template),
            hint="Rewardful's snippet must come first; put other scripts in "
            "partials/hooks/head.html, which base.html includes after it",
        )


_SCRIPT_TAG = re.compile(r"<script\b", re.IGNORECASE)


__all__ = [
    "BUY_FORM_TEMPLATE",
    "FEED_URL",
    "SHORTCODES_FOLDER",
    "ListItem",
    "ListedPage",
    "NavItem",
    "Paginator",
    "Renderer",
    "SiteLinks",
    "TemplateDependencies",
    "dated_pages",
    "format_date",
    "navigation",
    "newest_first",
    "templates_digest",
]
