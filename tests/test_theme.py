"""The theme of site.toml's [theme], the hooks and the structured data, on built HTML.

Each test builds a copy of the bundled example (site.toml, content/, templates/, static/)
with the one change it is about, through ``python build.py`` as a marketer runs it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from build_support import ROOT, run_build

from launchkit.config import load_config
from launchkit.site.theme import (
    AA_TEXT,
    Color,
    balanced_columns,
    contrast,
    dark_scheme,
    light_scheme,
    responsive_tables,
)

STUB = "(function(w,r){w._rwq=r;w[r]=w[r]||function(){(w[r].q=w[r].q||[]).push(arguments)}})"


def copy_example(folder: Path, edits: dict[str, tuple[str, ...]] | None = None) -> Path:
    """The example site in ``folder``; ``edits`` maps a file to (old, new, old, new, …)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "site.toml", folder / "site.toml")
    for name in ("content", "templates", "static"):
        shutil.copytree(ROOT / name, folder / name)
    for name, old, new in (
        (name, *pair)
        for name, pairs in (edits or {}).items()
        for pair in zip(pairs[::2], pairs[1::2], strict=True)
    ):
        path = folder / name
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return folder


def build(folder: Path) -> dict[str, BeautifulSoup]:
    result = run_build(folder, "--out", "public")
    assert result.returncode == 0, result.stderr
    return {
        path.relative_to(folder / "public").as_posix(): BeautifulSoup(
            path.read_text(encoding="utf-8"), "html.parser"
        )
        for path in (folder / "public").rglob("*.html")
    }


def json_ld(soup: BeautifulSoup) -> list[dict]:
    scripts = soup.find_all("script", type="application/ld+json")
    return [node for script in scripts for node in json.loads(script.string)["@graph"]]


def line_of(path: Path, start: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if line.startswith(start))


# --- colours -------------------------------------------------------------------------------


def test_contrast_follows_wcag() -> None:
    assert contrast(Color.parse("#fff"), Color.parse("#000")) == pytest.approx(21)
    assert contrast(Color.parse("#777777"), Color.parse("#ffffff")) == pytest.approx(4.48, 0.01)
    assert Color.parse("#26e").hex == "#2266ee"


@pytest.mark.parametrize(
    ("accent", "text", "background"),
    [
        ("#2563eb", "#0f172a", "#ffffff"),  # Beacon
        ("#e11d48", "#1c1917", "#fffbeb"),  # red on cream
        ("#16a34a", "#052e16", "#f0fdf4"),  # a green too light for text on white
        ("#7c3aed", "#111111", "#fafafa"),
    ],
)
def test_derived_palettes_read_in_both_schemes(
    tmp_path: Path, accent: str, text: str, background: str
) -> None:
    """Whatever the brand colours, the derived text colours pass AA on their backgrounds."""
    folder = copy_example(tmp_path)
    path = folder / "site.toml"
    config_text = path.read_text(encoding="utf-8")
    config_text = config_text.replace('accent = "#2563eb"', f'accent = "{accent}"')
    config_text = config_text.replace('text = "#0f172a"', f'text = "{text}"')
    config_text = config_text.replace('background = "#ffffff"', f'background = "{background}"')
    path.write_text(config_text, encoding="utf-8")
    config = load_config(path)
    for scheme in (light_scheme(config), dark_scheme(config)):
        colors = {name: Color.parse(value) for name, value in scheme.variables().items()}
        for foreground, backgrounds in {
            "text-muted": ("bg", "bg-soft", "bg-tint"),
            "accent-strong": ("bg", "bg-tint"),
            "code-text": ("code-bg",),
        }.items():
            for back in backgrounds:
                ratio = contrast(colors[foreground], colors[back])
                assert ratio >= AA_TEXT, (foreground, back, ratio)
    dark = dark_scheme(config)
    assert contrast(dark.accent, dark.background) >= AA_TEXT


def test_brand_colours_that_fail_aa_are_warned_about_at_their_key(tmp_path: Path) -> None:
    folder = copy_example(
        tmp_path,
        {"site.toml": ('accent = "#2563eb"', 'accent = "#facc15"\non_accent = "#ffffff"')},
    )
    result = run_build(folder, "--out", "public")
    assert result.returncode == 0, result.stderr  # a warning, not an error
    accent_line = line_of(folder / "site.toml", 'accent = "#facc15"')
    on_accent_line = line_of(folder / "site.toml", 'on_accent = "#ffffff"')
    assert (
        f"site.toml:{accent_line}: warning: theme.colors.accent: the accent (links, outlined "
        "buttons) on the background: #facc15 on #ffffff has a contrast of 1.53:1"
    ) in result.stderr
    assert f"site.toml:{on_accent_line}: warning: theme.colors.on_accent: text on the accent" in (
        result.stderr
    )


def test_the_example_has_no_contrast_warning(tmp_path: Path) -> None:
    result = run_build(copy_example(tmp_path), "--out", "public")
    assert result.returncode == 0, result.stderr
    assert "warning" not in result.stderr


# --- logo, fonts, menu, footer, pricing ----------------------------------------------------


def test_a_missing_logo_stops_the_build_at_its_line(tmp_path: Path) -> None:
    folder = copy_example(
        tmp_path, {"site.toml": ('logo = "/images/logo.svg"', 'logo = "/images/brand.svg"')}
    )
    result = run_build(folder, "--out", "public")
    assert result.returncode == 1
    line = line_of(folder / "site.toml", 'logo = "/images/brand.svg"')
    assert f"site.toml:{line}: 'theme.logo': there is no file /images/brand.svg" in result.stderr
    assert not (folder / "public").exists()


def test_self_hosted_fonts_get_font_faces_and_a_preload(tmp_path: Path) -> None:
    folder = copy_example(
        tmp_path,
        {
            "site.toml": (
                'heading_font = "system"',
                'heading_font = "Brand Serif"\n'
                'fonts = { "Brand Serif" = { "400 700" = "/fonts/brand.woff2", '
                '"400 italic" = "/fonts/brand-italic.woff2" } }',
            )
        },
    )
    (folder / "static" / "fonts").mkdir()
    for name in ("brand.woff2", "brand-italic.woff2"):
        (folder / "static" / "fonts" / name).write_bytes(b"wOF2")
    soup = build(folder)["index.html"]
    css = soup.head.style.string
    # Font files are published under content-hashed names (tests/test_images.py).
    brand = r"/fonts/brand\.[0-9a-f]{8}\.woff2"
    assert re.search(
        rf'@font-face{{font-family:"Brand Serif";src:url\("{brand}"\) format\("woff2"\);', css
    )
    assert "font-weight:400 700;font-style:normal" in css
    assert "font-weight:400;font-style:italic" in css
    assert '--font-heading:"Brand Serif", system-ui' in css
    assert "--font-body:system-ui" in css
    preloads = soup.head.find_all("link", rel="preload")
    assert [link["as"] for link in preloads] == ["font"]
    assert re.fullmatch(brand, preloads[0]["href"])


def test_menu_order_and_links_from_site_toml(tmp_path: Path) -> None:
    menu = 'menu = ["/pricing/", { label = "Docs", url = "https://docs.example/" }, "/blog/draft/"]'
    footer = 'footer_links = [{ label = "Privacy", url = "/about/" }, "/pricing/"]'
    folder = copy_example(tmp_path, {"site.toml": ("menu = []", menu, "footer_links = []", footer)})
    result = run_build(folder, "--out", "public")
    assert result.returncode == 0, result.stderr
    line = line_of(folder / "site.toml", "menu = [")
    assert f"site.toml:{line}: warning: theme.menu: no page has the URL '/blog/draft/'" in (
        result.stderr
    )
    soup = BeautifulSoup((folder / "public" / "index.html").read_text(), "html.parser")
    bar = soup.select(".site-nav__bar a")
    # site.toml's entries first, then the front matter's in menu_order (Pricing not twice).
    assert [(a.get_text(), a["href"]) for a in bar] == [
        ("Pricing", "/pricing/"),
        ("Docs", "https://docs.example/"),
        ("Features", "/features/"),
        ("Blog", "/blog/"),
        ("About", "/about/"),
    ]
    assert [a.get_text() for a in soup.select(".site-nav__menu a")] == [a.get_text() for a in bar]
    footer = [(a.get_text(), a["href"]) for a in soup.select(".site-footer__links a")]
    assert footer[:2] == [("Privacy", "/about/"), ("Pricing", "/pricing/")]


def test_pricing_cards_from_the_catalogue(tmp_path: Path) -> None:
    fifth = (
        '[products.enterprise]\nname = "Beacon Enterprise"\nprice_id = "price_1Ent"\n'
        'mode = "subscription"\nprice_text = "Talk to us"\nbadge = "New"\n'
        'billing_note = "Annual contract"\n\n[products.audit]'
    )
    folder = copy_example(tmp_path, {"site.toml": ("[products.audit]", fifth)})
    soup = build(folder)["pricing/index.html"]
    grid = soup.select_one(".pricing-grid")
    assert "--columns: 3;" in grid["style"]  # 5 plans: 3 + 2, not 4 + 1
    plans = {plan["id"]: plan for plan in grid.select(".plan")}
    assert len(plans) == 5
    assert plans["plan-pro"].select_one(".plan__badge").get_text() == "Most popular"
    assert plans["plan-enterprise"].select_one(".plan__badge").get_text() == "New"
    assert plans["plan-enterprise"].select_one(".plan__billing").get_text() == "Annual contract"
    assert plans["plan-lifetime"].select_one(".plan__billing").get_text() == (
        "One-time payment · no renewal"
    )
    assert plans["plan-audit"].select_one(".plan__badge") is None

    folder = copy_example(
        tmp_path / "out-of-grid",
        {
            "site.toml": (
                'button_label = "Book an audit"',
                'button_label = "Book"\nin_pricing = false',
            )
        },
    )
    soup = build(folder)["pricing/index.html"]
    assert [plan["id"] for plan in soup.select(".plan")] == [
        "plan-lifetime",
        "plan-pro",
        "plan-team",
    ]
    assert "--columns: 3;" in soup.select_one(".pricing-grid")["style"]


@pytest.mark.parametrize(
    ("count", "columns"), [(1, 1), (2, 2), (3, 3), (4, 4), (5, 3), (6, 3), (7, 4), (8, 4), (9, 3)]
)
def test_balanced_columns_leave_no_card_alone(count: int, columns: int) -> None:
    assert balanced_columns(count, 4) == columns


def test_hero_actions_come_from_front_matter(tmp_path: Path) -> None:
    soup = build(copy_example(tmp_path))["index.html"]
    buttons = soup.select(".hero__actions a")
    assert [(a.get_text(), a["href"], a["class"]) for a in buttons] == [
        ("See plans and pricing", "/pricing/", ["button"]),
        ("Tour the features", "/features/", ["button", "button--ghost"]),
    ]
    folder = copy_example(
        tmp_path / "bad",
        {"content/index.md": ("  - label: Tour the features\n", "  - label: x\n    colour: red\n")},
    )
    result = run_build(folder, "--out", "public")
    assert result.returncode == 1
    assert "content/index.md:" in result.stderr
    assert "action 2 of 'actions' must have just a 'label' and a 'url'" in result.stderr


# --- tables --------------------------------------------------------------------------------


def test_tables_get_a_focusable_scrolling_box_named_after_their_heading() -> None:
    html = (
        '<h3 id="plans">Which plan? <a class="headerlink" href="#plans">&para;</a></h3>'
        "<table><tr><td><table><tr><td>nested</td></tr></table></td></tr></table>"
        "<pre><code>&lt;table&gt;</code></pre><table><tr><td>2</td></tr></table>"
    )
    wrapped = responsive_tables(html)
    soup = BeautifulSoup(wrapped, "html.parser")
    boxes = soup.select("div.table-scroll")
    assert len(boxes) == 3
    assert all(box["role"] == "region" and box["tabindex"] == "0" for box in boxes)
    assert boxes[0]["aria-label"] == "Which plan?"
    assert wrapped.count("<div") == wrapped.count("</div>")
    assert "&lt;table&gt;" in wrapped
    assert responsive_tables("<p>no table</p>") == "<p>no table</p>"


def test_pricing_comparison_table_is_wrapped_with_headers(tmp_path: Path) -> None:
    soup = build(copy_example(tmp_path))["pricing/index.html"]
    box = soup.select_one(".pricing-faq div.table-scroll")
    assert box["aria-label"] == "Which plan is right for me?"
    assert all(th.get_text().strip() for th in box.select("thead th"))


# --- hooks ---------------------------------------------------------------------------------


def test_hooks_add_to_every_page_after_the_snippet(tmp_path: Path) -> None:
    hooks = {
        "head": '<script defer src="/analytics.js" data-hook="head"></script>',
        "body_start": '<div id="consent-root" data-hook="body_start"></div>',
        "body_end": '<script data-hook="body_end">window.chat = 1;</script>',
    }
    folder = copy_example(tmp_path)
    for name, html in hooks.items():
        (folder / "templates" / "partials" / "hooks" / f"{name}.html").write_text(html)
    pages = build(folder)
    assert len(pages) >= 10
    # An alias's redirect page carries the snippet and no hook: it sends the visitor on.
    redirect = pages.pop("plans/index.html")
    assert not redirect.find(attrs={"data-hook": True})
    assert STUB in redirect.head.find("script").string
    for name, soup in pages.items():
        scripts = soup.head.find_all("script")
        assert STUB in scripts[0].string, name
        assert scripts[1]["src"] == "https://r.wdfl.co/rw.js", name
        assert soup.head.find("script", attrs={"data-hook": "head"}), name
        assert soup.body.find(True)["data-hook"] == "body_start", name
        assert soup.body.find_all(True)[-1]["data-hook"] == "body_end", name


def test_hooks_may_be_deleted(tmp_path: Path) -> None:
    folder = copy_example(tmp_path)
    shutil.rmtree(folder / "templates" / "partials" / "hooks")
    assert "index.html" in build(folder)


def test_a_script_before_the_snippet_fails_the_build(tmp_path: Path) -> None:
    folder = copy_example(
        tmp_path,
        {
            "templates/base.html": (
                '  {% include "partials/rewardful.html" %}',
                '  <script src="/consent.js"></script>\n  {% include "partials/rewardful.html" %}',
            )
        },
    )
    result = run_build(folder, "--out", "public")
    assert result.returncode == 1
    assert "has a script before Rewardful's snippet in its <head>" in result.stderr
    assert "templates/" in result.stderr


# --- structured data -----------------------------------------------------------------------


def test_structured_data_of_the_example(tmp_path: Path) -> None:
    pages = build(copy_example(tmp_path))
    home = {node["@type"]: node for node in json_ld(pages["index.html"])}
    assert home["Organization"]["name"] == "Beacon"
    assert re.fullmatch(
        r"https://beacon\.example/images/logo\.[0-9a-f]{8}\.svg", home["Organization"]["logo"]
    )
    assert home["WebSite"]["url"] == "https://beacon.example/"
    # The home page sells Pro through a buy shortcode in its content.
    assert [n["name"] for n in json_ld(pages["index.html"]) if n["@type"] == "Product"] == [
        "Beacon Pro"
    ]

    products = [n for n in json_ld(pages["pricing/index.html"]) if n["@type"] == "Product"]
    assert [p["name"] for p in products] == [
        "Beacon Lifetime",
        "Beacon Pro",
        "Beacon Team",
        "Uptime audit",
    ]
    assert products[1]["offers"]["price"] == "19"
    assert products[1]["offers"]["priceCurrency"] == "USD"

    post = json_ld(pages["blog/fewer-false-alarms/index.html"])
    posting = next(node for node in post if node["@type"] == "BlogPosting")
    assert posting["datePublished"] == "2026-10-20"
    assert posting["author"] == {"@type": "Person", "name": "Marcus Bell"}
    crumbs = next(node for node in post if node["@type"] == "BreadcrumbList")
    assert [item["name"] for item in crumbs["itemListElement"]] == [
        "Beacon",
        "Blog",
        "How two-region confirmation cut our false alarms by 94%",
    ]
    assert json_ld(pages["thanks/index.html"]) == []


def test_offers_without_a_configured_price_leave_it_out(tmp_path: Path) -> None:
    folder = copy_example(
        tmp_path,
        {
            "site.toml": (
                'button_label = "Book an audit"\nprice = 299\ncurrency = "USD"\n',
                'button_label = "Book an audit"\n',
            )
        },
    )
    about = [n for n in json_ld(build(folder)["about/index.html"]) if n["@type"] == "Product"]
    assert [p["name"] for p in about] == ["Uptime audit"]
    assert "price" not in about[0]["offers"]
    assert "priceCurrency" not in about[0]["offers"]


def test_structured_data_cannot_close_its_script(tmp_path: Path) -> None:
    title = "Bad </script><script>alert(1)</script> <!-- & \u2028"
    folder = copy_example(
        tmp_path,
        {
            "content/blog/status-pages-that-update-themselves.md": (
                "title: Status pages that update themselves",
                f"title: {json.dumps(title)}",
            )
        },
    )
    result = run_build(folder, "--out", "public")
    assert result.returncode == 0, result.stderr
    html = (folder / "public/blog/status-pages-that-update-themselves/index.html").read_text()
    block = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)
    assert block is not None
    assert "<" not in block[1] and "\u2028" not in block[1]
    posting = next(n for n in json.loads(block[1])["@graph"] if n["@type"] == "BlogPosting")
    assert posting["headline"] == title
