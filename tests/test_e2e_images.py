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
from image_support import photo, png_with_a_bad_crc, soup_of, write_bytes
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


def adding(images: dict[str, bytes], markdown: str) -> Callable[[Path], None]:
    """An edit of the example's copy: write ``images``, add ``markdown`` to the post."""

    def edit(folder: Path) -> None:
        for relative, data in images.items():
            write_bytes(folder / relative, data)
        post = folder / POST
        post.write_text(post.read_text(encoding="utf-8") + markdown, encoding="utf-8")

    return edit


@pytest.fixture(scope="module")
def photo_post(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ESite]:
    with served_example(tmp_path_factory.mktemp("photos"), edit=adding(ORIGINALS, IMAGES)) as site:
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


# As imported blogs have them: names with a space and an accent, written percent-encoded, and a
# screenshot whose colour profile chunk fails its CRC (Pillow refuses it, browsers do not).
IMPORTED = {
    "content/blog/Linkerd Architecture.jpg": photo(900, 500, seed=5),
    "content/blog/café chart.png": photo(700, 400, seed=6, image_format="PNG"),
    "content/blog/damaged-profile.png": png_with_a_bad_crc(b"iCCP"),
}
IMPORTED_IMAGES = (
    "\n\n![Architecture](../Linkerd%20Architecture.jpg)\n\n"
    "![Café chart](../caf%C3%A9%20chart.png)\n\n"
    "![Damaged profile](../damaged-profile.png)\n"
)


def test_encoded_names_and_a_png_with_a_damaged_chunk_show_in_a_browser(
    open_visitor: Callable[..., Page], tmp_path_factory: pytest.TempPathFactory
) -> None:
    with served_example(
        tmp_path_factory.mktemp("imported"), edit=adding(IMPORTED, IMPORTED_IMAGES)
    ) as site:
        visitor = open_visitor(viewport=PHONE, device_scale_factor=1)
        visitor.goto(site.url("/blog/heartbeat-monitoring-for-cron-jobs/"))
        for alt, width in (("Architecture", 900), ("Café chart", 700), ("Damaged profile", 640)):
            img = visitor.locator(f"main img[alt='{alt}']")
            img.scroll_into_view_if_needed()
            img.evaluate("(el) => el.decode()")  # fails if the browser cannot show it
            assert img.evaluate("(el) => el.naturalWidth") > 0, alt
            assert img.get_attribute("width") == str(min(width, 1600)), alt
