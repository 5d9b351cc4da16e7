"""The theme in a real browser, on a phone (390 px) and a desktop (1280 px).

Every page of the built example site: no sideways scrolling of the page, every navigation
link reachable (through the menu button on phones, which works without JavaScript), the
pricing comparison table scrolling inside its own box, the structured data parseable and
complete. A rebranded copy, changed only in site.toml's theme keys, shows its colours, logo
and texts on every page.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from e2e_support import E2ESite, served_example
from playwright.sync_api import Page

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
JSON_LD = """() => Array.from(document.querySelectorAll('script[type="application/ld+json"]'))
    .flatMap((script) => JSON.parse(script.textContent)['@graph'])"""


def css(page: Page, selector: str, prop: str) -> str:
    return page.locator(selector).first.evaluate(
        f"(el) => getComputedStyle(el).getPropertyValue('{prop}')"
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390px", "1280px"])
def test_no_page_scrolls_sideways(
    open_visitor: Callable[..., Page], e2e_site: E2ESite, viewport: dict[str, int]
) -> None:
    visitor = open_visitor(viewport=viewport)
    overflowing = {}
    for url in e2e_site.all_pages():
        visitor.goto(url)
        extra = visitor.evaluate(OVERFLOW)
        if extra > 0:
            overflowing[url] = extra
    assert not overflowing, f"pages wider than the {viewport['width']} px screen: {overflowing}"


def nav_links(e2e_site: E2ESite) -> list[tuple[str, str]]:
    """The navigation as site.toml and the front matter make it: (label, path)."""
    soup = BeautifulSoup((e2e_site.out / "index.html").read_text(), "html.parser")
    return [(a.get_text(), a["href"]) for a in soup.select(".site-nav__bar a")]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_phone_menu_reaches_every_navigation_link(
    open_visitor: Callable[..., Page], e2e_site: E2ESite, javascript: bool
) -> None:
    links = nav_links(e2e_site)
    assert len(links) >= 4
    visitor = open_visitor(viewport=PHONE, java_script_enabled=javascript)
    for label, path in links:
        visitor.goto(e2e_site.url("/"))
        assert not visitor.locator(".site-nav__bar").is_visible()
        button = visitor.get_by_role("group").get_by_text("Menu")
        link = visitor.locator(".site-nav__menu").get_by_role("link", name=label, exact=True)
        assert not link.is_visible()
        button.click()
        assert link.is_visible()
        box = link.bounding_box()
        assert box is not None and box["height"] >= 44, "tap target under 44 px"
        link.click()
        visitor.wait_for_url(e2e_site.url(path))
        current = visitor.locator(".site-nav__menu a[aria-current='page']")
        assert current.get_attribute("href") == path


def test_phone_menu_works_from_the_keyboard(
    open_visitor: Callable[..., Page], e2e_site: E2ESite
) -> None:
    visitor = open_visitor(viewport=PHONE)
    visitor.goto(e2e_site.url("/features/"))
    menu = visitor.locator("details.site-nav__menu")
    visitor.locator("summary.site-nav__button").focus()
    visitor.keyboard.press("Enter")
    assert menu.evaluate("(el) => el.open")
    visitor.keyboard.press("Tab")
    focused = visitor.evaluate("() => document.activeElement.closest('.site-nav__menu') !== null")
    assert focused, "Tab from the menu button goes into the menu"
    visitor.keyboard.press("Escape")  # partials/menu_script.html
    assert not menu.evaluate("(el) => el.open")
    assert visitor.evaluate("() => document.activeElement.tagName") == "SUMMARY"


def test_desktop_shows_the_navigation_as_a_row(
    open_visitor: Callable[..., Page], e2e_site: E2ESite
) -> None:
    visitor = open_visitor(viewport=DESKTOP)
    for label, path in nav_links(e2e_site):
        visitor.goto(e2e_site.url("/"))
        assert not visitor.locator("summary.site-nav__button").is_visible()
        visitor.locator(".site-nav__bar").get_by_role("link", name=label, exact=True).click()
        visitor.wait_for_url(e2e_site.url(path))


def test_comparison_table_scrolls_in_its_box_on_phones(
    open_visitor: Callable[..., Page], e2e_site: E2ESite
) -> None:
    phone = open_visitor(viewport=PHONE)
    phone.goto(e2e_site.url("/pricing/"))
    box = phone.locator(".pricing-faq .table-scroll")
    assert box.get_attribute("role") == "region"
    sizes = box.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert sizes[0] > sizes[1], "the table fits a phone: nothing to test"
    assert phone.evaluate(OVERFLOW) == 0
    # A visible cue: the box paints edge shadows (background gradients).
    assert "radial-gradient" in css(phone, ".pricing-faq .table-scroll", "background-image")
    box.focus()
    phone.keyboard.press("ArrowRight")
    phone.wait_for_function(
        "() => document.querySelector('.pricing-faq .table-scroll').scrollLeft > 0"
    )

    desktop = open_visitor(viewport=DESKTOP)
    desktop.goto(e2e_site.url("/pricing/"))
    sizes = desktop.locator(".pricing-faq .table-scroll").evaluate(
        "(el) => [el.scrollWidth, el.clientWidth]"
    )
    assert sizes[0] <= sizes[1], "on a desktop the table fits its box"


def test_pricing_cards_sit_in_balanced_rows(
    open_visitor: Callable[..., Page], e2e_site: E2ESite
) -> None:
    visitor = open_visitor(viewport=DESKTOP)
    visitor.goto(e2e_site.url("/pricing/"))
    tops = visitor.locator(".pricing-grid > .plan").evaluate_all(
        "(cards) => cards.map((card) => Math.round(card.getBoundingClientRect().top))"
    )
    assert len(set(tops)) == 1, f"{len(tops)} plans in more than one row at 1280 px: {tops}"


def test_dark_scheme_follows_the_system(
    open_visitor: Callable[..., Page], e2e_site: E2ESite
) -> None:
    light = open_visitor(viewport=DESKTOP, color_scheme="light")
    dark = open_visitor(viewport=DESKTOP, color_scheme="dark")
    for visitor in (light, dark):
        visitor.goto(e2e_site.url("/features/"))
    assert css(light, "body", "background-color") == "rgb(255, 255, 255)"
    background = css(dark, "body", "background-color")
    red, green, blue = (int(part) for part in background[4:-1].split(","))
    assert max(red, green, blue) < 60, background
    assert css(dark, "body", "color") != css(light, "body", "color")


def test_structured_data_has_what_search_engines_require(visitor: Page, e2e_site: E2ESite) -> None:
    found: dict[str, list[dict]] = {}
    for url in e2e_site.all_pages():
        visitor.goto(url)
        for node in visitor.evaluate(JSON_LD):
            found.setdefault(node["@type"], []).append({**node, "page": url})
    assert {"Organization", "WebSite", "Product", "BlogPosting", "BreadcrumbList"} <= set(found)
    catalogue = e2e_site.config.products
    for product in found["Product"]:
        assert product["name"] in {p.name for p in catalogue.values()}
        offer = product["offers"]
        assert offer["@type"] == "Offer"
        assert float(offer["price"]) > 0
        assert len(offer["priceCurrency"]) == 3
    pricing = [p["name"] for p in found["Product"] if p["page"].endswith("/pricing/")]
    assert pricing == [p.name for p in catalogue.values() if p.in_pricing]
    for post in found["BlogPosting"]:
        assert post["headline"] and len(post["headline"]) <= 110
        assert post["datePublished"][:4].isdigit()
        assert post["author"]["name"]
        assert post["image"].startswith("http")
    for crumbs in found["BreadcrumbList"]:
        items = crumbs["itemListElement"]
        assert [item["position"] for item in items] == list(range(1, len(items) + 1))
        assert all(item["item"].startswith(e2e_site.origin) for item in items)
    organization = found["Organization"][0]
    assert organization["url"] == e2e_site.url("/")
    assert organization["logo"].startswith(e2e_site.origin)


# --- a rebranded copy ------------------------------------------------------------------------

REBRAND = {
    'accent = "#2563eb"': 'accent = "#b91c1c"',
    'text = "#0f172a"': 'text = "#1c1917"',
    'background = "#ffffff"': 'background = "#fffbeb"',
    'logo = "/images/logo.svg"': 'logo = "/images/rebrand.svg"',
    'footer_text = "Payments are processed securely by Stripe."': (
        'footer_text = "Ember Inc. · 1 Fire Street · Registered in Leeds."'
    ),
    'label = "See plans"': 'label = "Get Ember"',
    'title = "Try Beacon."': 'title = "Try Ember."',
    'badge = "Most popular"': 'badge = "Staff pick"',
}


def rebrand(folder: Path) -> None:
    """Change only theme keys of the copy's site.toml, and add the new logo's file."""
    path = folder / "site.toml"
    text = path.read_text(encoding="utf-8")
    for old, new in REBRAND.items():
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    assert tomllib.loads(text)["theme"]["colors"]["accent"] == "#b91c1c"
    logo = folder / "static" / "images" / "rebrand.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>')


@pytest.fixture(scope="module")
def rebranded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ESite]:
    """The example with only theme keys of site.toml changed (and a second logo file)."""
    with served_example(tmp_path_factory.mktemp("rebranded"), edit=rebrand) as site:
        yield site


def test_rebranding_in_site_toml_changes_every_page(
    open_visitor: Callable[..., Page], rebranded: E2ESite
) -> None:
    visitor = open_visitor(viewport=DESKTOP, color_scheme="light")
    pages = rebranded.all_pages()
    assert len(pages) >= 11
    for url in pages:
        visitor.goto(url)
        assert css(visitor, "body", "background-color") == "rgb(255, 251, 235)", url
        assert css(visitor, "body", "color") == "rgb(28, 25, 23)", url
        assert css(visitor, ".site-footer__legal", "color") != "rgb(28, 25, 23)", url
        logo = visitor.locator(".site-header .logo img").get_attribute("src")
        assert re.fullmatch(r"/images/rebrand\.[0-9a-f]{8}\.svg", logo), url  # fingerprinted
        assert "Ember Inc. · 1 Fire Street" in visitor.locator(".site-footer__legal").inner_text()
        assert "--accent:#b91c1c" in visitor.locator("head style").inner_text(), url
    visitor.goto(rebranded.url("/pricing/"))
    assert css(visitor, ".plan--featured .buy-form button", "background-color") == (
        "rgb(185, 28, 28)"
    )
    assert visitor.locator(".plan__badge").inner_text() == "Staff pick"
    visitor.goto(rebranded.url("/blog/fewer-false-alarms/"))
    cta = visitor.locator(".post-cta")
    assert "Try Ember." in cta.inner_text()
    assert cta.get_by_role("link").inner_text() == "Get Ember"


def test_rebranded_site_has_no_trace_of_the_old_brand(rebranded: E2ESite) -> None:
    for path in Path(rebranded.out).rglob("*.html"):
        html = path.read_text(encoding="utf-8")
        for old in ("#2563eb", "/images/logo.", "Payments are processed securely"):
            assert old not in html, (path, old)
