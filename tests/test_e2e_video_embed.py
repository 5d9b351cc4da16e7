"""The youtube shortcode in a real browser: nothing from YouTube loads until the visitor clicks.

The fixture site (with the bundled shortcodes) is built with a page holding a video and served
on 127.0.0.1; the browser's every outside request goes through the NetworkGate, which aborts
and records it, so the test sees exactly what the page asks of YouTube and when.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from build_support import write_site
from e2e_support import NetworkGate, origin_of, static_server
from playwright.sync_api import Page

from launchkit.config import load_config
from launchkit.site.builder import build_site

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

VIDEO = "dQw4w9WgXcQ"
PAGE = (
    "---\ntitle: Demo\n---\nWatch it:\n\n"
    f'{{{{< youtube id="{VIDEO}" title="Beacon in 2 minutes" >}}}}\n'
)


def test_the_player_loads_only_when_clicked(
    tmp_path: Path, open_visitor: Callable[..., Page], gate: NetworkGate
) -> None:
    root = write_site(tmp_path, {"content/demo.md": PAGE})
    build_site(load_config(root / "site.toml"), root / "public")
    visitor = open_visitor()

    with static_server(root / "public") as server:
        visitor.goto(f"{origin_of(server)}/demo/", wait_until="load")
        poster = visitor.frame_locator("figure.video-embed iframe").locator("a")
        poster.wait_for(state="visible")

        assert "Beacon in 2 minutes" in poster.inner_text()
        assert not [url for url in gate.blocked if "youtube" in url]  # nothing before a click

        poster.click()
        for _ in range(50):  # the click navigates the iframe: wait for its request
            if any("youtube" in url for url in gate.blocked):
                break
            visitor.wait_for_timeout(100)

    player = f"https://www.youtube-nocookie.com/embed/{VIDEO}?autoplay=1"
    assert [url for url in gate.blocked if "youtube" in url] == [player]
