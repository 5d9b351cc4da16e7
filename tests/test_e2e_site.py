"""Every page of the built example site works in a real browser.

Each page listed in ``sitemap.xml``, and ``404.html``, is loaded in headless Chromium from a
local server. A page passes when it logs no console error and throws nothing, every request
it makes to the site (CSS, images, scripts) succeeds, Rewardful's script runs on it, and every
buy form on it has a visible, enabled submit button posting to the configured checkout.

Rewardful's ``rw.js`` cannot be fetched here, so the tests answer its URL with a local
stand-in (``tests/e2e/rewardful_standin.js``) that behaves as Rewardful documents; every
other outside request is blocked and recorded, and none may be one of the site's own files.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field
from xml.etree import ElementTree

import pytest
from e2e_support import E2ESite, NetworkGate
from playwright.sync_api import ConsoleMessage, Page, Request, Response

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

SITEMAP_NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def site_pages(site: E2ESite) -> list[tuple[str, int]]:
    """Every page of the sitemap, the 404 page, and an unknown path, with the status due.

    Static hosts serve ``404.html`` for an unknown path at any depth, so its links to CSS,
    images and scripts must work from there too.
    """
    with urllib.request.urlopen(site.url("/sitemap.xml"), timeout=5) as response:
        # The site's own build output, not untrusted input.
        sitemap = ElementTree.fromstring(response.read())  # noqa: S314
    base = site.config.site.base_url.rstrip("/")
    locations = [(loc.text or "").strip() for loc in sitemap.iter(f"{SITEMAP_NS}loc")]
    assert locations, "sitemap.xml lists no pages"
    outside = [url for url in locations if not url.startswith(base)]
    assert not outside, f"sitemap.xml lists URLs outside base_url {base}: {outside}"
    pages = [(site.origin + url.removeprefix(base), 200) for url in locations]
    return [*pages, (site.url("/404.html"), 200), (site.url("/no/such/page/"), 404)]


@dataclass
class PageProblems:
    """What went wrong while one page loaded, collected from the browser's events."""

    origin: str
    found: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.found.append(f"uncaught error: {error}"))
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)

    def _local(self, url: str) -> bool:
        return url.startswith(self.origin)

    def _console(self, message: ConsoleMessage) -> None:
        # Failed loads are judged by the network handlers below, which tell the site's files
        # from outside requests (blocked on purpose) and from the page's own status.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.found.append(f"console error: {message.text}")

    def _response(self, response: Response) -> None:
        # The page's own status is checked by the test; here its CSS, images and scripts.
        if response.request.is_navigation_request():
            return
        if self._local(response.url) and response.status >= 400:
            self.found.append(f"{response.status} for {response.url}")

    def _request_failed(self, request: Request) -> None:
        if self._local(request.url):
            self.found.append(f"request failed: {request.url} ({request.failure})")


def buy_form_problems(page: Page, site: E2ESite) -> list[str]:
    """Each buy form posts to the checkout and has a button a visitor can see and press."""
    problems = []
    forms = page.locator("form[data-rewardful]")
    for index in range(forms.count()):
        form = forms.nth(index)
        product = form.locator("input[name='product']").get_attribute("value")
        name = f"buy form {index} ({product})"
        if product not in site.config.products:
            problems.append(f"{name}: product is not in the catalogue")
        if form.get_attribute("action") != site.config.checkout.endpoint:
            problems.append(f"{name}: posts to {form.get_attribute('action')}")
        buttons = form.locator("button[type='submit'], input[type='submit']")
        if buttons.count() == 0:
            problems.append(f"{name}: no submit button")
        elif not (buttons.first.is_visible() and buttons.first.is_enabled()):
            problems.append(f"{name}: submit button hidden or disabled")
    return problems


def test_every_page_loads_cleanly(visitor: Page, gate: NetworkGate, e2e_site: E2ESite) -> None:
    """No console error, no failed local request, tracking on, usable buy forms: every page."""
    problems = PageProblems(origin=e2e_site.origin)
    problems.watch(visitor)
    report: dict[str, list[str]] = {}
    forms_seen = 0
    for url, status in site_pages(e2e_site):
        problems.found = []
        response = visitor.goto(url)
        if response is None or response.status != status:
            problems.found.append(f"status {response and response.status}, expected {status}")
        # goto waited for the load event (CSS, images, scripts); then the tracking must run.
        visitor.wait_for_function("() => window.Rewardful !== undefined")
        forms_seen += visitor.locator("form[data-rewardful]").count()
        found = problems.found + buy_form_problems(visitor, e2e_site)
        if found:
            report[url] = found
    assert not report, "pages with problems:\n" + "\n".join(
        f"{url}\n  " + "\n  ".join(found) for url, found in report.items()
    )
    assert forms_seen, "no page of the example site has a buy form"

    own_files = [url for url in gate.blocked if url.startswith(e2e_site.production_origin)]
    assert not own_files, f"pages load site files from the production host: {own_files}"
