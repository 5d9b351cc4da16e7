"""The builder's pages: Rewardful's snippet, buy forms, URLs, drafts, escaping, determinism."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from build_support import API_KEY, ENDPOINT, site_toml, snapshot, write_site

from launchkit.config import load_config
from launchkit.site.builder import build_site

STUB = "(function(w,r){w._rwq=r;w[r]=w[r]||function(){(w[r].q=w[r].q||[]).push(arguments)}})"


def build(root: Path, **options) -> dict[str, bytes]:
    """Build the site in ``root`` into ``root/public``; every output file with its bytes."""
    out = root / "public"
    build_site(load_config(root / "site.toml"), out, **options)
    return snapshot(out)


def html_pages(files: dict[str, bytes]) -> dict[str, BeautifulSoup]:
    return {
        name: BeautifulSoup(data, "html.parser")
        for name, data in files.items()
        if name.endswith(".html")
    }


@pytest.fixture
def site(tmp_path: Path) -> dict[str, bytes]:
    return build(write_site(tmp_path))


def assert_snippet_first_in_head(soup: BeautifulSoup, name: str) -> BeautifulSoup:
    """The queue stub is the head's first script, the async loader right after it."""
    scripts = soup.head.find_all("script")
    assert len(scripts) >= 2, f"{name}: no Rewardful snippet in <head>"
    stub, loader = scripts[0], scripts[1]
    assert STUB in stub.string and "'rewardful'" in stub.string, name
    assert not stub.get("src"), name
    assert loader["src"] == "https://r.wdfl.co/rw.js", name
    assert loader.has_attr("async"), name
    assert loader["data-rewardful"] == API_KEY, name
    assert soup.body.find("script", src="https://r.wdfl.co/rw.js") is None, name
    return loader


def test_every_page_has_the_snippet_in_head_in_order(site: dict[str, bytes]) -> None:
    pages = html_pages(site)
    assert "404.html" in pages
    for name, soup in pages.items():
        loader = assert_snippet_first_in_head(soup, name)
        assert not loader.has_attr("data-domains")
        assert not loader.has_attr("data-rewardful-params")


def test_optional_snippet_attributes_when_configured(tmp_path: Path) -> None:
    extra = 'domains = ["a.com", "b.io"]\nparams = ["via", "ref"]'
    files = build(write_site(tmp_path, {"site.toml": site_toml(extra)}))
    for name, soup in html_pages(files).items():
        loader = assert_snippet_first_in_head(soup, name)
        assert loader["data-domains"] == "a.com, b.io"
        assert loader["data-rewardful-params"] == "via, ref"


def forms_of(files: dict[str, bytes], name: str) -> list:
    return BeautifulSoup(files[name], "html.parser").find_all("form")


def test_buy_form_contract(site: dict[str, bytes]) -> None:
    forms = {
        form.find("input", attrs={"name": "product"})["value"]: form
        for form in forms_of(site, "pricing/index.html")
    }
    assert set(forms) == {"pro", "team"}
    for key, form in forms.items():
        assert form["method"] == "post"
        assert form["action"] == ENDPOINT
        assert form.has_attr("data-rewardful")
        product = form.find("input", attrs={"name": "product"})
        assert product["type"] == "hidden"
        assert form.find("button", type="submit") is not None
        names = {field["name"] for field in form.find_all("input")}
        assert names <= {"product", "quantity"}, key
    assert forms["pro"].find("input", attrs={"name": "quantity"}) is None
    assert forms["pro"].button.get_text(strip=True) == "Start Pro"
    quantity = forms["team"].find("input", attrs={"name": "quantity"})
    assert (quantity["type"], quantity["min"], quantity["max"]) == ("number", "2", "50")
    assert quantity["value"] == "2" and quantity.has_attr("required")
    assert forms["team"].button.get_text(strip=True) == "Buy now"


def test_no_stripe_price_id_is_published(site: dict[str, bytes]) -> None:
    for name, data in site.items():
        assert b"price_" not in data, name


def test_shortcode_and_template_render_the_same_form(site: dict[str, bytes]) -> None:
    from_markdown = forms_of(site, "buy/index.html")
    from_template = forms_of(site, "pricing/index.html")
    team = [str(form) for form in from_template if form.find(attrs={"value": "team"})]
    assert str(from_markdown[0]) == team[0]
    assert from_markdown[1].find(attrs={"name": "product"})["value"] == "pro"
    assert from_markdown[1].button.get_text(strip=True) == "Go Pro now"
    # The form is a block of its own, not wrapped in the paragraph Markdown would make.
    assert from_markdown[0].parent.name == "main"


def test_checkout_endpoint_override(tmp_path: Path) -> None:
    files = build(write_site(tmp_path), checkout_endpoint="/checkout")
    actions = {form["action"] for form in forms_of(files, "pricing/index.html")}
    assert actions == {"/checkout"}


def test_referral_script_fills_referral_and_coupon(site: dict[str, bytes]) -> None:
    soup = BeautifulSoup(site["buy/index.html"], "html.parser")
    script = soup.body.find_all("script")[-1].string
    assert "rewardful('ready'" in script
    assert "form[data-rewardful]" in script
    assert "info.referral" in script and "'referral'" in script
    assert "info.coupon" in script and "'coupon'" in script
    # Harmless without Rewardful: it bails out before calling a missing function.
    assert script.index("typeof window.rewardful !== 'function'") < script.index("('ready'")


def test_pretty_urls_and_copied_files(site: dict[str, bytes]) -> None:
    cards = {name for name in site if name.startswith("social/")}  # tests/test_images.py
    assert len(cards) == 8
    # Fingerprinted files are named by their content (tests/test_images.py): "chart.#.svg".
    named = {re.sub(r"\.[0-9a-f]{8}\.", ".#.", name): name for name in set(site) - cards}
    assert {
        "index.html",
        "pricing/index.html",
        "buy/index.html",
        "team/index.html",  # about-us.md with slug: team
        "404.html",
        "blog/index.html",
        "blog/first/index.html",
        "blog/second/index.html",
        "blog/chart.#.svg",  # beside the posts, referenced as ../chart.svg
        "css/site.#.css",  # from static/
        "sitemap.xml",
        "robots.txt",
        "blog/feed.xml",
        ".launchkit-build",  # marks the folder as a build output the next build may replace
    } == set(named)
    soup = BeautifulSoup(site["team/index.html"], "html.parser")
    assert soup.find("link", rel="canonical")["href"] == "https://shop.example/team/"
    assert soup.find("table") is not None  # Markdown tables are on
    assert site[named["blog/chart.#.svg"]] == b'<svg xmlns="http://www.w3.org/2000/svg"/>\n'


def test_navigation_follows_menu_order(site: dict[str, bytes]) -> None:
    nav = BeautifulSoup(site["index.html"], "html.parser").nav
    assert [(a.get_text(), a["href"]) for a in nav.find_all("a")] == [
        ("Home", "/"),
        ("Pricing", "/pricing/"),
    ]


def test_drafts_only_with_drafts_option(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    assert "blog/unfinished/index.html" not in build(root)
    with_drafts = build(root, drafts=True)
    assert "blog/unfinished/index.html" in with_drafts
    listing = BeautifulSoup(with_drafts["blog/index.html"], "html.parser")
    assert "/blog/unfinished/" in [a["href"] for a in listing.main.find_all("a")]


def test_blog_listing_newest_first_with_dates(site: dict[str, bytes]) -> None:
    listing = BeautifulSoup(site["blog/index.html"], "html.parser")
    assert [a["href"] for a in listing.main.find_all("a")] == ["/blog/second/", "/blog/first/"]
    post = BeautifulSoup(site["blog/first/index.html"], "html.parser")
    assert post.time.get_text() == "January 2, 2026"


def test_titles_and_descriptions_are_escaped(tmp_path: Path) -> None:
    title = 'Fish & <script>alert("t")</script> "quoted"'
    description = 'It\'s "great" <b>bold</b> & more'
    page = (
        f"---\ntitle: '{title}'\ndescription: '{description.replace(chr(39), chr(39) * 2)}'\n---\n"
    )
    files = build(write_site(tmp_path, {"content/evil.md": page}))
    soup = BeautifulSoup(files["evil/index.html"], "html.parser")
    assert soup.title.string == f"{title} | Shop"
    assert soup.find("meta", attrs={"name": "description"})["content"] == description
    assert not [s for s in soup.find_all("script") if "alert" in (s.string or "")]
    assert soup.find("b") is None
    # The same title in the blog's Atom feed stays text, too.
    second = BeautifulSoup(files["blog/second/index.html"], "html.parser")
    assert second.title.string == "Second <post> | Shop"


def test_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    root = write_site(tmp_path)
    first = build(root)
    (root / "public").rename(root / "first")
    assert build(root) == first


def test_secret_key_in_environment_never_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk_test_51LeakCheckDoNotPublish"
    monkeypatch.setenv("STRIPE_SECRET_KEY", secret)
    for name, data in build(write_site(tmp_path)).items():
        assert secret.encode() not in data, name
        assert b"sk_test_" not in data, name


def test_markdown_extensions_a_marketer_expects(tmp_path: Path) -> None:
    body = (
        '[TOC]\n\n## Plans {: #plans .big }\n\n"Quotes" -- here[^1].\n\n'
        "```python\nprint('{{< buy nope >}}')\n```\n\n[^1]: A footnote.\n"
    )
    files = build(write_site(tmp_path, {"content/md.md": f"---\ntitle: MD\n---\n{body}"}))
    soup = BeautifulSoup(files["md/index.html"], "html.parser")
    heading = soup.find("h2", id="plans")
    assert "big" in heading["class"]
    assert heading.find("a", class_="headerlink")["href"] == "#plans"
    assert soup.find("div", class_="toc").find("a", href="#plans") is not None
    assert "\u201cQuotes\u201d \u2013 here" in soup.get_text()
    assert soup.find("div", class_="footnote") is not None
    # A shortcode inside fenced code is shown, not expanded.
    assert "{{< buy nope >}}" in soup.find("div", class_="language-python").code.get_text()


def test_templates_see_every_page_with_its_html(tmp_path: Path) -> None:
    """``pages`` lists every page as the page itself is: the same page, its HTML on demand."""
    listing = (
        '{% extends "base.html" %}{% block content %}{% for p in pages %}'
        "{% if p == page %}<b>{{ p.title }}</b>{% else %}<i>{{ p.content }}</i>{% endif %}"
        "{% endfor %}{% endblock %}\n"
    )
    root = write_site(
        tmp_path,
        {"templates/all.html": listing, "content/all.md": "---\ntitle: All\ntemplate: all\n---\n"},
    )
    soup = BeautifulSoup(build(root)["all/index.html"], "html.parser")
    assert [b.get_text() for b in soup.main.find_all("b")] == ["All"]
    assert "Welcome." in soup.main.get_text()  # index.md's HTML, through pages
    assert soup.main.find("form") is not None  # buy.md's shortcodes, expanded
