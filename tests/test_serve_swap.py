"""The preview's live reload in headless Chromium: what swapping in a new body keeps working.

A page edit that leaves the head (but for its title and meta tags) and the site's other
files as they were is shown by swapping the new body into the open document
(``launchkit/site/livereload.js``): the body's scripts must run again as after a reload,
Rewardful's referral must still reach the buy forms, and the reader keeps their place. A
stylesheet edit, or a page edit that changes the rest of the head, reloads the page instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from build_support import BASE as FIXTURE_BASE
from build_support import FILES, write_site
from playwright.sync_api import Page, expect

from bench.serve_latency import edit_and_wait
from launchkit.preview import Preview

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

# The fixture site's page, with a stylesheet (and a page's own style) in the head and
# scripts in the body: an external one, an inline one that must run after it, one that
# waits for DOMContentLoaded, and the referral script of every real page.
HEAD = """\
<link rel="stylesheet" href="/css/site.css">
{% if page.meta.get("accent") %}<style>main { color: {{ page.meta.accent }} }</style>{% endif %}
</head>"""
SCRIPTS = """\
<script src="/js/first.js"></script>
<script>window.order.push("inline after first.js");</script>
<script>
document.addEventListener("DOMContentLoaded", function () {
  document.querySelector("main").dataset.ready = String(++window.readyRuns);
});
</script>
{% include "partials/referral_script.html" %}"""
BASE = FIXTURE_BASE.replace("</head>", HEAD).replace(
    '{% include "partials/referral_script.html" %}', SCRIPTS
)
FIRST_JS = """\
window.order = window.order || [];
window.order.push("first.js");
window.readyRuns = window.readyRuns || 0;
"""
CSS = "body { margin: 0 }\nmain { min-height: 300vh }\n"
BUY = FILES["content/buy.md"]
EDITED = BUY.replace("Pick a plan.", "Pick a plan. Edited in place.")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    changes = {"templates/base.html": BASE, "static/js/first.js": FIRST_JS}
    return write_site(tmp_path, {**changes, "static/css/site.css": CSS})


@pytest.fixture
def tab(open_visitor: Callable[..., Page], preview: Preview) -> Page:
    """The buy page, opened from an affiliate's link (Rewardful's stand-in is served)."""
    page = open_visitor()
    page.goto(preview.url + "buy/?via=partner")
    expect(page.locator("form[data-rewardful] input[name=referral]")).to_have_count(2)
    page.evaluate("window.sameDocument = true")
    return page


def test_a_page_edit_swaps_the_body_and_its_scripts_forms_and_place_keep_working(
    site: Path, tab: Page
) -> None:
    referral = tab.evaluate("window.Rewardful.referral")
    assert re.fullmatch(r"[0-9a-f-]{36}", referral)
    tab.evaluate("window.scrollTo(0, 500)")
    requested: list[str] = []
    tab.on("request", lambda request: requested.append(request.url))

    shown = edit_and_wait(tab, site / "content/buy.md", EDITED, "Edited in place.")

    assert not shown.reloaded
    assert tab.evaluate("window.sameDocument") is True
    # The scripts ran again in document order, the inline one after the external one it
    # follows, and a DOMContentLoaded listener was called as after a reload. The edited
    # text is painted before the swapped-in external script has loaded (as on a reload,
    # where text above a script paints first), so wait for the second run to finish.
    tab.wait_for_function("window.order.length >= 4")
    assert tab.evaluate("window.order") == ["first.js", "inline after first.js"] * 2
    expect(tab.locator("main")).to_have_attribute("data-ready", "2")
    # The new forms got the referral from the referral script that ran again.
    inputs = tab.locator("form[data-rewardful] input[name=referral]")
    expect(inputs).to_have_count(2)
    for index in range(2):  # the referral script runs last, after the painted edit
        expect(inputs.nth(index)).to_have_value(referral)
    assert tab.evaluate("window.scrollY") == 500
    assert not [url for url in requested if "/css/" in url]  # the stylesheet stayed loaded
    assert tab.locator("script[src='/__livereload.js']").count() == 1

    # The swapped-in form posts the referral to the preview's (dry run) checkout.
    tab.get_by_role("button", name="Go Pro now").click()
    params = json.loads(tab.locator("#params").inner_text())
    assert params["client_reference_id"] == referral


def test_a_stylesheet_edit_reloads_the_page(site: Path, tab: Page) -> None:
    (site / "static/css/site.css").write_text(CSS + "main { color: rgb(1, 2, 3) }\n")

    tab.wait_for_function(
        "getComputedStyle(document.querySelector('main')).color === 'rgb(1, 2, 3)'"
    )
    assert tab.evaluate("window.sameDocument") is None


def test_a_new_title_and_description_are_copied_into_the_open_document(
    site: Path, tab: Page
) -> None:
    retitled = EDITED.replace("title: Buy", "title: Buy now\ndescription: Plans.")
    shown = edit_and_wait(tab, site / "content/buy.md", retitled, "Edited in place.")

    assert not shown.reloaded
    expect(tab).to_have_title("Buy now | Shop")
    expect(tab.locator("meta[name=description]")).to_have_attribute("content", "Plans.")
    assert tab.evaluate("window.sameDocument") is True


def test_a_page_edit_that_changes_the_head_reloads_the_page(site: Path, tab: Page) -> None:
    accented = EDITED.replace("title: Buy", "title: Buy\naccent: rgb(1, 2, 3)")
    shown = edit_and_wait(tab, site / "content/buy.md", accented, "Edited in place.")

    assert shown.reloaded
    assert tab.evaluate("getComputedStyle(document.querySelector('main')).color") == "rgb(1, 2, 3)"
    assert tab.evaluate("window.sameDocument") is None
    # A reload runs the page's scripts once, in a fresh document.
    assert tab.evaluate("window.order") == ["first.js", "inline after first.js"]
