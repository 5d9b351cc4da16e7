"""Jinja2 templates to HTML documents, with Rewardful's snippet enforced on every page.

What every template can use is documented in ``docs/templates.md``; this module is the one
place that provides it. Template problems (syntax, an undefined name, a missing include)
become a :class:`SiteError` naming the template file and line, and the page being rendered.
"""

from __future__ import annotations

import datetime as dt
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from markupsafe import Markup

from ..config import SiteConfig
from ..errors import SiteError
from .cache import digest
from .content import Page, display_path
from .shortcodes import ShortcodeCall
from .structured_data import StructuredData, parent_titles
from .theme import NavItem, Theme, front_matter_line

SNIPPET_TEMPLATE = "partials/rewardful.html"
SHORTCODES_FOLDER = "shortcodes/"  # templates/shortcodes/NAME.html: {{< NAME … >}}
BUY_FORM_TEMPLATE = "partials/buy_form.html"
FEED_URL = "/blog/feed.xml"
FEED_SECTION = "blog"
# The globals through which a template sees other pages' content (not only their menu).
ALL_PAGES_GLOBALS = frozenset({"pages", "section_pages"})

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


def dated_pages(pages: Sequence[Page], section: str) -> list[Page]:
    """The dated pages of a section, newest first (the section's index page is undated)."""
    dated = [page for page in pages if page.section == section and page.date is not None]
    dated.sort(key=lambda page: page.url)
    dated.sort(key=lambda page: page.date, reverse=True)
    return dated


@dataclass(frozen=True)
class TemplateDependencies:
    """What a page template's output depends on, besides the page and the config.

    ``digest`` hashes the template with everything it extends, includes or imports (and the
    buy form and snippet partials every page may use); ``names`` are the variables they read.
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
    ) -> None:
        """``compiled_dir`` keeps compiled templates between builds (Jinja's bytecode cache:
        compiling them anew was most of a one-page rebuild's template time)."""
        self.config = config
        self.templates_dir = config.templates_dir
        # The preview server mounts the checkout locally and passes its own endpoint.
        self.endpoint = checkout_endpoint or config.checkout.endpoint
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.templates_dir),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            bytecode_cache=_bytecode_cache(compiled_dir),
            # One environment per build: no template changes under it, so Jinja need not
            # stat every template again for each of thousands of pages.
            auto_reload=False,
        )
        self.env.globals.update(
            site=config.site,
            config=config,
            rewardful=config.rewardful,
            products=config.products,
            buy_form=self.buy_form,
        )
        self.env.filters["absolute"] = config.site.absolute
        self.env.filters["format_date"] = format_date
        # [theme] of site.toml: checked here (a missing logo fails the build), used by templates.
        self.theme = Theme(config)
        self.env.globals.update(self.theme.template_globals())
        self.env.filters.update(self.theme.template_filters())
        self._snippet: str | None = None
        self._dependencies: dict[str, TemplateDependencies] = {}
        self._templates_digest: str | None = None
        self._forms: dict[tuple[str, str | None], Markup] = {}
        self._shortcode_names: frozenset[str] | None = None

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
        """A shortcode's HTML: ``templates/shortcodes/<name>.html``, which sees ``shortcode``."""
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

    def use_pages(self, pages: Sequence[Page]) -> None:
        """Set the names that show every page (``pages``, ``nav``, …), before rendering any."""
        blog = dated_pages(pages, FEED_SECTION)
        nav = self.theme.navigation(pages, navigation(pages))
        self._parents = parent_titles(pages)
        self.env.globals.update(
            pages=list(pages),
            nav=nav,
            footer_links=self.theme.footer_links(pages, nav),
            section_pages=lambda name: dated_pages(pages, name),
            feed_url=FEED_URL if blog else None,
            structured_data=StructuredData(self.config, self.theme.logo, self._parents).script,
        )

    def shared_state(self) -> str:
        """What every page may show of the others besides ``pages``: navigation, footer
        links, feed link, the titles of pages above others (breadcrumbs)."""
        names = ("nav", "footer_links", "feed_url")
        return repr((*(self.env.globals[name] for name in names), self._parents))

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
                display_path(page.path),
                _template_line(page),
                hint=f"use one of: {', '.join(self._template_names())}",
            )
        return self._render(name, page=page, rendering=page)

    def templates_digest(self) -> str:
        """A hash of every template's name and source."""
        if self._templates_digest is None:
            loader = self.env.loader
            assert loader is not None  # set in __init__
            names = self.env.list_templates()
            sources = (loader.get_source(self.env, name)[0] for name in names)
            self._templates_digest = digest(*names, *sources)
        return self._templates_digest

    def known_dependencies(self) -> tuple[str, dict[str, TemplateDependencies]]:
        """The dependencies found so far, for :meth:`reuse_dependencies` in a later build."""
        return self.templates_digest(), dict(self._dependencies)

    def reuse_dependencies(self, known: tuple[str, dict[str, TemplateDependencies]]) -> None:
        """Take an earlier build's :meth:`known_dependencies` if no template changed since."""
        templates_digest, dependencies = known
        if templates_digest == self.templates_digest():
            self._dependencies.update(dependencies)

    def dependencies(self, template: str) -> TemplateDependencies:
        """The templates and variables a page with ``template`` depends on (memoized)."""
        found = self._dependencies.get(template)
        if found is None:
            shortcodes = [f"{SHORTCODES_FOLDER}{name}.html" for name in self.shortcode_names()]
            found = self._find_dependencies(
                [f"{template}.html", BUY_FORM_TEMPLATE, SNIPPET_TEMPLATE, *shortcodes]
            )
            self._dependencies[template] = found
        return found

    def _find_dependencies(self, roots: list[str]) -> TemplateDependencies:
        """Follow extends/include/import from ``roots`` with ``jinja2.meta``.

        A reference computed at render time (``{% include name %}``) could be any template,
        so it makes every template a dependency. A template that is missing or does not parse
        is a dependency by name; rendering reports it properly.
        """
        # Without the build's globals: jinja2.meta leaves out names an environment defines.
        parser = jinja2.Environment(loader=self.env.loader, autoescape=True)
        parser.filters, parser.tests = self.env.filters, self.env.tests
        sources: dict[str, str] = {}
        names: set[str] = set()
        todo = list(roots)
        while todo:
            name = todo.pop()
            if name in sources:
                continue
            sources[name] = ""
            try:
                sources[name] = parser.loader.get_source(parser, name)[0]  # type: ignore[union-attr]
                tree = parser.parse(sources[name])
                names |= jinja2.meta.find_undeclared_variables(tree)
            except jinja2.TemplateError:  # missing or broken: rendering says where
                continue
            for referenced in jinja2.meta.find_referenced_templates(tree):
                if referenced is None:
                    todo.extend(self.env.list_templates())
                else:
                    todo.append(referenced)
        parts = [part for name in sorted(sources) for part in (name, sources[name])]
        return TemplateDependencies(digest(*parts), frozenset(names))

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


def _bytecode_cache(folder: Path | None) -> jinja2.BytecodeCache | None:
    """A bytecode cache in ``folder``; none if it cannot be made (a read-only checkout)."""
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def _with_page(error: SiteError, page: Page | None) -> SiteError:
    """Add which page was being rendered to a template error's hint."""
    if page is not None:
        rendering = f"while rendering {page.source}"
        error.hint = f"{error.hint} ({rendering})" if error.hint else rendering
    return error


def _template_line(page: Page) -> int:
    """The line of ``template:`` in the page's front matter (line 1 when it is the default)."""
    return front_matter_line(page, "template")


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
    "ALL_PAGES_GLOBALS",
    "FEED_URL",
    "NavItem",
    "Renderer",
    "TemplateDependencies",
    "dated_pages",
    "format_date",
    "navigation",
]
