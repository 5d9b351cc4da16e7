"""A post's images on a phone, in a real browser: the phone downloads small WebP variants.

A copy of the example gets a 3000 px JPEG and a PNG in one of its posts (made with Pillow).
Chromium at 390 px (1x) opens the post, scrolls to its end so that the lazy images load, and
the test adds up the bytes of every image request for them: at most a quarter of the
originals'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from e2e_support import E2ESite, served_example
from image_support import photo, soup_of, write_bytes
from playwright.sync_api import Page

pytest_plugins = ["e2e.fixtures"]
pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
POST = "content/blog/heartbeat-monitoring-for-cron-jobs.md"
ORIGINALS = {
    "static/images/launch-stand.jpg": photo(3000, 2000, seed=1),
    "content/blog/launch-signups.png": photo(1400, 900, seed=2, image_format="PNG"),
}
IMAGES = "\n\n![Our stand at the launch](/images/launch-stand.jpg)\n\n" + (
    "![Sign-ups in launch week](../launch-signups.png)\n"
)


def add_images(folder: Path) -> None:
    for relative, data in ORIGINALS.items():
        write_bytes(folder / relative, data)
    post = folder / POST
    post.write_text(post.read_text(encoding="utf-8") + IMAGES, encoding="utf-8")


@pytest.fixture(scope="module")
def photo_post(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ESite]:
    with served_example(tmp_path_factory.mktemp("photos"), edit=add_images) as site:
        yield site


def test_a_phone_downloads_at_most_a_quarter_of_the_original_bytes(
    open_visitor: Callable[..., Page], photo_post: E2ESite
) -> None:
    visitor = open_visitor(viewport=PHONE, device_scale_factor=1)
    requested: list[str] = []
    visitor.on(
        "request",
        lambda request: (
            requested.append(urlsplit(request.url).path)
            if request.resource_type == "image"
            else None
        ),
    )
    visitor.goto(photo_post.url("/blog/heartbeat-monitoring-for-cron-jobs/"))
    for _ in range(20):  # scroll down a screen at a time: lazy images load as they near it
        visitor.mouse.wheel(0, PHONE["height"])
        visitor.wait_for_timeout(100)
    visitor.wait_for_load_state("networkidle")
    ours = [path for path in requested if "launch-" in path]
    assert any("launch-stand" in path for path in ours), requested
    assert any("launch-signups" in path for path in ours), requested
    assert all(path.endswith(".webp") for path in ours), ours  # Chromium takes the WebP
    downloaded = sum((photo_post.out / path.lstrip("/")).stat().st_size for path in set(ours))
    original = sum(len(data) for data in ORIGINALS.values())
    assert downloaded <= original / 4, (downloaded, original, ours)
    # Both images shown at their full column width, neither stretched nor missing.
    for img in visitor.locator("main img[alt^='Our stand'], main img[alt^='Sign-ups']").all():
        assert img.evaluate("(el) => el.complete && el.naturalWidth > 0")
        assert img.evaluate("(el) => el.currentSrc").endswith("-480.webp")


def test_every_img_of_every_page_has_width_and_height(photo_post: E2ESite) -> None:
    for path in sorted(photo_post.out.rglob("*.html")):
        for img in soup_of(path).find_all("img"):
            assert img.get("width") and img.get("height"), (path, img)
