"""An alias (an old URL of a page) in a real browser: an affiliate's old link still lands on
the page, with its referral recorded there.

The fixture site is built with a page that has aliases and served on 127.0.0.1; Rewardful's
script is the local stand-in (tests/e2e/rewardful_standin.js), which records ``?via=``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from build_support import write_site
from e2e_support import origin_of, static_server
from playwright.sync_api import Page
from test_front_matter import post

from launchkit.config import load_config
from launchkit.site.builder import build_site

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

MOVED = post("date: 2026-02-01\naliases: [/2019/02/01/launch-day/, /old-launch.html]\n")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = write_site(tmp_path, {"content/blog/launch.md": MOVED})
    build_site(load_config(root / "site.toml"), root / "public")
    return root / "public"


def test_an_affiliates_old_link_lands_on_the_page_with_the_referral(
    site: Path, open_visitor: Callable[..., Page]
) -> None:
    visitor = open_visitor()
    with static_server(site) as server:
        origin = origin_of(server)
        visitor.goto(f"{origin}/2019/02/01/launch-day/?via=partner#top")
        visitor.wait_for_url(f"{origin}/blog/launch/?via=partner#top")
        visitor.wait_for_function("() => window.Rewardful !== undefined")
        assert UUID.fullmatch(visitor.evaluate("() => window.Rewardful.referral"))
        assert "We shipped." in visitor.locator("main").inner_text()


def test_without_javascript_the_refresh_goes_to_the_page(
    site: Path, open_visitor: Callable[..., Page]
) -> None:
    visitor = open_visitor(java_script_enabled=False)
    with static_server(site) as server:
        origin = origin_of(server)
        visitor.goto(f"{origin}/old-launch.html")
        visitor.wait_for_url(f"{origin}/blog/launch/")
        assert visitor.title() == "Launch day | Shop"
