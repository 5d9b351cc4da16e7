"""The bundled example site builds, and every page keeps the Rewardful and form contracts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from build_support import ROOT, parse_xml, snapshot

from launchkit.config import load_config
from launchkit.site.builder import build_site

STUB = "(function(w,r){w._rwq=r;w[r]=w[r]||function(){(w[r].q=w[r].q||[]).push(arguments)}})"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("example") / "public"
    build_site(load_config(ROOT / "site.toml"), out)
    return snapshot(out)


def pages(files: dict[str, bytes]) -> dict[str, BeautifulSoup]:
    return {
        name: BeautifulSoup(data, "html.parser")
        for name, data in files.items()
        if name.endswith(".html")
    }


def test_the_site_a_marketer_ships(example: dict[str, bytes]) -> None:
    for name in (
        "index.html",
        "features/index.html",
        "pricing/index.html",
        "about/index.html",
        "blog/index.html",
        "thanks/index.html",
        "canceled/index.html",
        "404.html",
        "sitemap.xml",
        "robots.txt",
        "blog/feed.xml",
    ):
        assert name in example, name
    posts = parse_xml(example["blog/feed.xml"]).findall("{http://www.w3.org/2005/Atom}entry")
    assert len(posts) >= 3


def test_every_page_has_the_configured_snippet_first(example: dict[str, bytes]) -> None:
    key = load_config(ROOT / "site.toml").rewardful.api_key
    for name, soup in pages(example).items():
        scripts = soup.head.find_all("script")
        assert STUB in (scripts[0].string or ""), name
        assert scripts[1]["src"] == "https://r.wdfl.co/rw.js", name
        assert scripts[1]["data-rewardful"] == key, name


def test_every_buy_form_keeps_the_contract(example: dict[str, bytes]) -> None:
    config = load_config(ROOT / "site.toml")
    seen = set()
    for name, soup in pages(example).items():
        for form in soup.find_all("form", attrs={"data-rewardful": True}):
            assert form["method"] == "post", name
            assert form["action"] == config.checkout.endpoint, name
            key = form.find("input", attrs={"name": "product", "type": "hidden"})["value"]
            assert key in config.products, name
            quantity = form.find("input", attrs={"name": "quantity"})
            assert (quantity is not None) == config.products[key].quantity_choice, name
            assert form.find("button", type="submit") is not None, name
            seen.add(key)
        assert b"price_" not in example[name], name
    pricing = pages(example)["pricing/index.html"]
    on_pricing = {i["value"] for i in pricing.find_all("input", attrs={"name": "product"})}
    assert {"payment", "subscription"} <= {config.products[k].mode for k in on_pricing}
    assert seen <= set(config.products)


def test_sitemap_has_no_404_and_absolute_urls(example: dict[str, bytes]) -> None:
    urls = [
        loc.text
        for loc in parse_xml(example["sitemap.xml"]).iter(
            "{http://www.sitemaps.org/schemas/sitemap/0.9}loc"
        )
    ]
    assert all(url.startswith("https://beacon.example/") for url in urls)
    assert not [url for url in urls if "404" in url]


def test_example_builds_through_the_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "build.py", "--out", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Built ")
    assert (tmp_path / "site" / "index.html").is_file()
