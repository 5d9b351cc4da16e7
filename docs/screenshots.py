"""Take the screenshots of docs/theming.md: ``.venv/bin/python docs/screenshots.py``.

Builds the bundled example (and, for the keys whose effect the example does not show, a copy
with one key changed) into a temporary folder, serves it on 127.0.0.1 and photographs the part
of a page each key changes, with Playwright driving Debian's Chromium, into docs/images/.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from launchkit.config import load_config  # noqa: E402
from launchkit.site.builder import build_site  # noqa: E402

IMAGES = ROOT / "docs" / "images"
PHONE = {"width": 390, "height": 700}
DESKTOP = {"width": 1000, "height": 700}
# Variants of site.toml: name -> (old, new) replacements.
VARIANTS = {
    "example": [],
    "rebrand": [
        ('accent = "#2563eb"', 'accent = "#b91c1c"'),
        ('text = "#0f172a"', 'text = "#1c1917"'),
        ('background = "#ffffff"', 'background = "#fffbeb"'),
        ('heading_font = "system"', 'heading_font = "serif"'),
        ('\nfont = "system"', '\nfont = "serif"'),
        ('footer_text = "Payments', 'footer_text = "Ember Inc., Leeds. Payments'),
    ],
}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log: the script prints what it writes."""


@contextmanager
def served(folder: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def build_variant(workdir: Path, name: str) -> Path:
    folder = workdir / name
    folder.mkdir()
    text = (ROOT / "site.toml").read_text(encoding="utf-8")
    for old, new in VARIANTS[name]:
        assert old in text, old
        text = text.replace(old, new)
    (folder / "site.toml").write_text(text, encoding="utf-8")
    for part in ("content", "templates", "static"):
        shutil.copytree(ROOT / part, folder / part)
    build_site(load_config(folder / "site.toml"), folder / "public", workers=1)
    return folder / "public"


def shoot(page: Page, selector: str, name: str) -> None:
    page.locator(selector).first.screenshot(path=str(IMAGES / name), animations="disabled")
    print(f"docs/images/{name}: {(IMAGES / name).stat().st_size // 1024} KiB")


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as temp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        for variant in VARIANTS:
            public = build_variant(Path(temp), variant)
            with served(public) as origin:
                for scheme in ("light", "dark"):
                    for viewport in (DESKTOP, PHONE):
                        context = browser.new_context(viewport=viewport, color_scheme=scheme)
                        context.route("**/r.wdfl.co/**", lambda route: route.abort())
                        page = context.new_page()
                        take(page, origin, variant, scheme, viewport is PHONE)
                        context.close()
        browser.close()


def take(page: Page, origin: str, variant: str, scheme: str, phone: bool) -> None:
    """The screenshots of one variant, colour scheme and screen size."""
    key = (variant, scheme, phone)
    if key == ("example", "light", False):
        page.goto(origin + "/")
        shoot(page, ".hero__inner", "theme-hero.png")
        shoot(page, ".site-header", "theme-header.png")
        shoot(page, ".site-footer", "theme-footer.png")
        page.goto(origin + "/pricing/")
        shoot(page, ".pricing-grid", "theme-pricing.png")
        page.goto(origin + "/blog/fewer-false-alarms/")
        shoot(page, ".post-cta", "theme-post-cta.png")
    elif key == ("example", "dark", False):
        page.goto(origin + "/pricing/")
        page.set_viewport_size({"width": 1000, "height": 520})
        page.screenshot(path=str(IMAGES / "theme-dark.png"))
    elif key == ("example", "light", True):
        page.goto(origin + "/pricing/")
        page.locator("summary.site-nav__button").click()
        page.screenshot(path=str(IMAGES / "theme-phone-menu.png"))
        page.locator("summary.site-nav__button").click()
        shoot(page, ".pricing-faq .table-scroll", "theme-phone-table.png")
    elif key == ("rebrand", "light", False):
        page.goto(origin + "/pricing/")
        page.set_viewport_size({"width": 1000, "height": 520})
        page.screenshot(path=str(IMAGES / "theme-rebrand.png"))
        page.goto(origin + "/")
        shoot(page, ".site-footer", "theme-rebrand-footer.png")


if __name__ == "__main__":
    main()
