"""`python build.py --serve` in headless Chromium: an edit shows in the open tab by itself.

Records the edit-to-visible latency (``edit_to_visible_seconds`` in the JUnit properties, and
printed); speed is judged by ``bench/serve_latency.py``, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from build_support import FILES
from playwright.sync_api import Browser, Page, expect

from bench.serve_latency import block_outside_requests, edit_and_wait
from launchkit.preview import Preview

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

HOME = FILES["content/index.md"]
BROKEN_HOME = HOME.replace("Welcome.", "{{< buy nosuch >}}")  # line 6 of the file


@pytest.fixture
def tab(chromium: Browser, preview: Preview) -> Iterator[Page]:
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    block_outside_requests(page)
    page.goto(preview.url)
    yield page
    context.close()


def test_an_edit_shows_in_the_open_tab_and_an_error_as_an_overlay(
    site: Path, tab: Page, record_property
) -> None:
    source = site / "content/index.md"
    main = tab.locator("main")
    expect(main).to_have_text("Welcome.")

    shown = edit_and_wait(tab, source, HOME.replace("Welcome.", "Edited."), "Edited.")
    print(f"edit-to-visible: {shown.seconds:.3f} s")
    record_property("edit_to_visible_seconds", round(shown.seconds, 3))
    assert not shown.reloaded  # only the page's text changed: its new body is swapped in
    expect(main).to_have_text("Edited.")

    source.write_text(BROKEN_HOME, encoding="utf-8")
    overlay = tab.locator("#launchkit-build-error")
    expect(overlay).to_be_visible()
    expect(overlay.locator("pre")).to_contain_text("content/index.md:6: unknown product 'nosuch'")
    expect(main).to_have_text("Edited.")  # the last good page stays under it

    edit_and_wait(tab, source, HOME.replace("Welcome.", "Fixed."), "Fixed.")
    expect(overlay).to_have_count(0)
    expect(main).to_have_text("Fixed.")
